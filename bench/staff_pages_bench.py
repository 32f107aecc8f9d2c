"""Staff pages under load: each page at 1,000 and 100,000 endorsements, against a bare page.

What it measures, per roster size:
- the data: a node initialised in a temporary directory, `size` endorsements imported into
  its ledger in bulk (`bench.replication_alliance.seal_in_bulk`: real signed entries), then
  projected by the node, and 40 applications, four in each state of the workflow, through
  the node's commands (`bench.application_states`; the four granted add four endorsements).
  All of them are this association's (AK's), the heaviest case for the pages that show one
  association; the Alliance-wide report reads the same rows.
- the staff: one account with every reading role (coordinator, committee, auditor) and 20
  sessions made by the node's own session store (the sign-in and its second factor are
  tested elsewhere and are not what a page view costs).
- the pages: dashboard, roster (the first keyset page, and the page after an id taken
  from 1,000 spread over the roster, a different one per request), applications, board reports (this
  association and Alliance-wide), and an endorsement page (a different endorsement per
  request), each served by `alliance serve` pinned to one CPU, loaded by 20 keep-alive
  connections (one per session) from another CPU, closed loop, for `--seconds`.
- the baseline, in the same run: a bare FastAPI app serving an HTML page of the same size as
  each staff page (bytes measured from the real page), under the same load.

It prints p50/p99 per page and the ratio of the page's p99 to the bare page's p99, for each
size, so a flat cost shows as the same figures at 1,000 and at 100,000. Goal: p99 <= 50 ms.
The board report is kept until an entry is projected (`projections.reports.ReportCache`),
so the load measures the kept report; the time to compute it cold is printed per size.

    python -m bench.staff_pages_bench [--sizes 1000 100000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.application_states import seed_applications
from bench.public_api_bench import (
    HOST,
    UVICORN_ARGS,
    Connection,
    Phase,
    Server,
    alliance_executable,
    bench_env,
    drive,
)
from bench.replication_alliance import seal_in_bulk
from domain.policy import AssociationPolicy
from federation_api.accounts.sessions import SessionStage
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.replication.nats_process import free_port
from federation_api.settings import Settings
from projections.reports import ReportCache

CONCURRENCY = 20
PAGES = ("/staff/", "/staff/roster", "/staff/roster?after={id}", "/staff/applications",
         "/staff/reports", "/staff/reports?scope=alliance", "/staff/endorsements/{id}")
GOAL_P99_MS = 50.0


@dataclass(frozen=True)
class Prepared:
    """A node's data directory, its staff sessions, and endorsement ids to open."""

    data_dir: Path
    size: int
    build_seconds: float
    report_ms: dict[str, float]  # the report's aggregates computed cold, per scope
    sessions: list[str]
    endorsement_ids: list[str]


def prepare(root: Path, size: int) -> Prepared:
    """Init a node, import and project `size` endorsements, make the staff sessions."""
    settings = Settings(data_dir=root / f"ak-{size}")
    init_node(settings, association="AK", name="Alaska (bench)", policy=AssociationPolicy(),
              now=now())
    node = Node(settings)
    try:
        started = time.perf_counter()
        seal_in_bulk(node, size, prefix="staff")
        node.project()
        seconds = time.perf_counter() - started
        # The third imported endorsement is Level III (bench.workload.LEVELS): the provider.
        seed_applications(node, f"AK-P-staff{2:06d}")
        added = node.accounts.invitations.staff_add(
            email="board@ak.example.org", display_name="Board Reader",
            roles=("coordinator", "committee", "auditor"), password="bench only, never used",  # noqa: S106
            now=now())
        sessions = []
        with node.accounts.sessions.db.transaction() as cur:
            for _ in range(CONCURRENCY):
                session_id, _ = node.accounts.sessions.create(
                    cur, account_id=added.account.account_id, stage=SessionStage.FULL,
                    now=now(), client=HOST)
                sessions.append(session_id)
        report_ms = {}
        for scope, association in (("association", "AK"), ("alliance", None)):
            cache = ReportCache(node.projector.db)  # a new one: nothing kept, all computed
            started = time.perf_counter()
            cache.report(association, today())
            report_ms[scope] = (time.perf_counter() - started) * 1000
        every = node.projector.db.query("SELECT endorsement_id FROM roster ORDER BY "
                                        "endorsement_id")
        rows = every[::max(1, len(every) // 1000)][:1000]  # spread over the whole roster
    finally:
        node.close()
    return Prepared(data_dir=settings.data_dir, size=size, build_seconds=seconds,
                    report_ms=report_ms, sessions=sessions,
                    endorsement_ids=[str(r[0]) for r in rows])


class StaffConnection(Connection):
    """A keep-alive connection that sends one staff session's cookie."""

    cookie = ""

    async def get(self, path: str) -> int:
        """GET with the session cookie; the status code."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n"
                          f"Cookie: alliance_staff={self.cookie}\r\n\r\n".encode())
        return await self._answer()


async def load(port: int, targets: Sequence[str], cookies: Sequence[str],
               seconds: float) -> Phase:
    """One connection per cookie, each sending as soon as its previous answer arrived."""
    connections = []
    for cookie in cookies:
        connection = await StaffConnection.open(port)
        connection.cookie = cookie
        connections.append(connection)
    return await drive(connections, targets, seconds)


def page_size(port: int, path: str, cookie: str) -> int:
    """The body length of one staff page (what the bare page then serves)."""
    import httpx

    r = httpx.get(f"http://{HOST}:{port}{path}", cookies={"alliance_staff": cookie},
                  timeout=120)
    if r.status_code != 200:
        raise SystemExit(f"{path} answered {r.status_code}")
    return len(r.content)


def serve_bare(port: int, sizes: str) -> None:
    """A FastAPI app serving, at /page/N, an HTML page of N bytes (N from `sizes`)."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    bodies = {int(n): "<!doctype html><p>" + "x" * max(0, int(n) - 18) for n in sizes.split(",")}
    app = FastAPI()

    @app.get("/page/{n}", response_class=HTMLResponse)
    def page(n: int) -> HTMLResponse:
        return HTMLResponse(bodies[n])

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host=HOST, port=port, **UVICORN_ARGS)


def targets_of(path: str, prepared: Prepared) -> list[str]:
    """The request targets of one page (the endorsement page, and the roster page after an
    endorsement id: a different id each time)."""
    if "{id}" in path:
        return [path.replace("{id}", i) for i in prepared.endorsement_ids]
    return [path]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare each size, serve it, load each page; then the bare pages of the same sizes."""
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[0] if len(cpus) >= 2 else None
    load_cpu = cpus[1] if len(cpus) >= 2 else None
    result: dict[str, Any] = {"settings": {"sizes": args.sizes, "seconds": args.seconds,
                                           "concurrency": CONCURRENCY}, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="staff-pages-bench-") as tmp:
        root = Path(tmp)
        for size in args.sizes:
            print(f"preparing {size:,} endorsements ...", file=sys.stderr, flush=True)
            prepared = prepare(root, size)
            if load_cpu is not None:
                os.sched_setaffinity(0, {load_cpu})
            port = free_port(HOST)
            server = Server([alliance_executable(), "serve", "--data-dir",
                             str(prepared.data_dir), "--listen", f"{HOST}:{port}"], port,
                            bench_env(), server_cpu)
            pages: dict[str, Any] = {}
            try:
                for path in args.pages:
                    example = targets_of(path, prepared)[0]
                    body = page_size(port, example, prepared.sessions[0])
                    print(f"  {size:,}: {path} ({body:,} bytes) ...", file=sys.stderr,
                          flush=True)
                    phase = asyncio.run(load(port, targets_of(path, prepared),
                                             prepared.sessions, args.seconds))
                    pages[path] = {"bytes": body, **asdict(phase),
                                   "per_second": phase.per_second}
            finally:
                server.stop()
            bare_port = free_port(HOST)
            sizes = ",".join(str(p["bytes"]) for p in pages.values())
            bare = Server([sys.executable, "-m", "bench.staff_pages_bench", "--serve-bare",
                           str(bare_port), sizes], bare_port, bench_env(), server_cpu)
            try:
                for page in pages.values():
                    phase = asyncio.run(load(bare_port, [f"/page/{page['bytes']}"],
                                             prepared.sessions, args.seconds))
                    page["bare_p99_ms"] = phase.p99_ms
                    page["bare_per_second"] = phase.per_second
                    page["p99_ratio"] = page["p99_ms"] / phase.p99_ms if phase.p99_ms else 0.0
            finally:
                bare.stop()
            result["sizes"][str(size)] = {"build_seconds": prepared.build_seconds,
                                          "report_cold_ms": prepared.report_ms,
                                          "pages": pages}
    return result


def print_table(result: dict[str, Any]) -> None:
    """One line per page and size, then the reports' cold computation per size."""
    print(f"{'page':34} {'size':>8} {'bytes':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'bare p99':>8} {'ratio':>6} goal")
    for size, measured in result["sizes"].items():
        for path, p in measured["pages"].items():
            ok = "ok" if p["p99_ms"] <= GOAL_P99_MS and not p["errors"] else "MISS"
            print(f"{path:34} {int(size):>8,} {p['bytes']:>8,} {p['per_second']:>7.0f} "
                  f"{p['p50_ms']:>7.1f} {p['p99_ms']:>7.1f} {p['bare_p99_ms']:>8.1f} "
                  f"{p['p99_ratio']:>6.1f} {ok}")
    for size, measured in result["sizes"].items():
        cold = ", ".join(f"{k} {v:.0f} ms" for k, v in measured["report_cold_ms"].items())
        print(f"board report computed cold (after an entry is projected) at {int(size):,}: "
              f"{cold}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the benchmark, or (internally) serve the bare pages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=PAGES,
                        help="only these pages (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve-bare", nargs=2, metavar=("PORT", "SIZES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return 0
    result = run(args)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
