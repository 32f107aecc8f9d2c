"""A third node proves a transfer between two others, with checkpoints its peers witnessed.

Three nodes replicate and gossip checkpoints over a real nats-server. Alaska imports an
endorsement, Michigan recognises it, Alaska records the transfer out by itself; once every
checkpoint is witnessed, Texas (which recorded nothing about it) hands out a proof (to a staff
token holder) and receipts (public to anyone, full to staff) that verify offline, with both
ledgers' checkpoints witnessed by the registry's quorum.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import today
from federation_api.proofs.status import replay_status
from federation_api.replication.loopback import start_single_server
from federation_api.web.app import create_app
from ledger.proofs.receipts import ReceiptKind, decode_receipt, verify_receipt
from ledger.proofs.statements import limits, proves, receipt_proves
from ledger.proofs.status import decode_status_proof, verify_status_proof
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.notes import parse_note
from tests.federation.alliance import Alliance, heads, wait_until

pytestmark = pytest.mark.timeout(240)
ASSOCIATIONS = ("AK", "MI", "TX")


def _witnessed(alliance: Alliance, sizes: dict[str, int]) -> bool:
    for node in alliance.nodes.values():
        for origin, size in sizes.items():
            note = node.log.latest_witnessed_checkpoint(origin)
            if note is None or parse_body(parse_note(note).text).size < size:
                return False
    return True


def test_a_third_node_proves_a_transfer_with_witnessed_checkpoints(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path)
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            await alliance.start_all(server.url, checkpoint_seconds=0.5)
            ak, mi, tx = (alliance.nodes[a] for a in ASSOCIATIONS)
            now = dt.datetime.now(dt.UTC)
            for node in (ak, tx):
                await asyncio.to_thread(
                    node.service.record_existing, endorsement_id=f"{node.association}-FED00001",
                    person_id=f"P-{node.association}", family_name="Okafor", given_name="Ada",
                    level=Level.IMHS, designation=None, granted_on=dt.date(2020, 1, 1),
                    valid_through=dt.date(2030, 12, 31), legacy_reference="ref", now=now)
            await wait_until(lambda: heads(mi).get("AK") == 1, timeout=90, what="AK on MI")
            await asyncio.to_thread(mi.service.recognize, "AK-FED00001",
                                    endorsement_id="MI-FED00001", recognized_on=today(),
                                    now=dt.datetime.now(dt.UTC), replica=mi.replica)
            expected = {"AK": 2, "MI": 1, "TX": 1}  # AK records the transfer out itself
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, timeout=90,
                                 what=f"replication to {node.association}")
            await wait_until(lambda: _witnessed(alliance, expected), timeout=90,
                             what="every checkpoint witnessed everywhere")

            genesis = alliance.nodes["TX"].registry_dir.genesis()
            client = TestClient(create_app(tx))
            _, secret = tx.tokens.issue(label="a reviewer", role=Role.REVIEWER,
                                        now=dt.datetime.now(dt.UTC))
            token = {"Authorization": f"Bearer {secret}"}
            asked = {"endorsement_id": "AK-FED00001", "last_name": "okafor"}
            assert client.get("/v1/proofs/status", params=asked).status_code == 401
            r = client.get("/v1/proofs/status", params=asked, headers=token)
            assert r.status_code == 200, r.text
            report = verify_status_proof(decode_status_proof(r.content), replay_status,
                                         pinned_genesis=genesis)
            assert report.ok, report.findings
            assert report.proof.made_by == "TX"
            assert report.replayed is not None and report.replayed.standing == "transferred"
            assert {(e.body.association, e.body.event_type) for e in report.entries} == {
                ("AK", "EndorsementGranted"), ("AK", "EndorsementTransferredOut"),
                ("MI", "EndorsementRecognized")}
            assert report.checkpoints["AK"].witnessed and report.checkpoints["MI"].witnessed
            assert not any("not witnessed" in line for line in limits(report))
            assert any("AK's checkpoint is witnessed" in line for line in proves(report))

            # The public receipt of the transferred endorsement: TX signed it, based on AK's
            # and MI's witnessed heads, the same ones the full proof's entries are under.
            r = client.get("/v1/receipts", params=asked)
            assert r.status_code == 200, r.text
            public = verify_receipt(decode_receipt(r.content), replay_status,
                                    pinned_genesis=genesis)
            assert public.ok, public.all_findings
            assert public.body is not None and public.body.kind == ReceiptKind.PUBLIC
            assert public.body.node == "TX" and public.proof is None
            assert public.body.answer.claim.standing == "transferred"
            assert public.heads is not None and set(public.heads.checkpoints) == {"AK", "MI"}
            assert all(c.witnessed for c in public.heads.checkpoints.values())
            assert any("AK's checkpoint is witnessed" in line
                       for line in receipt_proves(public))
            assert b"P-AK" not in decode_receipt(r.content).body  # no person id

            r = client.get("/v1/receipts", params={"endorsement_id": "MI-FED00001",
                                                   "last_name": "Okafor"}, headers=token)
            assert r.status_code == 200, r.text
            receipt = verify_receipt(decode_receipt(r.content), replay_status,
                                     pinned_genesis=genesis)
            assert receipt.ok, receipt.all_findings
            assert receipt.body is not None and receipt.body.node == "TX"
            assert receipt.body.kind == ReceiptKind.FULL and receipt.proof is not None
            assert receipt.body.answer.claim.standing == "current"
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
