"""What `sync_interval: always` costs: lag and catch-up through the 3-server hub, each against
the same run with JetStream's default (lazy) fsync.

    .venv/bin/python -m bench.nats_sync_bench [--rate R] [--seconds S] [--catch-up N]
        [--rounds P] [--writers W] [--json]

The lag at 500 entries/s alone, both syncs: `python -m bench.nats_sync_bench --catch-up 0`.

Both topologies are the production one on loopback, from the files `alliance nats-config`
writes (3-server hub with R3 mirrors, a leaf per association, TLS, nkeys); they differ only
in the `sync_interval` line of every JetStream store. The phases are bench/replication_bench's:

- lag: W writer associations (3: AK, TX, CA), each a process of its own (bench/lag_writers),
  together commit a paced R entries/s (500) for S seconds, R/W each on one interleaved
  schedule; per entry, from its commit to MI's projection covering it (through the writer's
  leaf, the hub's mirror, MI's leaf), MI being this process. p50/p99 over every writer's
  entries, and per writer. One node commits its commands one after another (about three
  fsyncs each), and this process shares one GIL: one writer, or one process, could not
  offer 500/s on two cores; several writer processes split both limits. `--writers 0` is
  the older method: AK's commands in this process beside MI (replication_bench's
  `measure_lag`).
- catch-up: MI seals N entries (100,000) and publishes them; TX, fresh, is timed until its
  projection covers all N, read from the hub mirror.

Rounds alternate the two syncs (always, default, always, ...) so drift on this shared
machine hits both; each figure is the best of its rounds. Ratios are always / default: above
1 means slower with fsync on every write. Figures are of this machine only (2 shared cores,
one SSD-backed filesystem for all five servers' stores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.lag_writers import WRITERS, measure_lag_from_processes
from bench.replication_bench import RATE_ACHIEVED_GOAL, measure_catch_up, measure_lag
from federation_api.web.observability import configure_logging

SYNCS = {"always": "hub-and-leaf", "default": "hub-and-leaf-default-sync"}


async def one_round(root: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Lag and catch-up with each sync, on fresh servers and nodes each time."""
    result: dict[str, dict[str, Any]] = {}
    for sync, topology in SYNCS.items():
        figures: dict[str, Any] = {}
        if args.seconds > 0:
            if args.writers:
                lag = await measure_lag_from_processes(root / f"lag-{sync}", topology,
                                                       args.rate, args.seconds, 4, args.writers)
                figures["writers"] = lag["writers"]
                figures["mi_process_cpu_share"] = lag["mi_process_cpu_share"]
            else:
                lag = await measure_lag(root / f"lag-{sync}", topology, args.rate, args.seconds,
                                        4, False)
            figures["lag_ms"] = lag["lag_ms"]
            figures["achieved_rate"] = lag["achieved_rate"]
            figures["load_average_1min"] = lag["load_average_1min"]
        if args.catch_up > 0:
            catch = await measure_catch_up(root / f"catch-up-{sync}", topology, args.catch_up,
                                           False, False)
            figures["catch_up_seconds"] = catch["projected_seconds"]
            figures["catch_up_per_second"] = catch["catch_up_per_second"]
            figures["publish_per_second"] = catch["publish_per_second"]
        result[sync] = figures
    return result


def best(rounds: list[dict[str, dict[str, Any]]], sync: str, rate: float) -> dict[str, Any]:
    """Per figure, the best round (lowest lag and time, highest rate); whether the asked rate
    was held (a lag at a lower rate says nothing about the asked one)."""
    out: dict[str, Any] = {}
    figures = [r[sync] for r in rounds]
    if "lag_ms" in figures[0]:
        out["lag_p50_ms"] = min(f["lag_ms"]["p50"] for f in figures)
        out["lag_p99_ms"] = min(f["lag_ms"]["p99"] for f in figures)
        out["achieved_rate"] = max(f["achieved_rate"] for f in figures)
        out["rate_held"] = out["achieved_rate"] >= RATE_ACHIEVED_GOAL * rate
    if "catch_up_seconds" in figures[0]:
        out["catch_up_seconds"] = min(f["catch_up_seconds"] for f in figures)
        out["catch_up_per_second"] = max(f["catch_up_per_second"] for f in figures)
        out["publish_per_second"] = max(f["publish_per_second"] for f in figures)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every round, then the best figures and their ratios."""
    with tempfile.TemporaryDirectory(prefix="alliance-nats-sync-") as tmp:
        rounds = [asyncio.run(one_round(Path(tmp) / f"round-{i}", args))
                  for i in range(args.rounds)]
    always = best(rounds, "always", args.rate)
    default = best(rounds, "default", args.rate)
    ratios = {k: round(always[k] / default[k], 2) for k, v in always.items()
              if not isinstance(v, bool) and default.get(k)}
    loads = [f["load_average_1min"] for r in rounds for f in r.values()
             if "load_average_1min" in f]
    return {"rate": args.rate, "seconds": args.seconds, "writer_processes": args.writers,
            "catch_up_entries": args.catch_up, "rounds": args.rounds,
            "load_average_1min_max": max((max(load) for load in loads), default=None),
            "always": always, "default": default,
            "ratio_always_over_default": ratios, "all_rounds": rounds}


def print_table(result: dict[str, Any]) -> None:
    """The figures side by side, then each writer's share."""
    writers = (f"{result['writer_processes']} writer processes" if result["writer_processes"]
               else "AK's commands in this process")
    print(f"3-server hub, rate {result['rate']}/s for {result['seconds']}s ({writers}), "
          f"catch-up of {result['catch_up_entries']} entries, best of {result['rounds']} "
          f"round(s), load average up to {result['load_average_1min_max']}")
    print(f"{'figure':<22}{'sync always':>14}{'default sync':>14}{'ratio':>8}")
    for key, value in result["always"].items():
        print(f"{key:<22}{value!s:>14}{result['default'].get(key, '-')!s:>14}"
              f"{result['ratio_always_over_default'].get(key, '-'):>8}")
    for i, one in enumerate(result["all_rounds"]):
        for sync, figures in one.items():
            if "mi_process_cpu_share" in figures:
                print(f"round {i + 1} {sync:<8} MI (this process): CPU "
                      f"{figures['mi_process_cpu_share']} of a core, load average "
                      f"{figures['load_average_1min']}")
            for origin, w in figures.get("writers", {}).items():
                print(f"round {i + 1} {sync:<8} {origin}: {w['achieved_rate']:>6}/s, lag p50 "
                      f"{w['lag_ms']['p50']} ms, p99 {w['lag_ms']['p99']} ms, CPU "
                      f"{w['process_cpu_share']} of a core, started {w['start_late_ms']} ms "
                      f"late")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.nats_sync_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="entries/s AK commits (500)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds of the lag phase (10; 0 skips it)")
    parser.add_argument("--catch-up", type=int, default=100_000,
                        help="entries TX missed (100000; smaller for a quick run, 0 skips)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of both syncs (1)")
    parser.add_argument("--writers", type=int, default=3,
                        help=f"writer processes sharing the rate, of {', '.join(WRITERS)} "
                             "(3; 0: AK's commands in this process, beside MI)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if (args.rate <= 0 or args.seconds < 0 or args.catch_up < 0 or not 1 <= args.rounds <= 10
            or not 0 <= args.writers <= len(WRITERS)):
        parser.error(f"--rate must be positive, sizes at least 0, --rounds 1..10, "
                     f"--writers 0..{len(WRITERS)}")
    configure_logging("WARNING")
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
