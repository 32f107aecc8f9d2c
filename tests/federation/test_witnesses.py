"""Checkpoint publishing and witness cosigning between nodes over real nats-servers.

Every node signs and publishes checkpoints of its ledger, witnesses every peer's against its
verified replica, and collects everyone's cosignatures; a node that vouches for two histories
is refused and flagged; forged cosignatures are ignored; the witness state survives restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient

from federation_api.accounts.tokens import Role
from federation_api.node.root import Node
from federation_api.replication.checkpoint_gossip import checkpoint_subject, cosignature_subject
from federation_api.replication.loopback import HubAndLeafs, start_single_server
from federation_api.web.app import create_app
from ledger.signing import Signer
from ledger.transparency.checkpoints import Checkpoint, add_cosignature, open_checkpoint, parse_body
from ledger.transparency.cosigners import origin_of, verified_cosigners, witness_keys, witness_name
from ledger.transparency.notes import parse_note, sign_note
from ledger.transparency.witness import Cosigned
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(240)
ASSOCIATIONS = ("AK", "MI", "TX")
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _witnessed_at(node: Node, origin: str, size: int) -> bool:
    note = node.log.latest_witnessed_checkpoint(origin)
    return note is not None and parse_body(parse_note(note).text).size >= size


def _cosigners(node: Node, origin: str) -> set[str]:
    note = node.log.latest_checkpoint(origin)
    assert node.registry is not None
    return set(verified_cosigners(note, node.registry)) if note else set()


async def _converge(alliance: Alliance, expected: dict[str, int]) -> None:
    for node in alliance.nodes.values():
        await wait_until(lambda n=node: heads(n) == expected, timeout=90, what="replication")


async def _all_witnessed(alliance: Alliance, sizes: dict[str, int]) -> None:
    for node in alliance.nodes.values():
        for origin, size in sizes.items():
            await wait_until(lambda n=node, o=origin, s=size: _witnessed_at(n, o, s),
                             timeout=90, what=f"{origin}@{size} witnessed on {node.association}")


def _auditor(node: Node) -> tuple[TestClient, dict[str, str]]:
    _, token = node.tokens.issue(label="auditor", role=Role.AUDITOR, now=NOW)
    return TestClient(create_app(node)), {"Authorization": f"Bearer {token}"}


def test_three_nodes_witness_each_other_and_catch_a_split_view(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path)
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            await alliance.start_all(server.url, checkpoint_seconds=0.5)
            ids = {}
            for association in ASSOCIATIONS:
                ids[association] = await asyncio.to_thread(
                    import_professionals, alliance.nodes[association], 5, prefix="A")
            await _converge(alliance, dict.fromkeys(ASSOCIATIONS, 5))
            await _all_witnessed(alliance, dict.fromkeys(ASSOCIATIONS, 5))

            ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
            assert mi.registry is not None and mi.registry.witness_quorum == 2
            note = ak.log.latest_witnessed_checkpoint("AK")
            assert note is not None
            checkpoint = open_checkpoint(note, {origin_of("AK"): ak.signer.public_key})
            keys = witness_keys(mi.registry, dt.datetime.now(dt.UTC), origin="AK")
            assert set(verified_cosigners(note, mi.registry)) == {"MI", "TX"}
            assert set(keys) == {witness_name("MI"), witness_name("TX")}
            # Every node holds the same witnessed checkpoint of AK, and its root is the root
            # of its own replica of AK's ledger.
            for node in alliance.nodes.values():
                held = node.log.latest_witnessed_checkpoint("AK")
                assert held is not None
                assert parse_body(parse_note(held).text) == checkpoint
                assert node.log.root("AK", checkpoint.size)[1] == checkpoint.root_hash
            assert mi.witness.last_cosigned("AK") is not None

            # The auditor API shows the checkpoint, its witnesses and the quorum.
            client, auth = _auditor(mi)
            body = client.get("/v1/ledger/AK/checkpoints", headers=auth).json()
            assert body["witnessed"] is True and body["quorum"] == 2
            assert set(body["witnesses"]) >= {"MI", "TX"}
            assert body["size"] >= 5 and "alliance-witness/TX" in body["note"]

            # AK grows; the new checkpoint gets witnessed too (consistency from the last one).
            await asyncio.to_thread(import_professionals, ak, 3, prefix="B")
            await _converge(alliance, {"AK": 8, "MI": 5, "TX": 5})
            await _all_witnessed(alliance, {"AK": 8})

            # AK's key signs a checkpoint over another history of the same size, sent to the
            # peers: both witnesses refuse it and flag AK as forked, and say so everywhere.
            forged = sign_note(Checkpoint(origin_of("AK"), 8, bytes(32)).body(),
                               origin_of("AK"), ak.signer)
            nc = await nats.connect(server.url)
            await nc.publish(checkpoint_subject("AK"), forged)
            await nc.flush()
            for node in (mi, alliance.nodes["TX"], ak):  # AK sees its own key misused too
                await wait_until(lambda n=node: "AK" in n.forked_associations(), timeout=30,
                                 what="fork flagged")
                refusal = node.witness.refusals("AK")[0]
                assert refusal.fork and refusal.reason == "fork" and refusal.note == forged
            answer = client.get("/v1/verify", params={"endorsement_id": ids["AK"][0],
                                                      "last_name": "Family0"}).json()
            assert any("fork" in w for w in answer["warnings"])
            clean = client.get("/v1/verify", params={"endorsement_id": ids["MI"][0],
                                                     "last_name": "Family0"}).json()
            assert clean["warnings"] == []
            assert "alliance_forked_associations 1.0" in client.get("/metrics").text
            forks = client.get("/v1/federation/forks/AK", headers=auth).json()
            assert any(f["kind"] == "checkpoint" and forged.decode() in f["notes"]
                       for f in forks)
            refusals = client.get("/v1/ledger/AK/witness-refusals", headers=auth).json()
            assert refusals[0]["fork"] is True
            # The witnessed checkpoint is unchanged: nobody cosigned the forged one.
            held = mi.log.latest_witnessed_checkpoint("AK")
            assert held is not None and parse_body(parse_note(held).text).root_hash != bytes(32)

            # Forged cosignatures are ignored: a non-member's key named as a witness, a bad
            # signature by a member's name, and the origin cosigning itself.
            real = mi.log.latest_checkpoint("AK")
            assert real is not None
            origin_only = parse_note(real).text + b"\n" + parse_note(real).signatures[0].line()
            outsider = add_cosignature(origin_only, witness_name("ZZ"), Signer.generate(),
                                       int(dt.datetime.now(dt.UTC).timestamp()))
            impostor = add_cosignature(origin_only, witness_name("TX"), Signer.generate(),
                                       int(dt.datetime.now(dt.UTC).timestamp()))
            itself = add_cosignature(origin_only, witness_name("AK"), ak.signer,
                                     int(dt.datetime.now(dt.UTC).timestamp()))
            before = mi.witness.ignored_cosignatures
            for note_bytes in (outsider, impostor, itself):
                await nc.publish(cosignature_subject("AK"), note_bytes)
            await nc.flush()
            await wait_until(lambda: mi.witness.ignored_cosignatures >= before + 2, timeout=30,
                             what="forged cosignatures seen")
            await nc.close()
            for node in alliance.nodes.values():
                assert "ZZ" not in _cosigners(node, "AK")
                assert "AK" not in _cosigners(node, "AK")
                latest = node.log.latest_checkpoint("AK")
                assert latest is not None and b"alliance-witness/ZZ" not in latest
                assert b"alliance-witness/AK" not in latest
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_hub_and_leafs_carry_checkpoints_and_cosignatures(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS)
        await servers.start()
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            for association in ASSOCIATIONS:
                alliance.open(association)
                await alliance.start_replication(
                    association, servers.node(association),
                    local_domain=association.lower(), hub_domain="hub", checkpoint_seconds=0.5)
            for association in ASSOCIATIONS:
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 4,
                                        prefix="A")
            await _converge(alliance, dict.fromkeys(ASSOCIATIONS, 4))
            await _all_witnessed(alliance, dict.fromkeys(ASSOCIATIONS, 4))
            for node in alliance.nodes.values():
                for origin in ASSOCIATIONS:
                    assert _cosigners(node, origin) == set(ASSOCIATIONS) - {origin}

            # A leaf publishes checkpoints only as itself: AK cannot announce one for MI.
            errors: list[str] = []

            async def on_error(e: Exception) -> None:
                errors.append(str(e))

            nc = await nats.connect(**servers.node("AK").options(), error_cb=on_error,
                                    inbox_prefix="_INBOX.ak")
            await nc.publish(checkpoint_subject("MI"), b"not MI's")
            await nc.flush()
            await asyncio.sleep(0.5)
            await nc.close()
            assert any("permissions violation" in e.lower() for e in errors), errors
        finally:
            await alliance.shutdown()
            servers.stop()

    asyncio.run(scenario())


def test_witness_state_survives_a_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path)
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            await alliance.start_all(server.url, checkpoint_seconds=0.5)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], 4, prefix="A")
            await _converge(alliance, {"AK": 4})
            await _all_witnessed(alliance, {"AK": 4})
            mi = alliance.nodes["MI"]
            before = mi.witness.last_cosigned("AK")
            assert before is not None and before.size == 4
            note = mi.log.latest_checkpoint("AK")
            assert note is not None
            origin_note = parse_note(note).text + b"\n" + parse_note(note).signatures[0].line()
            mine = mi.log.cosignature_lines("AK", 4, before.root_hash)["MI"]

            await alliance.stop_replication("MI")
            alliance.close("MI")
            # While MI is down AK grows: TX alone cannot make the quorum of 2.
            ak, tx = alliance.nodes["AK"], alliance.nodes["TX"]
            await asyncio.to_thread(import_professionals, ak, 2, prefix="B")
            await wait_until(lambda: (tx.witness.last_cosigned("AK") or before).size == 6,
                             timeout=60, what="TX cosigns AK@6")
            assert not _witnessed_at(ak, "AK", 6)

            mi = alliance.open("MI")
            assert mi.witness.last_cosigned("AK") == before
            # The same checkpoint again: the stored cosignature, not a second one.
            again = mi.witness.receive(origin_note, dt.datetime.now(dt.UTC))
            assert again == Cosigned("AK", origin_note + mine, new=False)

            # Back online, MI catches up with what it missed (AK re-publishes its latest
            # checkpoint every interval) and extends what it cosigned before the restart.
            await alliance.start_replication("MI", server.url, checkpoint_seconds=0.5)
            await _all_witnessed(alliance, {"AK": 6})
            await asyncio.to_thread(import_professionals, ak, 3, prefix="C")
            await _converge(alliance, {"AK": 9})
            await _all_witnessed(alliance, {"AK": 9})
            after = mi.witness.last_cosigned("AK")
            assert after is not None and after.size == 9
            assert mi.forked_associations() == {}
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_a_checkpoint_signed_on_demand_is_published_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path)
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            for association in ASSOCIATIONS:
                alliance.open(association)
                # An hour between periodic checkpoints: only the on-demand one can be seen.
                await alliance.start_replication(association, server.url,
                                                 checkpoint_seconds=3600)
            ak = alliance.nodes["AK"]
            await asyncio.to_thread(import_professionals, ak, 3, prefix="A")
            await _converge(alliance, {"AK": 3})
            client, auth = _auditor(ak)
            client.app.state.replicator = alliance.replicators["AK"]
            signed = await asyncio.to_thread(client.get, "/v1/ledger/AK/checkpoint",
                                             headers=auth)
            assert parse_body(parse_note(signed.text.encode()).text).size == 3
            await _all_witnessed(alliance, {"AK": 3})
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
