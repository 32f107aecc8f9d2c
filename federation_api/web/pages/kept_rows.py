"""Table rows made for a page, kept while the projection they were read from stands.

Twenty staff opening the roster or the applications read the same rows, and making them
(the query, then a row of HTML each) was most of those pages' cost. A page's rows change
only when an entry is projected, and every projected entry moves its ledger's tracking
position in the same transaction (invariant 6). So the rows made under a key are kept with
the positions read before them, and made again once those moved, as
`projections.reports.ReportCache` keeps the board report: nothing shown is older than the
projection it was read from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

KEEP = 256  # keys kept (filters x pages x days); past it all are forgotten at once

Rows = TypeVar("Rows")


class RowsCache(Generic[Rows]):
    """The last rows made for each key, valid while the tracking positions stand."""

    def __init__(self, *, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[dict[str, int], Rows]] = {}

    def rows(self, positions: dict[str, int], key: Hashable, make: Callable[[], Rows]) -> Rows:
        """The rows kept under `key` if made at `positions` (read by the caller before the
        rows, so a change in between is seen next time), else `make()`, kept."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == positions:
            return kept[1]
        made = make()  # outside the lock: a page is cheap, and pages are made side by side
        with self._lock:
            if len(self._kept) >= self._keep:
                self._kept.clear()  # old days and pages: cheaper to forget than to rank
            self._kept[key] = (positions, made)
        return made


def app_rows_cache(state: Any, name: str) -> RowsCache[Any]:
    """The app's one `RowsCache` called `name` (an attribute of `app.state`), made on first
    use: a plain attribute set is atomic, so two first requests at once make at most one
    that is then forgotten."""
    cache: RowsCache[Any] | None = getattr(state, name, None)
    if cache is None:
        cache = RowsCache()
        setattr(state, name, cache)
    return cache
