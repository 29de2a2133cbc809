// Chat page of the LINE emulator. All message content goes into the DOM via textContent or
// element properties, never parsed as HTML: the bot's output is untrusted input here.
"use strict";

(function () {
  const STORAGE_KEY = "krasip-emulator-user";
  const POLL_MS = 700;
  const BANGKOK_CITY_HALL = {
    title: "Bangkok City Hall", address: "173 Dinso Rd, Phra Nakhon, Bangkok 10200",
    latitude: 13.7525, longitude: 100.4942,
  };
  const SIZES = { xxs: 11, xs: 13, sm: 14, md: 16, lg: 19, xl: 22, xxl: 29, "3xl": 35, "4xl": 48, "5xl": 74 };
  const GAPS = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };

  // The page's own words, Thai first (a Bangkok reporter trying the bot), English on a switch.
  const LANG_KEY = "krasip-emulator-lang";
  const UI = {
    th: {
      "page.title": "กระซิบ · จำลองแชต LINE",
      "bar.name": "กระซิบ",
      follow: "เพิ่มเพื่อน",
      "follow.title": "เพิ่มบอตเป็นเพื่อน (เหตุการณ์ follow)",
      new_user: "ผู้ใช้ใหม่",
      "new_user.title": "ลืมผู้ใช้นี้ แล้วเริ่มใหม่เป็นผู้ใช้อีกคน",
      switch: "English",
      "switch.title": "Show this page in English",
      menu: "เมนู",
      photo: "ส่งรูปภาพ",
      file: "ส่งไฟล์",
      placeholder: "พิมพ์ข้อความ",
      send: "ส่ง",
      followed: "คุณเพิ่มบอตเป็นเพื่อนแล้ว",
      blocked: "คุณบล็อกบอตแล้ว",
      unsent: "คุณยกเลิกข้อความที่ส่ง",
      video: "🎬 วิดีโอ",
      voice: "🎤 ข้อความเสียง",
      bytes: "ไบต์",
      photo_alt: "รูปภาพ",
      pick: "เลือก",
      emulator_answered: "ตัวจำลองตอบรหัส {status}",
      webhook_answered: "เว็บฮุกของบอตตอบรหัส {status}",
      unreachable: "ติดต่อตัวจำลองไม่ได้: {error}",
    },
    en: {
      "page.title": "Krasip · LINE emulator",
      "bar.name": "Krasip",
      follow: "Follow",
      "follow.title": "Add the bot as a friend (follow event)",
      new_user: "New user",
      "new_user.title": "Forget this user and start as a new one",
      switch: "ภาษาไทย",
      "switch.title": "แสดงหน้านี้เป็นภาษาไทย",
      menu: "Rich menu",
      photo: "Send a photo",
      file: "Send a file",
      placeholder: "Aa",
      send: "Send",
      followed: "You added the bot as a friend",
      blocked: "You blocked the bot",
      unsent: "You unsent a message",
      video: "🎬 video",
      voice: "🎤 voice message",
      bytes: "bytes",
      photo_alt: "photo",
      pick: "Pick",
      emulator_answered: "Emulator answered {status}",
      webhook_answered: "The bot's webhook answered {status}",
      unreachable: "Could not reach the emulator: {error}",
    },
  };
  let uiLang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "th";

  function tr(key, values) {
    let text = (UI[uiLang] && UI[uiLang][key]) || UI.th[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, String(value));
    return text;
  }

  function applyLanguage() {
    document.documentElement.lang = uiLang;
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = tr(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = tr(node.dataset.i18nTitle);
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = tr(node.dataset.i18nPlaceholder);
    }
    $("lang-btn").lang = uiLang === "th" ? "en" : "th";
  }

  const $ = (id) => document.getElementById(id);
  const chat = $("chat");
  const quickReplies = $("quick-replies");
  const statusBox = $("status");

  let userId = localStorage.getItem(STORAGE_KEY) || newUserId();
  let since = 0;
  let lastEntry = null;
  let polling = false;
  let richMenu = null;
  let chipsFor = null; // the message whose quick replies are on screen

  function newUserId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    const id = "U" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(STORAGE_KEY, id);
    return id;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(url) {
    if (typeof url !== "string") return null;
    if (url.startsWith("https://") || url.startsWith("http://") || url.startsWith("/_emulator/")) return url;
    return null;
  }

  function safeColor(color) {
    return typeof color === "string" && /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/.test(color) ? color : null;
  }

  function showStatus(text) {
    statusBox.textContent = text || "";
  }

  // ------------------------------------------------------------------ talking to the emulator

  async function act(action, options) {
    const opts = options || {};
    const url = new URL(`/_emulator/users/${encodeURIComponent(userId)}/${action}`, location.origin);
    for (const [k, v] of Object.entries(opts.params || {})) url.searchParams.set(k, v);
    const init = { method: "POST", headers: {} };
    if (opts.file) {
      init.body = opts.file;
      init.headers["Content-Type"] = opts.file.type || "application/octet-stream";
    } else {
      init.body = JSON.stringify(opts.json || {});
      init.headers["Content-Type"] = "application/json";
    }
    try {
      const resp = await fetch(url, init);
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) showStatus(data.error || data.message || tr("emulator_answered", { status: resp.status }));
      else if (data.status !== 200) showStatus(tr("webhook_answered", { status: data.status }));
      else showStatus("");
    } catch (err) {
      showStatus(tr("unreachable", { error: err }));
    }
    poll();
  }

  const sendText = (text) => act("text", { json: { text } });
  const sendPostback = (data, displayText, params) =>
    act("postback", { json: { data, displayText: displayText || undefined, params } });

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const url = `/_emulator/users/${encodeURIComponent(userId)}/messages?include_user=1&since=${since}`;
      const resp = await fetch(url);
      if (resp.ok) {
        const data = await resp.json();
        for (const entry of data.messages) {
          render(entry);
          since = Math.max(since, entry.seq);
          lastEntry = entry;
        }
        if (data.messages.length) chat.scrollTop = chat.scrollHeight;
        $("loading").hidden = !data.loading;
        renderQuickReplies();
      }
    } catch (err) {
      showStatus(tr("unreachable", { error: err }));
    } finally {
      polling = false;
    }
  }

  async function loadRichMenu() {
    try {
      const resp = await fetch(`/_emulator/users/${encodeURIComponent(userId)}/richmenu`);
      const data = await resp.json();
      const key = data.richMenu ? data.richMenu.richMenuId : null;
      if (key === (richMenu && richMenu.richMenuId)) return;
      richMenu = data.richMenu;
      renderRichMenu(data.imageUrl);
    } catch (err) {
      // The menu is optional; the chat still works without it.
    }
  }

  // ------------------------------------------------------------------ actions

  function runAction(action, fallbackLabel) {
    if (!action || typeof action !== "object") return;
    switch (action.type) {
      case "postback":
        sendPostback(action.data, action.displayText || action.label || fallbackLabel);
        break;
      case "message":
        sendText(action.text);
        break;
      case "uri": {
        const url = safeUrl(action.uri);
        if (url) window.open(url, "_blank", "noopener");
        break;
      }
      case "camera":
      case "cameraRoll":
        $("photo-input").click();
        break;
      case "location":
        act("location", { json: BANGKOK_CITY_HALL });
        break;
      case "datetimepicker": {
        const mode = action.mode || "datetime";
        const hint = { date: "YYYY-MM-DD", time: "HH:mm", datetime: "YYYY-MM-DDTHH:mm" }[mode];
        const value = window.prompt(`${action.label || tr("pick")} (${hint})`, action.initial || "");
        if (value) sendPostback(action.data, value, { [mode]: value });
        break;
      }
      case "clipboard":
        if (navigator.clipboard) navigator.clipboard.writeText(action.clipboardText || "");
        break;
      case "richmenuswitch":
        sendPostback(action.data, null, { newRichMenuAliasId: action.richMenuAliasId, status: "SUCCESS" });
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ rendering

  function timeOf(at) {
    const d = new Date(at * 1000);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function row(kind, content, at) {
    const r = el("div", `row ${kind}`);
    const meta = el("span", "meta", timeOf(at));
    if (kind === "user") r.append(meta, content);
    else if (kind === "bot") r.append(content, meta);
    else r.append(content);
    chat.append(r);
  }

  function render(entry) {
    const m = entry.message || {};
    if (entry.via === "user") {
      renderUser(m, entry.at);
      return;
    }
    row("bot", renderBotMessage(m), entry.at);
  }

  function renderUser(m, at) {
    switch (m.type) {
      case "text":
        row("user", el("div", "bubble", m.text), at);
        break;
      case "postback":
        if (m.displayText) row("user", el("div", "bubble", m.displayText), at);
        break;
      case "image": {
        const b = el("div", "bubble media");
        const img = el("img");
        img.alt = tr("photo_alt");
        img.src = safeUrl(m.contentUrl) || "";
        b.append(img);
        row("user", b, at);
        break;
      }
      case "file":
        row("user", el("div", "bubble file", `📄 ${m.fileName} (${m.fileSize} ${tr("bytes")})`), at);
        break;
      case "video":
      case "audio":
        row("user", el("div", "bubble file", m.type === "video" ? tr("video") : tr("voice")), at);
        break;
      case "sticker":
        row("user", el("div", "bubble sticker", "🙂"), at);
        break;
      case "location":
        row("user", el("div", "bubble", `📍 ${m.title || ""}\n${m.address || ""}`.trim()), at);
        break;
      case "follow":
        row("system", el("div", "bubble", tr("followed")), at);
        break;
      case "unfollow":
        row("system", el("div", "bubble", tr("blocked")), at);
        break;
      case "unsend":
        row("system", el("div", "bubble", tr("unsent")), at);
        break;
      default:
        break;
    }
  }

  function renderBotMessage(m) {
    switch (m.type) {
      case "text":
      case "textV2":
        return el("div", "bubble", m.text);
      case "image": {
        const b = el("div", "bubble media");
        const img = el("img", "clickable");
        img.alt = "image";
        img.src = safeUrl(m.previewImageUrl) || "";
        const full = safeUrl(m.originalContentUrl);
        if (full) img.addEventListener("click", () => window.open(full, "_blank", "noopener"));
        b.append(img);
        return b;
      }
      case "video": {
        const b = el("div", "bubble media");
        const video = el("video");
        video.controls = true;
        video.poster = safeUrl(m.previewImageUrl) || "";
        video.src = safeUrl(m.originalContentUrl) || "";
        b.append(video);
        return b;
      }
      case "audio": {
        const b = el("div", "bubble");
        const audio = el("audio");
        audio.controls = true;
        audio.src = safeUrl(m.originalContentUrl) || "";
        b.append(audio);
        return b;
      }
      case "sticker":
        return el("div", "bubble sticker", "🧸");
      case "location":
        return el("div", "bubble", `📍 ${m.title || ""}\n${m.address || ""}`.trim());
      case "flex":
        return renderFlexMessage(m);
      case "template":
        return renderTemplate(m);
      default:
        return el("div", "bubble", m.altText || `[${m.type} message]`);
    }
  }

  function renderTemplate(m) {
    const t = m.template || {};
    if (t.type !== "buttons" && t.type !== "confirm") return el("div", "bubble", m.altText);
    const b = el("div", "bubble template");
    if (t.title) b.append(el("strong", null, t.title));
    b.append(el("div", null, t.text));
    for (const action of t.actions || []) {
      const btn = el("button", "chip", action.label);
      btn.type = "button";
      btn.addEventListener("click", () => runAction(action));
      b.append(btn);
    }
    return b;
  }

  function renderFlexMessage(m) {
    const wrap = el("div", "bubble flex");
    try {
      const c = m.contents || {};
      if (c.type === "carousel") {
        const car = el("div", "flex-carousel");
        for (const bubble of c.contents || []) car.append(renderBubble(bubble));
        wrap.append(car);
        wrap.style.maxWidth = "100%";
      } else if (c.type === "bubble") {
        wrap.append(renderBubble(c));
      } else {
        return el("div", "bubble", m.altText);
      }
    } catch (err) {
      return el("div", "bubble", m.altText);
    }
    return wrap;
  }

  function renderBubble(bubble) {
    const node = el("div", "flex-bubble");
    const styles = bubble.styles || {};
    for (const block of ["header", "hero", "body", "footer"]) {
      if (!bubble[block]) continue;
      const part = el("div", block === "hero" ? "flex-hero" : "flex-block");
      const bg = safeColor((styles[block] || {}).backgroundColor);
      if (bg) part.style.backgroundColor = bg;
      part.append(renderComponent(bubble[block], "vertical"));
      node.append(part);
    }
    if (bubble.action) {
      node.classList.add("clickable");
      node.addEventListener("click", () => runAction(bubble.action));
    }
    return node;
  }

  function gap(value) {
    if (value === undefined || value === null) return null;
    if (value in GAPS) return `${GAPS[value]}px`;
    return /^\d+(\.\d+)?(px|%)$/.test(String(value)) ? String(value) : null;
  }

  function renderComponent(c, parentLayout) {
    let node;
    switch (c.type) {
      case "box": {
        node = el("div", `flex-box ${c.layout || "vertical"}`);
        const spacing = gap(c.spacing);
        if (spacing) node.style.gap = spacing;
        const padding = gap(c.paddingAll);
        if (padding) node.style.padding = padding;
        const bg = safeColor(c.backgroundColor);
        if (bg) node.style.backgroundColor = bg;
        if (c.cornerRadius && gap(c.cornerRadius)) node.style.borderRadius = gap(c.cornerRadius);
        for (const child of c.contents || []) node.append(renderComponent(child, c.layout));
        break;
      }
      case "text": {
        node = el("div", "flex-text");
        if (Array.isArray(c.contents) && c.contents.length) {
          for (const span of c.contents) {
            const s = el("span", null, span.text);
            styleText(s, span);
            node.append(s);
          }
        } else {
          node.textContent = c.text || "";
        }
        styleText(node, c);
        if (c.wrap !== true) node.classList.add("nowrap");
        if (c.align) node.style.textAlign = { start: "left", end: "right", center: "center" }[c.align] || "";
        break;
      }
      case "span":
        node = el("span", null, c.text);
        styleText(node, c);
        break;
      case "separator": {
        node = el("hr", "flex-sep");
        const color = safeColor(c.color);
        if (color) node.style.borderColor = color;
        break;
      }
      case "filler":
        node = el("div");
        node.style.flex = String(c.flex || 1);
        return node;
      case "button": {
        const action = c.action || {};
        node = el("button", `flex-button ${c.style || "link"}`, action.label || "");
        node.type = "button";
        const color = safeColor(c.color);
        if (color && c.style && c.style !== "link") node.style.backgroundColor = color;
        else if (color) node.style.color = color;
        node.addEventListener("click", (ev) => {
          ev.stopPropagation();
          runAction(action);
        });
        break;
      }
      case "image":
      case "icon": {
        node = el("img", c.type === "image" ? "flex-image" : null);
        node.alt = "";
        node.src = safeUrl(c.url) || "";
        if (c.type === "icon") node.style.height = `${SIZES[c.size] || 14}px`;
        break;
      }
      default:
        node = el("span");
        break;
    }
    const margin = gap(c.margin);
    if (margin) {
      const side = parentLayout === "vertical" ? "marginTop" : "marginLeft";
      node.style[side] = margin;
    }
    if (typeof c.flex === "number") node.style.flex = `${c.flex} 1 0`;
    else if (parentLayout === "horizontal" || parentLayout === "baseline") node.style.flex = "1 1 0";
    if (c.action && c.type !== "button") {
      node.classList.add("clickable");
      node.addEventListener("click", (ev) => {
        ev.stopPropagation();
        runAction(c.action);
      });
    }
    return node;
  }

  function styleText(node, c) {
    if (c.weight === "bold") node.style.fontWeight = "bold";
    if (c.style === "italic") node.style.fontStyle = "italic";
    if (c.decoration === "underline") node.style.textDecoration = "underline";
    if (c.decoration === "line-through") node.style.textDecoration = "line-through";
    const size = SIZES[c.size];
    if (size) node.style.fontSize = `${size}px`;
    const color = safeColor(c.color);
    if (color) node.style.color = color;
  }

  function renderQuickReplies() {
    // Rebuilt only when the latest message changes: replacing the chips under the pointer
    // on every poll could swallow a tap that landed between mousedown and click.
    const current = lastEntry ? lastEntry.seq : null;
    if (current === chipsFor) return;
    chipsFor = current;
    quickReplies.replaceChildren();
    // LINE shows quick replies only while their message is the latest one in the chat.
    if (!lastEntry || lastEntry.via === "user") return;
    const qr = lastEntry.message && lastEntry.message.quickReply;
    if (!qr || !Array.isArray(qr.items)) return;
    for (const item of qr.items) {
      const action = item.action || {};
      const chip = el("button", "qr-chip", action.label || action.text || "…");
      chip.type = "button";
      chip.addEventListener("click", () => runAction(action, action.label));
      quickReplies.append(chip);
    }
  }

  function renderRichMenu(imageUrl) {
    const menuBtn = $("menu-btn");
    const panel = $("rich-menu");
    const image = $("rich-menu-image");
    image.replaceChildren();
    if (!richMenu) {
      menuBtn.hidden = true;
      panel.hidden = true;
      return;
    }
    menuBtn.hidden = false;
    menuBtn.title = richMenu.chatBarText || tr("menu");
    const { width, height } = richMenu.size;
    image.style.aspectRatio = `${width} / ${height}`;
    image.style.backgroundImage = `url("${encodeURI(imageUrl)}")`;
    for (const area of richMenu.areas || []) {
      const b = area.bounds;
      const btn = el("button");
      btn.type = "button";
      btn.title = (area.action && (area.action.label || area.action.text || area.action.data)) || "";
      btn.style.left = `${(100 * b.x) / width}%`;
      btn.style.top = `${(100 * b.y) / height}%`;
      btn.style.width = `${(100 * b.width) / width}%`;
      btn.style.height = `${(100 * b.height) / height}%`;
      btn.addEventListener("click", () => runAction(area.action));
      image.append(btn);
    }
    panel.hidden = !richMenu.selected;
  }

  // ------------------------------------------------------------------ wiring

  function resetView() {
    chat.replaceChildren();
    quickReplies.replaceChildren();
    since = 0;
    lastEntry = null;
    chipsFor = null;
    richMenu = null;
    $("user-id").textContent = userId;
    showStatus("");
    poll();
    loadRichMenu();
  }

  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("text-input");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendText(text);
  });
  $("photo-input").addEventListener("change", (ev) => {
    const file = ev.target.files[0];
    if (file) act("image", { file });
    ev.target.value = "";
  });
  $("file-input").addEventListener("change", (ev) => {
    const file = ev.target.files[0];
    if (file) act("file", { file, params: { fileName: file.name } });
    ev.target.value = "";
  });
  $("follow-btn").addEventListener("click", async () => {
    await act("follow");
    loadRichMenu();
  });
  $("new-user-btn").addEventListener("click", () => {
    userId = newUserId();
    resetView();
  });
  $("lang-btn").addEventListener("click", () => {
    uiLang = uiLang === "th" ? "en" : "th";
    localStorage.setItem(LANG_KEY, uiLang);
    applyLanguage();
    // System lines already drawn ("you added the bot") follow the new language.
    chat.replaceChildren();
    since = 0;
    lastEntry = null;
    poll();
  });
  $("menu-btn").addEventListener("click", () => {
    $("rich-menu").hidden = !$("rich-menu").hidden;
  });

  applyLanguage();
  resetView();
  setInterval(poll, POLL_MS);
  setInterval(loadRichMenu, 5000);
})();
