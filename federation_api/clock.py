"""The edge's clock: the only place the node reads the time of day (domain, ledger and
projections never do; they are given `now` or a date).

Durations (timeouts, rate-limit buckets, the audit's phase timings) are measured with
`time.monotonic` or `time.perf_counter` where they are taken: those clocks tell how long,
never what time it is. `tests/unit/test_layers.py` fails on a read of the time elsewhere.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """Current time, UTC."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Current date, UTC."""
    return now().date()
