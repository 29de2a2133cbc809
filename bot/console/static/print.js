// The redacted copy's print button (no inline script: the console's CSP forbids it).
document.getElementById("print-copy")?.addEventListener("click", () => window.print());
