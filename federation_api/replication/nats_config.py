"""`alliance nats-config`: the hub and leaf configs of the production topology.

An Alliance hub of three nats-servers in one cluster (JetStream domain `hub`, every mirror
with three replicas, so the hub survives losing any one server) and one nats-server per
association (domain = the lower-case id) connected to it as a leaf that lists every hub
server, so it reconnects to whichever is up. Every JetStream store fsyncs each write before
acknowledging it (`sync_interval: always`): with the default (every two minutes) a
coordinated crash loses acknowledged writes (Jepsen's 2025 NATS analysis).

The permission model and every subject in it were verified with nats-server 2.15 (see
ops/nats/README.md): each association's leaf may publish only its own subjects into the
hub, read peers only through its own durable consumers (`reader-<id>`), and receive only
what is addressed to it plus every association's checkpoints and cosignatures
(`alliance.*.checkpoint`, `alliance.*.cosignature`: public, signed statements that each node
must see to witness its peers) and requests for a fresh checkpoint
(`alliance.*.checkpoint-wanted`); it still publishes only `alliance.<own id>.>`, so it can
announce checkpoints and cosignatures, and ask for them, only as itself. Ops (user
`hub_admin`) creates the hub mirrors; nodes cannot create, change or delete hub streams.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from ledger.codec import encode_json


class Credentials(msgspec.Struct, frozen=True):
    """Generated passwords (keep this file 0600; the configs embed them)."""

    hub_admin: str
    sys: str
    leaf: dict[str, str]  # association -> the hub password of its leaf
    node: dict[str, str]  # association -> the node user's password on its own leaf


def _password() -> str:
    return secrets.token_urlsafe(24)


HUB_SIZE = 3  # servers in the hub: a JetStream cluster of 3 keeps a quorum after losing 1
CLUSTER_NAME = "alliance-hub"


@dataclass(frozen=True)
class HubServer:
    """One server of the hub cluster: its name, the host others reach it at, its ports."""

    name: str
    host: str
    client_port: int = 4222
    leaf_port: int = 7422
    cluster_port: int = 6222

    @property
    def leaf_url(self) -> str:
        """Where a leaf connects (credentials come from the leaf's config, not the URL)."""
        return f"nats-leaf://{self.host}:{self.leaf_port}"

    @property
    def route_url(self) -> str:
        """Where the other hub servers route to."""
        return f"nats-route://{self.host}:{self.cluster_port}"


def hub_servers(hosts: tuple[str, ...], *, client_port: int = 4222, leaf_port: int = 7422,
                cluster_port: int = 6222) -> tuple[HubServer, ...]:
    """hub-1..hub-N on the given hosts (one host per server in production), same ports."""
    return tuple(HubServer(f"hub-{i}", host, client_port, leaf_port, cluster_port)
                 for i, host in enumerate(hosts, start=1))


@dataclass(frozen=True)
class Topology:
    """Where the servers listen and keep their stores.

    `sync_always=False` gives JetStream's default lazy fsync; it exists only so the benchmark
    can measure what `sync_interval: always` costs. Never deploy it.
    """

    associations: tuple[str, ...]
    hub: tuple[HubServer, ...] = hub_servers(tuple(f"hub-{i}.alliance.example"
                                                   for i in range(1, HUB_SIZE + 1)))
    leaf_ports: dict[str, int] = field(default_factory=dict)
    store_root: Path = Path("/var/lib/nats")
    listen_host: str = "127.0.0.1"
    sync_always: bool = True

    def __post_init__(self) -> None:
        if len(self.hub) != HUB_SIZE:
            raise ValueError(f"the hub needs exactly {HUB_SIZE} servers, got {len(self.hub)}")
        if len({s.name for s in self.hub}) != HUB_SIZE:
            raise ValueError("hub server names must differ")

    def jetstream_sync(self) -> str:
        """The jetstream-block line that makes every acknowledged write durable."""
        return "sync_interval: always" if self.sync_always else "# sync_interval: default"

    def leaf_port(self, association: str) -> int:
        """Client port of one association's leaf server."""
        return self.leaf_ports.get(association, 4222)

    def ids(self) -> list[str]:
        """Lower-case association ids (JetStream domains and subject tokens)."""
        return [a.lower() for a in self.associations]


def new_credentials(associations: tuple[str, ...]) -> Credentials:
    """Fresh random passwords for every user."""
    return Credentials(hub_admin=_password(), sys=_password(),
                       leaf={a.lower(): _password() for a in associations},
                       node={a.lower(): _password() for a in associations})


def hub_config(topology: Topology, creds: Credentials, server: HubServer) -> str:
    """The config of one hub server (all three share accounts, domain and cluster name)."""
    users = "\n".join(_leaf_user(a, creds.leaf[a]) for a in topology.ids())
    routes = ", ".join(f'"{s.route_url}"' for s in topology.hub if s != server)
    return f"""# Alliance hub server {server.name} of {len(topology.hub)} (cluster {CLUSTER_NAME}),
# JetStream domain "hub"; associations: {' '.join(topology.ids())}
server_name: {server.name}
listen: {topology.listen_host}:{server.client_port}
jetstream {{
  domain: hub
  store_dir: "{topology.store_root / server.name}"
  {topology.jetstream_sync()}
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: {topology.listen_host}:{server.cluster_port}
  routes: [ {routes} ]
}}
leafnodes {{
  listen: {topology.listen_host}:{server.leaf_port}
}}
# A mirror's consumer-create reply becomes $JSC.R.<domain>..., so each leaf is allowed only
# the replies of its own mirror.
feature_flags {{
  js_api_reply_v2: true
}}
accounts {{
  SYS: {{
    users: [ {{user: sys, password: "{creds.sys}"}} ]
  }}
  ALLIANCE: {{
    jetstream: enabled
    users: [
      {{user: hub_admin, password: "{creds.hub_admin}", allowed_connection_types: ["STANDARD"]}}
{users}
    ]
  }}
}}
system_account: SYS
"""


def _leaf_user(a: str, password: str) -> str:
    # publish = what leaf `a` may send into the hub; subscribe = what the hub may send to it.
    return f"""      {{user: leaf_{a}, password: "{password}",
       allowed_connection_types: ["LEAFNODE"],
       permissions: {{
         publish: {{ allow: [
           "alliance.{a}.>", "alliance.mirror.{a}.>", "$JSC.R.{a}.>",
           "$JS.hub.API.CONSUMER.CREATE.*.reader-{a}",
           "$JS.hub.API.CONSUMER.CREATE.*.reader-{a}.>",
           "$JS.hub.API.CONSUMER.INFO.*.reader-{a}", "$JS.hub.API.CONSUMER.DELETE.*.reader-{a}",
           "$JS.hub.API.CONSUMER.MSG.NEXT.*.reader-{a}", "$JS.ACK.*.reader-{a}.>",
           "$JS.hub.API.STREAM.INFO.*", "$JS.hub.API.STREAM.MSG.GET.*",
           "alliance.backfill.*", "alliance.reply.*.{a}.>" ] }}
         subscribe: {{ allow: [
           "_INBOX.{a}.>", "alliance.backfill.{a}", "alliance.reply.{a}.>",
           "alliance.*.checkpoint", "alliance.*.cosignature", "alliance.*.checkpoint-wanted",
           "$JS.{a}.API.CONSUMER.CREATE.ALLIANCE_{a.upper()}", "$JS.FC.ALLIANCE_{a.upper()}.>" ] }}
       }}
      }}"""


def leaf_config(topology: Topology, creds: Credentials, association: str) -> str:
    """One association's leaf server config."""
    a = association.lower()
    hub_urls = ", ".join(
        f'"nats-leaf://leaf_{a}:{creds.leaf[a]}@{s.host}:{s.leaf_port}"' for s in topology.hub)
    return f"""# Association {a.upper()}: its own nats-server (JetStream domain "{a}"), a hub leaf.
server_name: leaf-{a}
listen: {topology.listen_host}:{topology.leaf_port(association)}
jetstream {{
  domain: {a}
  store_dir: "{topology.store_root / a}"
  {topology.jetstream_sync()}
}}
authorization {{
  users: [
    # The association's node (connects with inbox_prefix "_INBOX.{a}").
    {{user: node, password: "{creds.node[a]}",
     permissions: {{
       publish: {{ allow: [
         "alliance.{a}.>", "$JS.API.>", "$JS.hub.API.>", "$JS.ACK.*.reader-{a}.>",
         "alliance.backfill.*", "alliance.reply.*.{a}.>" ] }}
       subscribe: {{ allow: [ "_INBOX.{a}.>", "alliance.backfill.{a}", "alliance.reply.{a}.>",
                             "alliance.*.checkpoint", "alliance.*.cosignature",
                             "alliance.*.checkpoint-wanted" ] }}
     }}
    }}
  ]
}}
leafnodes {{
  remotes: [
    {{ urls: [{hub_urls}] }}
  ]
}}
"""


def node_url(topology: Topology, creds: Credentials, association: str) -> str:
    """The URL a node uses to reach its own leaf."""
    a = association.lower()
    return f"nats://node:{creds.node[a]}@{topology.listen_host}:{topology.leaf_port(association)}"


def write(out: Path, topology: Topology, creds: Credentials) -> list[Path]:
    """Write hub-<n>.conf, leaf-<id>.conf and credentials.json (0600) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = {f"{s.name}.conf": hub_config(topology, creds, s) for s in topology.hub}
    for association in topology.associations:
        files[f"leaf-{association.lower()}.conf"] = leaf_config(topology, creds, association)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        path.chmod(0o600)  # they hold passwords
        written.append(path)
    secret = out / "credentials.json"
    secret.write_bytes(encode_json(creds))
    secret.chmod(0o600)
    return [*written, secret]
