"""Gathering what `ledger.credentials.verify` judges a credential by, over HTTP.

- The issuer's DID document, from the URL its did:web resolves to (never from elsewhere).
- For each status entry, the recorded versions of its list, with the signed
  StatusListPublished entry of each, from a node holding the association's replicated ledger:
  the origin, or any peer (`ledger_url`). Each entry is checked here: signed by a key the DID
  document lists for its time, by the association whose list it is, naming exactly that list,
  that version and that hash, versions gapless from 1. The association those entries prove is
  the issuer's; a credential claiming another one is refused by the verifier.
- The list document from the URL the credential names, as the origin serves it to everyone
  (or, for a past date, the version that stood then, `?version=N`). A list served that the
  ledger does not record, a flipped bit, is refused by the verifier as a split view.

Fetching is a callable (URL to status and bytes): httpx for the CLI, the app in-process for
tests; both run the real node.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from domain.credentials import StatusPurpose, status_list_uuid
from federation_api.credentials.identity import key_windows_of
from ledger.chain.entries import open_entry
from ledger.codec import decode_json, decode_payload
from ledger.credentials.did_document import KeyWindow, assertion_key, check_served
from ledger.credentials.jsonld import JsonObject
from ledger.credentials.multikey import did_web_url, parse_did_web
from ledger.credentials.verify import (
    MAX_LIST_CREDENTIAL_BYTES,
    Evidence,
    RecordedVersion,
    ServedDocument,
    load_document,
)
from ledger.errors import (
    CredentialError,
    MalformedCredential,
    MalformedEntry,
    StatusListNotRecorded,
    StatusListNotWitnessed,
    StatusListRefused,
    VerificationError,
)
from ledger.proofs.list_history import (
    LedgerHeads,
    LoggedVersion,
    WitnessedHead,
    open_heads,
    prove_witnessed,
)
from ledger.trust.keyring import KeyRecord, Keyring
from ledger.trust.registry import Genesis

Fetch = Callable[[str], tuple[int, bytes]]
PUBLISHED = "StatusListPublished"


def did_url_for(did: str) -> str:
    """The URL to fetch a DID document from: https, or http for a loopback host (tests,
    demos: `check_served` accepts that only there)."""
    url = did_web_url(did)
    host, _, _ = parse_did_web(did)
    if host in ("127.0.0.1", "localhost"):
        return "http://" + url.removeprefix("https://")
    return url


def gather(credential: JsonObject, fetch: Fetch, as_of: dt.datetime,
           ledger_url: str | None = None, *, pinned_genesis: Genesis | None = None,
           witnessed: bool = True) -> Evidence:
    """The evidence for `credential` at `as_of`; a CredentialError naming what is missing.

    With `witnessed` (the default) each list's versions must be proven under a checkpoint of
    the issuer's ledger that the trust registry's witness quorum cosigned, entries and DID
    keys are judged by that registry (from `pinned_genesis` when given, else from the genesis
    the node served), and the report says which checkpoint. Without it (a node outside an
    Alliance has no witnesses) the DID document's keys stand in for the registry's."""
    issuer = credential.get("issuer")
    did = issuer.get("id") if isinstance(issuer, dict) else None
    if not isinstance(did, str):
        raise MalformedCredential("the issuer must be a profile with an id")
    did_url = did_url_for(did)
    did_document = _json(fetch, did_url, "the issuer's DID document")
    check_served(did, did_url, did_document)
    lists: dict[str, dict[str, Any]] = {}
    recorded: dict[str, list[RecordedVersion]] = {}
    associations: set[str] = set()
    heads: dict[str, WitnessedHead] = {}
    registry_keys: list[KeyWindow] | None = None
    for entry in _entries(credential):
        url = entry["statusListCredential"]
        association, purpose, number = _list_path(url)
        base = (ledger_url or _base_of(url)).rstrip("/")
        answer = _json(fetch, f"{base}/v1/status-lists/{association}/{purpose.value}/"
                              f"{number}/versions",
                       f"the recorded versions of the {purpose} list")
        served_heads = _heads(answer, base) if witnessed else None
        if served_heads is not None:
            state = open_heads(served_heads, pinned_genesis=pinned_genesis)
            keys = state.keyring
            registry_keys = key_windows_of(association, state.keyring, served_heads.registry)
        else:
            keys = _keyring(did_document, association)
        logged = _recorded(answer, keys, association, purpose, number)
        if served_heads is not None:
            heads[url] = prove_witnessed(association, f"the {purpose} list {number}",
                                         served_heads, state, logged, as_of,
                                         pinned=pinned_genesis is not None)
        versions = [RecordedVersion(list_version=v.list_version, list_hash=v.list_hash,
                                    recorded_at=v.recorded_at) for v in logged]
        recorded[url] = versions
        associations.add(association)
        standing = [v for v in versions if v.recorded_at <= as_of]
        if standing and standing[-1] is not versions[-1]:
            # A past date: the version that stood then, as the origin signed it.
            version = standing[-1].list_version
            lists[url] = _json(fetch, f"{url}?version={version}",
                               f"version {version} of the {purpose} list",
                               MAX_LIST_CREDENTIAL_BYTES)
        else:
            # Now: what the origin serves to every verifier at the URL the credential names.
            lists[url] = _json(fetch, url, f"the {purpose} list", MAX_LIST_CREDENTIAL_BYTES)
    if len(associations) != 1:
        raise StatusListRefused("the credential's status lists belong to "
                                f"{sorted(associations)}, not to one association")
    return Evidence(did_document=ServedDocument(did_url, did_document), status_lists=lists,
                    recorded=recorded, issuers={did: associations.pop()},
                    registry_keys=registry_keys, witnessed=heads)


def _entries(credential: JsonObject) -> list[dict[str, Any]]:
    written = credential.get("credentialStatus")
    entries = written if isinstance(written, list) else [written]
    found = [e for e in entries if isinstance(e, dict)
             and isinstance(e.get("statusListCredential"), str)]
    if not found:
        raise MalformedCredential("the credential names no status list")
    return found


def _list_path(url: str) -> tuple[str, StatusPurpose, int]:
    """(association, purpose, number) of a list URL ".../v1/status-lists/AK/suspension/1"."""
    parts = urlsplit(url).path.rstrip("/").split("/")
    try:
        marker = len(parts) - 1 - parts[::-1].index("status-lists")
        association, purpose, number = parts[marker + 1:marker + 4]
        return association, StatusPurpose(purpose), int(number)
    except ValueError as e:
        raise StatusListRefused(f"{url} is not the URL of an Alliance status list") from e


def _base_of(url: str) -> str:
    parts = urlsplit(url)
    prefix = parts.path.split("/v1/status-lists/")[0]
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def _heads(answer: dict[str, Any], base: str) -> LedgerHeads:
    """The registry and checkpoint a node offered with the versions; refused when it has none
    (a node outside an Alliance: `--unwitnessed` accepts the signed entries alone)."""
    heads = answer.get("heads")
    if not isinstance(heads, dict):
        raise StatusListNotWitnessed(f"{base} offers no trust registry and no witnessed "
                                     "checkpoint with the list's versions (a node outside an "
                                     "Alliance?): they cannot be proven witnessed")
    try:
        checkpoint = heads.get("checkpoint")
        return LedgerHeads(
            genesis=decode_json(str(heads["genesis"]).encode(), Genesis),
            registry=tuple(base64.b64decode(str(w), validate=True) for w in heads["registry"]),
            checkpoint=checkpoint.encode() if isinstance(checkpoint, str) else None)
    except (MalformedEntry, KeyError, TypeError, ValueError) as e:
        raise StatusListNotWitnessed(f"the registry and checkpoint {base} offered cannot be "
                                     f"read: {e}") from e


def _recorded(answer: dict[str, Any], keys: Keyring, association: str,
              purpose: StatusPurpose, number: int) -> list[LoggedVersion]:
    """The list's versions as the ledger entries in a versions answer prove them."""
    expected_list = str(status_list_uuid(association, purpose, number))
    versions: list[LoggedVersion] = []
    for position, item in enumerate(answer.get("versions") or [], start=1):
        try:
            wire = base64.b64decode(str(item["entry"]), validate=True)
            entry = open_entry(wire, keys)
            payload = decode_payload(entry.body)
            inclusion = tuple(bytes.fromhex(str(h)) for h in item.get("inclusion") or ())
        except (VerificationError, KeyError, TypeError, ValueError) as e:
            raise StatusListNotRecorded(f"version {position} of the {purpose} list is not "
                                        f"proven by a signed entry of {association}'s ledger: "
                                        f"{e}") from e
        body = entry.body
        claims = (body.association, body.event_type, body.aggregate_id,
                  payload.get("list_version"), payload.get("list_hash"))
        if claims != (association, PUBLISHED, expected_list, position, item.get("list_hash")):
            raise StatusListNotRecorded(f"the ledger entry {association}#{body.seq} does not "
                                        f"record version {position} of the {purpose} list "
                                        "as the node says")
        versions.append(LoggedVersion(list_version=position, list_hash=payload["list_hash"],
                                      recorded_at=body.recorded_at, seq=body.seq, wire=wire,
                                      inclusion=inclusion))
    if not versions:
        raise StatusListNotRecorded(f"{association}'s ledger records no version of the "
                                    f"{purpose} list {number}")
    return versions


def _keyring(did_document: JsonObject, association: str) -> Keyring:
    """The DID document's assertion keys as the keys `association` signs its ledger with."""
    records = []
    for method in did_document.get("verificationMethod") or ():
        if not isinstance(method, dict) or not isinstance(method.get("id"), str):
            continue
        try:
            listed = assertion_key(did_document, method["id"])
        except CredentialError:
            continue  # revoked, or no assertion method: it proves nothing
        if listed.valid_from is None:
            continue
        records.append(KeyRecord(association=association, public_key=listed.public_key,
                                 valid_from=listed.valid_from, valid_until=listed.valid_until))
    return Keyring(keys=tuple(records))


def _json(fetch: Fetch, url: str, what: str,
          limit: int = MAX_LIST_CREDENTIAL_BYTES) -> dict[str, Any]:
    try:
        status, body = fetch(url)
    except OSError as e:
        raise CredentialError(f"{what} could not be fetched from {url}: {e}") from e
    if status != 200:
        raise CredentialError(f"{what} could not be fetched from {url}: HTTP {status}")
    return load_document(body, limit)

