"""Timestamps and profiles taken around the nodes' own methods, for the replication benchmark.

A probe is an instance attribute that shadows one method of one object: the node's code runs
unchanged and calls through it (the Replicator looks up `node.ingestor.ingest`,
`node.after_ingest` and so on at each call), and the probe notes the time and the result
right after the method returns. Nothing is replaced or faked.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import math
import pstats
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from federation_api.node.root import Node
from ledger.chain.entries import LedgerEntry
from ledger.ingest import IngestResult

PROFILE_ROWS = 30
_OURS = r"/(ledger|projections|federation_api|domain)/"


def after_each_call(owner: Any, name: str,
                    record: Callable[[Any, tuple[Any, ...]], None]) -> None:
    """Call `record(result, positional arguments)` right after every call of `owner.name`."""
    method = getattr(owner, name)

    def probe(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        record(result, args)
        return result

    setattr(owner, name, probe)


class CommitProbe:
    """When a node's ledger committed each entry: right after `LedgerStore.append_sealed`
    returned (the own-ledger writer's append: the entries and the writer's position are
    committed together by then)."""

    def __init__(self, node: Node) -> None:
        self.at: dict[int, float] = {}

        def record(_: None, args: tuple[Any, ...]) -> None:
            t = time.perf_counter()
            entries: Sequence[LedgerEntry] = args[0]
            for entry in entries:
                self.at[entry.seq] = t

        after_each_call(node.ledger, "append_sealed", record)


class ProjectionProbe:
    """(time, projected seq of one association) after every `Node.project` of a node."""

    def __init__(self, node: Node, association: str) -> None:
        self.marks: list[tuple[float, int]] = []
        self.position = 0
        self._lock = threading.Lock()
        projector = node.projector

        def record(_: int, __: tuple[Any, ...]) -> None:
            t = time.perf_counter()
            position = projector.position(association)
            with self._lock:
                self.marks.append((t, position))
                self.position = max(self.position, position)

        after_each_call(node, "project", record)

    def first_times(self, seqs: range) -> dict[int, float]:
        """When the projection first covered each of `seqs` (those it covered at all)."""
        with self._lock:
            marks = sorted(self.marks)
        found: dict[int, float] = {}
        covered = 0
        for t, position in marks:
            for seq in range(max(covered + 1, seqs.start), min(position, seqs.stop - 1) + 1):
                found[seq] = t
            covered = max(covered, position)
        return found


class IngestProbe:
    """Entries stored, duplicates and calls after every `Ingestor.ingest` of a node."""

    def __init__(self, node: Node) -> None:
        self.stored = 0
        self.duplicates = 0
        self.calls = 0
        self.marks: list[tuple[float, int]] = []
        self._lock = threading.Lock()

        def record(result: IngestResult, _: tuple[Any, ...]) -> None:
            t = time.perf_counter()
            with self._lock:
                self.calls += 1
                self.stored += result.stored
                self.duplicates += result.duplicates
                self.marks.append((t, self.stored))

        after_each_call(node.ingestor, "ingest", record)

    def first_time_at(self, stored: int) -> float | None:
        """When the store first held `stored` ingested entries."""
        with self._lock:
            return min((t for t, s in self.marks if s >= stored), default=None)


class StreamProbe:
    """Entries the node's JetStream consumer delivered from each peer's stream (duplicates
    included), counted around `Ingestor.ingest` by its `source` ("jetstream:<peer>").

    Entries reach a node by two paths: the hub mirror of the writer's stream, and a backfill
    request straight to the writer when a gossiped checkpoint shows a gap. A warm-up seen on
    the peer through the second path says nothing of the first: a hub mirror created before
    its leaf's stream existed (as ops create them) starts mirroring only on nats-server's
    next retry, seconds later, and a lag timed across that start measures the retry."""

    def __init__(self, node: Node) -> None:
        self.delivered: dict[str, int] = {}
        self._lock = threading.Lock()
        method = node.ingestor.ingest

        def probe(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            source = str(kwargs.get("source", ""))
            if source.startswith("jetstream:"):
                with self._lock:
                    peer = source.removeprefix("jetstream:")
                    self.delivered[peer] = self.delivered.get(peer, 0) + len(args[0])
            return result

        node.ingestor.ingest = probe  # type: ignore[method-assign]

    def from_stream(self, peer: str) -> int:
        """How many entries of `peer` the consumer has delivered so far."""
        with self._lock:
            return self.delivered.get(peer, 0)


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a cheap condition every 10 ms, with a bound."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


async def run_in_thread(work: Callable[[], None], name: str) -> None:
    """Run `work` on a thread of its own, not on the loop's executor (the Replicators'
    `asyncio.to_thread` calls need its workers)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as e:  # re-raised below, on the loop
            failure.append(e)

    thread = threading.Thread(target=target, name=name)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.01)
    if failure:
        raise failure[0]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def expect(what: str, got: int, expected: int) -> None:
    """Stop unless a phase did all its work: one that quietly did less would report a
    flattering rate."""
    if got != expected:
        raise SystemExit(f"{what}: {got} entries, expected {expected}")


# -- profiles ----------------------------------------------------------------------------------


class ThreadProfiles:
    """cProfile of the calls made on other threads (a profiler follows one thread only)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def wrap(self, owner: Any, name: str) -> None:
        """Profile every call of `owner.name` from now on."""
        method = getattr(owner, name)

        def profiled(*args: Any, **kwargs: Any) -> Any:
            profiler = cProfile.Profile()
            try:
                return profiler.runcall(method, *args, **kwargs)
            finally:
                with self._lock:
                    self.profiles.append(profiler)

        setattr(owner, name, profiled)

    def listing(self) -> str:
        """The listings over every profiled call."""
        with self._lock:
            return listing(*self.profiles) if self.profiles else "(no calls)"


def listing(*profiles: cProfile.Profile) -> str:
    """Own time of everything, then cumulative time of our packages' functions."""
    out = io.StringIO()
    stats = pstats.Stats(*profiles, stream=out)
    stats.sort_stats("tottime").print_stats(PROFILE_ROWS)
    stats.sort_stats("cumulative").print_stats(_OURS, PROFILE_ROWS)
    return out.getvalue()


def profiled(work: Callable[[], object]) -> str:
    """The listings of one call on this thread."""
    profiler = cProfile.Profile()
    profiler.runcall(work)
    return listing(profiler)
