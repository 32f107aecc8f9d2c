"""Public verification API: latency and throughput with 1,000 and 100,000 endorsed people,
against a bare FastAPI endpoint served the same way in the same run.

    .venv/bin/python -m bench.public_api_bench [--quick] [--sizes 1000,100000] [--seconds 10]
        [--concurrency 16] [--rate 200] [--json] [--profile]

What runs:
- the roster: a node initialised in a temporary directory, endorsements imported through the
  node's event store and ledger writer (500 per transaction, each entry signed, as a bulk
  import commits; `bench.replication_alliance.seal_in_bulk`), then projected by the node;
- the server: the real `alliance serve` (uvicorn, one process, the node's own settings, its
  JSON request log going to /dev/null) with ALLIANCE_RATE_LIMIT=off, so the limiter does not
  refuse the load; the baseline is a FastAPI app with one `GET /v1/verify` that returns a
  fixed answer of the same shape, run by `uvicorn.run` with the same arguments;
- the load: this process, with asyncio and a minimal HTTP/1.1 keep-alive client over raw
  streams (httpx costs ~10x more CPU per request and would measure itself, not the server).
  Requests name endorsements drawn uniformly from the whole roster; one in ten has a wrong
  last name (a 404, as scrapers and typos produce).

Two cores: the server is pinned to CPU 0 and the load generator to CPU 1 (when the machine
has two or more), so they do not take turns on one core; anything else running on the machine
still competes, which is why every figure is compared with the bare endpoint measured in the
same run.

Two measurements per target:
- throughput: closed loop, `--concurrency` connections each sending its next request when
  the previous answer arrives, for `--seconds`; requests/s, the latencies seen, and the
  server's CPU time per request (from /proc). On a shared machine requests/s depends on how
  much of its core the server got; CPU per request does not, so the ratio of CPU per request
  to the bare endpoint's is printed beside the throughput ratio;
- latency: open loop at a fixed `--rate` (requests/s), the same for every target, `--repeat`
  times (the run with the median p99 is reported). Each request has a scheduled send time
  and its latency counts from that time, so a stalled server is charged for the requests it
  delayed (no coordinated omission). The p99 goals are judged here: at saturation (closed
  loop) latency only measures the queue the load generator itself builds.

Also: one 5,000-row bulk request per roster, and an in-process breakdown of CPU per request
(the apps called directly as ASGI, no sockets) that shows where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.replication_alliance import seal_in_bulk
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.replication.nats_process import free_port
from federation_api.settings import Settings

THROUGHPUT_RATIO_GOAL = 0.5
P99_GOAL_MS = 20.0
P99_GROWTH_GOAL = 1.5
HOST = "127.0.0.1"
CREATED = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
UVICORN_ARGS: dict[str, Any] = {"log_config": None, "access_log": False,
                                "proxy_headers": False}  # as `alliance serve` runs uvicorn


# -- the baseline server -----------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """The bare app, served like ours."""
    import uvicorn

    uvicorn.run(bare_app(), host=HOST, port=port, **UVICORN_ARGS)


def bare_app() -> Any:
    """A FastAPI app with one endpoint that answers without any work."""
    from fastapi import FastAPI

    app = FastAPI()
    answer = {"name": "Maria Rivera", "level": "IMHS",
              "level_title": "Infant Mental Health Specialist", "designation": None,
              "association": "AK", "status": "current", "valid_through": "2030-12-31",
              "as_of": "2026-01-01", "warnings": []}

    @app.get("/v1/verify")
    async def verify(endorsement_id: str, last_name: str) -> dict[str, Any]:
        return answer

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_profiled(data_dir: str, port: int, out: str) -> None:
    """The real app under cProfile (for --profile); the profile is written at shutdown."""
    import uvicorn

    from federation_api.settings import RateLimitSettings
    from federation_api.web.app import create_app

    node = Node(Settings(data_dir=Path(data_dir), rate_limits=RateLimitSettings(enabled=False)))
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        uvicorn.run(create_app(node), host=HOST, port=port, **UVICORN_ARGS)
    finally:
        profiler.disable()
        profiler.dump_stats(out)
        node.close()


# -- roster ------------------------------------------------------------------------------------


@dataclass
class Roster:
    """A node's data directory with `size` endorsements, and the pairs to ask about."""

    data_dir: Path
    size: int
    load_seconds: float
    pairs: list[tuple[str, str]]
    employer_token: str  # for the bulk request
    coordinator_token: str  # for the writes beside the reads


def build_roster(root: Path, size: int, seed: int) -> Roster:
    """Init a node and import `size` endorsements through its writer; then project them."""
    settings = Settings(data_dir=root / f"ak-{size}")
    init_node(settings, association="AK", name="Alaska (bench)", policy=AssociationPolicy(),
              now=CREATED)
    node = Node(settings)
    started = time.perf_counter()
    seal_in_bulk(node, size, prefix="api")
    node.project()
    seconds = time.perf_counter() - started
    rows = node.projector.roster()
    _, token = node.tokens.issue(label="bench employer", role=Role.EMPLOYER, now=CREATED)
    _, coordinator = node.tokens.issue(label="bench coordinator", role=Role.COORDINATOR,
                                       now=CREATED)
    node.close()
    if len(rows) != size:
        raise SystemExit(f"projected {len(rows)} endorsements, expected {size}")
    rng = random.Random(seed)
    pairs = []
    for _ in range(20_000):
        row = rows[rng.randrange(size)]
        wrong = rng.random() < 0.1
        pairs.append((row.endorsement_id, "Nobody" if wrong else row.family_name))
    return Roster(data_dir=settings.data_dir, size=size, load_seconds=seconds, pairs=pairs,
                  employer_token=token, coordinator_token=coordinator)


# -- server processes --------------------------------------------------------------------------


class Server:
    """A server subprocess on a loopback port, pinned to one CPU, stopped by its PID."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], cpu: int | None) -> None:
        self.port = port

        def pin() -> None:  # in the child, before exec: its threads inherit the CPU
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=pin)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited {self.process.returncode}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit("server not healthy after 60 s")

    def cpu_seconds(self) -> float:
        """User+system CPU time the server process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGINT (uvicorn shuts down and a profile is written), SIGKILL after 20 s."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def bench_env(rate_limits: bool = False) -> dict[str, str]:
    """The servers' environment: no ALLIANCE_* leaks in; the limiter is off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
    env["ALLIANCE_RATE_LIMIT"] = "on" if rate_limits else "off"
    return env


def alliance_executable() -> str:
    """The `alliance` console script beside this interpreter (the venv's)."""
    beside = Path(sys.executable).with_name("alliance")
    found = str(beside) if beside.exists() else shutil.which("alliance")
    if not found:
        raise SystemExit("the `alliance` command is not installed (pip install -e .)")
    return found


# -- load generator ----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, return (status, body length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to the server."""
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def get(self, path: str) -> int:
        """Send one request and read its whole answer; the status code."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        return await self._answer()

    async def _answer(self) -> int:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    async def post_json(self, path: str, body: bytes, token: str) -> int:
        """POST a JSON body with a bearer token; the status code."""
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer "
                          f"{token}\r\nContent-Type: application/json\r\nContent-Length: "
                          f"{len(body)}\r\n\r\n".encode() + body)
        return await self._answer()

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


def paths(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The request targets."""
    return [f"/v1/verify?endorsement_id={quote(i)}&last_name={quote(n)}" for i, n in pairs]


@dataclass
class Phase:
    """What one load phase measured."""

    requests: int
    seconds: float
    errors: int
    statuses: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_share: float = 0.0
    p99_runs_ms: list[float] = field(default_factory=list)
    writes: int = 0  # commands committed meanwhile (open loop with writes)

    @property
    def per_second(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_micros(self) -> float:
        """Server CPU time per completed request, in microseconds: unlike requests/s, this
        does not depend on how much of its core the server got from other processes."""
        return self.server_cpu_share * self.seconds / self.requests * 1e6 if self.requests else 0


def _phase(latencies: list[float], seconds: float, statuses: dict[int, int]) -> Phase:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    errors = sum(n for s, n in statuses.items() if s not in (200, 404))
    return Phase(requests=len(ordered), seconds=seconds, errors=errors,
                 statuses={str(s): n for s, n in sorted(statuses.items())},
                 p50_ms=pct(0.50), p90_ms=pct(0.90), p99_ms=pct(0.99),
                 max_ms=ordered[-1] * 1000 if ordered else 0.0)


async def closed_loop(port: int, targets: Sequence[str], concurrency: int,
                      seconds: float) -> Phase:
    """`concurrency` connections, each sending as soon as its previous answer arrived."""
    return await drive([await Connection.open(port) for _ in range(concurrency)], targets,
                       seconds)


async def drive(connections: Sequence[Connection], targets: Sequence[str],
                seconds: float) -> Phase:
    """Each open connection sends as soon as its previous answer arrived, for `seconds`,
    taking the targets in turn; then closes. The one load loop of the benchmarks."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    end = started + seconds

    async def worker(k: int, connection: Connection) -> None:
        i = k
        while loop.time() < end:
            sent = loop.time()
            status = await connection.get(targets[i % len(targets)])
            done = loop.time()
            if done <= end:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1
            i += len(connections)

    await asyncio.gather(*(worker(k, c) for k, c in enumerate(connections)))
    elapsed = min(loop.time(), end) - started
    for c in connections:
        c.close()
    return _phase(latencies, elapsed, statuses)


@dataclass(frozen=True)
class Writes:
    """Commands sent beside the reads: endorsement imports by a coordinator, `rate` a second."""

    token: str
    rate: float


async def _write_loop(port: int, writes: Writes, until: asyncio.Event,
                      statuses: dict[int, int]) -> None:
    connection = await Connection.open(port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    i = 0
    while not until.is_set():
        delay = started + i / writes.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        body = json.dumps({
            "person_id": f"AK-P-W{i:07d}", "family_name": "Writer", "given_name": "Bench",
            "level": "IFA", "granted_on": "2020-01-01", "valid_through": "2030-12-31",
            "legacy_reference": f"bench-write-{i}"}).encode()
        status = await connection.post_json("/v1/endorsements/imports", body, writes.token)
        statuses[status] = statuses.get(status, 0) + 1
        i += 1
    connection.close()


async def open_loop(port: int, targets: Sequence[str], rate: float, seconds: float,
                    connections: int = 64, writes: Writes | None = None) -> Phase:
    """Requests scheduled every 1/rate s; latency counted from the scheduled time. With
    `writes`, commands go to the same server meanwhile (their statuses are counted apart)."""
    done = asyncio.Event()
    write_statuses: dict[int, int] = {}
    writer = (asyncio.create_task(_write_loop(port, writes, done, write_statuses))
              if writes else None)
    pool = [await Connection.open(port) for _ in range(connections)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    started = loop.time() + 0.05
    next_index = 0

    async def worker(connection: Connection) -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            scheduled = started + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await connection.get(targets[i % len(targets)])
            latencies.append(loop.time() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(worker(c) for c in pool))
    elapsed = loop.time() - started
    done.set()
    if writer is not None:
        await writer
    for c in pool:
        c.close()
    phase = _phase(latencies, elapsed, statuses)
    phase.writes = sum(write_statuses.values())
    phase.errors += sum(n for status, n in write_statuses.items() if status != 201)
    return phase


def measure(server: Server, targets: Sequence[str], args: argparse.Namespace,
            roster: Roster | None = None) -> dict[str, Phase]:
    """Warm up, then the closed-loop and open-loop phases against one server; for a node, one
    more open loop while a coordinator imports endorsements (`--write-rate` a second)."""
    asyncio.run(closed_loop(server.port, targets, args.concurrency, min(2.0, args.seconds)))
    cpu = server.cpu_seconds()
    closed = asyncio.run(closed_loop(server.port, targets, args.concurrency, args.seconds))
    closed.server_cpu_share = (server.cpu_seconds() - cpu) / closed.seconds
    runs = []
    for _ in range(args.repeat):
        cpu = server.cpu_seconds()
        paced = asyncio.run(open_loop(server.port, targets, args.rate, args.seconds))
        paced.server_cpu_share = (server.cpu_seconds() - cpu) / paced.seconds
        runs.append(paced)
    # The run with the median p99: one stall of the shared machine moves one run, not the
    # figure (all p99s are kept in the JSON).
    runs.sort(key=lambda run: run.p99_ms)
    median = runs[len(runs) // 2]
    median.p99_runs_ms = [run.p99_ms for run in runs]
    phases = {"closed": closed, "open": median}
    if roster is not None and args.write_rate > 0:
        writes = Writes(token=roster.coordinator_token, rate=args.write_rate)
        phases["open with writes"] = asyncio.run(open_loop(
            server.port, targets, args.rate, args.seconds, writes=writes))
    return phases


def measure_bulk(server: Server, roster: Roster, repeat: int = 3) -> dict[str, float]:
    """One 5,000-row `POST /v1/verify/bulk`, `repeat` times: the fastest, in rows/s."""
    import httpx

    from federation_api.web.routes.bulk import MAX_ROWS

    body = "endorsement_id,last_name\n" + "".join(
        f"{i},{n}\n" for i, n in (roster.pairs * 2)[:MAX_ROWS])
    best = float("inf")
    with httpx.Client(base_url=f"http://{HOST}:{server.port}", timeout=120, headers={
            "Authorization": f"Bearer {roster.employer_token}",
            "Content-Type": "text/csv"}) as client:
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.post("/v1/verify/bulk", content=body)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200 or answer.text.count("\n") != MAX_ROWS + 1:
                raise SystemExit(f"bulk request failed: {answer.status_code} {answer.text[:200]}")
            best = min(best, elapsed)
    return {"rows": MAX_ROWS, "seconds": best, "rows_per_second": MAX_ROWS / best}


# -- where the time goes ----------------------------------------------------------------------


async def _drive(app: Any, targets: Sequence[str], count: int) -> float:
    """CPU microseconds per request of an ASGI app called directly (no sockets, no uvicorn)."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    started = time.process_time()
    for k in range(count):
        path, _, query = targets[k % len(targets)].partition("?")
        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                   "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
                   "query_string": query.encode(), "headers": [(b"host", HOST.encode())],
                   "client": (HOST, 50000), "server": (HOST, 80), "root_path": ""},
                  receive, send)
    return (time.process_time() - started) / count * 1e6


def breakdown(roster: Roster, count: int = 3000) -> dict[str, float]:
    """CPU per request, in this process, of: the bare app; the node's app as the bench serves
    it (limiter off); with the limiter on; without its request-logging middleware (Starlette's
    BaseHTTPMiddleware, which runs each request in a task of its own); the lookup alone."""
    import logging

    from starlette.middleware.base import BaseHTTPMiddleware

    from federation_api.clock import today
    from federation_api.settings import RateLimitSettings
    from federation_api.web.app import create_app
    from federation_api.web.lookup import lookup
    from federation_api.web.observability import configure_logging
    from federation_api.web.rate_limits import install_rate_limits

    configure_logging()  # as `alliance serve` does, into the void
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    node = Node(Settings(data_dir=roster.data_dir,
                         rate_limits=RateLimitSettings(enabled=False)))
    try:
        served = create_app(node)
        unlogged = create_app(node)
        unlogged.user_middleware = [m for m in unlogged.user_middleware
                                    if m.cls is not BaseHTTPMiddleware]
        limited = create_app(node)  # the limiter on, with a budget this run cannot spend
        install_rate_limits(limited, RateLimitSettings(requests_per_minute=10**9, burst=10**9))
        targets = paths(roster.pairs)
        on = today()
        figures: dict[str, float] = {}

        async def measure_all() -> None:
            for name, app in (("bare app", bare_app()), ("node app", served),
                              ("node app with rate limits", limited),
                              ("node app without request log", unlogged)):
                await _drive(app, targets, count // 10)
                figures[name] = await _drive(app, targets, count)

        asyncio.run(measure_all())
        started = time.process_time()
        for k in range(count):
            endorsement_id, last_name = roster.pairs[k % len(roster.pairs)]
            lookup(node, endorsement_id, last_name, on)
        figures["lookup alone"] = (time.process_time() - started) / count * 1e6
    finally:
        logging.getLogger().handlers.clear()
        node.close()
    return figures


# -- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build the rosters, serve each, load each; the bare endpoint first and last."""
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[0] if len(cpus) >= 2 else None
    load_cpu = cpus[1] if len(cpus) >= 2 else None
    load_before = os.getloadavg()
    result: dict[str, Any] = {"targets": {}, "rosters": {}, "bulk": {}, "settings": {
        "concurrency": args.concurrency, "rate": args.rate, "seconds": args.seconds,
        "repeat": args.repeat, "write_rate": args.write_rate,
        "sizes": args.sizes, "server_cpu": server_cpu, "load_cpu": load_cpu}}
    with tempfile.TemporaryDirectory(prefix="public-api-bench-") as tmp:
        root = Path(tmp)
        rosters = []
        for size in args.sizes:
            print(f"importing {size:,} endorsements ...", file=sys.stderr, flush=True)
            roster = build_roster(root, size, seed=size)
            rosters.append(roster)
            result["rosters"][str(size)] = {"load_seconds": roster.load_seconds,
                                            "entries_per_second": size / roster.load_seconds}
        if load_cpu is not None:
            os.sched_setaffinity(0, {load_cpu})
        print("in-process breakdown ...", file=sys.stderr, flush=True)
        result["breakdown"] = breakdown(rosters[-1])
        bare_targets = paths(rosters[0].pairs)
        runs: list[tuple[str, list[str], Roster | None]] = [("bare", bare_targets, None)]
        runs += [(f"verify {r.size:,}", paths(r.pairs), r) for r in rosters]
        runs.append(("bare (again)", bare_targets, None))
        for name, targets, roster_served in runs:
            data_dir = roster_served.data_dir if roster_served else None
            print(f"loading {name} ...", file=sys.stderr, flush=True)
            port = free_port(HOST)
            if data_dir is None:
                argv = [sys.executable, "-m", "bench.public_api_bench", "--serve-bare",
                        str(port)]
            elif args.profile:
                argv = [sys.executable, "-m", "bench.public_api_bench", "--serve-profiled",
                        str(data_dir), str(port), str(root / f"{port}.prof")]
            else:
                argv = [alliance_executable(), "serve", "--data-dir", str(data_dir), "--listen",
                        f"{HOST}:{port}"]
            server = Server(argv, port, bench_env(), server_cpu)
            try:
                phases = measure(server, targets, args, roster_served)
                if roster_served is not None:
                    result["bulk"][name] = measure_bulk(server, roster_served)
            finally:
                server.stop()
            result["targets"][name] = {k: asdict(v) | {"per_second": v.per_second,
                                                        "cpu_micros": v.cpu_micros}
                                       for k, v in phases.items()}
            if args.profile and data_dir is not None:
                text = profile_summary(root / f"{port}.prof")
                result.setdefault("_profiles", {})[name] = text
    result["environment"] = environment(load_before, os.getloadavg(), cpus)
    result["goals"] = goals(result, args.sizes)
    return result


def profile_summary(path: Path) -> str:
    """The top of a profile, by cumulative time."""
    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("cumulative").print_stats(35)
    return out.getvalue()


def environment(before: tuple[float, float, float], after: tuple[float, float, float],
                cpus: list[int]) -> dict[str, Any]:
    """Versions and machine facts printed with the figures."""
    from importlib.metadata import version

    return {"python": platform.python_version(), "fastapi": version("fastapi"),
            "starlette": version("starlette"), "uvicorn": version("uvicorn"),
            "cpus": len(cpus), "load_average_1min": [before[0], after[0]]}


def goals(result: dict[str, Any], sizes: Sequence[int]) -> dict[str, Any]:
    """The three goals of the issue, judged on the largest and smallest rosters."""
    targets = result["targets"]
    bare = max(targets["bare"]["closed"]["per_second"],
               targets["bare (again)"]["closed"]["per_second"])
    small, large = f"verify {min(sizes):,}", f"verify {max(sizes):,}"
    ratio = targets[large]["closed"]["per_second"] / bare
    bare_cpu = min(targets["bare"]["closed"]["cpu_micros"],
                   targets["bare (again)"]["closed"]["cpu_micros"])
    cpu_ratio = bare_cpu / targets[large]["closed"]["cpu_micros"]
    p99_large = targets[large]["open"]["p99_ms"]
    p99_small = targets[small]["open"]["p99_ms"]
    growth = p99_large / p99_small if p99_small else float("inf")
    return {"throughput_ratio": ratio, "throughput_ratio_met": ratio >= THROUGHPUT_RATIO_GOAL,
            "bare_per_second": bare, "bare_cpu_micros": bare_cpu, "cpu_ratio": cpu_ratio,
            "p99_ms": p99_large,
            "p99_met": max(p99_large, p99_small) <= P99_GOAL_MS, "p99_growth": growth,
            "p99_growth_met": growth <= P99_GROWTH_GOAL}


def http_parser() -> str:
    """The HTTP parser uvicorn takes here: httptools when it is installed, else h11."""
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def print_table(result: dict[str, Any]) -> None:
    """The human-readable report."""
    env, s = result["environment"], result["settings"]
    print(f"public API bench: Python {env['python']}, FastAPI {env['fastapi']}, Starlette "
          f"{env['starlette']}, uvicorn {env['uvicorn']} (asyncio, {http_parser()}), "
          f"{env['cpus']} CPUs (server on CPU {s['server_cpu']}, load generator on CPU "
          f"{s['load_cpu']}), load average {env['load_average_1min'][0]:.2f} -> "
          f"{env['load_average_1min'][1]:.2f}")
    for size, roster in result["rosters"].items():
        print(f"roster of {int(size):,}: imported, signed and projected in "
              f"{roster['load_seconds']:.1f} s ({roster['entries_per_second']:,.0f}/s)")
    bare = result["goals"]["bare_per_second"]
    print(f"closed loop: {s['concurrency']} connections for {s['seconds']} s; open loop: "
          f"{s['rate']} requests/s for {s['seconds']} s, latency from the scheduled send, "
          f"the run with the median p99 of {s['repeat']}")
    bare_cpu = result["goals"]["bare_cpu_micros"]
    header = (f"{'target':<14} {'req/s':>8} {'x bare':>7} {'p50':>7} {'p99':>7} {'core':>5} "
              f"{'us/req':>7} {'x bare':>7} | {'open p50':>8} {'p99':>7} {'max':>7} "
              f"{'errors':>6}")
    print(header)
    print("-" * len(header))
    for name, t in result["targets"].items():
        c, o = t["closed"], t["open"]
        print(f"{name:<14} {c['per_second']:>8,.0f} {c['per_second'] / bare:>7.2f} "
              f"{c['p50_ms']:>6.1f}ms {c['p99_ms']:>5.1f}ms {c['server_cpu_share']:>5.2f} "
              f"{c['cpu_micros']:>7,.0f} {bare_cpu / c['cpu_micros']:>7.2f} | "
              f"{o['p50_ms']:>6.1f}ms {o['p99_ms']:>5.1f}ms {o['max_ms']:>5.0f}ms "
              f"{c['errors'] + o['errors']:>6}")
    print("(core: share of its CPU the server used in the closed loop; us/req: its CPU time per "
          "request; x bare after us/req: bare's CPU per request / this one's, the throughput "
          "ratio if both had a whole core)")
    for name, t in result["targets"].items():
        if "open with writes" in t:
            w = t["open with writes"]
            print(f"{name}, open loop while {w['writes']} imports were committed "
                  f"({s['write_rate']:g}/s): p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms, "
                  f"max {w['max_ms']:.0f} ms, errors {w['errors']}")
    for name, bulk in result["bulk"].items():
        print(f"bulk, {name}: {bulk['rows']:,} rows in one request in {bulk['seconds']:.2f} s "
              f"({bulk['rows_per_second']:,.0f} rows/s)")
    pieces = ", ".join(f"{k} {v:,.0f} us" for k, v in result["breakdown"].items())
    print(f"in-process CPU per request (no sockets): {pieces}")
    g = result["goals"]

    def status(met: bool) -> str:
        return "met" if met else "NOT MET"

    print(f"goal throughput >= {THROUGHPUT_RATIO_GOAL}x bare: {g['throughput_ratio']:.2f}x "
          f"({status(g['throughput_ratio_met'])}); by CPU per request "
          f"{g['cpu_ratio']:.2f}x ({status(g['cpu_ratio'] >= THROUGHPUT_RATIO_GOAL)})")
    print(f"goal p99 <= {P99_GOAL_MS:.0f} ms at {s['rate']} req/s: {g['p99_ms']:.1f} ms at the "
          f"largest roster ({status(g['p99_met'])})")
    print(f"goal p99 largest / smallest <= {P99_GROWTH_GOAL}: {g['p99_growth']:.2f} "
          f"({status(g['p99_growth_met'])})")
    for name, text in result.get("_profiles", {}).items():
        print(f"\n==== cProfile of the server: {name} ====\n{text}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.public_api_bench",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 and 10,000 people, 3 s phases (a smoke run)")
    parser.add_argument("--sizes", help="comma-separated roster sizes (default 1000,100000)")
    parser.add_argument("--seconds", type=float, help="length of each phase (default 10)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--write-rate", type=float, default=10.0,
                        help="imports/s sent beside the reads in the last open loop (0: none)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="open-loop runs per target; the median p99 is reported")
    parser.add_argument("--profile", action="store_true", help="cProfile the real server")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-profiled", nargs=3, metavar=("DIR", "PORT", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.serve_profiled:
        serve_profiled(args.serve_profiled[0], int(args.serve_profiled[1]),
                       args.serve_profiled[2])
        return 0
    default_sizes = "1000,10000" if args.quick else "1000,100000"
    args.sizes = sorted({int(s) for s in (args.sizes or default_sizes).split(",")})
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    result = run(args)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
