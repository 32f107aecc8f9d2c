"""The randomized NATS fault schedule of tests/federation/test_hub_cluster_faults.py, run
for longer than CI allows (CI: 40 s); with `--nodes`, the schedule of
tests/federation/test_node_process_faults.py instead, where every node is a real `alliance
serve` process that is SIGKILLed and SIGSTOPped too (CI: 60 s).

    .venv/bin/python -m bench.nats_fault_soak [--seconds S] [--seed N] [--nodes]

Same test, same checks (every log gapless everywhere, 0 acknowledged entries lost, digests
equal within 10 s of the last heal); the seed is printed, and `--seed` replays a schedule.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import pytest

TEST = "tests/federation/test_hub_cluster_faults.py::test_a_randomized_fault_schedule_loses_nothing"
NODES_TEST = ("tests/federation/test_node_process_faults.py::"
              "test_a_randomized_fault_schedule_on_node_processes_loses_nothing")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the schedule test with the asked duration (and seed)."""
    parser = argparse.ArgumentParser(prog="python -m bench.nats_fault_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="faults for S seconds (600)")
    parser.add_argument("--seed", type=int, help="replay this schedule")
    parser.add_argument("--nodes", action="store_true",
                        help="node processes in the schedule too (real `alliance serve`)")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    os.environ["ALLIANCE_FAULT_SECONDS"] = str(args.seconds)
    if args.seed is not None:
        os.environ["ALLIANCE_FAULT_SEED"] = str(args.seed)
    # The test's own timeout is for CI; leave room for the longer schedule.
    return int(pytest.main(["-q", "-s", "-p", "no:cacheprovider",
                            f"--timeout={int(args.seconds) + 300}",
                            NODES_TEST if args.nodes else TEST]))


if __name__ == "__main__":
    raise SystemExit(main())
