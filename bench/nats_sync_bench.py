"""What `sync_interval: always` costs: lag and catch-up through the 3-server hub, each against
the same run with JetStream's default (lazy) fsync.

    .venv/bin/python -m bench.nats_sync_bench [--rate R] [--seconds S] [--catch-up N]
        [--rounds P] [--json]

Both topologies are the production one on loopback, from the files `alliance nats-config`
writes (3-server hub with R3 mirrors, a leaf per association, TLS, nkeys); they differ only
in the `sync_interval` line of every JetStream store. The phases are bench/replication_bench's:

- lag: AK commits at a paced R entries/s (500) for S seconds; per entry, from AK's commit to
  MI's projection covering it (through AK's leaf, the hub's mirror, MI's leaf). p50/p99.
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
from bench.replication_bench import measure_catch_up, measure_lag
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


def best(rounds: list[dict[str, dict[str, Any]]], sync: str) -> dict[str, Any]:
    """Per figure, the best round (lowest lag and time, highest rate)."""
    out: dict[str, Any] = {}
    figures = [r[sync] for r in rounds]
    if "lag_ms" in figures[0]:
        out["lag_p50_ms"] = min(f["lag_ms"]["p50"] for f in figures)
        out["lag_p99_ms"] = min(f["lag_ms"]["p99"] for f in figures)
        out["achieved_rate"] = max(f["achieved_rate"] for f in figures)
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
    always, default = best(rounds, "always"), best(rounds, "default")
    ratios = {k: round(always[k] / default[k], 2) for k in always if default.get(k)}
    return {"rate": args.rate, "seconds": args.seconds, "catch_up_entries": args.catch_up,
            "rounds": args.rounds, "always": always, "default": default,
            "ratio_always_over_default": ratios, "all_rounds": rounds}


def print_table(result: dict[str, Any]) -> None:
    """The figures side by side."""
    print(f"3-server hub, rate {result['rate']}/s for {result['seconds']}s, catch-up of "
          f"{result['catch_up_entries']} entries, best of {result['rounds']} round(s)")
    print(f"{'figure':<22}{'sync always':>14}{'default sync':>14}{'ratio':>8}")
    for key, value in result["always"].items():
        print(f"{key:<22}{value:>14}{result['default'].get(key, '-'):>14}"
              f"{result['ratio_always_over_default'].get(key, '-'):>8}")


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
    parser.add_argument("--writers", type=int, default=2,
                        help=f"writer processes sharing the rate, of {', '.join(WRITERS)} "
                             "(2; 0: AK's commands in this process, beside MI)")
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
