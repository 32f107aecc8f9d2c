"""The lag bench's writer processes (bench/lag_writers.py): each child's commits reach the
measuring process with their instants, every entry is timed on both sides of the process
boundary, no lag runs backwards (the two sides read one clock), and a child that fails
stops the bench with its traceback instead of leaving it waiting."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from bench.lag_writers import WriterJob, measure_lag_from_processes, receive, spawn_writer

pytestmark = pytest.mark.timeout(240)


def test_writer_processes_time_every_entry_on_one_clock(tmp_path: Path) -> None:
    result = asyncio.run(measure_lag_from_processes(tmp_path, "single", rate=40.0,
                                                    seconds=1.0, threads=2, writers=2))
    assert result["writer_processes"] == 2
    assert result["entries"] == 40
    assert set(result["writers"]) == {"AK", "TX"}
    for figures in (result, *result["writers"].values()):
        lag = figures["lag_ms"]
        assert 0 <= lag["min"] <= lag["p50"] <= lag["p99"] <= lag["max"], lag
        assert figures["achieved_rate"] > 0
    assert all(w["start_late_ms"] >= 0 for w in result["writers"].values())
    assert multiprocessing.active_children() == []


def test_a_failing_writer_stops_the_bench_with_its_traceback(tmp_path: Path) -> None:
    writer = spawn_writer(WriterJob(root=tmp_path / "no-federation", association="AK",
                                    connection="nats://127.0.0.1:1", local_domain=None,
                                    hub_domain=None, rate=1.0, warm=1, count=1, threads=1))
    with pytest.raises(SystemExit, match="a writer process failed before AK's warm-up"):
        asyncio.run(receive(writer.channel, 120, "AK's warm-up"))
    asyncio.run(writer.stop())
    assert writer.process.exitcode not in (0, None)
