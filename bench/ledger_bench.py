"""Ledger throughput: signed entries per second against the same event store without signing.

    .venv/bin/python -m bench.ledger_bench [--entries N] [--per-command-entries M] [--json]

Every figure is measured in this run, on SQLite files in a temporary directory, and each
signed figure is printed as a ratio to the unsigned baseline measured beside it (STYLE.md),
so the disk and the CPU of the machine largely cancel out of the ratio goals. Phases:

- baseline: `PrivateEventStore` (our eventsourcing Application with the msgspec mapper) stores
  the events, `--batch` events per `save()` and one event per `save()`;
- signed: the same events stored and then sealed by `LedgerWriter.seal_recorded` (as the
  command service does), after each batch and after each event (one command per
  transaction, as the API commits);
- seal backlog: one `catch_up` over events already stored unsigned (sealing alone);
- rebuild: `Projector.rebuild` over the signed ledger;
- sign loop: `Signer.sign` over a real entry body, the floor every signed entry pays.

The domain events are built before any timing (endorsements imported with
`Endorsement.record_existing`, then renewed with `RenewalEvidence`, at explicit timestamps),
so the timed phases compare storing with storing plus sealing and nothing else.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

from bench.workload import FAMILY, GIVEN, LEVELS
from domain.endorsement import Endorsement
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.policy import AssociationPolicy
from federation_api.node.endorsement_ids import new_endorsement_id
from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import LedgerEntry, entry_hash
from ledger.chain.store import LedgerStore
from ledger.chain.writer import FOLLOWER, LedgerWriter
from ledger.codec import (
    EntryBody,
    SignedEntry,
    encode_body,
    encode_signed,
    event_type_of,
    public_and_private,
    schema_version,
)
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from ledger.storage.event_store import PrivateEventStore
from projections.projector import Projector

ASSOCIATION = "AK"
# Goals from the issue: signed batched append against the unsigned store, and rebuild rate.
SIGNED_BATCHED_RATIO_GOAL = 0.6
SIGNED_BATCHED_RATE_GOAL = 8_000.0
REBUILD_RATE_GOAL = 30_000.0

_EPOCH = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


# -- workload ----------------------------------------------------------------------------------


def _renewal_evidence(i: int) -> RenewalEvidence:
    # Meets every level's continuing requirements for the 2025 cycle (training with RS/C
    # topic hours, RS/C received, membership past the cycle end).
    return RenewalEvidence(
        trainings=(Training(title=f"Annual infant mental health conference, track {i % 7}",
                            hours=16 + i % 4, completed_on=dt.date(2025, 4, 2 + i % 20),
                            rsc_topic=True),),
        rsc=(RscHours(provider_id=f"AK-P-{(i * 7919) % 100_000:06d}", hours=12 + i % 5,
                      started_on=dt.date(2025, 1, 15), ended_on=dt.date(2025, 10, 15)),),
        memberships=(Membership(association=ASSOCIATION, valid_through=dt.date(2026, 12, 31)),),
        provides_rsc=i % 3 == 0)


def build_events(count: int) -> list[Any]:
    """`count` domain events: endorsements imported from paper, then (half of them) renewed.

    The grants come first and the renewals after them, as in an import followed by a renewal
    season; every event has an explicit timestamp, so runs are identical.
    """
    policy = AssociationPolicy()
    grants = (count + 1) // 2
    endorsements: list[Endorsement] = []
    for i in range(grants):
        level, designation = LEVELS[i % len(LEVELS)]
        endorsements.append(Endorsement.record_existing(
            endorsement_id=new_endorsement_id(ASSOCIATION, f"bench:{i}"),
            association=ASSOCIATION, person_id=f"AK-P-{i:06d}", family_name=FAMILY[i % 10],
            given_name=GIVEN[(i // 10) % 10], level=level, designation=designation,
            granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
            valid_through=dt.date(2025, 12, 31), legacy_reference=f"paper-{i:06d}",
            now=_EPOCH + dt.timedelta(seconds=i)))
    for i, endorsement in enumerate(endorsements[:count - grants]):
        endorsement.renew(_renewal_evidence(i), renewed_on=dt.date(2025, 12, 1), policy=policy,
                          now=_EPOCH + dt.timedelta(days=320, seconds=i))
    granted: list[Any] = []
    renewed: list[Any] = []
    for endorsement in endorsements:
        first, *rest = endorsement.collect_events()
        granted.append(first)
        renewed.extend(rest)
    if len({e.originator_id for e in granted}) != len(granted):
        raise SystemExit("endorsement ids collided; choose another --entries")
    return granted + renewed


# -- the stores under test ---------------------------------------------------------------------


class Stack:
    """One node's event store, and (when signed) its ledger store and writer, in `directory`."""

    def __init__(self, directory: Path, *, signed: bool, signer: Signer,
                 commitments: CommitmentKey) -> None:
        directory.mkdir(parents=True)
        self.directory = directory
        self.url = DatabaseUrl.parse(f"sqlite://{directory / 'events.sqlite'}")
        self.events = PrivateEventStore(env=self.url.eventsourcing_env())
        self.ledger: LedgerStore | None = None
        self.writer: LedgerWriter | None = None
        if signed:
            self.ledger = LedgerStore(Database(self.url.with_file("ledger.sqlite")))
            self.writer = LedgerWriter(association=ASSOCIATION, recorder=self.events.recorder,
                                       mapper=self.events.mapper, store=self.ledger,
                                       signer=signer, commitments=commitments)

    def store(self, events: Sequence[Any], *, batch: int, seal: bool) -> int:
        """Save `batch` events per save(), each followed by sealing when `seal`: the path the
        command service takes (`seal_recorded` on what save() returned)."""
        sealed = 0
        for start in range(0, len(events), batch):
            recordings = self.events.save(*events[start:start + batch])
            if seal and self.writer is not None:
                sealed += self.writer.seal_recorded(recordings)
        return sealed

    def projector(self) -> Projector:
        """A projector on this node's projection file."""
        return Projector(Database(self.url.with_file("projections.sqlite")))

    def close(self) -> None:
        """Close the event store's and the ledger's connections."""
        self.events.close()
        if self.ledger is not None:
            self.ledger.db.close()


# -- measurement -------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured phase: its samples (one per round) and the goals it is held to."""

    key: str
    label: str
    entries: int
    samples: list[Timing]
    baseline: Figure | None = None
    ratio_goal: float | None = None
    rate_goal: float | None = None

    @property
    def best(self) -> Timing:
        """The fastest (least disturbed) round."""
        return min(self.samples)

    @property
    def seconds(self) -> float:
        """Wall time of the best round."""
        return self.best.wall

    @property
    def rate(self) -> float:
        """Entries per second of the best run."""
        return self.entries / self.seconds

    @property
    def ratio(self) -> float | None:
        """Rate relative to the baseline measured in the same run."""
        return None if self.baseline is None else self.rate / self.baseline.rate

    @property
    def passed(self) -> bool | None:
        """Whether every goal is met (None when the figure has no goal)."""
        checks: list[bool] = []
        if self.ratio_goal is not None and self.ratio is not None:
            checks.append(self.ratio >= self.ratio_goal)
        if self.rate_goal is not None:
            checks.append(self.rate >= self.rate_goal)
        return all(checks) if checks else None

    def as_json(self) -> dict[str, Any]:
        """The figure for --json."""
        return {"label": " ".join(self.label.split()), "entries": self.entries,
                "seconds": round(self.seconds, 4), "cpu_seconds": round(self.best.cpu, 4),
                "samples_seconds": [round(s.wall, 4) for s in self.samples],
                "entries_per_second": round(self.rate, 1),
                "baseline": self.baseline.key if self.baseline else None,
                "ratio": None if self.ratio is None else round(self.ratio, 3),
                "goal_ratio": self.ratio_goal, "goal_entries_per_second": self.rate_goal,
                "pass": self.passed}


class Timing(NamedTuple):
    """Wall and process CPU seconds of one run (CPU time shows how much was waiting)."""

    wall: float
    cpu: float


def _timed(run: Callable[[], object]) -> Timing:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def _maxrss_mib() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _expect(what: str, got: int, expected: int) -> None:
    # A phase that quietly did less work would report a flattering rate.
    if got != expected:
        raise SystemExit(f"{what}: {got} entries, expected {expected}")


class Bench:
    """Fresh nodes in subdirectories of `root`, one per timed run."""

    def __init__(self, root: Path, *, batch: int) -> None:
        self.root = root
        self.batch = batch
        self.signer = Signer.generate()
        self.commitments = CommitmentKey.generate()
        self._runs = 0

    def stack(self, *, signed: bool) -> Stack:
        """A fresh node in a new subdirectory."""
        self._runs += 1
        return Stack(self.root / f"run{self._runs:03d}", signed=signed, signer=self.signer,
                     commitments=self.commitments)

    def discard(self, stack: Stack) -> None:
        """Close a node and delete its files."""
        stack.close()
        shutil.rmtree(stack.directory)

    def store(self, events: Sequence[Any], *, signed: bool, batch: int) -> tuple[Timing, Stack]:
        """Time storing (and, when signed, sealing) `events` on a fresh node; return it open."""
        stack = self.stack(signed=signed)
        sealed: list[int] = []
        timing = _timed(lambda: sealed.append(stack.store(events, batch=batch, seal=signed)))
        if signed:
            _expect("sealed", sealed[0], len(events))
        return timing, stack

    def store_and_discard(self, events: Sequence[Any], *, signed: bool, batch: int) -> Timing:
        """`store`, then throw the node away."""
        timing, stack = self.store(events, signed=signed, batch=batch)
        self.discard(stack)
        return timing

    def seal_backlog(self, events: Sequence[Any]) -> Timing:
        """Time one catch_up over `events` that were stored unsigned."""
        stack = self.stack(signed=True)
        stack.store(events, batch=self.batch, seal=False)
        writer = stack.writer
        assert writer is not None
        sealed: list[int] = []
        timing = _timed(lambda: sealed.append(writer.catch_up()))
        _expect("sealed", sealed[0], len(events))
        self.discard(stack)
        return timing

    def sign_loop(self, message: bytes, count: int) -> Timing:
        """Time `count` Ed25519 signatures over `message`."""
        sign = self.signer.sign

        def loop() -> None:
            for _ in range(count):
                sign(message)

        return _timed(loop)


def rebuild(projector: Projector, ledger: LedgerStore, entries: int) -> Timing:
    """Time one Projector.rebuild over `ledger`."""
    applied: list[int] = []
    timing = _timed(lambda: applied.append(projector.rebuild(ledger)))
    _expect("rebuild applied", applied[0], entries)
    return timing


def rebuild_peak_mib(projector: Projector, ledger: LedgerStore) -> float:
    """tracemalloc's peak during one more rebuild (untimed: tracing slows allocation a lot)."""
    gc.collect()
    tracemalloc.start()
    try:
        projector.rebuild(ledger)
        return tracemalloc.get_traced_memory()[1] / (1024 * 1024)
    finally:
        tracemalloc.stop()


def sample_body(event: Any, signer: Signer) -> bytes:
    """The signed bytes of a typical entry (a grant), for the sign loop."""
    public, _ = public_and_private(event)
    body = EntryBody(association=ASSOCIATION, seq=1, prev_hash=bytes(32),
                     recorded_at=event.timestamp, event_type=event_type_of(type(event)),
                     schema_version=1, aggregate_id=str(event.originator_id),
                     aggregate_version=1, payload=public, commitment=bytes(32),
                     key_id=signer.key_id)
    return encode_body(body)


def warm_up(root: Path) -> None:
    """Run every phase once on a few events, so imports and caches are not timed."""
    events = build_events(200)
    bench = Bench(root, batch=50)
    bench.store_and_discard(events, signed=False, batch=50)
    bench.store_and_discard(events[:20], signed=True, batch=1)
    bench.seal_backlog(events)
    _, stack = bench.store(events, signed=True, batch=50)
    assert stack.ledger is not None
    projector = stack.projector()
    rebuild(projector, stack.ledger, len(events))
    projector.db.close()
    bench.discard(stack)


def run(entries: int, per_command: int, *, repeat: int, batch: int,
        directory: Path | None) -> dict[str, Any]:
    """Every phase, `repeat` rounds; returns figures, memory and environment as one dict.

    Each round runs every store phase once, baselines next to their signed counterparts, so
    that a burst of load from elsewhere on the machine hits both sides of a ratio alike.
    """
    load_before = os.getloadavg()[0]
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-bench-", dir=directory) as tmp:
        root = Path(tmp)
        warm_up(root / "warm-up")
        bench = Bench(root / "bench", batch=batch)
        start = time.perf_counter()
        events = build_events(entries)
        built = time.perf_counter() - start
        memory["events built"] = _maxrss_mib()
        few = events[:per_command]
        message = sample_body(events[0], bench.signer)

        samples: dict[str, list[Timing]] = {k: [] for k in (
            "baseline_batched", "signed_batched", "baseline_per_command", "signed_per_command",
            "seal_backlog", "sign_loop", "rebuild")}
        kept: Stack | None = None
        for _ in range(repeat):
            samples["baseline_batched"].append(
                bench.store_and_discard(events, signed=False, batch=batch))
            timing, stack = bench.store(events, signed=True, batch=batch)
            samples["signed_batched"].append(timing)
            if kept is not None:
                bench.discard(kept)
            kept = stack  # the last signed ledger is the one the rebuild replays
            samples["baseline_per_command"].append(
                bench.store_and_discard(few, signed=False, batch=1))
            samples["signed_per_command"].append(
                bench.store_and_discard(few, signed=True, batch=1))
            samples["seal_backlog"].append(bench.seal_backlog(events))
            samples["sign_loop"].append(bench.sign_loop(message, entries))
        memory["store phases"] = _maxrss_mib()

        assert kept is not None and kept.ledger is not None
        projector = kept.projector()
        for _ in range(repeat):
            samples["rebuild"].append(rebuild(projector, kept.ledger, entries))
        memory["rebuild"] = _maxrss_mib()
        rebuild_peak = rebuild_peak_mib(projector, kept.ledger)
        projector.db.close()
        bench.discard(kept)

    base_batched = Figure("baseline_batched", f"baseline batched ({batch}/save)", entries,
                          samples["baseline_batched"])
    base_single = Figure("baseline_per_command", "baseline per command (1/save)", len(few),
                         samples["baseline_per_command"])
    sign = Figure("sign_loop", f"floor    Ed25519 sign loop ({len(message)} B)", entries,
                  samples["sign_loop"])
    figures = (
        base_batched,
        Figure("signed_batched", f"signed   batched ({batch}/save + seal)", entries,
               samples["signed_batched"], baseline=base_batched,
               ratio_goal=SIGNED_BATCHED_RATIO_GOAL, rate_goal=SIGNED_BATCHED_RATE_GOAL),
        base_single,
        Figure("signed_per_command", "signed   per command (1/save + seal)", len(few),
               samples["signed_per_command"], baseline=base_single),
        Figure("seal_backlog", "seal     backlog (one catch_up, no saves)", entries,
               samples["seal_backlog"]),
        Figure("rebuild", "rebuild  projections (Projector.rebuild)", entries,
               samples["rebuild"], rate_goal=REBUILD_RATE_GOAL),
        sign,
    )
    # If signing were the only cost added to the baseline, the signed batched rate would be:
    ceiling = 1 / (1 / base_batched.rate + 1 / sign.rate)
    return {
        "entries": entries,
        "per_command_entries": len(few),
        "batch": batch,
        "repeat": repeat,
        "events_built_per_second": round(entries / built, 1),
        "figures": {f.key: f.as_json() for f in figures},
        "signed_batched_ceiling_if_only_signing_added": {
            "entries_per_second": round(ceiling, 1),
            "ratio": round(ceiling / base_batched.rate, 3)},
        "memory_mib": {"peak_rss_after": {k: round(v, 1) for k, v in memory.items()},
                       "rebuild_tracemalloc_peak": round(rebuild_peak, 1)},
        "environment": {
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "eventsourcing": version("eventsourcing"), "msgspec": version("msgspec"),
            "cryptography": version("cryptography"), "cpus": os.cpu_count(),
            "machine": platform.machine(), "system": platform.system(),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "_figures": figures,
    }


# -- output ------------------------------------------------------------------------------------


def _status(figure: Figure) -> str:
    passed = figure.passed
    return "" if passed is None else ("PASS" if passed else "BELOW")


def _goal(figure: Figure) -> str:
    goals = []
    if figure.ratio_goal is not None:
        goals.append(f">= {figure.ratio_goal:.2f}x")
    if figure.rate_goal is not None:
        goals.append(f">= {figure.rate_goal:,.0f}/s")
    return ", ".join(goals)


def print_table(result: dict[str, Any]) -> None:
    """The human-readable report."""
    env = result["environment"]
    load = env["load_average_1min"]
    print(f"ledger bench: {result['entries']:,} entries (half grants, half renewals), "
          f"{result['per_command_entries']:,} in the per-command phases; best of "
          f"{result['repeat']} interleaved rounds")
    print(f"SQLite {env['sqlite']} (WAL), eventsourcing {env['eventsourcing']}, Python "
          f"{env['python']}, {env['cpus']} CPUs, load average {load[0]:.2f} -> {load[1]:.2f}")
    header = (f"{'phase':<44} {'entries':>7} {'wall s':>7} {'cpu s':>6} {'entries/s':>10} "
              f"{'vs base':>7}  {'goal':<21} status")
    print(header)
    print("-" * len(header))
    for figure in result["_figures"]:
        ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}x"
        print(f"{figure.label:<44} {figure.entries:>7,} {figure.seconds:>7.3f} "
              f"{figure.best.cpu:>6.2f} "
              f"{figure.rate:>10,.0f} {ratio:>7}  {_goal(figure):<21} {_status(figure)}")
    ceiling = result["signed_batched_ceiling_if_only_signing_added"]
    print(f"signed batched if signing were the only cost added to the baseline: "
          f"{ceiling['entries_per_second']:,.0f}/s ({ceiling['ratio']:.2f}x)")
    print(f"domain events built before timing: {result['events_built_per_second']:,.0f}/s")
    memory = result["memory_mib"]
    phases = ", ".join(f"{k} {v:,.0f}" for k, v in memory["peak_rss_after"].items())
    print(f"peak RSS (MiB) after: {phases}; tracemalloc peak during a rebuild "
          f"{memory['rebuild_tracemalloc_peak']:,.1f} MiB")


# -- diagnosis (--profile) ---------------------------------------------------------------------

_OURS = r"/(ledger|projections|domain)/"


def _print_profile(name: str, phase: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(phase)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(_OURS, top)
    print(f"\n==== cProfile: {name} ====")
    print(out.getvalue())


def seal_stages(bench: Bench, events: Sequence[Any]) -> dict[str, float]:
    """Microseconds per entry of each step of sealing, timed apart (no profiler overhead).

    The steps follow LedgerWriter.catch_up and LedgerWriter._seal with the same public
    functions, one step over all entries at a time; the sum approximates the seal backlog.
    """
    stack = bench.stack(signed=True)
    stack.store(events, batch=bench.batch, seal=False)
    assert stack.ledger is not None
    recorder, mapper, ledger = stack.events.recorder, stack.events.mapper, stack.ledger
    steps: dict[str, float] = {}

    def step(name: str, work: Callable[[], Any]) -> Any:
        result: list[Any] = []
        steps[name] = _timed(lambda: result.append(work())).wall / len(events) * 1e6
        return result[0]

    def read() -> list[Any]:
        found: list[Any] = []
        while batch := recorder.select_notifications(
                start=found[-1].id if found else 0, limit=bench.batch,
                inclusive_of_start=False):
            found.extend(batch)
        return found

    notifications = step("read notifications (select_notifications)", read)
    decoded = step("decode stored events (mapper.to_domain_event)",
                   lambda: [mapper.to_domain_event(n) for n in notifications])
    split = step("split public/private (public_and_private)",
                 lambda: [public_and_private(e) for e in decoded])
    commitments = step("commitments (CommitmentKey.commit)", lambda: [
        bench.commitments.commit(str(e.originator_id), int(e.originator_version), private)
        if private is not None else b"" for e, (_, private) in zip(decoded, split, strict=True)])

    def bodies() -> list[EntryBody]:
        made: list[EntryBody] = []
        prev = bytes(32)
        for seq, (e, (public, _), commitment) in enumerate(
                zip(decoded, split, commitments, strict=True), start=1):
            body = EntryBody(association=ASSOCIATION, seq=seq, prev_hash=prev,
                             recorded_at=e.timestamp, event_type=event_type_of(type(e)),
                             schema_version=schema_version(type(e)),
                             aggregate_id=str(e.originator_id),
                             aggregate_version=int(e.originator_version), payload=public,
                             commitment=commitment, key_id=bench.signer.key_id)
            prev = entry_hash(encode_body(body))
            made.append(body)
        return made

    built = step("build, encode and hash bodies", bodies)
    encoded = [encode_body(b) for b in built]
    signatures = step("Ed25519 sign (Signer.sign)",
                      lambda: [bench.signer.sign(b) for b in encoded])
    entries = step("wire bytes and entries", lambda: [
        LedgerEntry(body=b, wire=encode_signed(SignedEntry(body=raw, signature=s)),
                    entry_hash=entry_hash(raw))
        for b, raw, s in zip(built, encoded, signatures, strict=True)])

    def append() -> None:
        for start in range(0, len(entries), bench.batch):
            chunk = entries[start:start + bench.batch]
            ledger.append(chunk, follower=FOLLOWER, position=chunk[-1].body.seq)

    step("append (LedgerStore.append)", append)
    bench.discard(stack)
    return steps


def profile(entries: int, per_command: int, batch: int, directory: Path | None,
            top: int) -> None:
    """Where the time goes: seal steps timed apart, then cProfile of each phase."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-", dir=directory) as tmp:
        warm_up(Path(tmp) / "warm-up")
        bench = Bench(Path(tmp) / "profile", batch=batch)
        events = build_events(entries)
        steps = seal_stages(bench, events)
        print(f"==== seal steps, {entries:,} entries (us per entry) ====")
        for name, micros in steps.items():
            print(f"  {name:<50} {micros:7.1f}")
        print(f"  {'sum':<50} {sum(steps.values()):7.1f}")

        batched = bench.stack(signed=True)
        _print_profile(f"signed batched store, {entries:,} entries",
                       lambda: batched.store(events, batch=batch, seal=True), top)
        single = bench.stack(signed=True)
        _print_profile(f"signed per-command store, {per_command:,} entries",
                       lambda: single.store(events[:per_command], batch=1, seal=True), top)
        bench.discard(single)
        assert batched.ledger is not None
        ledger = batched.ledger
        projector = batched.projector()
        _print_profile(f"projection rebuild, {entries:,} entries",
                       lambda: projector.rebuild(ledger), top)
        projector.db.close()
        bench.discard(batched)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000,
                        help="entries in the batched, seal, rebuild and sign phases (20000)")
    parser.add_argument("--per-command-entries", type=int, default=None,
                        help="entries in the one-per-transaction phases (default: entries/10)")
    parser.add_argument("--batch", type=int, default=500, help="events per save() (500)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds; each figure is the best round (3)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to put the temporary SQLite files (default: system temp)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the figures: seal steps timed apart, and cProfile "
                             "of the signed stores and the rebuild")
    parser.add_argument("--top", type=int, default=25, help="rows per cProfile listing (25)")
    args = parser.parse_args(argv)
    if args.entries < 2 or args.batch < 1 or args.repeat < 1:
        parser.error("--entries must be at least 2, --batch and --repeat at least 1")
    per_command = min(args.per_command_entries or max(1, args.entries // 10), args.entries)
    if args.profile:
        profile(args.entries, per_command, args.batch, args.dir, args.top)
        return 0
    result = run(args.entries, per_command, repeat=args.repeat, batch=args.batch,
                 directory=args.dir)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
