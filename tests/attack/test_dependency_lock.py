"""A deploy installs exactly what was reviewed: every dependency is pinned with hashes.

The attack: with ranges only, a release published upstream between review and deploy (or a
hijacked one) is installed silently. The lock files pin each package to one version and its
files' hashes, and CI and the deploy path install with `--require-hashes`.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def pins(lock: Path) -> dict[str, tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            found[name] = (match.group(2), [])
        elif line.strip().startswith("--hash=sha256:") and name:
            found[name][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{lock.name}: a line that is neither a hashed pin nor a comment: {line}")
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.txt", []), ("requirements-test.txt", ["test"])]
)
def test_every_dependency_is_pinned_with_hashes_inside_its_range(lock, extras):
    locked = pins(ROOT / lock)
    wanted = [Requirement(r) for r in project()["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in project()["optional-dependencies"][extra]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in {lock}"
        version, hashes = locked[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement.specifier}"
        )
    for name, (_, hashes) in locked.items():
        assert hashes, f"{lock} pins {name} without a hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_ci_and_deploy_install_only_the_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "--require-hashes -r requirements-test.txt" in ci
    assert re.search(r"pip install [^\n]*--no-deps -e", ci)
    # The platform installs requirements.txt; the Procfile must not need an installed script.
    for line in (ROOT / "Procfile").read_text().splitlines():
        command = line.split(":", 1)[1]
        assert "krasip " not in command.replace("python -m bot", ""), line
