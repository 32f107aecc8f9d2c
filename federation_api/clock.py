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


# Instants as the node's own tables store them (accounts, people): one text form, so they sort
# and compare in SQL on SQLite and PostgreSQL alike.
def stamp(moment: dt.datetime) -> str:
    """A timezone-aware instant as stored text (UTC, fixed width)."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def unstamp(text: str | None) -> dt.datetime | None:
    """Stored text back to an instant."""
    return None if text is None else dt.datetime.fromisoformat(text)
