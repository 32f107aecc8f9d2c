"""The served process's heap, settled once it has started, so the collector never stalls it.

Measured with `bench/staff_pages_bench.py` (docs/reports.md): a started node holds about
230,000 objects - the modules, routes, schemas and the node it loaded - and CPython's full
collection walks every one of them, holding the interpreter for 130-170 ms on this
project's 2-core machine. Requests promote what they still hold when a young collection
runs, so under 20 concurrent staff a full collection came every 2-3 seconds, and each one
answered all 20 requests in flight late at once: the staff pages' p99 was 140-190 ms while
their median was 12-30 ms.

What is loaded at start lives as long as the process. `gc.freeze()` moves it out of the
collector's sight (its documented use), so a full collection walks only what requests made
since: 8 ms, once in a 3-second run of the same load. The thresholds stay CPython's: a
young threshold raised to 50,000 measured the same.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect once, then freeze what is left.

    Called once the app is built (`alliance serve`: before it answers; the demo: once its
    nodes are seeded): everything then alive (the modules, the app, the node) is the
    process's for good."""
    gc.collect()
    gc.freeze()
