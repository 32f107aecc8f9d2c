"""The lag phase with the writers in processes of their own, so the asked rate is offered.

bench/replication_bench's `measure_lag` runs AK's commands and MI's ingest and projection in
one Python process: they share one GIL, and on two cores that process tops out near 300
commands/s, below the issue's 500. Here each writing association (AK, then TX, CA) is a
child process of its own (multiprocessing `spawn`: a fresh interpreter, nothing inherited
but the job), running its node and its Replicator's publisher exactly as `alliance serve`
would, and committing its share of the rate on `commit_paced`'s open-loop schedule. MI, the
measured peer, stays in this process with its projection probe, so what MI pays for ingest
and projection is measured as before, without the writers' load on its interpreter.

Clock: a child notes each entry's commit instant with `time.perf_counter` (the
`CommitProbe`), MI's probe notes projection instants with the same function, and on Linux
that is `clock_gettime(CLOCK_MONOTONIC)`, one clock for every process of the machine, so a
lag is the difference of two readings taken in different processes. The run refuses to
start where the clock is not that one. The writers' schedules are interleaved: with n
writers at rate R, writer i's command k is due at start + (i + k n) / R, so together they
offer one evenly spaced stream of R entries/s.

Protocol over each child's pipe: the child sends ("warm",) once its warm-up entries are
committed; this process, once MI projected them all and received them through every hub
mirror (`StreamProbe`: a mirror starts on nats-server's retry after its source appears),
sends ("go", start instant); the child
commits its share and sends ("committed", {seq: instant}, its CPU share, how late it
started in ms: a child that got "go" after the start instant starts on receipt); it keeps its
publisher running until ("stop",), sent once MI has projected everything, then shuts down.
A child that fails sends ("failed", traceback) before exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from bench.replication_alliance import TOPOLOGIES, Federation
from bench.replication_bench import achieved_rate, commit_paced, lag_percentiles
from bench.replication_probes import (
    CommitProbe,
    IngestProbe,
    ProjectionProbe,
    StreamProbe,
    expect,
    run_in_thread,
    wait_for,
)
from federation_api.replication.nats_connection import NatsConnection
from federation_api.web.observability import configure_logging

WRITERS = ("AK", "TX", "CA", "NY", "WA")  # the writing associations, in the order taken
PEER = "MI"  # the measured peer, in this process
SPAWN = multiprocessing.get_context("spawn")
SHARED_CLOCK = "clock_gettime(CLOCK_MONOTONIC)"
START_DELAY = 1.0  # seconds between sending "go" and the first command due


@dataclass(frozen=True)
class WriterJob:
    """Everything a writer process needs (pickled to it): its node's data directory under
    `root`, its leaf and domains, and its share of the schedule."""

    root: Path
    association: str
    connection: str | NatsConnection
    local_domain: str | None
    hub_domain: str | None
    rate: float
    warm: int
    count: int
    threads: int


class JoinedFederation(Federation):
    """The Federation as seen from a writer process: this bench's process founded the
    registry and the data directories already, so this one only opens its node."""

    def __post_init__(self) -> None:
        """Found nothing: the directories exist."""


async def receive(channel: Connection, timeout: float, what: str) -> tuple[Any, ...]:
    """The next message on `channel`, polled without blocking the event loop (the nodes'
    Replicators run on it); a failure reported by the other side, a closed pipe or the
    timeout stops the bench."""
    deadline = time.perf_counter() + timeout
    while not channel.poll():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)
    try:
        message: tuple[Any, ...] = channel.recv()
    except EOFError:
        raise SystemExit(f"the other process closed its pipe before {what}") from None
    if message[0] == "failed":
        raise SystemExit(f"a writer process failed before {what}:\n{message[1]}")
    return message


# -- the child ---------------------------------------------------------------------------------


def writer_main(job: WriterJob, channel: Connection) -> None:
    """Entry point of a writer process."""
    configure_logging("WARNING")
    try:
        asyncio.run(write(job, channel))
    except BaseException:
        with contextlib.suppress(OSError):  # unless the parent is gone: nobody to tell
            channel.send(("failed", traceback.format_exc()))
        raise


async def write(job: WriterJob, channel: Connection) -> None:
    """Warm up, commit this writer's share when told, report the instants, and publish
    until told to stop."""
    federation = JoinedFederation(job.root, (job.association,))
    node = federation.open(job.association)
    commits = CommitProbe(node)
    try:
        await federation.start_replication(job.association, job.connection,
                                           local_domain=job.local_domain,
                                           hub_domain=job.hub_domain)
        await run_in_thread(lambda: commit_paced(node, 0, job.warm, job.rate, job.threads),
                            "bench-commits")
        channel.send(("warm",))
        _, due = await receive(channel, 300, "the start instant")
        wall, cpu = time.perf_counter(), time.process_time()
        start = max(due, wall)  # a late start must not become a burst of overdue commands
        await run_in_thread(lambda: commit_paced(node, job.warm, job.count, job.rate,
                                                 job.threads, start=start), "bench-commits")
        cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        timed = {seq: at for seq, at in commits.at.items() if seq > job.warm}
        channel.send(("committed", timed, round(cpu_share, 2), round((start - due) * 1000, 1)))
        await receive(channel, 600, "the end of the run")
    finally:
        await federation.shutdown()


# -- this process ------------------------------------------------------------------------------


@dataclass
class Writer:
    """A writer process this bench started, and its end of the pipe."""

    association: str
    process: BaseProcess
    channel: Connection

    async def stop(self, timeout: float = 60.0) -> None:
        """Tell it to stop and wait for it; SIGTERM (by its PID) if it does not exit."""
        if self.process.is_alive():
            with contextlib.suppress(OSError):  # it may exit on its own meanwhile
                self.channel.send(("stop",))
        deadline = time.perf_counter() + timeout
        while self.process.is_alive() and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.channel.close()


def spawn_writer(job: WriterJob) -> Writer:
    """Start one writer process."""
    ours, theirs = SPAWN.Pipe()
    process = SPAWN.Process(target=writer_main, args=(job, theirs),
                            name=f"bench-writer-{job.association}")
    process.start()
    theirs.close()
    return Writer(job.association, process, ours)


async def measure_lag_from_processes(root: Path, topology_kind: str, rate: float,
                                     seconds: float, threads: int,
                                     writers: int) -> dict[str, Any]:
    """The lag phase with `writers` writer processes sharing `rate`; MI's lag on each
    writer's entries, and over all of them."""
    if time.get_clock_info("perf_counter").implementation != SHARED_CLOCK:
        raise SystemExit(f"writer processes need perf_counter to be {SHARED_CLOCK} (Linux)")
    origins = WRITERS[:writers]
    federation = Federation(root, (*origins, PEER))
    mi = federation.open(PEER)
    visible = {origin: ProjectionProbe(mi, origin) for origin in origins}
    ingested = IngestProbe(mi)
    streamed = StreamProbe(mi)
    topology = TOPOLOGIES[topology_kind](root / "nats", federation.associations)
    share = rate / writers
    warm, count = max(50, int(share // 5)), max(2, round(share * seconds))
    last = warm + count
    running: list[Writer] = []
    try:
        await federation.start_on(PEER, topology)
        for origin in origins:
            running.append(spawn_writer(WriterJob(
                root=root, association=origin, connection=topology.url(origin),
                local_domain=topology.local_domains.get(origin),
                hub_domain=topology.hub_domain, rate=share, warm=warm, count=count,
                threads=threads)))
        for writer in running:
            await receive(writer.channel, 300, f"{writer.association}'s warm-up")
        await wait_for(lambda: all(v.position >= warm for v in visible.values()), 60,
                       "the warm-up entries on MI")
        await wait_for(lambda: all(streamed.from_stream(o) >= warm for o in origins), 120,
                       "the warm-up entries through every hub mirror (StreamProbe)")
        calls_before, stored_before = ingested.calls, ingested.stored
        load_before = os.getloadavg()[0]
        start = time.perf_counter() + START_DELAY
        for i, writer in enumerate(running):
            writer.channel.send(("go", start + i / rate))
        cpu_started = time.process_time()
        reports = {w.association: await receive(w.channel, 120 + 3 * seconds,
                                                f"{w.association}'s commits")
                   for w in running}
        await wait_for(lambda: all(v.position >= last for v in visible.values()),
                       60 + seconds, f"MI's projection of every writer to reach seq {last}")
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_started
        load_after = os.getloadavg()[0]
    finally:
        for writer in running:
            await writer.stop()
        await federation.shutdown()
        topology.stop()
    seqs = range(warm + 1, last + 1)
    per_writer: dict[str, dict[str, Any]] = {}
    every_lag: list[float] = []
    every_commit: list[float] = []
    for origin, (_, committed, cpu_share, late_ms) in reports.items():
        expect(f"{origin} committed", len(committed), count)
        seen = visible[origin].first_times(seqs)
        expect(f"entries of {origin} MI projected", len(seen), count)
        lags = [(seen[seq] - committed[seq]) * 1000 for seq in seqs]
        instants = [committed[seq] for seq in seqs]
        every_lag += lags
        every_commit += instants
        per_writer[origin] = {"achieved_rate": round(achieved_rate(instants), 1),
                              "lag_ms": lag_percentiles(lags),
                              "process_cpu_share": cpu_share, "start_late_ms": late_ms}
    achieved = achieved_rate(every_commit)
    calls = ingested.calls - calls_before
    return {
        "topology": topology.name, "topology_description": topology.description,
        "asked_rate": rate, "seconds": seconds, "writer_processes": writers,
        "commit_threads": threads, "entries": count * writers, "warm_up_entries": warm,
        "achieved_rate": round(achieved, 1), "achieved_share": round(achieved / rate, 3),
        "lag_ms": lag_percentiles(every_lag), "writers": per_writer,
        "mi_ingest_calls": calls,
        "mi_mean_ingest_batch": round((ingested.stored - stored_before) / calls, 1)
        if calls else None,
        "mi_process_cpu_share": round(cpu / wall, 2),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
    }
