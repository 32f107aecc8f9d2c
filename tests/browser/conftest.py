"""A real headless Chromium (the distribution's package) driven by Playwright, and a real node.

Playwright's own browser download is not used: the tests launch the `chromium` found on PATH
and skip, saying why, when there is none (`.ci/run` installs it). The node is `alliance
serve` as a child process, seeded through the CLI and the staff HTTP API.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation_api.replication.nats_process import free_port
from tests.e2e.harness import NodeDir, ServerProcess, init_node, run_alliance, today

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ASSOCIATION_NAME = "Alaska Association for Infant and Early Childhood Mental Health"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The system Chromium, or a skip with the reason."""
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("no `chromium` on PATH: install the distribution's chromium package "
                    "(apt-get install chromium; .ci/run does) to run the browser tests")
    return found


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium per test module, each test in its own context. Not per session:
    while Playwright's sync API is alive the thread counts as running an event loop, so a
    later test's `asyncio.run()` would fail."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Seeded:
    """A running node with known endorsements."""

    server: ServerProcess
    node: NodeDir
    genesis: Path
    current: str
    suspended: str
    lapsed: str
    accented: str
    due_soon: str

    @property
    def url(self) -> str:
        return self.server.url


def _import(client: httpx.Client, node: NodeDir, person: str, family: str, given: str,
            valid_through: dt.date, level: str = "IMHS", designation: str | None = None) -> str:
    r = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
        "person_id": person, "family_name": family, "given_name": given, "level": level,
        "designation": designation, "granted_on": "2012-03-01",
        "valid_through": valid_through.isoformat(), "legacy_reference": f"paper-{person}"})
    assert r.status_code == 201, r.text
    return str(r.json()["endorsement_id"])


def admit_to_registry(node: NodeDir, root: Path) -> Path:
    """A one-key Alliance registry admitting the node, made with the CLI; the genesis file.

    Receipts carry a status proof, which needs the registry."""
    registry, key = root / "registry", root / "gov.key"
    run_alliance("registry", "keygen", "--out", str(key))
    run_alliance("registry", "init", "--dir", str(registry), "--governance-key",
                 str(key.with_suffix(".pub")), "--threshold", "1")
    proposal = str(root / "admit.bin")
    run_alliance("registry", "admit", "--dir", str(registry), "--association",
                 node.association, "--name", ASSOCIATION_NAME, "--public-key-file",
                 str(node.data_dir / "keys" / "signing.pub"), "--out", proposal)
    run_alliance("registry", "sign", "--proposal", proposal, "--key", str(key))
    run_alliance("registry", "append", "--dir", str(registry), "--proposal", proposal)
    shutil.copytree(registry, node.data_dir / "registry")
    return registry / "genesis.json"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """`alliance init`, tokens, a registry, `alliance serve`; endorsements imported, one
    suspended by the committee and one lapsed by the coordinator's daily lapse run."""
    root = tmp_path_factory.mktemp("browser")
    node = init_node(root / "ak", "AK", name=ASSOCIATION_NAME)
    genesis = admit_to_registry(node, root)
    next_year = dt.date(today().year + 1, 12, 31)
    port = free_port()  # its public URL names it: the node issues credentials under it
    with ServerProcess(node, port=port, env={"ALLIANCE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
                       ) as server, server.client() as client:
        current = _import(client, node, "AK-P-0001", "Rivera", "Maria", next_year)
        suspended = _import(client, node, "AK-P-0002", "Okafor", "Sam", next_year, level="IFS")
        lapsed = _import(client, node, "AK-P-0003", "Lee", "Kim",
                         today() - dt.timedelta(days=400), level="IFA")
        accented = _import(client, node, "AK-P-0004", "Núñez", "José", next_year,
                           level="IMHM", designation="C")
        due_soon = _import(client, node, "AK-P-0005", "Brown", "Amy",
                           today() + dt.timedelta(days=20), level="IFS")
        r = client.post(f"/v1/endorsements/{suspended}/suspension",
                        headers=node.auth("committee"), json={"reason": "under review"})
        assert r.status_code == 200, r.text
        r = client.post("/v1/lapses", headers=node.auth("coordinator"), json={})
        assert r.status_code == 200 and [e["endorsement_id"] for e in r.json()] == [lapsed]
        yield Seeded(server=server, node=node, genesis=genesis, current=current,
                     suspended=suspended, lapsed=lapsed, accented=accented, due_soon=due_soon)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page with JavaScript off, as the pages must work without it."""
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def downloads_dir(tmp_path: Path) -> Path:
    """Where a test saves what the browser downloaded."""
    path = tmp_path / "downloads"
    path.mkdir(exist_ok=True)
    return path
