"""The edge's clock: the only place the API reads the time (domain and projections never do)."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """Current time, UTC."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Current date, UTC."""
    return now().date()
