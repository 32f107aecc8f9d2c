"""The list watch as part of anti-entropy: every peer's status lists, as their origins serve
them, checked against this node's replica of the peer's ledger, without anyone asking.

A split view must be caught by the peers that hold the ledger, not only when an auditor
thinks of asking (`POST /v1/federation/status-list-checks/{association}` runs the same check).
The node holds one (`Node.list_watch_pass`); the replicator's anti-entropy loop calls `tick`
every pass; a check runs at most once per `interval` (a
minute by default: a list changes on a command, and a node serving a forged one for a minute
has already been caught by then by every peer), for each peer whose replicated ledger records
status lists, one peer after the other, each fetch bounded by a timeout. It runs beside the
loop, never inside it: an origin that answers slowly must not delay backfill. A check still
running when the next one is due is not doubled.

A split view flags the association forked exactly as the manual check does (the evidence is
kept by `ListWatch`); findings are logged by outcome, never with the list's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from federation_api.clock import now
from federation_api.credentials.http_fetch import http_fetch
from federation_api.credentials.list_watch import ListFinding

log = logging.getLogger("alliance.replication")

LIST_WATCH_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 10.0


class ListWatchPass:
    """Runs the node's `ListWatch` over every peer with status lists, at a bounded rate."""

    def __init__(self, node: Any, peers: Callable[[], Sequence[str]], *,
                 interval: float = LIST_WATCH_SECONDS,
                 timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
        self.node = node
        self.peers = peers
        self.interval = interval
        self.timeout = timeout
        self.findings: dict[str, list[ListFinding]] = {}  # the last check of each peer
        self.passes = 0  # completed passes, for tests and metrics
        self._last: float | None = None
        self._task: asyncio.Task[None] | None = None

    def tick(self) -> None:
        """Start a pass if one is due and none is running (called by the anti-entropy loop)."""
        if self._task is not None and not self._task.done():
            return
        if self._last is not None and time.monotonic() - self._last < self.interval:
            return
        self._last = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="list-watch")

    async def stop(self) -> None:
        """Cancel a running pass."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)

    async def _run(self) -> None:
        try:
            await asyncio.to_thread(self.check_all)
        except Exception as e:  # a pass that fails is retried at the next interval
            log.warning("status list watch failed", extra={"error": str(e)})
        self.passes += 1

    def check_all(self) -> None:
        """One pass, synchronous: each peer whose replicated ledger records status lists."""
        own = self.node.association
        with http_fetch(self.timeout) as fetch:
            for peer in self.peers():
                if peer == own or not self.node.projector.status_lists(peer):
                    continue
                findings = self.node.list_watch.check(peer, fetch, now())
                self.findings[peer] = findings
                for finding in findings:
                    _log(peer, finding)


def _log(peer: str, finding: ListFinding) -> None:
    if finding.outcome == "split view":
        log.error("status list split view: association flagged forked",
                  extra={"peer": peer, "list": finding.list_url, "error": finding.detail})
    elif finding.outcome == "stale":
        log.warning("status list stale: the origin serves an older recorded version",
                    extra={"peer": peer, "list": finding.list_url, "error": finding.detail})
    elif finding.outcome != "recorded":
        log.warning("status list not checked", extra={
            "peer": peer, "list": finding.list_url, "outcome": finding.outcome,
            "error": finding.detail})
