"""An issuing association built from the real credential modules, for unit and interop tests.

It does what the node will do on grant and on a status change: hold the association's keys
with their registry windows, assign random status indexes through the `StatusList` aggregate,
sign credentials and status lists, and record each published list version's hash as the
ledger would. Nothing is faked: only the ledger itself is replaced by the aggregate's events.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from domain.credentials import StatusList, StatusPurpose
from domain.levels import Designation, Level
from ledger.credentials.did_document import KeyWindow, build_did_document, verification_method_id
from ledger.credentials.multikey import did_web, did_web_url
from ledger.credentials.open_badges import (
    EndorsementAward,
    IssuerProfile,
    build_credential,
    issue_credential,
)
from ledger.credentials.status_list import (
    StatusBits,
    build_status_list_credential,
    issue_status_list_credential,
    status_entry,
)
from ledger.credentials.verify import Evidence, RecordedVersion, ServedDocument
from ledger.signing import Signer

T0 = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)
LIST_SIZE = 131_072


def award(**changes: Any) -> EndorsementAward:
    """An endorsement's public facts (Level II unless told otherwise)."""
    values: dict[str, Any] = {
        "endorsement_id": "AK-7Q4M2XKD", "family_name": "Oyelaran", "given_name": "Ada",
        "level": Level.IFS, "designation": None, "awarded_on": dt.date(2024, 3, 1),
        "valid_from": dt.date(2026, 1, 15), "valid_through": dt.date(2027, 1, 14)}
    values.update(changes)
    return EndorsementAward(**values)


MENTOR = {"level": Level.IMHM, "designation": Designation.CLINICAL}


@dataclass
class Issued:
    """A credential and where its bits are."""

    credential: dict[str, Any]
    index: int


@dataclass
class IssuingAssociation:
    """One association's issuing side: keys, lists, recorded versions."""

    host: str = "localhost"
    port: int | None = 8765
    association: str = "AK"
    name: str = "Alaska Association for Infant and Early Childhood Mental Health"
    seed: int = 7
    scheme: str = "https"
    keys: list[KeyWindow] = field(default_factory=list)
    signers: dict[str, Signer] = field(default_factory=dict)
    lists: dict[StatusPurpose, StatusList] = field(default_factory=dict)
    bits: dict[StatusPurpose, StatusBits] = field(default_factory=dict)
    recorded: dict[str, list[RecordedVersion]] = field(default_factory=dict)
    served: dict[str, dict[str, Any]] = field(default_factory=dict)
    published_at: dt.datetime = T0

    def __post_init__(self) -> None:
        self.did = did_web(self.host, self.port)
        authority = self.host if self.port is None else f"{self.host}:{self.port}"
        self.base_url = f"{self.scheme}://{authority}"
        self._random = random.Random(self.seed)
        self.add_key(T0 - dt.timedelta(days=400))
        for purpose in StatusPurpose:
            self.lists[purpose] = StatusList.create(association=self.association,
                                                    purpose=purpose, list_number=1,
                                                    size=LIST_SIZE, now=T0)
            self.bits[purpose] = StatusBits.empty(LIST_SIZE)

    # -- keys ----------------------------------------------------------------------------------

    @property
    def signer(self) -> Signer:
        """The association's current key."""
        current = next(k for k in reversed(self.keys) if k.valid_until is None)
        return self.signers[current.key_id]

    def add_key(self, at: dt.datetime) -> Signer:
        """A rotation: a new key from `at`; the open key's window closes then."""
        signer = Signer.generate()
        self.keys = [KeyWindow(key_id=k.key_id, public_key=k.public_key,
                               valid_from=k.valid_from, valid_until=at,
                               revoked_from=k.revoked_from) if k.valid_until is None else k
                     for k in self.keys]
        self.keys.append(KeyWindow(key_id=signer.key_id, public_key=signer.public_key,
                                   valid_from=at))
        self.signers[signer.key_id] = signer
        return signer

    def revoke_key(self, key_id: str, at: dt.datetime) -> None:
        """A compromise: the registry revokes the key from `at`."""
        self.keys = [KeyWindow(key_id=k.key_id, public_key=k.public_key,
                               valid_from=k.valid_from,
                               valid_until=min(at, k.valid_until or at), revoked_from=at)
                     if k.key_id == key_id else k for k in self.keys]

    def method_of(self, signer: Signer) -> str:
        """The verification method id of one of the association's keys."""
        return verification_method_id(self.did, signer.key_id)

    def did_document(self, as_of: dt.datetime = T0) -> dict[str, Any]:
        """The DID document the node serves."""
        return build_did_document(self.did, self.keys, as_of)

    @property
    def did_url(self) -> str:
        """Where the DID document is served."""
        return did_web_url(self.did).replace("https://", f"{self.scheme}://", 1)

    # -- credentials and lists ---------------------------------------------------------------

    def list_url(self, purpose: StatusPurpose) -> str:
        """The URL of the association's list for `purpose`."""
        return f"{self.base_url}/status/{purpose.value}/1"

    def issue(self, facts: EndorsementAward | None = None, *, created: dt.datetime = T0,
              signer: Signer | None = None, issuer: IssuerProfile | None = None) -> Issued:
        """Issue a credential with a fresh random index in both lists."""
        facts = facts or award()
        serial = uuid.UUID(int=self._random.getrandbits(128))
        credential_id = f"{self.base_url}/credentials/{serial}"
        index = self._random.randrange(LIST_SIZE)
        while any(lst.is_assigned(index) for lst in self.lists.values()):
            index = self._random.randrange(LIST_SIZE)
        for status_list in self.lists.values():
            status_list.assign_index(endorsement_id=facts.endorsement_id,
                                     credential_id=credential_id, index=index, now=created)
        unsigned = build_credential(
            credential_id=credential_id,
            issuer=issuer or IssuerProfile(did=self.did, association=self.association,
                                           name=self.name, url="https://akaimh.example/"),
            award=facts, achievement_base_url=f"{self.base_url}/achievements",
            status_entries=[status_entry(self.list_url(p), p, index) for p in StatusPurpose])
        signer = signer or self.signer
        return Issued(issue_credential(unsigned, signer, self.method_of(signer), created), index)

    def set_status(self, purpose: StatusPurpose, index: int, value: bool = True) -> None:
        """Flip a bit (published with the next `publish`)."""
        self.bits[purpose] = self.bits[purpose].with_bits([index], value)

    def publish(self, purpose: StatusPurpose, at: dt.datetime | None = None,
                valid_until: dt.datetime | None = None) -> dict[str, Any]:
        """Sign the list's current bits, serve them, and record the version's hash."""
        at = at or self.published_at
        bits = self.bits[purpose]
        status_list = self.lists[purpose]
        version = status_list.published_version + 1
        status_list.publish(list_version=version, list_hash=bits.list_hash,
                            set_bits_count=bits.set_count, now=at)
        url = self.list_url(purpose)
        unsigned = build_status_list_credential(url, self.did, purpose, bits, valid_from=at,
                                                valid_until=valid_until)
        signed = issue_status_list_credential(unsigned, self.signer, self.method_of(self.signer),
                                              at)
        self.recorded.setdefault(url, []).append(
            RecordedVersion(list_version=version, list_hash=bits.list_hash, recorded_at=at))
        self.served[url] = signed
        return signed

    def publish_all(self, at: dt.datetime | None = None) -> None:
        """Publish both lists."""
        for purpose in StatusPurpose:
            self.publish(purpose, at)

    def evidence(self, *, as_of: dt.datetime = T0, with_registry: bool = True,
                 **changes: Any) -> Evidence:
        """What a verifier would gather: the DID document, the served lists, the ledger's
        recorded versions and (by default) the registry's directory and keys."""
        values: dict[str, Any] = {
            "did_document": ServedDocument(self.did_url, self.did_document(as_of)),
            "status_lists": dict(self.served),
            "recorded": {url: list(versions) for url, versions in self.recorded.items()},
            "issuers": {self.did: self.association} if with_registry else None,
            "registry_keys": list(self.keys) if with_registry else None}
        values.update(changes)
        return Evidence(**values)
