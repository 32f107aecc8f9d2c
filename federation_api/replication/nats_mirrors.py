"""Hub mirrors of every association's stream, created by Alliance ops (user hub_admin).

Nodes may not create hub streams: a node that could would be able to shorten its own
history on the hub or point its mirror at another association's stream.

Each mirror has three replicas, one per hub server, so losing any one server loses no
acknowledged entry and keeps the mirror writable (a JetStream quorum of 2 of 3).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import nats
from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.replicator import stream_name

HUB_REPLICAS = 3


def mirror_config(association: str, *, replicas: int = HUB_REPLICAS) -> StreamConfig:
    """The hub mirror of one association's stream (own deliver prefix, never deleted)."""
    a = association.lower()
    return StreamConfig(name=stream_name(association), storage=StorageType.FILE, max_age=0,
                        deny_delete=True, deny_purge=True, num_replicas=replicas,
                        mirror=StreamSource(name=stream_name(association), external=ExternalStream(
                            api=f"$JS.{a}.API", deliver=f"alliance.mirror.{a}")))


async def wait_for_jetstream(js: Any, timeout: float) -> None:
    """Until the hub cluster has elected its JetStream meta leader (right after the servers
    start, every JetStream API call answers "temporarily unavailable" or not at all)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.account_info()
            return
        except (APIError, ServiceUnavailableError, TimeoutError, nats.errors.TimeoutError,
                nats.errors.NoRespondersError) as e:
            if time.monotonic() > deadline:
                raise TimeoutError(f"hub JetStream not available after {timeout}s: {e}") from e
            await asyncio.sleep(0.25)


NO_PEERS = 10005  # "no suitable peers for placement": not every server has joined yet


async def _add_when_placeable(js: Any, config: StreamConfig, deadline: float) -> None:
    """Add a stream, waiting while the cluster still lacks the servers for its replicas (a
    meta leader is elected by two servers, before the third has announced itself)."""
    while True:
        try:
            await js.add_stream(config)
            return
        except APIError as e:
            if e.err_code != NO_PEERS or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


async def ensure_mirrors(hub_admin: str | NatsConnection, associations: list[str], *,
                         replicas: int = HUB_REPLICAS, timeout: float = 60.0) -> list[str]:
    """Create the missing mirrors; returns the names created. `hub_admin` is a URL or a
    `NatsConnection` (nkey seed and CA) of the hub's `hub_admin` user."""
    connection = NatsConnection.of(hub_admin)
    nc = await nats.connect(**connection.options(), connect_timeout=5,
                            max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        js = nc.jetstream(domain="hub", timeout=5)
        await wait_for_jetstream(js, timeout)
        created = []
        deadline = time.monotonic() + timeout
        for association in associations:
            try:
                await js.stream_info(stream_name(association))
            except NotFoundError:
                await _add_when_placeable(js, mirror_config(association, replicas=replicas),
                                          deadline)
                created.append(stream_name(association))
        return created
    finally:
        await nc.close()
