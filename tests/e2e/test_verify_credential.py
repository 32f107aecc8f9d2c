"""`alliance verify-credential` against a real `alliance serve`: each hostile case refused with
its reason (exit 1), the honest credential proven (exit 0).

The attacker here is the origin itself (it holds the association's key): it signs a status
list its ledger does not record, or a credential claiming another association; and then
another node answers at the issuer's host.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from domain.credentials import StatusPurpose, status_list_uuid
from federation_api.clock import now, today
from federation_api.credentials.served_lists import ServedList, ServedLists
from federation_api.node.setup import NodePaths
from federation_api.replication.nats_process import free_port
from ledger.codec import encode_json
from ledger.credentials.did_document import verification_method_id
from ledger.credentials.open_badges import issue_credential
from ledger.credentials.status_list import (
    build_status_list_credential,
    decode_list,
    issue_status_list_credential,
)
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from tests.e2e.harness import ServerProcess, init_node, provider_import, run_alliance


def _served(port: int) -> dict[str, str]:
    return {"ALLIANCE_PUBLIC_URL": f"http://127.0.0.1:{port}", "ALLIANCE_RATE_LIMIT": "off"}


def _await_lists(c: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while any(c.get(f"/v1/status-lists/AK/{p.value}/1").status_code != 200
              for p in StatusPurpose):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _verify(path: Path, *options: str) -> tuple[int, str]:
    # A node outside an Alliance has no witnesses: the cases here are judged on the signed
    # entries (`--unwitnessed`); test_verify_credential_witnessed.py runs a witnessed Alliance.
    run = run_alliance("verify-credential", str(path), *(options or ("--unwitnessed",)),
                       check=False)
    return run.returncode, run.stdout + run.stderr


def test_each_hostile_case_is_refused_with_its_reason(tmp_path: Path) -> None:
    ak = init_node(tmp_path / "ak")
    port = free_port()
    with ServerProcess(ak, port=port, env=_served(port)) as server, server.client() as c:
        body = {**provider_import(today().replace(year=today().year + 1)),
                "person_id": "AK-P-0300"}
        r = c.post("/v1/endorsements/imports", headers=ak.auth("coordinator"), json=body)
        assert r.status_code == 201, r.text
        eid = r.json()["endorsement_id"]
        _await_lists(c)
        credential: dict[str, Any] = c.get(f"/v1/credentials/{eid}",
                                                params={"last_name": "rivera"}).json()
        honest = tmp_path / "credential.json"
        honest.write_text(json.dumps(credential))
        code, said = _verify(honest)
        assert code == 0 and "NOT witnessed (--unwitnessed)" in said, said
        # By default a version must be under a witnessed checkpoint: a lone node has none.
        code, said = _verify(honest, "--json")
        assert code == 1 and "offers no trust registry and no witnessed checkpoint" in said, said

        # The origin signs a credential claiming another association as its issuer.
        signer = Signer.load(NodePaths(ak.data_dir).signing_key, None)
        method = verification_method_id(credential["issuer"]["id"], signer.key_id)
        claimed = {key: value for key, value in credential.items() if key != "proof"}
        claimed["issuer"] = {**claimed["issuer"], "otherIdentifier": [
            {"type": "IdentifierEntry", "identifier": "MI", "identifierType": "identifier"}]}
        other = tmp_path / "other-association.json"
        other.write_text(json.dumps(issue_credential(claimed, signer, method, now())))
        code, said = _verify(other)
        assert code == 1 and "claims association 'MI'" in said, said

        # The origin serves a list with the credential's bit set that its ledger never
        # recorded (a split view): signed with its own key, stored where it serves lists.
        entry = next(e for e in credential["credentialStatus"]
                     if e["statusPurpose"] == "suspension")
        db = Database(DatabaseUrl.parse(f"sqlite:///{ak.data_dir / 'node.sqlite'}"))
        try:
            lists = ServedLists(db)
            list_id = str(status_list_uuid("AK", StatusPurpose.SUSPENSION, 1))
            served = lists.get(list_id)
            assert served is not None
            bits = decode_list(json.loads(served.document)["credentialSubject"]["encodedList"])
            at = now()
            forged = issue_status_list_credential(build_status_list_credential(
                entry["statusListCredential"], credential["issuer"]["id"],
                StatusPurpose.SUSPENSION, bits.with_bits([int(entry["statusListIndex"])]),
                valid_from=at), signer, method, at)
            assert lists.put(ServedList(list_id=list_id, list_version=served.list_version + 1,
                                        signed_at=at.isoformat(), document=encode_json(forged)))
        finally:
            db.close()
        code, said = _verify(honest)
        assert code == 1 and "split view" in said, said

    # Another association's node answers at the issuer's host.
    mi = init_node(tmp_path / "mi", "MI", name="Michigan")
    with ServerProcess(mi, port=port, env=_served(free_port())):
        code, said = _verify(honest)
        assert code == 1 and "the DID document names" in said, said
