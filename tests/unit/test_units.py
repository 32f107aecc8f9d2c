"""The systemd units of ops/systemd/, checked by systemd itself (issue 13).

`systemd-analyze verify` parses each unit as systemd would load it (an unknown key or a bad
value is a warning on stderr, which fails the test) and checks the programs exist: the units
name /opt/alliance/venv, so the test points them at the venv running it. `systemd-analyze
security --offline` scores the sandbox; the hardening the node relies on is asserted too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "ops" / "systemd"
INSTALLED_VENV = "/opt/alliance/venv/bin/"
# The NATS unit is a template; it is checked as the instance an association runs.
SERVICES = ("alliance-node.service", "alliance-nats@leaf.service", "alliance-lapses.service")
HARDENING = ("User=", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
             "ProtectHome=yes", "CapabilityBoundingSet=", "UMask=0077")


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        raise AssertionError("systemd-analyze is missing: install the Debian package systemd "
                             "(.ci/run does)")
    return found


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units with this venv's programs in place of the installed ones."""
    out = tmp_path_factory.mktemp("units")
    venv_bin = f"{Path(sys.executable).parent}/"
    for unit in UNITS.glob("alliance-*"):
        name = unit.name.replace("@.", "@leaf.")
        (out / name).write_text(unit.read_text().replace(INSTALLED_VENV, venv_bin))
    return out


def test_systemd_accepts_every_unit(units: Path) -> None:
    names = sorted(p.name for p in units.iterdir())
    assert names == sorted([*SERVICES, "alliance-lapses.timer"])
    done = subprocess.run([_analyze(), "verify", "--man=no", *(f"./{n}" for n in names)],
                          cwd=units, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_a_unit_with_a_typo_is_caught(units: Path, tmp_path: Path) -> None:
    # The check above is only worth something if systemd complains about a broken unit.
    broken = tmp_path / "alliance-node.service"
    broken.write_text((units / "alliance-node.service").read_text().replace(
        "ProtectSystem=strict", "ProtectSystem=stric"))
    done = subprocess.run([_analyze(), "verify", "--man=no", f"./{broken.name}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert "protect system value" in done.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_services_are_sandboxed(units: Path, service: str) -> None:
    text = (units / service).read_text()
    for setting in HARDENING:
        assert re.search(rf"^{re.escape(setting)}", text, re.M), f"{service}: {setting}"
    if service != "alliance-lapses.service":  # the job writes nothing of its own
        assert re.search(r"^ReadWritePaths=/var/lib/", text, re.M), service
    # Exposure on systemd's 0-100 scale (shown as 0.0-10.0): 20 is "OK" and below.
    done = subprocess.run([_analyze(), "security", "--offline=yes", "--threshold=20",
                           "--no-pager", f"./{service}"], cwd=units, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]


def test_nats_stops_in_lame_duck_mode_and_secrets_are_credentials() -> None:
    nats = (UNITS / "alliance-nats@.service").read_text()
    assert "--config /etc/alliance/nats/%i.conf" in nats
    assert re.search(r"^ExecStop=/bin/kill -USR2 \$MAINPID$", nats, re.M)
    node = (UNITS / "alliance-node.service").read_text()
    lapses = (UNITS / "alliance-lapses.service").read_text()
    assert "#LoadCredential=token.pin:" in node and "#LoadCredential=tls.key:" in node
    assert "--token-file ${CREDENTIALS_DIRECTORY}/coordinator.token" in lapses
    timer = (UNITS / "alliance-lapses.timer").read_text()
    assert re.search(r"^Persistent=true$", timer, re.M)
