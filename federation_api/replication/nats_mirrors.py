"""Hub mirrors of every association's stream, created by Alliance ops (user hub_admin).

Nodes may not create hub streams: a node that could would be able to shorten its own
history on the hub or point its mirror at another association's stream.
"""

from __future__ import annotations

import nats
from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

from federation_api.replication.replicator import stream_name


def mirror_config(association: str) -> StreamConfig:
    """The hub mirror of one association's stream (own deliver prefix, never deleted)."""
    a = association.lower()
    return StreamConfig(name=stream_name(association), storage=StorageType.FILE, max_age=0,
                        deny_delete=True, deny_purge=True,
                        mirror=StreamSource(name=stream_name(association), external=ExternalStream(
                            api=f"$JS.{a}.API", deliver=f"alliance.mirror.{a}")))


async def ensure_mirrors(hub_admin_url: str, associations: list[str]) -> list[str]:
    """Create the missing mirrors; returns the names created."""
    nc = await nats.connect(hub_admin_url, connect_timeout=5, max_reconnect_attempts=2)
    try:
        js = nc.jetstream(domain="hub", timeout=5)
        created = []
        for association in associations:
            try:
                await js.stream_info(stream_name(association))
            except NotFoundError:
                await js.add_stream(mirror_config(association))
                created.append(stream_name(association))
        return created
    finally:
        await nc.close()
