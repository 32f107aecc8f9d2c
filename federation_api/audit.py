"""`alliance export` and `alliance audit`: prove a node's history without trusting the node.

An export directory holds the registry (genesis and entries), every ledger's wire bytes, the
latest signed checkpoint of each ledger, and the node's projection digest. The audit:
1. verifies the registry from genesis (quorum signatures) to learn the key windows;
2. checks every ledger's hash chain (seq, prev-hash, canonical bytes) and, with
   `--full-signatures`, every entry signature under the registry's keys, on all cores;
3. recomputes each ledger's Merkle root and checks it against the checkpoint, whose note
   signature must verify under the association's key;
4. replays everything into fresh projections and compares the digest with the node's; with
   `--as-of`, the roster is rebuilt from the entries recorded up to that date.
Any finding makes the exit code non-zero.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from federation_api.registry_files import RegistryDir
from ledger.checkpoints import CheckpointError, open_checkpoint
from ledger.codec import (
    decode_body,
    decode_canonical,
    decode_json,
    decode_signed,
    encode,
    encode_json,
)
from ledger.database import Database, DatabaseUrl
from ledger.entries import LedgerEntry, check_link, entry_hash, open_entry
from ledger.errors import LedgerError, VerificationError
from ledger.keyring import Keyring
from ledger.merkle import MerkleTree, leaf_hash
from ledger.registry import verify_registry
from ledger.store import LedgerStore
from ledger.transparency import origin_of
from projections.projector import Projector


@dataclass
class AuditReport:
    """What the audit checked and found."""

    ledgers: dict[str, int] = field(default_factory=dict)
    signatures_verified: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)
    digest: str = ""
    node_digest: str = ""
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No finding at all."""
        return not self.findings


def export(node: object, out: Path) -> list[Path]:
    """Write an export directory of a node (registry, ledgers, checkpoints, digest)."""
    from federation_api.node import Node

    assert isinstance(node, Node)
    out.mkdir(parents=True, exist_ok=False)
    written: list[Path] = []
    if node.registry_dir.exists():
        target = RegistryDir(out / "registry")
        target.root.mkdir()
        (target.genesis_path).write_bytes(node.registry_dir.genesis_path.read_bytes())
        (target.entries_path).write_bytes(node.registry_dir.entries_path.read_bytes())
        written += [target.genesis_path, target.entries_path]
    else:
        (out / "keyring.json").write_bytes(encode_json(node.keyring))
        written.append(out / "keyring.json")
    node.log.sign_checkpoint(node.association, node.signer, dt.datetime.now(dt.UTC))
    (out / "ledgers").mkdir()
    (out / "checkpoints").mkdir()
    for association in node.ledger.associations():
        path = out / "ledgers" / f"{association}.bin"
        path.write_bytes(encode(list(node.ledger.wires(association))))
        written.append(path)
        note = node.log.latest_checkpoint(association)
        if note is not None:
            (out / "checkpoints" / f"{association}.note").write_bytes(note)
            written.append(out / "checkpoints" / f"{association}.note")
    (out / "digest.txt").write_text(node.projector.digest() + "\n")
    written.append(out / "digest.txt")
    return written


def _keys(root: Path) -> Keyring:
    registry = RegistryDir(root / "registry")
    if registry.exists():
        return verify_registry(registry.genesis(), registry.entries()).keyring
    return decode_json((root / "keyring.json").read_bytes(), Keyring)


def _verify_chunk(args: tuple[list[bytes], Keyring]) -> int:
    wires, keys = args
    for wire in wires:
        open_entry(wire, keys)
    return len(wires)


def audit(root: Path, *, full_signatures: bool = False, as_of: dt.date | None = None,
          workers: int | None = None) -> AuditReport:
    """Audit an export directory."""
    report = AuditReport()
    try:
        keys = _keys(root)
    except (LedgerError, OSError) as e:
        report.findings.append(f"registry: {e}")
        return report
    ledgers: dict[str, list[bytes]] = {}
    for path in sorted((root / "ledgers").glob("*.bin")):
        association = path.stem
        try:
            ledgers[association] = list(decode_canonical(path.read_bytes(), list[bytes]))
        except LedgerError as e:
            report.findings.append(f"{association}: unreadable ledger file: {e}")
    for association, wires in ledgers.items():
        _audit_ledger(root, association, wires, keys, report)
    if full_signatures:
        _verify_signatures(ledgers, keys, report, workers or os.cpu_count() or 1)
    _replay(root, ledgers, report, as_of)
    return report


def _audit_ledger(root: Path, association: str, wires: list[bytes], keys: Keyring,
                  report: AuditReport) -> None:
    previous: LedgerEntry | None = None
    tree = MerkleTree()
    for position, wire in enumerate(wires, start=1):
        try:
            signed = decode_signed(wire)
            body = decode_body(signed.body)
            entry = LedgerEntry(body=body, wire=wire, entry_hash=entry_hash(signed.body))
            if body.association != association:
                raise VerificationError("entry of another association", seq=position)
            check_link(previous, entry)
        except VerificationError as e:
            report.findings.append(f"{association}#{position}: {e.reason}")
            return
        previous = entry
        tree.append(leaf_hash(wire))
    report.ledgers[association] = len(wires)
    note_path = root / "checkpoints" / f"{association}.note"
    if not note_path.exists():
        report.findings.append(f"{association}: no signed checkpoint in the export")
        return
    # Checkpoints are signed with the association's latest key (the one open, or the last
    # one before a suspension or withdrawal).
    record = keys.current(association) or next(
        (k for k in reversed(keys.keys) if k.association == association), None)
    if record is None:
        report.findings.append(f"{association}: no key in the registry")
        return
    try:
        checkpoint = open_checkpoint(note_path.read_bytes(),
                                     {origin_of(association): record.public_key})
    except CheckpointError as e:
        report.findings.append(f"{association}: checkpoint does not verify: {e}")
        return
    if checkpoint.size > len(wires):
        report.findings.append(f"{association}: checkpoint of size {checkpoint.size} but only "
                               f"{len(wires)} entries (entries removed?)")
        return
    prefix = MerkleTree([leaf_hash(w) for w in wires[:checkpoint.size]])
    if prefix.root() != checkpoint.root_hash:
        report.findings.append(f"{association}: Merkle root of the first {checkpoint.size} "
                               f"entries does not match the signed checkpoint (rewritten?)")
        return
    report.checkpoints[association] = checkpoint.size


def _verify_signatures(ledgers: dict[str, list[bytes]], keys: Keyring, report: AuditReport,
                       workers: int) -> None:
    chunks = [(wires[i:i + 2000], keys) for wires in ledgers.values()
              for i in range(0, len(wires), 2000)]
    try:
        if workers > 1 and len(chunks) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                report.signatures_verified = sum(pool.map(_verify_chunk, chunks))
        else:
            report.signatures_verified = sum(map(_verify_chunk, chunks))
    except VerificationError as e:
        report.findings.append(f"signature: {e}")


def _replay(root: Path, ledgers: dict[str, list[bytes]], report: AuditReport,
            as_of: dt.date | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(DatabaseUrl.parse(f"sqlite:///{tmp}/replay.sqlite"))
        store = LedgerStore(db)
        projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{tmp}/proj.sqlite")))
        for association, wires in ledgers.items():
            if association not in report.ledgers:
                continue  # a broken chain is already a finding; do not replay it
            kept = [w for w in wires if as_of is None or
                    decode_body(decode_signed(w).body).recorded_at.date() <= as_of]
            entries = []
            for wire in kept:
                signed = decode_signed(wire)
                entries.append(LedgerEntry(body=decode_body(signed.body), wire=wire,
                                           entry_hash=entry_hash(signed.body)))
            for start in range(0, len(entries), 5000):
                store.append(entries[start:start + 5000], follower="audit",
                             position=start + len(entries[start:start + 5000]))
        projector.catch_up(store)
        report.digest = projector.digest()
    digest_file = root / "digest.txt"
    report.node_digest = digest_file.read_text().strip() if digest_file.exists() else ""
    if as_of is None and report.node_digest and report.node_digest != report.digest:
        report.findings.append("replayed projections differ from the node's digest")
