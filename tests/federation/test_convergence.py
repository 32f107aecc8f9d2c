"""Random commands on three nodes: afterwards every node's Alliance projection is identical."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from pathlib import Path

import pytest

from domain.errors import DomainError
from domain.evidence import RenewalEvidence
from domain.levels import Level
from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.replication.loopback import start_single_server
from tests.federation.alliance import Alliance, heads, wait_until

pytestmark = pytest.mark.timeout(180)
ASSOCIATIONS = ("AK", "MI", "TX")


def random_commands(node: Node, rng: random.Random, count: int) -> None:
    """Imports, suspensions, revocations, relinquishments, corrections and reinstatements."""
    own: list[str] = []
    for i in range(count):
        action = rng.choice(["import", "import", "suspend", "revoke", "relinquish", "correct",
                             "reinstate"])
        try:
            if action == "import" or not own:
                endorsement_id = f"{node.association}-R{i:04d}"
                node.service.record_existing(
                    endorsement_id=endorsement_id, person_id=f"{node.association}-P{i}",
                    family_name=rng.choice(["Doe", "Roe", "Poe"]), given_name="Jo",
                    level=rng.choice([Level.IFA, Level.IFS, Level.IMHS]), designation=None,
                    granted_on=dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(900)),
                    valid_through=dt.date(2028, 12, 31), legacy_reference=f"r{i}", now=now())
                own.append(endorsement_id)
                continue
            target = rng.choice(own)
            on = dt.date(2024, 6, 1) + dt.timedelta(days=rng.randrange(600))
            if action == "suspend":
                node.service.suspend(target, effective_on=on, reason="complaint", now=now())
            elif action == "revoke":
                node.service.revoke(target, effective_on=on, reason="ethics", now=now())
            elif action == "relinquish":
                node.service.relinquish(target, effective_on=on, reason="retired", now=now())
            elif action == "correct":
                node.service.correct(target, corrects_version=1, reason="typo",
                                     family_name=rng.choice(["Doe", "Dough"]), given_name=None,
                                     valid_through=None, now=now())
            else:
                node.service.reinstate(target, reinstated_on=on, reason="cleared",
                                       evidence=RenewalEvidence(), by_committee=True, now=now())
        except DomainError:
            pass  # refused commands write nothing, on every node alike


def test_random_commands_converge_to_one_digest(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            await alliance.start_all(server.url)
            await asyncio.gather(*(asyncio.to_thread(
                random_commands, alliance.nodes[a], random.Random(seed), 60)
                for seed, a in enumerate(ASSOCIATIONS)))
            expected = heads(alliance.nodes["AK"]) | {
                a: heads(alliance.nodes[a])[a] for a in ASSOCIATIONS}
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected
                                 and all(n.projector.position(a) == expected[a]
                                         for a in ASSOCIATIONS), what="convergence")
            digests = {a: n.projector.digest() for a, n in alliance.nodes.items()}
            assert len(set(digests.values())) == 1, digests
            for node in alliance.nodes.values():  # and a rebuild from scratch agrees
                node.projector.rebuild(node.ledger)
                assert node.projector.digest() == digests["AK"]
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
