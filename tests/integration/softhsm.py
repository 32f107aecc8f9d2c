"""A real SoftHSM2 token store in a temporary directory, for the PKCS#11 tests.

SoftHSM2 reads its configuration (SOFTHSM2_CONF) and its list of tokens once, when a process
first loads the module, so one store serves the whole test session: `SoftHsm.create` makes
the directory and initialises every token the tests will use before anything loads the
module. Child processes (`alliance ...`) get the same SOFTHSM2_CONF and see the same files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ledger.hsm_keys import DEFAULT_MODULE

USER_PIN = "4711-user"
SO_PIN = "0815-security-officer"


def softhsm_module() -> str:
    """Where this machine's SoftHSM2 module is: SOFTHSM2_MODULE, the file the Debian package
    installed (asked of dpkg), or Debian's default path."""
    if found := os.environ.get("SOFTHSM2_MODULE"):
        return found
    if dpkg := shutil.which("dpkg-query"):
        listed = subprocess.run([dpkg, "-L", "softhsm2"], capture_output=True,
                                text=True, check=False).stdout.split()
        for path in listed:
            if path.endswith("/libsofthsm2.so") and Path(path).exists():
                return path
    return DEFAULT_MODULE


@dataclass(frozen=True)
class SoftHsm:
    """The store: its config file, the module, and a PIN file per token."""

    conf: Path
    module: str
    root: Path

    @classmethod
    def create(cls, root: Path, tokens: tuple[str, ...]) -> SoftHsm:
        """A token directory under `root` with each of `tokens` initialised."""
        util = shutil.which("softhsm2-util")
        if util is None:
            raise AssertionError("softhsm2-util is missing: install the Debian package "
                                 "softhsm2 (.ci/run does)")
        (root / "tokens").mkdir(parents=True)
        conf = root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {root / 'tokens'}\n"
                        "objectstore.backend = file\nlog.level = ERROR\n")
        env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
        for label in tokens:
            subprocess.run([util, "--init-token", "--free", "--label", label,
                            "--pin", USER_PIN, "--so-pin", SO_PIN], env=env, check=True,
                           capture_output=True)
        hsm = cls(conf=conf, module=softhsm_module(), root=root)
        hsm.pin_file("right", USER_PIN)
        hsm.pin_file("wrong", "not-the-pin")
        return hsm

    def pin_file(self, name: str, pin: str, mode: int = 0o600) -> Path:
        """A PIN file (0600 unless told otherwise)."""
        path = self.root / f"{name}.pin"
        path.write_text(pin + "\n")
        path.chmod(mode)
        return path

    def uri(self, token: str, label: str, pin: str = "right") -> str:
        """The PKCS#11 URI of key `label` in `token`, with the PIN file `pin`."""
        return (f"pkcs11:token={token};object={label}?module-path={self.module}"
                f"&pin-source=file:{self.root / f'{pin}.pin'}")

    def env(self) -> dict[str, str]:
        """What a child process needs to see the same tokens."""
        return {"SOFTHSM2_CONF": str(self.conf)}
