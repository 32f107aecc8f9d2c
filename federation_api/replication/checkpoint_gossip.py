"""Checkpoint gossip over NATS: publish our checkpoints, witness peers', share cosignatures.

Subjects live under the publisher's own prefix, so the hub's least-privilege rule "a leaf
publishes only `alliance.<own id>.>`" covers them unchanged:
- `alliance.<origin>.checkpoint`: the origin's latest signed checkpoint note;
- `alliance.<witness>.cosignature`: a witness's cosigned note (the origin's note plus the
  witness's tlog-cosignature line);
- `alliance.<requester>.checkpoint-wanted`: a node that holds a peer's entries but no
  checkpoint of that peer's ledger covering them (a receipt or proof needs one) asks the
  origin, named in the payload, to sign and publish one now instead of at its next interval.
Every node subscribes to `alliance.*.checkpoint`, `alliance.*.cosignature` and
`alliance.*.checkpoint-wanted`. The payload is the C2SP note itself (a want: the origin's id);
provenance comes from the signatures and the registry, never from the subject (a cosignature
is filed under the witness its verified line names). A want carries no authority: the
answer is the origin's ordinary checkpoint, signed only if its ledger grew, and however many
wants arrive, an origin publishes at most one checkpoint per `WANT_GAP` for them.

Why core NATS and not JetStream: a checkpoint is small, self-verifying and superseded by the
next one; the database, not NATS, keeps every checkpoint and cosignature. The origin
re-publishes its latest checkpoint every interval (signing a new one only when its ledger
grew), and a witness that sees a checkpoint it already cosigned re-publishes its stored
cosignature without signing again (at most once per interval and origin, so a peer replaying
a note cannot make every witness flood the hub), so a message lost to a disconnect or an
offline peer costs an interval or two, and a node that was away catches up with the latest
checkpoint on its return.
JetStream would need a stream and a hub mirror per association for data nobody needs to
replay. Handlers never trust a payload before `ledger.transparency.witness` has verified it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from federation_api.clock import now
from ledger.transparency.cosigners import origin_of
from ledger.transparency.notes import parse_note
from ledger.transparency.witness import MAX_NOTE_BYTES, Cosigned, Refused, WitnessOutcome

log = logging.getLogger("alliance.checkpoints")

ALL_CHECKPOINTS = "alliance.*.checkpoint"
ALL_COSIGNATURES = "alliance.*.cosignature"
ALL_WANTS = "alliance.*.checkpoint-wanted"
WANT_GAP = 0.25  # seconds: on-demand checkpoints for wants come at most this often


def checkpoint_subject(association: str) -> str:
    """Where an association publishes its own checkpoints."""
    return f"alliance.{association.lower()}.checkpoint"


def cosignature_subject(association: str) -> str:
    """Where an association, as a witness, publishes its cosignatures."""
    return f"alliance.{association.lower()}.cosignature"


def want_subject(association: str) -> str:
    """Where an association asks peers for a fresh checkpoint (the payload names whom)."""
    return f"alliance.{association.lower()}.checkpoint-wanted"


class RepublishGate:
    """Decides whether a cosignature outcome is published: a new cosignature always, the
    stored one again at most once per `interval` for each origin. Every received copy of a
    checkpoint already cosigned yields the stored cosignature; without this gate a peer that
    replays one note a thousand times a second would make every node publish a thousand
    cosignatures a second. Times are monotonic seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}  # origin -> when its cosignature last went out

    def admit(self, outcome: Cosigned, at: float) -> bool:
        """True if `outcome` is to be published now (and remember that it was)."""
        last = self._last.get(outcome.association)
        if not outcome.new and last is not None and at - last < self.interval:
            return False
        self._last[outcome.association] = at
        return True


class CheckpointGossip:
    """Signs and publishes this node's checkpoints; witnesses and collects everyone's."""

    def __init__(self, node: Any, nc: NatsClient, *, interval: float) -> None:
        self.node = node
        self.nc = nc
        self.own = node.association
        self.interval = interval
        self._tick = min(interval, 0.5)  # how often pending checkpoints are retried
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._subscriptions: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0  # own checkpoint publications, for tests and metrics
        self.cosigned = 0  # new cosignatures this node made
        self._republish = RepublishGate(interval)
        self._last_demand = float("-inf")  # loop time of the last publication for a want
        self._demand_later: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Subscribe to every peer's checkpoints and cosignatures; start the timer."""
        self._loop = asyncio.get_running_loop()
        self._subscriptions = [
            await self.nc.subscribe(ALL_CHECKPOINTS, cb=self._on_checkpoint),
            await self.nc.subscribe(ALL_COSIGNATURES, cb=self._on_cosignature),
            await self.nc.subscribe(ALL_WANTS, cb=self._on_want)]
        self._tasks = [asyncio.create_task(self._run(), name="checkpoints")]

    async def stop(self) -> None:
        """Stop the timer and the subscriptions."""
        if self._demand_later is not None:
            self._demand_later.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def publish_soon(self) -> None:
        """Thread-safe: sign and publish a checkpoint now rather than at the next interval."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def want_checkpoint(self, association: str, timeout: float = 2.0) -> bool:
        """Thread-safe (from a request's worker thread): ask `association`'s node to publish a
        checkpoint now. Returns whether the request went out; the checkpoint itself arrives
        like any other (witnessed, stored) a round trip later."""
        loop = self._loop
        if loop is None or association == self.own:
            return False
        future = asyncio.run_coroutine_threadsafe(
            self.nc.publish(want_subject(self.own), association.upper().encode()), loop)
        try:
            future.result(timeout)
        except Exception as e:  # a lost want costs a retry, never the request
            log.warning("checkpoint want not sent", extra={"error": str(e)})
            return False
        return True

    async def _on_want(self, msg: Msg) -> None:
        if msg.data.decode(errors="replace") != self.own:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_demand + WANT_GAP - loop.time()
        if wait <= 0:
            self._demand()
        elif self._demand_later is None:  # one publication after the gap answers them all
            self._demand_later = loop.call_later(wait, self._demand)

    def _demand(self) -> None:
        assert self._loop is not None
        self._demand_later = None
        self._last_demand = self._loop.time()
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_publish = loop.time()
        while True:
            try:
                if self._wake.is_set() or loop.time() >= next_publish:
                    self._wake.clear()
                    next_publish = loop.time() + self.interval  # a failure waits one too
                    await self.publish_checkpoint()
                for outcome in await asyncio.to_thread(self.node.witness.retry_pending, now()):
                    await self._after_witnessing(outcome)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("checkpoint pass failed; will retry", extra={"error": str(e)})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick)

    async def publish_checkpoint(self) -> bytes:
        """Sign a checkpoint of our ledger if it grew (else reuse the last) and publish it."""
        note: bytes = await asyncio.to_thread(self.node.log.sign_checkpoint, self.own,
                                              self.node.signer, now())
        await self.nc.publish(checkpoint_subject(self.own), _origin_part(note, self.own))
        self.published += 1
        return note

    async def _on_checkpoint(self, msg: Msg) -> None:
        if len(msg.data) > MAX_NOTE_BYTES:
            return
        try:
            outcome = await asyncio.to_thread(self.node.witness.receive, msg.data, now())
            await self._after_witnessing(outcome)
        except Exception as e:  # a handler must never die on a bad payload
            log.warning("checkpoint not handled", extra={"error": str(e)})

    async def _after_witnessing(self, outcome: WitnessOutcome) -> None:
        if isinstance(outcome, Cosigned):
            self.cosigned += outcome.new
            if self._republish.admit(outcome, time.monotonic()):
                await self.nc.publish(cosignature_subject(self.own), outcome.note)
        elif isinstance(outcome, Refused) and outcome.fork:
            log.warning("checkpoint fork", extra={"association": outcome.association,
                                                  "reason": outcome.reason})

    async def _on_cosignature(self, msg: Msg) -> None:
        if len(msg.data) > MAX_NOTE_BYTES:
            return
        try:
            await asyncio.to_thread(self.node.witness.collect, msg.data, now())
        except Exception as e:
            log.warning("cosignature not handled", extra={"error": str(e)})


def _origin_part(note: bytes, association: str) -> bytes:
    """What the origin publishes: its own signed note, without the cosignatures it holds
    (witnesses cosign the origin's statement; the cosignatures travel on their own)."""
    parsed = parse_note(note)
    name = origin_of(association)
    return parsed.text + b"\n" + b"".join(s.line() for s in parsed.signatures if s.name == name)
