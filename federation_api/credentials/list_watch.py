"""Peers catch a split view of a status list: a list the origin signed and serves that its
own ledger does not record.

`check` fetches each of an association's lists from the URL its credentials name (the
origin), checks the origin's signature under a key the trust registry gave that association
at the proof's time, and compares the bits with every version the replicated ledger records.
A signed list that is no recorded version is kept as evidence (the signed document) and
flags the association as forked, like conflicting entries or checkpoints: the origin showed
verifiers something its ledger, checkpoints and witnesses do not cover. A list that is not
signed by the origin proves nothing about the origin and is only reported.

A list that is a recorded version, but not the latest, well after the latest was recorded, is
reported as stale: an origin serving an old version hides a suspension or revocation its own
ledger shows. It is no fork (the ledger covers both versions, and `verify-credential` refuses
the old one for now), so nothing is flagged; the grace covers the publisher's signing after
recording and the list's `max-age`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from federation_api.credentials.evidence import Fetch
from ledger.credentials.data_integrity import read_proof, verify_proof
from ledger.credentials.multikey import split_did_url
from ledger.credentials.status_list import read_status_list_credential
from ledger.credentials.verify import MAX_LIST_CREDENTIAL_BYTES, load_document
from ledger.errors import CredentialError, UnknownKey
from ledger.storage.database import Database
from ledger.trust.keyring import Keyring
from projections.queries import ProjectionReader

_DDL = """
CREATE TABLE IF NOT EXISTS status_list_forks (
    association TEXT NOT NULL,
    list_url TEXT NOT NULL,
    served_hash TEXT NOT NULL,
    document {blob} NOT NULL,
    found_at TEXT NOT NULL,
    resolved_at TEXT,
    PRIMARY KEY (association, list_url, served_hash)
)
"""


# The publisher signs a version within a second of recording it and a served list may be cached
# for 5 s; a minute leaves room for a slow pass without crying wolf.
STALE_AFTER = dt.timedelta(seconds=60)


class ListFinding(msgspec.Struct, frozen=True, kw_only=True):
    """What one check of one list found."""

    list_url: str
    outcome: str  # "recorded" (version N), "stale", "split view", "unsigned", "unreachable"
    version: int = 0
    detail: str = ""


class ListWatch:
    """Checks the lists the origins serve against the replicated ledgers; keeps the evidence."""

    def __init__(self, db: Database, reader: ProjectionReader,
                 keyring: Callable[[], Keyring],
                 stale_after: dt.timedelta = STALE_AFTER) -> None:
        self.db = db
        self.stale_after = stale_after
        self.reader = reader
        self._keyring = keyring
        db.ddl(_DDL)

    def check(self, association: str, fetch: Fetch, now: dt.datetime) -> list[ListFinding]:
        """Check every list of `association` as its origin serves it."""
        findings = []
        for row in self.reader.status_lists(association):
            url = self.reader.list_url_of(row.aggregate_id, row.purpose.value)
            if url is None:
                continue
            recorded = self.reader.list_versions(row.aggregate_id)
            if not recorded:
                continue
            versions = {v.list_hash: v.list_version for v in recorded}
            finding = self._check_one(association, url, versions, fetch, now)
            latest = recorded[-1]
            since = dt.datetime.fromisoformat(latest.recorded_at)
            if (finding.outcome == "recorded" and finding.version < latest.list_version
                    and now - since > self.stale_after):
                finding = ListFinding(list_url=url, outcome="stale", version=finding.version,
                                      detail=f"serves version {finding.version}; the ledger "
                                             f"records version {latest.list_version} since "
                                             f"{latest.recorded_at}")
            findings.append(finding)
        return findings

    def _check_one(self, association: str, url: str, versions: dict[str, int], fetch: Fetch,
                   now: dt.datetime) -> ListFinding:
        try:
            status, body = fetch(url)
        except OSError as e:
            return ListFinding(list_url=url, outcome="unreachable", detail=str(e))
        if status != 200:
            return ListFinding(list_url=url, outcome="unreachable", detail=f"HTTP {status}")
        try:
            document = load_document(body, MAX_LIST_CREDENTIAL_BYTES)
            published = read_status_list_credential(document)
            proof = read_proof(document)
            _, key_id = split_did_url(proof.verification_method)
            verifier_key = self._key(association, key_id, proof.created)
            verify_proof(document, proof, verifier_key)
        except (CredentialError, UnknownKey) as e:
            return ListFinding(list_url=url, outcome="unsigned", detail=e.reason)
        served_hash = published.bits.list_hash
        if served_hash in versions:
            return ListFinding(list_url=url, outcome="recorded", version=versions[served_hash])
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO status_list_forks (association, list_url, served_hash, "
                        "document, found_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (association, "
                        "list_url, served_hash) DO NOTHING",
                        (association, url, served_hash, body, now.isoformat()))
        return ListFinding(list_url=url, outcome="split view",
                           detail=f"bits {served_hash[:16]} are no version {association}'s "
                                  "ledger records")

    def _key(self, association: str, key_id: str, at: dt.datetime) -> bytes:
        for record in self._keyring().keys:
            if record.association == association and record.key_id == key_id:
                if not record.valid_at(at):
                    raise UnknownKey(f"key {key_id[:16]} was not valid for {association} at "
                                     f"{at.isoformat()}", association=association)
                return record.public_key
        raise UnknownKey(f"key {key_id[:16]} is not {association}'s", association=association)

    def forked(self) -> dict[str, int]:
        """Associations with unresolved split-view evidence, with how many pieces each."""
        return {str(a): int(n) for a, n in self.db.query(
            "SELECT association, COUNT(*) FROM status_list_forks WHERE resolved_at IS NULL "
            "GROUP BY association")}

    def evidence(self, association: str) -> list[tuple[str, str, bytes, str]]:
        """(list URL, served bits hash, the signed document, found at) of each split view."""
        return [(str(u), str(h), bytes(d), str(f)) for u, h, d, f in self.db.query(
            "SELECT list_url, served_hash, document, found_at FROM status_list_forks WHERE "
            "association = ? ORDER BY found_at", (association,))]

