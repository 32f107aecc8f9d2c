"""`alliance audit --url`: fetch a node's data over its auditor API into an export directory.

The audit then runs on that directory exactly as on one written by `alliance export`, so a
node audited over HTTP is checked by the same code: nothing the node says is trusted: the registry
is verified from the genesis the auditor pins (`alliance audit --genesis`, the file distributed
out of band), and a node without a registry only claims its keys, which the audit reports.
Nothing the node sends names a file before it is checked: an association id must be one a
node could have (`ASSOCIATION_ID`), so a hostile answer cannot write outside the directory,
and the counts it claims are bounded (`MAX_LEDGERS`, `MAX_ENTRIES`).
Fetch order: heads and digest first, then each ledger's checkpoints (the latest, and the
latest one cosigned by the witness quorum), then the entries up to the larger of the head and
the checkpoint, so a ledger that grows meanwhile still covers its checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from federation_api.errors import EdgeError
from federation_api.node.setup import ASSOCIATION_ID
from ledger.codec import encode, encode_json
from ledger.errors import CheckpointError
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.notes import parse_note
from ledger.trust.keyring import KeyRecord, Keyring
from ledger.trust.registry_files import RegistryDir

PAGE = 1000  # the auditor API's largest range per call
# Far above any real Alliance (about fifty associations, millions of entries at most), low
# enough that a hostile node cannot make the auditor fetch without end.
MAX_LEDGERS = 1000
MAX_ENTRIES = 50_000_000


class FetchError(EdgeError):
    """The node could not be read (HTTP error, refused token, unreachable)."""


class _Client:
    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.base = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **query: int) -> bytes | None:
        """The body of a GET, or None on 404."""
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        # fetch() accepts only http(s) URLs, so no file: or custom scheme reaches urllib.
        request = urllib.request.Request(  # noqa: S310
            url, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise FetchError(f"GET {path}: HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, OSError) as e:
            raise FetchError(f"GET {path}: {e}") from e

    def json(self, path: str, **query: int) -> Any:
        body = self.get(path, **query)
        if body is None:
            raise FetchError(f"GET {path}: not found")
        try:
            return json.loads(body)
        except ValueError as e:
            raise FetchError(f"GET {path}: not JSON: {e}") from e


def fetch(url: str, token: str, out: Path, *, timeout: float = 30.0) -> dict[str, int]:
    """Write an export directory of the node at `url`; return the entries fetched per ledger."""
    if not url.startswith(("http://", "https://")):
        raise FetchError("the node URL must start with http:// or https://")
    client = _Client(url, token, timeout)
    heads = client.json("/v1/ledger/heads")
    claimed = _heads(heads)
    out.mkdir(parents=True, exist_ok=False)
    registry = client.get("/v1/ledger/registry")
    if registry is not None:
        try:
            data = json.loads(registry)
        except ValueError as e:
            raise FetchError(f"GET /v1/ledger/registry: not JSON: {e}") from e
        target = RegistryDir(out / "registry")
        target.root.mkdir()
        target.genesis_path.write_text(data["genesis"])
        target.entries_path.write_bytes(encode([base64.b64decode(e) for e in data["entries"]]))
    else:
        keys = client.json("/v1/ledger/keys")
        keyring = Keyring(keys=tuple(KeyRecord(
            association=k["association"], public_key=bytes.fromhex(k["public_key"]),
            valid_from=_time(k["valid_from"]),
            valid_until=_time(k["valid_until"]) if k["valid_until"] else None) for k in keys))
        (out / "keyring.json").write_bytes(encode_json(keyring))
    (out / "ledgers").mkdir()
    (out / "checkpoints").mkdir()
    fetched: dict[str, int] = {}
    for association, head in sorted(claimed.items()):
        last = head
        found = client.get(f"/v1/ledger/{association}/checkpoints")
        notes = json.loads(found) if found is not None else {}
        if not isinstance(notes, dict):
            raise FetchError(f"GET /v1/ledger/{association}/checkpoints: not an object")
        for suffix, key in ((".note", "note"), (".witnessed.note", "witnessed_note")):
            text = notes.get(key)
            if not isinstance(text, str):
                continue
            note = text.encode()
            (out / "checkpoints" / f"{association}{suffix}").write_bytes(note)
            with contextlib.suppress(CheckpointError):  # the audit names a bad checkpoint
                last = max(last, min(parse_body(parse_note(note).text).size, MAX_ENTRIES))
        wires = _entries(client, association, last)
        (out / "ledgers" / f"{association}.bin").write_bytes(encode(wires))
        fetched[association] = len(wires)
    # The digest is comparable only if it covers exactly the entries fetched.
    if heads.get("projected") == fetched and isinstance(heads.get("digest"), str):
        (out / "digest.txt").write_text(heads["digest"] + "\n")
    return fetched


def _heads(heads: Any) -> dict[str, int]:
    """The node's heads, refused unless every id is an association id and every count sane:
    the ids become file names and URL paths."""
    if not isinstance(heads, dict) or not isinstance(heads.get("heads"), dict):
        raise FetchError("GET /v1/ledger/heads: not an object with heads")
    claimed: dict[str, Any] = heads["heads"]
    if len(claimed) > MAX_LEDGERS:
        raise FetchError(f"GET /v1/ledger/heads: {len(claimed)} ledgers, more than "
                         f"{MAX_LEDGERS}")
    for association, head in claimed.items():
        if not isinstance(association, str) or not ASSOCIATION_ID.fullmatch(association):
            raise FetchError(f"GET /v1/ledger/heads: {association!r} is not an association "
                             f"id (2-8 upper-case letters); refused")
        if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head <= MAX_ENTRIES:
            raise FetchError(f"GET /v1/ledger/heads: head of {association} is {head!r}, not "
                             f"a count up to {MAX_ENTRIES}")
    return dict(claimed)


def _entries(client: _Client, association: str, last: int) -> list[bytes]:
    wires: list[bytes] = []
    first = 1
    while first <= last:
        page = client.json(f"/v1/ledger/{association}/entries", **{
            "from": first, "to": min(last, first + PAGE - 1)})
        wires.extend(base64.b64decode(e["wire"]) for e in page["entries"][:last - len(wires)])
        if not page["entries"]:
            break  # the node has fewer entries than it claimed: the audit will say so
        first = len(wires) + 1
    return wires


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
