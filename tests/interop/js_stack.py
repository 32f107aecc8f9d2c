"""The npm verifier stack for the interop tests: installed with `npm ci` from the pinned
lockfile into `.cache/interop-js` in the checkout (ignored by git), once per lockfile.

`python -m tests.interop.js_stack` (or `make interop-js`) installs it ahead of a test run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).parent / "js"
CHECKOUT = Path(__file__).parents[2]
INSTALL = CHECKOUT / ".cache" / "interop-js"
_FILES = ("package.json", "package-lock.json", "verify.mjs")


class StackMissing(Exception):
    """node or npm is not on PATH."""


@dataclass(frozen=True)
class JsVerifier:
    """The node binary and the installed verifier script."""

    node: str
    script: Path


def install() -> JsVerifier:
    """The verifier, with its node_modules installed if the lockfile changed since the last
    install."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise StackMissing("node and npm are needed for the interop tests")
    INSTALL.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        shutil.copyfile(SOURCE / name, INSTALL / name)
    lock = hashlib.sha256((SOURCE / "package-lock.json").read_bytes()).hexdigest()
    stamp = INSTALL / ".installed"
    if not stamp.exists() or stamp.read_text() != lock or not (INSTALL / "node_modules").exists():
        # npm ci installs exactly the lockfile's versions (and fails if package.json
        # disagrees with it), removing any node_modules left from an older lockfile.
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=INSTALL, check=True, timeout=600)
        stamp.write_text(lock)
    return JsVerifier(node=node, script=INSTALL / "verify.mjs")


if __name__ == "__main__":
    print(install().script.parent)
    sys.exit(0)
