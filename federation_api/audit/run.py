"""`alliance audit` of an export directory: prove a node's history without trusting the node.

The export (`federation_api.audit.export`) holds the registry, every ledger's wire bytes, the
latest checkpoints and the node's projection digest. The audit:
1. verifies the registry from genesis (quorum signatures) to learn the key windows and the
   member associations, which are the witnesses (`ledger.audit.witnesses`);
2. checks each checkpoint: the association's signature, and every cosignature against the
   witness's key valid at the cosignature's time; a witnessed checkpoint must carry the quorum
   (`ledger.audit.checkpoints`);
3. checks every ledger's hash chain (seq, prev-hash, canonical bytes) and recomputes its
   Merkle roots at both checkpoints' sizes, in the same pass (`ledger.audit.chains`), in a
   second process when there is a second core: the witnessed root must be the root of a
   prefix of the exported ledger, which proves the audited history extends what the
   witnesses saw;
4. meanwhile replays the ledger into fresh projections (again without a ledger whose chain
   turns out broken), and compares the digest with the node's; with `as_of`, only the
   entries recorded up to that date;
5. with `full_signatures`, re-verifies every entry signature on all cores.
The registry is only as good as its genesis: the auditor pins the Alliance's genesis (the file
distributed out of band, `pinned_genesis`), and an export whose genesis has another digest is a
finding; an export of a node's own keyring (no registry) is a finding when the auditor says the
keys came from the audited node itself (`keys_from_node`, as with `alliance audit --url`).
The genesis digest is reported either way, to compare out of band.
Ledgers are read one at a time, so memory holds one ledger, not the whole Alliance. Any finding
makes the exit code non-zero. A ledger with no checkpoint cosigned by the registry's quorum
at all (the fresh one a node signs at export time is not cosigned yet; the witnessed one is
older) is a warning, unless the auditor asks for witnessed checkpoints (`require_witnessed`).

This module is the orchestration (files, worker processes, the replay into projections, which
only the edge may import); the judgements are the pure checks of `ledger.audit`.
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
from pathlib import Path
from typing import Protocol

from ledger.audit.chains import Chain, chain_job, check_chain, verify_chunk
from ledger.audit.checkpoints import ExportedCheckpoints, judge_checkpoints, record_chain
from ledger.audit.report import CHAINS, CHECKPOINTS, LOAD, REPLAY, SIGNATURES, AuditReport
from ledger.audit.witnesses import Trust, check_genesis, load_trust
from ledger.codec import EntryBody, decode_canonical, decode_stored
from ledger.errors import LedgerError, VerificationError
from ledger.storage.database import Database, DatabaseUrl
from ledger.trust.keyring import Keyring
from ledger.trust.registry import Genesis
from projections.decoded_entries import from_body
from projections.errors import ProjectionError
from projections.projector import Projector

SIGNATURE_CHUNK = 1000  # entries per task of the signature pool
# A ledger is in memory already, so the replay applies it in one transaction (up to this many
# entries): rows it creates are then never read back (measured 1.25x faster than 20,000 at
# 33,000 entries per ledger).
REPLAY_BATCH = 100_000


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
    check_genesis(trust, report, pinned_genesis, keys_from_node=keys_from_node)
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


def _replay_all(paths: list[Path], root: Path, trust: Trust, report: AuditReport,
                clock: _Clock, bars: Progress, checker: ProcessPoolExecutor | None, *,
                as_of: dt.date | None, require_witnessed: bool) -> set[str]:
    """Check and replay every ledger; return the associations whose replay went wrong (a
    chain that broke after its entries were replayed, or a replay that failed): the digest
    is then made again from the ledgers whose chain held."""
    pending: list[tuple[str, Future[Chain], ExportedCheckpoints, int, bool, bool]] = []
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
                        holds = record_chain(association, chain, notes, report, trust,
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
                    holds = record_chain(association, chain, notes, report, trust,
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


def _checkpoints(root: Path, association: str, trust: Trust,
                 report: AuditReport) -> ExportedCheckpoints:
    """Read one ledger's checkpoint notes from the export and judge them."""
    def read(name: str) -> bytes | None:
        path = root / "checkpoints" / name
        return path.read_bytes() if path.exists() else None

    return judge_checkpoints(association, read(f"{association}.note"),
                             read(f"{association}.witnessed.note"), trust, report)
