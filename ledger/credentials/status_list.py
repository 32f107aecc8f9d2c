"""W3C Bitstring Status Lists: the bits, their encoding, the signed list credential, and the
hash of a list version that the association's ledger records.

Bit `i` is the most significant bit of byte `i // 8` shifted right by `i % 8` (index 0 is the
leftmost bit), as the recommendation and the reference implementation number them. A list is
published as `encodedList`: multibase base64url (no padding, prefix "u") of the GZIP of the
bits. GZIP is written with mtime 0, so one list always encodes to one byte string.

The ledger records `list_hash`: the hex SHA-256 of the uncompressed bits. It is taken over the
bits, not over `encodedList` or the signed credential, because those bytes depend on the
compressor and the signing time while the status they carry does not; any verifier can
decode a served list and compare.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterable

import msgspec

from domain.credentials import MIN_LIST_SIZE, StatusPurpose
from ledger.credentials.data_integrity import create_proof, xsd_datetime
from ledger.credentials.jsonld import VC2_CONTEXT, JsonObject
from ledger.errors import StatusListRefused
from ledger.signing import Signer

# The largest list this verifier decodes: 16 times the minimum (2 MiB of bits). A served list
# is data from outside; a few hundred bytes of GZIP can claim gigabytes.
MAX_LIST_SIZE = 16 * MIN_LIST_SIZE * 8
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"


class StatusBits(msgspec.Struct, frozen=True):
    """The bits of one status list version (immutable: a change makes a new version)."""

    data: bytes

    def __post_init__(self) -> None:
        size = len(self.data) * 8
        if size < MIN_LIST_SIZE or size > MAX_LIST_SIZE:
            raise StatusListRefused(f"a status list holds {MIN_LIST_SIZE}..{MAX_LIST_SIZE} "
                                    f"bits, not {size}")

    @classmethod
    def empty(cls, size: int = MIN_LIST_SIZE) -> StatusBits:
        """A list of `size` clear bits (`size` a multiple of 8)."""
        if size % 8:
            raise StatusListRefused("a status list is a whole number of bytes")
        return cls(bytes(size // 8))

    @property
    def size(self) -> int:
        """How many entries the list has."""
        return len(self.data) * 8

    def get(self, index: int) -> bool:
        """Whether bit `index` is set."""
        self._check(index)
        return bool(self.data[index // 8] & (0x80 >> (index % 8)))

    def with_bits(self, indexes: Iterable[int], value: bool = True) -> StatusBits:
        """A copy with the bits at `indexes` set (or cleared)."""
        data = bytearray(self.data)
        for index in indexes:
            self._check(index)
            mask = 0x80 >> (index % 8)
            data[index // 8] = data[index // 8] | mask if value else data[index // 8] & ~mask
        return StatusBits(bytes(data))

    @property
    def set_count(self) -> int:
        """How many bits are set."""
        return int.from_bytes(self.data, "big").bit_count()

    @property
    def list_hash(self) -> str:
        """What the ledger records for this version: hex SHA-256 of the bits."""
        return hashlib.sha256(self.data).hexdigest()

    def _check(self, index: int) -> None:
        if isinstance(index, bool) or not 0 <= index < self.size:
            raise StatusListRefused(f"status index {index} is outside the list "
                                    f"(0..{self.size - 1})")


def encode_list(bits: StatusBits) -> str:
    """`encodedList`: "u" + base64url without padding of GZIP(bits), mtime 0."""
    compressed = gzip.compress(bits.data, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_list(encoded: object) -> StatusBits:
    """The bits of an `encodedList`, refusing bad encodings and lists above MAX_LIST_SIZE."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListRefused("encodedList must be multibase base64url (a leading 'u')")
    body = encoded[1:]
    if not _BASE64URL.fullmatch(body):
        raise StatusListRefused("encodedList does not decode: not base64url without padding")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        # wbits 16+: GZIP framing. Bounded output: decompress at most one byte past the limit.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(compressed, MAX_LIST_SIZE // 8 + 1)
    except (binascii.Error, ValueError, zlib.error) as e:
        raise StatusListRefused(f"encodedList does not decode: {e}") from e
    if len(data) > MAX_LIST_SIZE // 8:
        raise StatusListRefused(f"encodedList holds more than {MAX_LIST_SIZE} bits")
    if not inflater.eof or inflater.unused_data:
        raise StatusListRefused("encodedList is not one complete GZIP stream")
    return StatusBits(data)


def status_entry(list_url: str, purpose: StatusPurpose, index: int) -> JsonObject:
    """A credential's `credentialStatus` entry for bit `index` of the list at `list_url`."""
    return {"id": f"{list_url}#{index}", "type": ENTRY_TYPE, "statusPurpose": purpose.value,
            "statusListIndex": str(index),  # a string of digits, as the recommendation says
            "statusListCredential": list_url}


def build_status_list_credential(list_url: str, issuer: str, purpose: StatusPurpose,
                                 bits: StatusBits, valid_from: dt.datetime,
                                 valid_until: dt.datetime | None = None,
                                 ttl_ms: int | None = None) -> JsonObject:
    """The unsigned `BitstringStatusListCredential` publishing `bits` at `list_url`.

    `valid_until`: after it, verifiers refuse the list, so a node must publish (and record) a
    new version before then; it bounds how long a stale copy can be replayed. `ttl_ms`: how
    long a verifier may cache it (the HTTP `Cache-Control` should say the same)."""
    subject: JsonObject = {"id": f"{list_url}#list", "type": LIST_TYPE,
                           "statusPurpose": purpose.value, "encodedList": encode_list(bits)}
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    credential: JsonObject = {"@context": [VC2_CONTEXT], "id": list_url,
                              "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
                              "issuer": issuer, "validFrom": xsd_datetime(valid_from),
                              "credentialSubject": subject}
    if valid_until is not None:
        credential["validUntil"] = xsd_datetime(valid_until)
    return credential


def issue_status_list_credential(unsigned: JsonObject, signer: Signer,
                                 verification_method: str,
                                 created: dt.datetime) -> JsonObject:
    """`unsigned` secured with an eddsa-rdfc-2022 proof (a plain object, as the examples of the
    recommendation have it)."""
    return create_proof(unsigned, signer, verification_method, created, as_list=False)


class PublishedList(msgspec.Struct, frozen=True, kw_only=True):
    """What a (signature-checked) status list credential says."""

    url: str
    issuer: str
    purpose: StatusPurpose
    bits: StatusBits


def read_status_list_credential(credential: JsonObject) -> PublishedList:
    """The list a status list credential publishes, checked for shape (its proof is checked
    by the caller, under the issuer's DID document)."""
    if credential.get("@context") != [VC2_CONTEXT]:
        raise StatusListRefused(f"a status list credential's @context is [{VC2_CONTEXT!r}]")
    types = credential.get("type")
    subject = credential.get("credentialSubject")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise StatusListRefused(f"not a {LIST_CREDENTIAL_TYPE}")
    if not isinstance(subject, dict) or subject.get("type") != LIST_TYPE:
        raise StatusListRefused(f"its credentialSubject is not a {LIST_TYPE}")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    url = credential.get("id")
    if not isinstance(issuer_id, str) or not isinstance(url, str):
        raise StatusListRefused("a status list credential needs an id and an issuer")
    try:
        purpose = StatusPurpose(str(subject.get("statusPurpose")))
    except ValueError as e:
        raise StatusListRefused(f"unknown statusPurpose {subject.get('statusPurpose')!r}") from e
    return PublishedList(url=url, issuer=issuer_id, purpose=purpose,
                         bits=decode_list(subject.get("encodedList")))
