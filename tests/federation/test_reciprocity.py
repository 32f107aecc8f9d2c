"""Reciprocity across three nodes: a professional endorsed in Alaska moves to Michigan."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from domain.errors import InvalidTransition
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.levels import Level
from federation_api.clock import now, today
from federation_api.replication.loopback import start_single_server
from projections.standing import Standing
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(120)


def test_transfer_keeps_one_current_home_everywhere(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI", "TX"))
        try:
            await alliance.start_all(server.url)
            ak, mi, tx = (alliance.nodes[a] for a in ("AK", "MI", "TX"))
            (origin,) = await asyncio.to_thread(import_professionals, ak, 1, prefix="R")
            await wait_until(lambda: mi.projector.endorsement(origin) is not None,
                             what="MI replica of the AK endorsement")

            moved = await asyncio.to_thread(
                mi.service.recognize, origin, endorsement_id="MI-MOVED001",
                recognized_on=today(), now=now(), replica=mi.replica)
            assert (moved.level, moved.granted_on) == (ak.projector.endorsement(origin).level,
                                                       dt.date(2020, 1, 1))
            await wait_until(lambda: tx.projector.endorsement("MI-MOVED001") is not None,
                             what="TX replica of the recognition")
            with pytest.raises(InvalidTransition):  # a second home is refused
                await asyncio.to_thread(tx.service.recognize, origin,
                                        endorsement_id="TX-TWICE001", recognized_on=today(),
                                        now=now(), replica=tx.replica)

            # AK sees the recognition and records the transfer out by itself.
            await wait_until(lambda: ak.service.endorsement(origin).status.value
                             == "transferred", what="AK transfer-out")
            expected = {"AK": 2, "MI": 1}
            for node in (ak, mi, tx):
                await wait_until(lambda n=node: heads(n) == expected, what="convergence")
                answer = node.projector.status_as_of(origin, today())
                assert answer is not None and answer.standing is Standing.TRANSFERRED
                home = node.projector.status_as_of("MI-MOVED001", today())
                assert home is not None and home.standing is Standing.CURRENT
                person = node.projector.endorsement(origin).person_id
                held = node.projector.held_on(person, today())
                assert [h.endorsement_id for h in held] == ["MI-MOVED001"]
            assert len({n.projector.digest() for n in (ak, mi, tx)}) == 1

            # Renewals continue at the new home.
            year = moved.valid_through.year
            renewed = await asyncio.to_thread(
                mi.service.renew, "MI-MOVED001", RenewalEvidence(
                    trainings=(Training(title="t", hours=15, completed_on=dt.date(year, 3, 1)),),
                    rsc=(RscHours(provider_id="x", hours=12, started_on=dt.date(year, 2, 1),
                                  ended_on=dt.date(year, 4, 1)),),
                    memberships=(Membership(association="MI",
                                            valid_through=dt.date(year + 1, 12, 31)),)),
                renewed_on=today(), now=now())
            assert renewed.valid_through.year == year + 1
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_a_committee_action_follows_the_person_across_the_alliance(tmp_path: Path) -> None:
    """MI suspends; over NATS, AK learns it and refuses a new endorsement for the person,
    naming MI's endorsement; once MI lifts the suspension, AK may only recognise it."""
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        try:
            await alliance.start_all(server.url)
            ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
            (held,) = await asyncio.to_thread(import_professionals, mi, 1, prefix="S")
            person = mi.projector.endorsement(held).person_id
            await asyncio.to_thread(mi.service.suspend, held, effective_on=today(),
                                    reason="complaint", now=now())
            await wait_until(lambda: ak.projector.status_as_of(held, today()) is not None
                             and ak.projector.status_as_of(held, today()).standing
                             is Standing.SUSPENDED, what="AK replica of the suspension")

            def reimport() -> None:
                ak.service.record_existing(
                    endorsement_id="AK-AGAIN001", person_id=person, family_name="Family0",
                    given_name="Given", level=Level.IMHS, designation=None,
                    granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2030, 12, 31),
                    legacy_reference="paper", now=now())

            before = heads(ak)
            with pytest.raises(InvalidTransition) as raised:
                await asyncio.to_thread(reimport)
            assert raised.value.rule == "standing.suspended"
            assert f"{held} (Level III, MI) is suspended" in raised.value.message
            assert heads(ak) == before

            await asyncio.to_thread(
                mi.service.reinstate, held, reinstated_on=today(), reason="cleared",
                evidence=RenewalEvidence(), by_committee=True, now=now())
            await wait_until(lambda: ak.projector.status_as_of(held, today()).standing
                             is Standing.CURRENT, what="AK replica of the reinstatement")
            with pytest.raises(InvalidTransition) as raised:
                await asyncio.to_thread(reimport)
            assert raised.value.rule == "standing.held_elsewhere"
            moved = await asyncio.to_thread(
                ak.service.recognize, held, endorsement_id="AK-MOVED001",
                recognized_on=today(), now=now(), replica=ak.replica)
            assert moved.person_id == person
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
