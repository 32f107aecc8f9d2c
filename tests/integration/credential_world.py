"""Two real nodes (AK, MI) with public URLs, their apps in-process, and a fetch that routes each
URL to the app of the node whose host it names: what a verifier on the web would reach.

The nodes are the real ones (SQLite, real keys, the real registry); only the network between
the verifier and the apps is replaced by in-process calls, so no test binds the URLs' ports.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from domain.credentials import StatusPurpose
from domain.levels import Level
from federation_api.clock import now, today
from federation_api.credentials.served_lists import ServedList
from federation_api.node.root import Node
from federation_api.web.app import create_app
from ledger.codec import decode_json, encode_json
from ledger.credentials.status_list import (
    build_status_list_credential,
    decode_list,
    issue_status_list_credential,
)
from ledger.transparency.witness import Cosigned
from tests.integration.proof_fixtures import ProofAlliance

PORTS = {"AK": 9101, "MI": 9102}


@dataclass
class CredentialWorld:
    """The Alliance, and for each host the app that answers there."""

    alliance: ProofAlliance
    routes: dict[str, str] = field(default_factory=dict)  # netloc -> association answering

    @classmethod
    def found(cls, root: Path) -> CredentialWorld:
        """AK and MI, each reopened with its public URL."""
        alliance = ProofAlliance(root, associations=tuple(PORTS))
        for name, port in PORTS.items():
            alliance.nodes.pop(name).close()
            alliance.settings[name] = replace(alliance.settings[name],
                                              public_url=f"http://127.0.0.1:{port}")
            alliance.nodes[name] = Node(alliance.settings[name])
        return cls(alliance, {f"127.0.0.1:{port}": name for name, port in PORTS.items()})

    def node(self, association: str) -> Node:
        """An open node."""
        return self.alliance.nodes[association]

    def client(self, association: str) -> TestClient:
        """A client of the node's app (no lifespan: tests publish with `publish_due`)."""
        return TestClient(create_app(self.node(association)))

    def fetch(self, url: str) -> tuple[int, bytes]:
        """GET `url` from the app of the node its host names (following no redirect)."""
        parts = urlsplit(url)
        answering = self.routes[parts.netloc]
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client(answering).get(target, follow_redirects=False)
        return response.status_code, response.content

    def grant(self, association: str, endorsement_id: str, *,
              family_name: str = "Oyelaran") -> dict[str, Any]:
        """An imported Level III endorsement, current today; its credential as downloaded."""
        node = self.node(association)
        node.service.record_existing(
            endorsement_id=endorsement_id, person_id=f"P-{endorsement_id}",
            family_name=family_name, given_name="Ada", level=Level.IMHS, designation=None,
            granted_on=today() - dt.timedelta(days=30),
            valid_through=today() + dt.timedelta(days=300),
            legacy_reference=f"ref-{endorsement_id}", now=now())
        node.status_lists.publish_due()
        status, body = self.fetch(f"http://127.0.0.1:{PORTS[association]}/v1/credentials/"
                                  f"{endorsement_id}?last_name={family_name}")
        assert status == 200, body
        return decode_json(body, dict[str, Any])

    def witness(self, origin: str) -> bytes:
        """`origin` signs a checkpoint of its ledger; every other node replicates and cosigns
        it (the quorum of two associations is one), and the origin collects it."""
        node, at = self.node(origin), now()  # the credentials' clock, not the fixtures' NOW
        note = node.log.sign_checkpoint(origin, node.signer, at)
        for name in PORTS:
            if name != origin:
                self.sync(origin, name)
                outcome = self.node(name).witness.receive(note, at)
                assert isinstance(outcome, Cosigned), outcome
                node.witness.collect(outcome.note, at)
        return note

    def sync(self, source: str, target: str) -> None:
        """Replicate `source`'s ledger into `target`."""
        self.alliance.sync(source, target)

    def close(self) -> None:
        """Close every node."""
        self.alliance.close()


def forge_next_version(node: Node, credential: dict[str, Any]) -> dict[str, Any]:
    """The origin itself (`node`) signs a list with the credential's suspension bit set and
    serves it as its latest, without recording it on its ledger; the forged list."""
    entry = next(e for e in credential["credentialStatus"] if e["statusPurpose"] == "suspension")
    row = node.projector.status_list(node.association, StatusPurpose.SUSPENSION, 1)
    assert row is not None and node.issuer_identity is not None
    served = node.served_lists.get(row.aggregate_id)
    assert served is not None
    bits = decode_list(decode_json(served.document, dict[str, Any])
                       ["credentialSubject"]["encodedList"]).with_bits(
        [int(entry["statusListIndex"])])
    at = now()
    forged = issue_status_list_credential(
        build_status_list_credential(entry["statusListCredential"], credential["issuer"]["id"],
                                     StatusPurpose.SUSPENSION, bits, valid_from=at),
        node.signer, node.issuer_identity.method(node.signer.key_id), at)
    node.served_lists.put(ServedList(list_id=row.aggregate_id,
                                     list_version=served.list_version + 1,
                                     signed_at=at.isoformat(), document=encode_json(forged)))
    return forged
