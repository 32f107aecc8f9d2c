"""Replication over NATS JetStream: publish own entries, consume peers', backfill gaps.

The database is the system of record; NATS is only transport (DESIGN invariant 2):
- the publisher sends each committed own entry to stream ALLIANCE_<ID> with
  `Nats-Msg-Id = "<ID>:<seq>"`, waits for each PubAck with a bound, and records the highest
  contiguously confirmed seq; after a reconnect or restart it re-publishes from there (the
  stream's duplicate window and the consumers' idempotence make repeats harmless);
- a consumer per peer reads that peer's stream (from the hub in production) and hands the
  bytes to the Ingestor, which verifies and stores them; acks come after the store commits;
- every node answers backfill requests from its own store (own ledger or replicas), and a
  node that sees a gap, or whose JetStream no longer holds what it needs, asks the origin and
  then any other peer; a periodic anti-entropy pass asks for anything after its head, so
  catch-up never depends on one party (invariant 4);
- at start, before the node may seal, it asks its own stream (local and on the hub) and every
  peer for its own ledger beyond its head, and stores what verifies (`check_own_ledger`): a
  node that lost entries, or was restored from a backup, gets back what others hold instead
  of signing a second entry for a seq they have (invariant 8). While the node stays behind,
  the anti-entropy pass asks again;
- the anti-entropy pass also checks, once a minute, the status lists each peer's origin serves
  against the replicated ledger (the node's `ListWatchPass`): a split view flags the peer forked.
Every wait is bounded: nats-py futures may never resolve after a disconnect.

Each peer is consumed by a task of its own, with its own pull subscription, so no peer's wait
delays another's: a nats-py fetch that finds nothing delivered sends a lingering pull, which
returns as soon as the first entry arrives but, for a peer with nothing to send, only when its
timeout runs out. When one loop served the peers in turn, every idle peer's fetch held up the
busy peers' entries for its whole timeout (with three writing associations at 30 entries/s,
a lag of seconds on an idle node). Now an idle peer's long poll holds only its own task; the
tasks meet at the one ingest lock, which keeps verification and storage serial.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from federation_api.clock import now
from federation_api.replication.checkpoint_gossip import CheckpointGossip
from federation_api.replication.nats_connection import NatsConnection
from ledger.chain.own_length import LengthRecord, PeerCheck, Source
from ledger.codec import BackfillReply, BackfillRequest, decode_canonical, encode
from ledger.ingest import Gap

log = logging.getLogger("alliance.replication")

PUBLISHER = "nats-publisher"
BACKFILL_LIMIT = 500
FETCH_BATCH = 1024  # entries per pull; verification of one batch spreads over every core
CONSUME_ROUNDS = 16  # batches of one pipelined pass (each fetched while the last is ingested)
# How long an idle peer's pull lingers: it bounds how long a pull request the server dropped
# without a reconnect (a consumer leader moving on the hub) goes unnoticed, and costs one pull
# request per peer per wait while idle. A reconnect interrupts every wait. It delays no entry:
# the lingering pull asks for one entry, returned the moment it arrives, and then what else is
# there is taken at once (`_first_then_rest`). nats-py's `fetch(batch=n)` with n > 1 does not
# promise that: once its lingering request has delivered a first message it goes on waiting
# for the other n - 1 until the server ends the request or the timeout passes.
FETCH_WAIT = 2.0
# After the first entry, what else is there already is asked for at once (no_wait); with
# nothing more, nats-py lingers this long before returning the first alone.
DRAIN_WAIT = 0.02
RETRY_SECONDS = 0.5  # a failed consume pass, or a peer whose stream does not exist yet
PEER_SCAN_SECONDS = 0.5  # how often the supervisor looks for peers without a consumer
EMPTY_PASS_FLOOR = 0.05  # an empty pass shorter than this (a server refusing pulls) pauses
RECOVERY_LIMIT = 100_000  # own entries gathered from one source per check (~100 MB at most)


def stream_name(association: str) -> str:
    """JetStream stream of one association's ledger."""
    return f"ALLIANCE_{association.upper()}"


def ledger_subject(association: str) -> str:
    """Subject the association publishes its entries on."""
    return f"alliance.{association.lower()}.ledger"


def backfill_subject(association: str) -> str:
    """Subject on which one association's node answers backfill requests."""
    return f"alliance.backfill.{association.lower()}"


def reader_name(association: str) -> str:
    """Durable name of an association's consumer on every peer stream: one naming rule lets
    one set of wildcard permissions cover all peers."""
    return f"reader-{association.lower()}"


def reply_subject(requester: str, responder: str, token: str) -> str:
    """Where a backfill reply goes: only the requester receives it, only the responder may
    send it (core NATS inboxes do not cross the hub with least-privilege permissions)."""
    return f"alliance.reply.{requester.lower()}.{responder.lower()}.{token}"


def own_stream_config(association: str) -> StreamConfig:
    """Retention is a cache, not the record: no age limit, no deletes, no purges."""
    return StreamConfig(name=stream_name(association), subjects=[ledger_subject(association)],
                        storage=StorageType.FILE, max_age=0, deny_delete=True, deny_purge=True,
                        duplicate_window=120.0)


class Replicator:
    """The replication tasks of one node, run on an asyncio loop beside the API."""

    def __init__(self, node: Any, nats_url: str | NatsConnection, *,
                 peers: Callable[[], Sequence[str]],
                 local_domain: str | None = None, hub_domain: str | None = None,
                 ack_timeout: float = 2.0, window: int = 256,
                 anti_entropy_seconds: float = 5.0,
                 checkpoint_seconds: float | None = None) -> None:
        self.node = node
        self.own = node.association
        self.nats_url = NatsConnection.of(nats_url).check()
        self.peers = peers
        self.local_domain = local_domain
        self.hub_domain = hub_domain
        self.ack_timeout = ack_timeout
        self.window = window
        self.anti_entropy_seconds = anti_entropy_seconds
        self.checkpoint_seconds = (checkpoint_seconds if checkpoint_seconds is not None
                                   else node.settings.checkpoint_seconds)
        self.checkpoints: CheckpointGossip | None = None
        self.nc: NatsClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._consumers: dict[str, asyncio.Task[None]] = {}  # one consume task per peer
        self._fetches: set[asyncio.Future[list[Msg]]] = set()  # pulls in flight, any peer
        # Peers whose consume task is inside a fetch right now, with how many (the pipelined
        # fetch makes two): what shows that a waiting peer holds up no other.
        self.fetching: dict[str, int] = {}
        self._wake = asyncio.Event()
        # One ingest at a time: the consumer and a backfill racing over one range would each
        # find the other's entries already stored mid-append.
        self._ingesting = asyncio.Lock()
        self._published: int | None = None  # last confirmed own seq, cached
        self._loop: asyncio.AbstractEventLoop | None = None
        self.errors = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (retrying forever in the background) and start every task."""
        self._loop = asyncio.get_running_loop()
        self.nc = await nats.connect(
            **self.nats_url.options(), name=f"alliance-{self.own.lower()}",
            max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2,
            allow_reconnect=True, error_cb=self._on_error,
            reconnected_cb=self._on_reconnected,
            # Replies come back under our own prefix: across the hub, a leaf may receive
            # only what is addressed to its association (ops/nats/README.md).
            inbox_prefix=f"_INBOX.{self.own.lower()}")
        await self.nc.subscribe(backfill_subject(self.own), cb=self._answer_backfill)
        await self.check_own_ledger()
        self.checkpoints = CheckpointGossip(self.node, self.nc,
                                            interval=self.checkpoint_seconds)
        await self.checkpoints.start()
        self._tasks = [asyncio.create_task(self._publish_loop(), name="publisher"),
                       asyncio.create_task(self._consume_loop(), name="consumer"),
                       asyncio.create_task(self._anti_entropy_loop(), name="anti-entropy")]

    async def stop(self) -> None:
        """Cancel the tasks and close the connection."""
        if self.checkpoints is not None:
            await self.checkpoints.stop()
        await self.node.list_watch_pass.stop()
        tasks = [*self._tasks, *self._consumers.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        self._consumers.clear()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), 5)

    def wake(self) -> None:
        """Thread-safe: a command committed new entries; publish them now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _on_error(self, e: Exception) -> None:
        # Permission violations only arrive here (nats-py); count them, never log payloads.
        self.errors += 1
        log.warning("nats error", extra={"error": str(e)})

    async def _on_reconnected(self) -> None:
        """Publish what waited, and end every pull in flight: the server forgot the lingering
        pull requests of the old connection, so each would otherwise sit out its FETCH_WAIT
        before asking again. An interrupted fetch counts as empty: what is still queued in
        the subscription goes to the next fetch, what it had taken is unacked, so redelivered
        after ack_wait (and asked for by the anti-entropy pass before that)."""
        self._wake.set()
        for fetch in list(self._fetches):
            fetch.cancel()

    def _js(self, domain: str | None) -> JetStreamContext:
        assert self.nc is not None
        return self.nc.jetstream(domain=domain, timeout=self.ack_timeout)

    # -- publisher ------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        stream_ready = False
        while True:
            try:
                if not stream_ready:
                    await self._ensure_streams()
                    stream_ready = True
                await self.publish_pending()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("publish pass failed; will retry", extra={"error": str(e)})
                stream_ready = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
                await asyncio.sleep(0.005)  # let concurrent commits join this pass
            self._wake.clear()

    async def _ensure_streams(self) -> None:
        js = self._js(self.local_domain)
        config = own_stream_config(self.own)
        try:
            await js.stream_info(stream_name(self.own))
        except NotFoundError:
            await js.add_stream(config)

    async def publish_pending(self) -> int:
        """Publish every own entry after the confirmed position; return how many confirmed."""
        store = self.node.ledger
        position: int = (self._published if self._published is not None
                         else await asyncio.to_thread(store.position, PUBLISHER))
        self._published = position  # read once; afterwards only this publisher moves it
        head = await asyncio.to_thread(store.head, self.own)
        if head is None or head[0] <= position:
            return 0
        js = self._js(self.local_domain)
        confirmed = 0
        while position < head[0]:
            last = min(head[0], position + self.window)
            wires = await asyncio.to_thread(_read_wires, store, self.own, position + 1, last)
            results = await asyncio.gather(*(
                asyncio.wait_for(js.publish(ledger_subject(self.own), wire,
                                            headers={"Nats-Msg-Id": f"{self.own}:{seq}"},
                                            timeout=self.ack_timeout),
                                 self.ack_timeout + 1)
                for seq, wire in enumerate(wires, start=position + 1)), return_exceptions=True)
            ok = 0
            for result in results:  # only the contiguous confirmed prefix counts
                if isinstance(result, BaseException):
                    break
                ok += 1
            if ok:
                position += ok
                confirmed += ok
                await asyncio.to_thread(store.set_position, PUBLISHER, position)
                self._published = position
            if ok < len(wires):
                raise ConnectionError(f"{len(wires) - ok} publishes unconfirmed; retrying")
        return confirmed

    # -- consumer -------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        """Supervise the consumers: start one task per peer as peers appear in `peers()`, and
        again if one ended; stop() cancels them with this loop."""
        while True:
            for peer in self.peers():
                task = self._consumers.get(peer)
                if peer != self.own and (task is None or task.done()):
                    self._consumers[peer] = asyncio.create_task(self._consume_peer(peer),
                                                                name=f"consumer-{peer}")
            await asyncio.sleep(PEER_SCAN_SECONDS)

    async def _consume_peer(self, peer: str) -> None:
        """Consume one peer's stream for as long as the replicator runs: subscribe (retrying
        every RETRY_SECONDS while the peer has not published yet), then pass after pass; a
        failed pass is logged and retried with a fresh subscription after the same pause."""
        sub: JetStreamContext.PullSubscription | None = None
        while True:
            try:
                if sub is None:
                    sub = await self._subscribe(peer)
                    if sub is None:
                        await asyncio.sleep(RETRY_SECONDS)
                        continue
                started = time.monotonic()
                if (not await self._consume_once(peer, sub)
                        and time.monotonic() - started < EMPTY_PASS_FLOOR):
                    await asyncio.sleep(EMPTY_PASS_FLOOR)  # never spin on empty answers
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("consume pass failed; will retry",
                            extra={"peer": peer, "error": str(e)})
                sub = None
                await asyncio.sleep(RETRY_SECONDS)

    async def _subscribe(self, peer: str) -> JetStreamContext.PullSubscription | None:
        js = self._js(self.hub_domain)
        durable = reader_name(self.own)
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, max_ack_pending=4096,
                                ack_wait=30)
        try:
            return await js.pull_subscribe(ledger_subject(peer), durable=durable,
                                           stream=stream_name(peer), config=config)
        except NotFoundError:
            return None  # the peer has not published yet

    async def _consume_once(self, peer: str, sub: JetStreamContext.PullSubscription) -> bool:
        """Drain up to CONSUME_ROUNDS batches of one peer, fetching the next batch while the
        current one is verified and stored (a catching-up node keeps the network and the
        cores busy at once). Returns whether anything came: with nothing, the first fetch
        waited FETCH_WAIT (or until a reconnect), so the caller may go straight on."""
        msgs = await self._fetch(peer, sub)
        if not msgs:
            return False
        for round_ in range(1, CONSUME_ROUNDS + 1):
            more = len(msgs) == FETCH_BATCH and round_ < CONSUME_ROUNDS
            ahead = asyncio.create_task(self._fetch(peer, sub)) if more else None
            try:
                await self.ingest([m.data for m in msgs], source=f"jetstream:{peer}")
                # Acks after the store commits; one bounded wait for the whole batch.
                await asyncio.wait_for(asyncio.gather(*(m.ack() for m in msgs)),
                                       self.ack_timeout)
            except BaseException:
                if ahead is not None:
                    ahead.cancel()  # unacked messages are redelivered after ack_wait
                raise
            if ahead is None:
                break
            msgs = await ahead
            if not msgs:
                break
        return True

    async def _fetch(self, peer: str, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """One pull of up to FETCH_BATCH entries: the first to arrive within FETCH_WAIT, then
        at once whatever else is there; empty when idle or interrupted by a reconnect."""
        fetch = asyncio.ensure_future(self._first_then_rest(sub))
        self._fetches.add(fetch)
        self.fetching[peer] = self.fetching.get(peer, 0) + 1
        try:
            msgs: list[Msg] = await fetch
        except (TimeoutError, NatsTimeout):  # nats-py raises either when idle
            return []
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if fetch.cancelled() and not (current is not None and current.cancelling()):
                return []  # ended by _on_reconnected, not a cancellation of this task
            raise
        finally:
            self._fetches.discard(fetch)
            self.fetching[peer] -= 1
            if not self.fetching[peer]:
                del self.fetching[peer]
        return msgs

    @staticmethod
    async def _first_then_rest(sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Wait for one entry (a batch-1 pull returns the moment it arrives), then take what
        else the stream holds without waiting for more to be written (see FETCH_WAIT).
        Entries delivered after the second wait gave up stay in the subscription's queue and
        start the next pull; unacked ones are redelivered after ack_wait: none is lost."""
        msgs: list[Msg] = await sub.fetch(batch=1, timeout=FETCH_WAIT)
        with contextlib.suppress(TimeoutError, NatsTimeout):
            msgs += await sub.fetch(batch=FETCH_BATCH - 1, timeout=DRAIN_WAIT)
        return msgs

    async def ingest(self, wires: Sequence[bytes], *, source: str) -> None:
        """Verify and store; backfill any gap; then project."""
        async with self._ingesting:
            result = await asyncio.to_thread(self.node.ingestor.ingest, list(wires),
                                             source=source, now=now())
        for gap in result.gaps:
            await self.backfill(gap)
        if result.waiting:
            async with self._ingesting:
                await asyncio.to_thread(self.node.ingestor.ingest, result.waiting,
                                        source=source, now=now())
        if result.stored or result.waiting:
            await asyncio.to_thread(self.node.after_ingest)

    # -- backfill -------------------------------------------------------------------------

    async def _answer_backfill(self, msg: Msg) -> None:
        try:
            request = decode_canonical(msg.data, BackfillRequest)
        except Exception:
            return  # not a request; nothing to say to whoever sent it
        store = self.node.ledger

        def read() -> BackfillReply:
            head = store.head(request.association)
            top = head[0] if head else 0
            last = top if request.last <= 0 else min(request.last, top)
            last = min(last, request.first + BACKFILL_LIMIT - 1)
            wires = tuple(store.wires(request.association, max(request.first, 1), last)
                          ) if last >= request.first else ()
            return BackfillReply(entries=wires, head=top)

        reply = await asyncio.to_thread(read)
        with contextlib.suppress(Exception):
            await msg.respond(encode(reply))

    async def backfill(self, gap: Gap) -> int:
        """Fetch a missing range from the origin, else from any other peer; store it."""
        stored = 0
        first = gap.first
        responders = [gap.association, *sorted(p for p in self.peers()
                                               if p not in (gap.association, self.own))]
        for responder in responders:
            while first <= gap.last or gap.last == 0:
                reply = await self._request(responder, gap.association, first, gap.last)
                if reply is None or not reply.entries:
                    break
                async with self._ingesting:
                    result = await asyncio.to_thread(self.node.ingestor.ingest,
                                                     list(reply.entries),
                                                     source=f"backfill:{responder}", now=now())
                stored += result.stored
                if result.stored == 0:
                    break
                first += result.stored
            if gap.last and first > gap.last:
                break
        if stored:
            await asyncio.to_thread(self.node.after_ingest)
        return stored

    async def _request(self, responder: str, association: str, first: int,
                       last: int) -> BackfillReply | None:
        assert self.nc is not None
        reply = reply_subject(self.own, responder, secrets.token_hex(8))
        try:
            sub = await self.nc.subscribe(reply, max_msgs=1)
        except Exception:
            return None
        try:
            await self.nc.publish(backfill_subject(responder), encode(BackfillRequest(
                association=association, first=first, last=last)), reply=reply)
            msg = await sub.next_msg(timeout=2.0)
            return decode_canonical(msg.data, BackfillReply)
        except Exception:
            return None  # offline, no responders, or garbage: try the next peer
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # -- the own ledger --------------------------------------------------------------------

    async def check_own_ledger(self) -> None:
        """Ask the own stream (local and hub) and every peer for this node's own entries
        beyond its head, store those that verify, then let the node judge its length and
        seal what was waiting. Sources that do not answer are skipped (each wait bounded) and
        named to the node as silent: a node restored from a backup seals nothing until every
        one has answered."""
        domains = list(dict.fromkeys((self.local_domain, self.hub_domain)))
        names = [f"{stream_name(self.own)}@{d or 'local'}" for d in domains]
        peers = [p for p in sorted(self.peers()) if p != self.own]
        sources = [self._recover_from_stream(d) for d in domains]
        sources += [self._recover_from_peer(p) for p in peers]
        answered: list[LengthRecord] = []
        silent: list[str] = []
        for name, outcome in zip([*names, *peers],
                                 await asyncio.gather(*sources, return_exceptions=True),
                                 strict=True):
            if isinstance(outcome, BaseException):
                log.warning("own ledger check failed", extra={"error": str(outcome)})
                silent.append(name)
            elif outcome is None:
                silent.append(name)
            else:
                answered.append(outcome)
        behind = await asyncio.to_thread(self.node.finish_peer_check, [],
                                         PeerCheck(tuple(answered), tuple(silent)))
        if behind is not None:
            log.error("own ledger behind", extra={"error": str(behind)})
        self._wake.set()  # publish what was sealed

    async def _recover_from_peer(self, peer: str) -> LengthRecord | None:
        """The peer's answer (the highest own seq it holds), or None if it gave none."""
        # A source's entries are gathered before they are stored: an entry below the highest
        # seq the node signed is stored only with the ones that show it is the node's own.
        first = await asyncio.to_thread(self.node.own_ledger.head) + 1
        wires: list[bytes] = []
        held: int | None = None
        while len(wires) < RECOVERY_LIMIT:
            reply = await self._request(peer, self.own, first + len(wires), 0)
            if reply is None:
                break
            held = max(held or 0, reply.head)
            wires += reply.entries
            if not reply.entries or reply.head < first + len(wires):
                break
        await self._recover(wires, Source.PEER, peer)
        return None if held is None else LengthRecord(Source.PEER, held, peer)

    async def _recover_from_stream(self, domain: str | None) -> LengthRecord | None:
        """The stream's answer once every message beyond the head was read and offered to the
        recovery (which notes the highest entry that verified), or None if the stream could
        not be read to its end."""
        # A stream holds each entry at a stream sequence at least its seq (a re-publish
        # outside the duplicate window only adds messages), so everything beyond the head is
        # at a stream sequence beyond it.
        js = self._js(domain)
        name = stream_name(self.own)
        where = f"{name}@{domain or 'local'}"
        try:
            info = await asyncio.wait_for(js.stream_info(name), self.ack_timeout + 1)
        except NotFoundError:
            return LengthRecord(Source.STREAM, 0, where)  # nothing was ever published there
        first = await asyncio.to_thread(self.node.own_ledger.head) + 1
        stream_last = int(info.state.last_seq or 0)
        last = min(stream_last, first + RECOVERY_LIMIT - 1)
        wires: list[bytes] = []
        for start in range(first, last + 1, self.window):
            got = await asyncio.gather(*(
                asyncio.wait_for(js.get_msg(name, seq), self.ack_timeout + 1)
                for seq in range(start, min(last, start + self.window - 1) + 1)),
                return_exceptions=True)
            wires += [m.data for m in got if not isinstance(m, BaseException) and m.data]
            if len(wires) < start + len(got) - first:
                break  # unreadable from here on: store what came
        await self._recover(wires, Source.STREAM, where)
        whole = last == stream_last and len(wires) == max(0, last - first + 1)
        return LengthRecord(Source.STREAM, 0, where) if whole else None

    async def _recover(self, wires: list[bytes], origin: Source, where: str) -> int:
        if not wires:
            return 0
        async with self._ingesting:
            result = await asyncio.to_thread(self.node.recover_own, wires, origin=origin,
                                             where=where)
        for reason in result.refused:
            log.warning("own entry refused", extra={"source": where, "reason": reason})
        return int(result.stored)

    async def _anti_entropy_loop(self) -> None:
        """Every few seconds, ask the peers for anything after our head of each ledger (and
        for our own entries, while the node is behind); then, at its slower rate, check the
        status lists the peers' origins serve against their replicated ledgers."""
        while True:
            await asyncio.sleep(self.anti_entropy_seconds)
            if self.node.gate.reason is not None:
                try:
                    await self.check_own_ledger()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("own ledger check failed", extra={"error": str(e)})
            for peer in self.peers():
                if peer == self.own:
                    continue
                try:
                    head = await asyncio.to_thread(self.node.ledger.head, peer)
                    await self.backfill(Gap(peer, (head[0] if head else 0) + 1, 0))
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("anti-entropy failed", extra={"peer": peer, "error": str(e)})
            self.node.list_watch_pass.tick()  # peers' status lists, at its own slower rate


def _read_wires(store: Any, association: str, first: int, last: int) -> list[bytes]:
    return list(store.wires(association, first, last))
