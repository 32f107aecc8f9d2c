"""The list watch in the replicator's anti-entropy pass, between real nodes over a real
nats-server: AK's node serves its status lists over real HTTP; MI replicates AK's ledger and,
with nobody calling the status-list-checks endpoint, checks what AK serves against it. A list
AK signs and serves that its ledger does not record flags AK forked on MI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.credentials.list_watch_pass import ListWatchPass
from federation_api.node.root import Node
from federation_api.replication.loopback import start_single_server
from federation_api.replication.nats_process import free_port
from federation_api.web.app import create_app
from tests.federation.alliance import Alliance, wait_until
from tests.integration.credential_world import forge_next_version

pytestmark = pytest.mark.timeout(180)


@contextmanager
def _served(node: Node, port: int) -> Iterator[None]:
    """The node's real app on a loopback port (its public URL), in a thread."""
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="ak-app", daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "uvicorn did not start"
            threading.Event().wait(0.02)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _checked(watch: ListWatchPass, association: str, outcomes: set[str]) -> bool:
    found = watch.findings.get(association)
    return found is not None and {f.outcome for f in found} == outcomes


def test_a_peer_flags_a_split_view_found_by_its_anti_entropy_pass(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path)
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"), list_watch_seconds=0.5)
        port = free_port()
        try:
            ak = Node(replace(alliance.settings("AK"), public_url=f"http://127.0.0.1:{port}"))
            alliance.nodes["AK"] = ak
            mi = alliance.open("MI")
            with _served(ak, port):
                await alliance.start_replication("AK", server.url)
                await alliance.start_replication("MI", server.url)
                watch = mi.list_watch_pass
                await asyncio.to_thread(
                    ak.service.record_existing, endorsement_id="AK-WATCH0001",
                    person_id="P-WATCH0001", family_name="Oyelaran", given_name="Ada",
                    level=Level.IMHS, designation=None,
                    granted_on=today() - dt.timedelta(days=30),
                    valid_through=today() + dt.timedelta(days=300),
                    legacy_reference="ref-WATCH0001", now=now())
                assert ak.status_lists is not None
                await asyncio.to_thread(ak.status_lists.publish_due)
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    download = await client.get("/v1/credentials/AK-WATCH0001",
                                                params={"last_name": "Oyelaran"})
                assert download.status_code == 200, download.text
                credential: dict[str, Any] = download.json()

                # MI holds AK's versions and, unasked, finds both lists recorded.
                await wait_until(lambda: _checked(watch, "AK", {"recorded"}), timeout=60,
                                 what="MI's watch to find AK's lists recorded")
                assert "AK" not in mi.forked_associations()

                # AK signs and serves a list its ledger does not record.
                await asyncio.to_thread(forge_next_version, ak, credential)
                await wait_until(lambda: "AK" in mi.forked_associations(), timeout=60,
                                 what="MI's watch to flag AK forked")
                assert {f.list_url.rsplit("/", 2)[1]: f.outcome
                        for f in watch.findings["AK"]} == {"suspension": "split view",
                                                           "revocation": "recorded"}
                evidence = mi.list_watch.evidence("AK")
                assert len(evidence) == 1 and b"BitstringStatusListCredential" in evidence[0][2]
                # AK does not watch itself: its own lists are its to sign.
                assert "AK" not in ak.list_watch_pass.findings
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
