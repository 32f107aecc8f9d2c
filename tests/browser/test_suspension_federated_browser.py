"""A committee suspension seen on another node, in a real headless Chromium (JavaScript off):
AK's and MI's nodes, each an `alliance serve` on SQLite files or on a PostgreSQL schema of
its own, admitted to one Alliance registry and replicating over a real nats-server. AK's
committee member signs in (setting up the authenticator), finds the endorsement in the
roster, is refused without a reason (next to the field, nothing written), and suspends it;
MI's public verification page, with no account there at all, then shows it suspended. Every
page is checked with axe-core.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from federation_api.replication.loopback import start_single_server
from tests.browser.journeys import (
    BACKENDS,
    COMMITTEE,
    Checker,
    StaffNode,
    admit_all,
    axe_script_or_skip,
    database_url,
    follow,
    import_endorsement,
    make_node,
    new_context,
    shown_entry,
    sign_in,
)
from tests.e2e.harness import ServerProcess, today

REPLICATION_TIMEOUT = 60.0


@dataclass
class TwoNodes:
    ak: StaffNode
    mi: ServerProcess
    endorsement: str  # AK's, current until the committee acts


def public_status(server: ServerProcess, endorsement: str, last_name: str) -> str | None:
    """The status MI's public API answers for the endorsement (None while it has none)."""
    r = httpx.get(f"{server.url}/v1/verify", params={"endorsement_id": endorsement,
                                                     "last_name": last_name}, timeout=10)
    return str(r.json()["status"]) if r.status_code == 200 else None


def wait_for_status(server: ServerProcess, endorsement: str, last_name: str,
                    wanted: str) -> None:
    """Poll (bounded) until the node answers `wanted` for the endorsement."""
    deadline = time.monotonic() + REPLICATION_TIMEOUT
    seen = None
    while time.monotonic() < deadline:
        seen = public_status(server, endorsement, last_name)
        if seen == wanted:
            return
        time.sleep(0.2)
    raise AssertionError(f"{server.url} still answers {seen!r}, not {wanted!r}, after "
                         f"{REPLICATION_TIMEOUT} s:\n{server.log()[-3000:]}")


@pytest.fixture(scope="module", params=BACKENDS)
def nodes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[TwoNodes]:
    backend = str(request.param)
    root = tmp_path_factory.mktemp(f"federated-{backend}")
    nats = start_single_server(root, name="nats", store=root / "nats")
    try:
        with database_url(backend) as ak_url, database_url(backend) as mi_url:
            ak, accounts = make_node(root, "AK", ak_url, {"cal": COMMITTEE})
            mi, _ = make_node(root, "MI", mi_url, {})
            admit_all(root, [ak, mi])
            env = {"ALLIANCE_NATS_URL": nats.url}
            with ServerProcess(ak, env=env) as ak_server, \
                    ServerProcess(mi, env=env) as mi_server, ak_server.client() as client:
                endorsement = import_endorsement(
                    client, ak, "AK-P-0002", "Okafor", "Sam", "IFS",
                    dt.date(today().year + 1, 12, 31))
                wait_for_status(mi_server, endorsement, "Okafor", "current")
                yield TwoNodes(ak=StaffNode(server=ak_server, node=ak, accounts=accounts),
                               mi=mi_server, endorsement=endorsement)
    finally:
        nats.stop()


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def test_a_suspension_on_aks_node_is_seen_on_mis(browser: Any, nodes: TwoNodes,
                                                 axe_script: Path) -> None:
    ak, endorsement = nodes.ak, nodes.endorsement
    axe = Checker(browser, ak.url, axe_script)
    mi_axe = Checker(browser, nodes.mi.url, axe_script)
    context = new_context(browser)
    try:
        page = sign_in(context, ak.url, ak.accounts["cal"], axe)
        axe.check(page)
        page.goto(f"{ak.url}/staff/roster")
        axe.check(page)
        follow(page.get_by_role("link", name=endorsement))
        assert page.get_by_role("heading", level=1, name=f"Sam Okafor: {endorsement}"
                                ).is_visible()
        assert "writes a suspension to the ledger" in page.locator("main").inner_text()
        axe.check(page)

        head = ak.head()
        follow(page.get_by_role("button", name="Suspend"))  # no reason given
        error = page.locator("#suspend-reason-error")
        assert "reason" in error.inner_text()
        assert "suspend-reason-error" in (page.locator("#suspend-reason").get_attribute(
            "aria-describedby") or "")
        assert ak.head() == head
        axe.check(page)

        page.locator("#suspend-reason").fill("Complaint under review")
        follow(page.get_by_role("button", name="Suspend"))
        assert "The endorsement is suspended." in page.locator(".message").inner_text()
        seq, digest = shown_entry(page)
        assert seq == ak.head() and ak.entry(seq)["entry_hash"].startswith(digest)
        assert ak.entry(seq)["event_type"] == "EndorsementSuspended"
        assert page.get_by_role("button", name="Lift the suspension").is_visible()
        axe.check(page)

        wait_for_status(nodes.mi, endorsement, "Okafor", "suspended")
        public = new_context(browser)  # a visitor of MI's node: no account anywhere
        try:
            verify = public.new_page()
            verify.goto(f"{nodes.mi.url}/verify?by=id&endorsement_id={endorsement}"
                        "&last_name=Okafor")
            assert "suspended" in verify.locator(".status-words").inner_text().lower()
            assert "Alaska" in verify.locator("main").inner_text()
            mi_axe.check(verify)
        finally:
            public.close()
    finally:
        context.close()
        axe.close()
        mi_axe.close()
    assert axe.problems == [] and mi_axe.problems == []
    assert len(axe.checked) + len(mi_axe.checked) >= 8
