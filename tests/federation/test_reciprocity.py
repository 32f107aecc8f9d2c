"""Reciprocity across three nodes: a professional endorsed in Alaska moves to Michigan."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from domain.errors import InvalidTransition
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from federation_api.clock import now, today
from projections.standing import Standing
from tests.federation.alliance import (
    Alliance,
    heads,
    import_professionals,
    start_single_server,
    wait_until,
)

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
