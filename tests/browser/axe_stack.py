"""axe-core for the accessibility checks of the browser tests: installed with `npm ci` from
the pinned lockfile (`tests/browser/axe/`) into `.cache/axe-core` in the checkout (ignored by
git), once per lockfile; Playwright injects `axe.min.js` into each page checked.

`python -m tests.browser.axe_stack` installs it ahead of a test run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).parent / "axe"
INSTALL = Path(__file__).parents[2] / ".cache" / "axe-core"
_FILES = ("package.json", "package-lock.json")
# The impacts that fail a page; "moderate" and "minor" findings are printed, not failed.
BLOCKING = ("serious", "critical")


class AxeMissing(Exception):
    """npm is not on PATH, so axe-core cannot be installed."""


def install() -> Path:
    """The path of axe.min.js, installed first if the lockfile changed since the last time."""
    npm = shutil.which("npm")
    if npm is None:
        raise AxeMissing("npm is needed to install axe-core for the accessibility checks")
    INSTALL.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        shutil.copyfile(SOURCE / name, INSTALL / name)
    lock = hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()
    stamp = INSTALL / ".installed"
    script = INSTALL / "node_modules" / "axe-core" / "axe.min.js"
    if not stamp.exists() or stamp.read_text() != lock or not script.exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=INSTALL, check=True, timeout=600)
        stamp.write_text(lock)
    return script


def violations(page: Any, script: Path) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA rules and best
    practices). The page must be in a context with JavaScript on and CSP bypassed: the
    staff pages forbid every script, axe's too."""
    page.add_script_tag(path=str(script))
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return found


def blocking(found: list[dict[str, Any]]) -> list[str]:
    """The serious and critical violations, one line each (rule, impact, where)."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{', '.join(str(n['target']) for n in v['nodes'][:3])}"
            for v in found if v.get("impact") in BLOCKING]


if __name__ == "__main__":
    print(install())
    sys.exit(0)
