"""`alliance export` and `alliance audit`: prove a node's history without trusting the node.

An export directory holds the registry (genesis and entries), every ledger's wire bytes, the
latest signed (and cosigned) checkpoint of each ledger (`checkpoints/<ID>.note`), the latest
one its witnesses' quorum cosigned when there is one (`checkpoints/<ID>.witnessed.note`), and
the node's projection digest. The audit:
1. verifies the registry from genesis (quorum signatures) to learn the key windows and the
   member associations, which are the witnesses;
2. checks each checkpoint: the association's signature, and every cosignature against the
   witness's key valid at the cosignature's time (see `federation_api.audit_witnesses`); a
   witnessed checkpoint must carry the quorum;
3. checks every ledger's hash chain (seq, prev-hash, canonical bytes) and recomputes its
   Merkle roots at both checkpoints' sizes, in the same pass (`audit_chains`), in a second
   process when there is a second core: the witnessed root must be the root of a prefix of
   the exported ledger, which proves the audited history extends what the witnesses saw;
4. meanwhile replays the ledger into fresh projections (again without a ledger whose chain
   turns out broken), and compares the digest with the node's; with `--as-of`, only the
   entries recorded up to that date;
5. with `--full-signatures`, re-verifies every entry signature on all cores.
The registry is only as good as its genesis: the auditor pins the Alliance's genesis (the file
distributed out of band, `pinned_genesis`), and an export whose genesis has another digest is a
finding; an export of a node's own keyring (no registry) is a finding when the auditor says the
keys came from the audited node itself (`keys_from_node`, as with `alliance audit --url`).
The genesis digest is reported either way, to compare out of band.
Ledgers are read one at a time, so memory holds one ledger, not the whole Alliance. Any finding
makes the exit code non-zero. A ledger with no checkpoint cosigned by the registry's quorum
at all (the fresh one a node signs at export time is not cosigned yet; the witnessed one is
older) is a warning, unless the auditor asks for witnessed checkpoints (`require_witnessed`).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledger.audit.chains import Chain, chain_job, check_chain, verify_chunk
from ledger.audit.witnesses import Trust, check_cosignatures, load_trust, origin_keys
from ledger.codec import (
    EntryBody,
    decode_canonical,
    decode_stored,
    encode,
    encode_json,
)
from ledger.errors import CheckpointError, LedgerBehind, LedgerError, VerificationError
from ledger.storage.database import Database, DatabaseUrl
from ledger.transparency.checkpoints import Checkpoint, open_checkpoint
from ledger.transparency.cosigners import origin_of
from ledger.trust.keyring import Keyring
from ledger.trust.registry import Genesis
from projections.decoded_entries import from_body
from projections.errors import ProjectionError
from projections.projector import Projector

if TYPE_CHECKING:
    from federation_api.node.root import Node

SIGNATURE_CHUNK = 1000  # entries per task of the signature pool
# A ledger is in memory already, so the replay applies it in one transaction (up to this many
# entries): rows it creates are then never read back (measured 1.25x faster than 20,000 at
# 33,000 entries per ledger).
REPLAY_BATCH = 100_000


@dataclass
class AuditReport:
    """What the audit checked and found."""

    ledgers: dict[str, int] = field(default_factory=dict)
    signatures_verified: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)
    witnesses: dict[str, list[str]] = field(default_factory=dict)  # valid cosigners
    witness_quorum: int = 0
    witnessed: dict[str, list[int]] = field(default_factory=dict)  # sizes proven witnessed
    replayed: int = 0
    genesis_digest: str = ""  # hex SHA-256 of the export's canonical genesis ("" without one)
    digest: str = ""
    node_digest: str = ""
    findings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase

    @property
    def ok(self) -> bool:
        """No finding at all."""
        return not self.findings

    def as_json(self) -> dict[str, object]:
        """The JSON report (`alliance audit --json`)."""
        return {"ok": self.ok, "ledgers": self.ledgers, "checkpoints": self.checkpoints,
                "witnesses": self.witnesses, "witness_quorum": self.witness_quorum,
                "witnessed": self.witnessed, "genesis_digest": self.genesis_digest,
                "signatures_verified": self.signatures_verified, "replayed": self.replayed,
                "digest": self.digest, "node_digest": self.node_digest,
                "findings": self.findings, "warnings": self.warnings,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


class Progress(Protocol):
    """Where the audit reports how far each long phase got (the CLI draws bars)."""

    def start(self, phase: str, total: int) -> None:
        """A phase begins; `total` units (bytes of ledger files, or ledgers) will follow."""

    def advance(self, phase: str, done: int) -> None:
        """`done` more units of `phase` are finished."""


class _Silent:
    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, phase: str, done: int) -> None:
        pass


# Phase names, as the progress bars and `AuditReport.seconds` show them.
LOAD, CHECKPOINTS, CHAINS, REPLAY, SIGNATURES = (
    "loading ledgers", "checkpoints and cosignatures", "chains and Merkle roots",
    "replay into projections", "entry signatures")


def export(node: object, out: Path) -> list[Path]:
    """Write an export directory of a node (registry, ledgers, checkpoints, digest)."""
    from federation_api.node.root import Node
    from ledger.trust.registry_files import RegistryDir

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
    _sign_own_checkpoint(node)
    (out / "ledgers").mkdir()
    (out / "checkpoints").mkdir()
    for association in node.ledger.associations():
        path = out / "ledgers" / f"{association}.bin"
        path.write_bytes(encode(list(node.ledger.wires(association))))
        written.append(path)
        for suffix, note in ((".note", node.log.latest_checkpoint(association)),
                             (".witnessed.note",
                              node.log.latest_witnessed_checkpoint(association))):
            if note is not None:
                (out / "checkpoints" / f"{association}{suffix}").write_bytes(note)
                written.append(out / "checkpoints" / f"{association}{suffix}")
    (out / "digest.txt").write_text(node.projector.digest() + "\n")
    written.append(out / "digest.txt")
    return written


def _sign_own_checkpoint(node: Node) -> None:
    """A fresh checkpoint of the own ledger for the export. Refused while the ledger is
    behind (LedgerBehind names the missing seqs); when the store no longer gives the roots
    it signed, the refusal names the first bad entry and why, as `ledger verify` does."""
    try:
        node.log.sign_checkpoint(node.association, node.signer, dt.datetime.now(dt.UTC))
    except CheckpointError as refused:
        try:
            node.verify_ledger()
        except LedgerBehind:
            raise
        except VerificationError as found:
            raise type(found)(f"{found.reason} (so no checkpoint can be signed for the export: "
                              f"{refused.reason})", association=found.association,
                              seq=found.seq) from refused
        raise


def exported_ledger(root: Path, association: str) -> list[bytes]:
    """The wire bytes of one association's ledger in an export directory (unverified: each
    entry verifies itself wherever it goes)."""
    path = root / "ledgers" / f"{association}.bin"
    if not path.exists():
        raise LedgerError(f"{root} holds no ledger of {association} (no {path.name})")
    return list(decode_canonical(path.read_bytes(), list[bytes]))


def audit(root: Path, *, full_signatures: bool = False, as_of: dt.date | None = None,
          workers: int | None = None, progress: Progress | None = None,
          require_witnessed: bool = False, pinned_genesis: Genesis | None = None,
          keys_from_node: bool = False) -> AuditReport:
    """Audit an export directory; `pinned_genesis` is the auditor's own copy of the Alliance's
    genesis, `keys_from_node` says the export came from the audited node itself."""
    report = AuditReport()
    bars = progress or _Silent()
    clock = _Clock(report)
    with clock(LOAD):
        try:
            trust = load_trust(root)
        except (LedgerError, OSError) as e:
            report.findings.append(f"registry: {e}")
            return report
    _check_genesis(trust, report, pinned_genesis, keys_from_node=keys_from_node)
    report.witness_quorum = trust.witness_quorum
    paths = sorted((root / "ledgers").glob("*.bin"))
    sizes = {path: path.stat().st_size for path in paths}
    for phase in (LOAD, CHAINS, REPLAY, *((SIGNATURES,) if full_signatures else ())):
        bars.start(phase, sum(sizes.values()))
    bars.start(CHECKPOINTS, len(paths))
    # With a second core, each ledger's chain and Merkle root are checked in another
    # process while this one replays the same ledger into the projections (speculatively:
    # a ledger whose chain turns out broken sends the replay round again without it).
    checker = (ProcessPoolExecutor(max_workers=1)
               if (workers or os.cpu_count() or 1) > 1 else None)
    try:
        broken = _replay_all(paths, root, trust, report, clock, bars, checker, as_of=as_of,
                             require_witnessed=require_witnessed)
    finally:
        if checker is not None:
            checker.shutdown()
    if broken:
        kept = [p for p in paths if p.stem in report.ledgers]  # the chains that held
        with clock(REPLAY):
            report.digest, report.replayed = _replay_checked(kept, as_of)
    if full_signatures:
        with clock(SIGNATURES):
            _verify_signatures(paths, trust.keyring, report, bars,
                               workers or os.cpu_count() or 1)
    digest_file = root / "digest.txt"
    report.node_digest = digest_file.read_text().strip() if digest_file.exists() else ""
    if not report.node_digest:
        report.warnings.append("no node digest to compare the replay with")
    elif as_of is None and report.node_digest != report.digest:
        report.findings.append("replayed projections differ from the node's digest")
    return report


def _check_genesis(trust: Trust, report: AuditReport, pinned: Genesis | None, *,
                   keys_from_node: bool) -> None:
    """The trust root: the export's genesis must be the pinned one, and keys without any
    registry are only the word of whoever wrote them."""
    if trust.genesis is not None:
        report.genesis_digest = trust.genesis.digest().hex()
        if pinned is not None and pinned.digest() != trust.genesis.digest():
            report.findings.append(f"genesis: the export's genesis (digest "
                                   f"{report.genesis_digest}) is not the pinned one (digest "
                                   f"{pinned.digest().hex()})")
        return
    if keys_from_node:
        report.findings.append("no registry: keys are the node's own claim")
    elif pinned is not None:
        report.findings.append("genesis: a genesis is pinned but the export has no registry "
                               "(its keyring is not rooted in it)")


def _replay_all(paths: list[Path], root: Path, trust: Trust, report: AuditReport,
                clock: _Clock, bars: Progress, checker: ProcessPoolExecutor | None, *,
                as_of: dt.date | None, require_witnessed: bool) -> set[str]:
    """Check and replay every ledger; return the associations whose replay went wrong (a
    chain that broke after its entries were replayed, or a replay that failed): the digest
    is then made again from the ledgers whose chain held."""
    pending: list[tuple[str, Future[Chain], _Notes, int, bool, bool]] = []
    broken: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{tmp}/replay.sqlite")))
        try:
            with projector.bulk(indexes=False):  # only digested, never queried
                for path in paths:
                    association = path.stem
                    size = path.stat().st_size
                    with clock(LOAD):
                        wires = _read(path, report)
                    bars.advance(LOAD, size)
                    if wires is None:
                        continue
                    with clock(CHECKPOINTS):
                        notes = _checkpoints(root, association, trust, report)
                    bars.advance(CHECKPOINTS, 1)
                    if checker is None:
                        with clock(CHAINS):
                            chain = check_chain(association, wires, notes.wants(),
                                                keep_bodies=True)
                        bars.advance(CHAINS, size)
                        holds = _record_chain(association, chain, notes, report, trust,
                                              require_witnessed=require_witnessed)
                        bodies = chain.bodies if holds else None
                    else:
                        future = checker.submit(chain_job, (association, path, notes.wants()))
                        with clock(REPLAY):
                            bodies = _decode_stored(wires)
                    attempted, clean = bodies is not None, True
                    if bodies is not None:
                        with clock(REPLAY):
                            clean = _apply(projector, bodies, as_of, report)
                    bars.advance(REPLAY, size)
                    if checker is not None:
                        pending.append((association, future, notes, size, attempted, clean))
                    elif not clean:
                        broken.add(association)
                for association, future, notes, size, attempted, clean in pending:
                    chain = future.result()
                    report.seconds[CHAINS] = report.seconds.get(CHAINS, 0.0) + chain.seconds
                    bars.advance(CHAINS, size)
                    holds = _record_chain(association, chain, notes, report, trust,
                                          require_witnessed=require_witnessed)
                    if (attempted and not holds) or not clean:
                        broken.add(association)
                clock.start(REPLAY)
            report.digest = projector.digest()
            clock.stop(REPLAY)
        finally:
            projector.db.close()
    return broken


def _read(path: Path, report: AuditReport) -> list[bytes] | None:
    try:
        return list(decode_canonical(path.read_bytes(), list[bytes]))
    except LedgerError as e:
        report.findings.append(f"{path.stem}: unreadable ledger file: {e}")
        return None


def _decode_stored(wires: list[bytes]) -> list[EntryBody] | None:
    # Only parsing: the checker process verifies the canonical bytes and the chain.
    try:
        return [decode_stored(w) for w in wires]
    except LedgerError:
        return None  # the checker names what is wrong


def _apply(projector: Projector, bodies: list[EntryBody], as_of: dt.date | None,
           report: AuditReport) -> bool:
    """Replay one ledger's bodies; False if that failed part way (a broken ledger replayed
    before its check finished: its check then fails too, and the replay is made again)."""
    kept = bodies if as_of is None else _recorded_by(bodies, as_of)
    try:
        report.replayed += projector.apply_ledger([from_body(b) for b in kept],
                                                  batch_size=REPLAY_BATCH)
    except (ProjectionError, LedgerError, ValueError):
        return False
    return True


def _replay_checked(paths: list[Path], as_of: dt.date | None) -> tuple[str, int]:
    """The replay again, of the ledgers whose chain held (after one broke mid-replay)."""
    replayed = 0
    with tempfile.TemporaryDirectory() as tmp:
        projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{tmp}/replay.sqlite")))
        try:
            with projector.bulk(indexes=False):
                for path in paths:
                    bodies = [decode_stored(w) for w in
                              decode_canonical(path.read_bytes(), list[bytes])]
                    kept = bodies if as_of is None else _recorded_by(bodies, as_of)
                    replayed += projector.apply_ledger([from_body(b) for b in kept],
                                                       batch_size=REPLAY_BATCH)
            return projector.digest(), replayed
        finally:
            projector.db.close()


def _recorded_by(bodies: list[EntryBody], as_of: dt.date) -> list[EntryBody]:
    # A ledger records in time order, so "recorded by D" is a prefix; stopping at the first
    # later entry also keeps the replayed prefix gapless if a clock ever stepped back.
    for index, body in enumerate(bodies):
        if body.recorded_at.date() > as_of:
            return bodies[:index]
    return bodies


@dataclass
class _Notes:
    """One ledger's checkpoints in the export whose signatures verified: the latest one, and
    the latest one cosigned by the witness quorum (None when absent or not verifying)."""

    latest: Checkpoint | None = None
    latest_witnesses: int = 0  # valid cosignatures on the latest one
    witnessed: Checkpoint | None = None

    def wants(self) -> frozenset[int]:
        """The sizes whose Merkle roots the chain check must compute."""
        return frozenset(c.size for c in (self.latest, self.witnessed) if c is not None)


def _checkpoints(root: Path, association: str, trust: Trust, report: AuditReport) -> _Notes:
    notes = _Notes()
    note_path = root / "checkpoints" / f"{association}.note"
    if not note_path.exists():
        report.findings.append(f"{association}: no signed checkpoint in the export")
    else:
        note = note_path.read_bytes()
        # The latest checkpoint is signed with the association's latest key (the one open, or
        # the last one before a suspension or withdrawal): a rotated-out key fails here.
        opened = _open(association, note, origin_keys(association, trust, note, latest=True),
                       "checkpoint", report)
        if opened is not None:
            cosigned = check_cosignatures(association, note, trust)
            report.findings.extend(cosigned.findings)
            report.warnings.extend(cosigned.warnings)
            report.witnesses[association] = cosigned.witnesses
            notes.latest, notes.latest_witnesses = opened, len(cosigned.witnesses)
    witnessed_path = root / "checkpoints" / f"{association}.witnessed.note"
    if witnessed_path.exists():
        notes.witnessed = _witnessed(association, witnessed_path.read_bytes(), trust, report)
    return notes


def _witnessed(association: str, note: bytes, trust: Trust,
               report: AuditReport) -> Checkpoint | None:
    """The witnessed checkpoint, if its origin signature, every cosignature and the quorum
    hold (an older one may be signed with a key rotated out since: the key the registry
    allowed when it was cosigned verifies it)."""
    what = "witnessed checkpoint"
    checkpoint = _open(association, note, origin_keys(association, trust, note, latest=False),
                       what, report)
    if checkpoint is None:
        return None
    cosigned = check_cosignatures(association, note, trust,
                                  which=f"{what} at {checkpoint.size}")
    report.findings.extend(cosigned.findings)
    report.warnings.extend(cosigned.warnings)
    if trust.registry is None:
        report.findings.append(f"{association}: {what} in an export without a registry, "
                               f"which alone names the witnesses")
        return None
    # A bad line among enough good ones is a finding already; the good ones still count.
    if len(cosigned.witnesses) < trust.witness_quorum:
        report.findings.append(f"{association}: {what} at {checkpoint.size} has "
                               f"{len(cosigned.witnesses)} valid cosignatures, the registry's "
                               f"quorum is {trust.witness_quorum}")
        return None
    return checkpoint


def _open(association: str, note: bytes, keys: list[bytes], what: str,
          report: AuditReport) -> Checkpoint | None:
    """The checkpoint of a note whose origin signature verifies under one of `keys`."""
    if not keys:
        report.findings.append(f"{association}: no key in the registry")
        return None
    problem: CheckpointError | None = None
    for key in keys:
        try:
            return open_checkpoint(note, {origin_of(association): key})
        except CheckpointError as e:
            problem = problem or e
    report.findings.append(f"{association}: {what} does not verify: {problem}")
    return None


def _record_chain(association: str, chain: Chain, notes: _Notes, report: AuditReport,
                  trust: Trust, *, require_witnessed: bool) -> bool:
    """Put a chain's result in the report; False when the chain is broken (not replayable).
    A chain that holds but does not match a checkpoint is a finding and still replayed."""
    if chain.count is None:
        report.findings.append(chain.finding or f"{association}: chain broken")
        return False
    report.ledgers[association] = chain.count
    witnessed: set[int] = set()
    quorum = trust.witness_quorum
    if notes.latest is not None and _matches(association, chain, notes.latest, report,
                                             what="signed checkpoint"):
        report.checkpoints[association] = notes.latest.size
        if quorum and notes.latest_witnesses >= quorum:
            witnessed.add(notes.latest.size)
    if notes.witnessed is not None and _matches(association, chain, notes.witnessed, report,
                                                what="witnessed checkpoint"):
        witnessed.add(notes.witnessed.size)
    if witnessed:
        report.witnessed[association] = sorted(witnessed)
    elif quorum and notes.latest is not None:
        message = (f"{association}: checkpoint at {notes.latest.size} has "
                   f"{notes.latest_witnesses} valid cosignatures, the registry's quorum is "
                   f"{quorum}, and the export holds no witnessed checkpoint of this ledger")
        (report.findings if require_witnessed else report.warnings).append(message)
    return True


def _matches(association: str, chain: Chain, checkpoint: Checkpoint, report: AuditReport, *,
             what: str) -> bool:
    """Whether the ledger's first `checkpoint.size` entries give the checkpoint's root."""
    count = chain.count or 0
    if checkpoint.size > count:
        report.findings.append(f"{association}: {what} of size {checkpoint.size} but only "
                               f"{count} entries (entries removed?)")
    elif chain.roots.get(checkpoint.size) != checkpoint.root_hash:
        report.findings.append(f"{association}: Merkle root of the first {checkpoint.size} "
                               f"entries does not match the {what} (rewritten?)")
    else:
        return True
    return False


def _verify_signatures(paths: list[Path], keys: Keyring, report: AuditReport, bars: Progress,
                       workers: int) -> None:
    """Every entry signature, in chunks on a process per core (Ed25519 verification is CPU
    bound). A second pass over the files, after the replay, so that its time is its own; the
    next ledger's chunks are queued while the last ones of the previous ledger finish, so no
    worker idles at a ledger's end, and at most two ledgers are held in memory."""
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
    pending: deque[tuple[int, list[Future[int]]]] = deque()

    def collect(size: int, futures: list[Future[int]]) -> None:
        for future in futures:
            try:
                report.signatures_verified += future.result()
            except VerificationError as e:
                report.findings.append(f"signature: {e}")
        bars.advance(SIGNATURES, size)

    try:
        for path in paths:
            try:
                wires = list(decode_canonical(path.read_bytes(), list[bytes]))
            except LedgerError:
                bars.advance(SIGNATURES, path.stat().st_size)
                continue  # already a finding of the first pass
            chunks = [(wires[i:i + SIGNATURE_CHUNK], keys)
                      for i in range(0, len(wires), SIGNATURE_CHUNK)]
            if pool is None:
                try:
                    report.signatures_verified += sum(map(verify_chunk, chunks))
                except VerificationError as e:
                    report.findings.append(f"signature: {e}")
                bars.advance(SIGNATURES, path.stat().st_size)
                continue
            pending.append((path.stat().st_size, [pool.submit(verify_chunk, c)
                                                  for c in chunks]))
            while len(pending) > 1:
                collect(*pending.popleft())
        while pending:
            collect(*pending.popleft())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


class _Clock:
    """Wall time per phase, added up across ledgers."""

    def __init__(self, report: AuditReport) -> None:
        self.report = report
        self._started: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        self.start(phase)
        try:
            yield
        finally:
            self.stop(phase)

    def start(self, phase: str) -> None:
        self._started[phase] = time.perf_counter()

    def stop(self, phase: str) -> None:
        elapsed = time.perf_counter() - self._started.pop(phase)
        self.report.seconds[phase] = self.report.seconds.get(phase, 0.0) + elapsed
