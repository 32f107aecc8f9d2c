"""Publishing the association's status lists: the bits each list should hold, recorded on the
ledger first, then signed and served.

A list's bits follow the recorded status of the endorsement whose credential holds each
index: revocation (final) for revoked, relinquished (and replaced) and transferred
endorsements; suspension (reversible) for suspended and lapsed ones, cleared again on
reinstatement or when a suspension is lifted. The bits are a function of the replicated
ledgers (`expected_bits`), so every peer computes the same list the origin must serve.

After each command the publisher is woken; it waits `coalesce_seconds` so a burst of
commands makes one version, then for each list whose bits changed records a new
StatusListPublished entry (sealed like any command), and only then signs that version and
stores it for serving (`ServedLists`). A crash between the two is repaired on the next pass:
the recorded version is signed then, with its recorded time, so its document is the one it
would have been.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

from domain.credentials import StatusList, StatusPurpose
from domain.levels import EndorsementStatus
from federation_api.credentials.issuer import CredentialIssuer
from federation_api.credentials.served_lists import ServedList, ServedLists
from ledger.codec import encode_json
from ledger.credentials.status_list import (
    StatusBits,
    build_status_list_credential,
    issue_status_list_credential,
)
from ledger.service import AssociationService
from projections.credential_rules import StatusListRow
from projections.queries import ProjectionReader

log = logging.getLogger(__name__)

SETS_BIT = {
    StatusPurpose.REVOCATION: frozenset({EndorsementStatus.REVOKED,
                                         EndorsementStatus.RELINQUISHED,
                                         EndorsementStatus.TRANSFERRED}),
    StatusPurpose.SUSPENSION: frozenset({EndorsementStatus.SUSPENDED,
                                         EndorsementStatus.LAPSED}),
}
# How long a verifier may keep a list: a command changes it within about this long (the
# coalescing wait and one pass), so a longer cache would show a stale status as current.
CACHE_SECONDS = 5


def expected_bits(reader: ProjectionReader, row: StatusListRow) -> StatusBits:
    """The bits list `row` must hold, from the recorded statuses."""
    setting = SETS_BIT[row.purpose]
    return StatusBits.empty(row.size).with_bits(
        index for index, status in reader.list_members(row.aggregate_id) if status in setting)


class StatusListPublisher:
    """Keeps the association's served lists equal to the statuses its ledger records."""

    def __init__(self, *, issuer: CredentialIssuer, service: AssociationService,
                 reader: ProjectionReader, served: ServedLists,
                 clock: Callable[[], dt.datetime], coalesce_seconds: float = 0.5,
                 retry_seconds: float = 30.0) -> None:
        self.issuer = issuer
        self.service = service
        self.reader = reader
        self.served = served
        self._clock = clock
        self.coalesce_seconds = coalesce_seconds
        self.retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass = threading.Lock()

    # -- one pass --------------------------------------------------------------------------

    def publish_due(self) -> list[tuple[str, int]]:
        """Record, sign and store every list whose bits changed (and any recorded version not
        yet signed); the (list URL, version) of each version stored by this pass."""
        stored: list[tuple[str, int]] = []
        with self._pass:
            for row in self.reader.status_lists(self.issuer.identity.association):
                bits = expected_bits(self.reader, row)
                self._record_if_changed(row, bits)
                versions = self.reader.list_versions(row.aggregate_id)
                if not versions:
                    continue
                last = versions[-1]
                if self.served.has(row.aggregate_id, last.list_version):
                    continue
                if last.list_hash != bits.list_hash:
                    continue  # changed again meanwhile; the next pass records it
                document = self._sign(row, bits, dt.datetime.fromisoformat(last.recorded_at))
                if self.served.put(ServedList(list_id=row.aggregate_id,
                                              list_version=last.list_version,
                                              signed_at=last.recorded_at, document=document)):
                    stored.append((self.issuer.identity.list_url(row.purpose, row.list_number),
                                   last.list_version))
        return stored

    def _record_if_changed(self, row: StatusListRow, bits: StatusBits) -> None:
        def change() -> Sequence[StatusList]:
            status_list = self.issuer.list_of(row.purpose, row.list_number)
            if status_list is None or status_list.published_hash == bits.list_hash:
                return ()
            self.issuer.record_version(status_list, bits, self._clock())
            return (status_list,)

        self.service.record(change)

    def _sign(self, row: StatusListRow, bits: StatusBits, at: dt.datetime) -> bytes:
        identity = self.issuer.identity
        url = identity.list_url(row.purpose, row.list_number)
        unsigned = build_status_list_credential(url, identity.did, row.purpose, bits,
                                                valid_from=at, ttl_ms=CACHE_SECONDS * 1000)
        signer = self.issuer.signer
        return encode_json(issue_status_list_credential(unsigned, signer,
                                                        identity.method(signer.key_id), at))

    # -- the background thread -------------------------------------------------------------

    def wake(self) -> None:
        """A command committed: publish what it changed, soon."""
        self._wake.set()

    def start(self) -> None:
        """Publish in a background thread from now on (a first pass at once)."""
        if self._thread is None:
            self._stop.clear()
            self._wake.set()
            self._thread = threading.Thread(target=self._run, name="status-lists", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_seconds)
            if self._stop.wait(self.coalesce_seconds):
                return
            self._wake.clear()
            try:
                self.publish_due()
            except Exception:  # the ledger held back, a database outage: the next pass retries
                log.exception("publishing the status lists failed; retrying")
