"""The durable mark of a node restored from a backup that has not yet caught up.

A backup is an old picture of the own ledger; peers and the hub may hold entries the node
signed after it. Sealing the next command on the restored head would sign a second, different
entry for a seq they hold: a fork (DESIGN invariant 8). `alliance restore` therefore writes
`restored.json` into the data directory before anything else can open the node, and every
`Node` that finds it refuses to seal or sign, whether it was started with NATS or not, until:

- the start-up check of `alliance serve` with NATS got an answer from every source it asked
  (the own stream, locally and on the hub, and every peer of the registry), each holding
  nothing beyond the head once the node stored what they returned, and the ledger is not
  behind any record of it; then the mark is cleared by itself; or
- an operator cleared it (`alliance restore release --reason TEXT`), for an association
  alone in the world (no peers, no hub) or a peer that is gone for good.

Either way the clearing is appended to `restores.log` in the data directory (when, how, why),
and logged. A mark that cannot be read refuses to start the node rather than being ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import msgspec

from federation_api.node.setup import NodeError
from ledger.chain.own_length import PeerCheck
from ledger.codec import decode_json, encode_json, encode_json_line
from ledger.errors import MalformedEntry

log = logging.getLogger("alliance.restore")

MARK_FILE = "restored.json"
HISTORY_FILE = "restores.log"

RESTORE_RECOVERY = (
    "The node seals nothing until it has caught up: start `alliance serve` with NATS "
    "(ALLIANCE_NATS_URL) so it fetches its own entries from the hub and its peers; it seals "
    "again once every one of them has answered. For an association alone in the world, or a "
    "peer that is gone for good, an operator may run `alliance restore release --reason "
    "TEXT` (logged).")


class RestoreMark(msgspec.Struct, frozen=True, kw_only=True):
    """What was restored: which backup, taken when, with which head of the own ledger."""

    backup_id: str
    taken_at: dt.datetime
    restored_at: dt.datetime
    own_head: int


class RestoreCleared(msgspec.Struct, frozen=True, kw_only=True):
    """One line of `restores.log`: a restore mark cleared, how and why."""

    backup_id: str
    restored_at: dt.datetime
    cleared_at: dt.datetime
    how: str  # "caught up" or "operator override"
    head: int
    detail: str
    # Own entries no stored event backs (sealed after the backup, fetched back from peers):
    # the node never stores a new event for their record versions (`LedgerWriter.refuse_lost`).
    unbacked: tuple[int, int] | None = None


class RestoreMarkFile:
    """The mark in one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / MARK_FILE
        self.history = data_dir / HISTORY_FILE

    def load(self) -> RestoreMark | None:
        """The mark, or None when the node was not restored (or has caught up)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_json(data, RestoreMark)
        except MalformedEntry as e:
            raise NodeError(f"{MARK_FILE} in the data directory is unreadable ({e}); the "
                            f"node was restored and may be behind its peers, so it does not "
                            f"start. {RESTORE_RECOVERY}") from e

    def save(self, mark: RestoreMark) -> None:
        """Write the mark durably (written aside, synced, renamed, directory synced)."""
        _write_durably(self.path, encode_json(mark))

    def clear(self, mark: RestoreMark, *, how: str, head: int, detail: str,
              unbacked: tuple[int, int] | None, now: dt.datetime) -> RestoreCleared:
        """Record why the mark goes (and which entries no event backs), then remove it."""
        line = RestoreCleared(backup_id=mark.backup_id, restored_at=mark.restored_at,
                              cleared_at=now, how=how, head=head, detail=detail,
                              unbacked=unbacked)
        with self.history.open("ab") as f:
            f.write(encode_json_line(line) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self.path.unlink()
        _sync_dir(self.path.parent)
        log.warning("restore mark cleared", extra={"how": how, "head": head,
                                                    "detail": detail})
        return line


    def cleared(self) -> list[RestoreCleared]:
        """Every restore of this node that caught up or was released, oldest first."""
        try:
            lines = self.history.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        try:
            return [decode_json(line, RestoreCleared) for line in lines if line.strip()]
        except MalformedEntry as e:
            raise NodeError(f"{HISTORY_FILE} in the data directory is unreadable ({e}); it "
                            f"names the entries whose records this node may not change "
                            f"again, so the node does not start without it") from e

    def unbacked_ranges(self) -> list[tuple[int, int]]:
        """The seq ranges of own entries that no stored event backs, from every restore."""
        return [c.unbacked for c in self.cleared() if c.unbacked is not None]


def still_waiting(check: PeerCheck | None, head: int, *, with_nats: bool = True) -> str | None:
    """Why a restored node at `head` has not caught up after `check` (None: not yet asked),
    or None if it has."""
    if check is None:
        return ("restored from a backup and not yet compared with the hub and its peers"
                + ("" if with_nats else " (started without NATS)"))
    if check.silent:
        return (f"restored from a backup; no answer yet from {', '.join(check.silent)} "
                f"about entries beyond seq {head}")
    ahead = [r for r in check.answered if r.seq > head]
    if ahead:
        return ("restored from a backup; " + ", ".join(r.describe() for r in ahead)
                + f", beyond seq {head}, and has not sent it yet")
    return None


def _write_durably(path: Path, data: bytes) -> None:
    aside = path.with_name(f".{path.name}.tmp")
    with aside.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(aside, path)
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
