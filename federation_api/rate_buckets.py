"""Token buckets keyed by a string: the one rate-limiting primitive of the edge.

Two rooms count attempts with it: the public rate limits of `web/rate_limits.py` (requests
per client address, bulk rows per caller) and the sign-in service of `accounts/signin.py`
(guesses per client address over every account). It sits at the ground of `federation_api`
so that both may use it: `accounts` is composed by the node, below `web`.

Memory is bounded: at most `max_keys` buckets are kept. A bucket left alone long enough to
refill completely is the same as a new one, so dropping it loses nothing; when the table is
full anyway, the least recently used bucket goes first.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict


class TokenBuckets:
    """One token bucket per key: `capacity` tokens, refilled at `per_second`.

    Thread-safe (the middleware runs on the event loop, bulk requests in worker threads).
    """

    def __init__(self, *, capacity: float, per_second: float, max_keys: int) -> None:
        if capacity <= 0 or per_second <= 0 or max_keys < 1:
            raise ValueError("a token bucket needs a positive capacity, rate and size")
        self.capacity = capacity
        self.per_second = per_second
        self.max_keys = max_keys
        self._full_after = capacity / per_second  # idle this long: indistinguishable from new
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float, now: float) -> float:
        """Take `cost` tokens; 0.0 if granted, else the seconds until they would be there
        (nothing is taken then). A cost above the capacity can never be granted: inf."""
        if cost > self.capacity:
            return math.inf
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + max(0.0, now - last) * self.per_second)
            if tokens >= cost:
                tokens -= cost
                wait = 0.0
            else:
                wait = (cost - tokens) / self.per_second
            self._buckets[key] = (tokens, now)  # most recently used last
            self._evict(now)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, now: float) -> None:
        # Oldest first: drop buckets that have refilled completely, then, if still too many,
        # the least recently used ones.
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last >= self._full_after or len(self._buckets) > self.max_keys:
                del self._buckets[key]
            else:
                return
