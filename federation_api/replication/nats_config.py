"""`alliance nats-config`: the hub and leaf configs of the production topology.

An Alliance hub of three nats-servers in one cluster (JetStream domain `hub`, every mirror
with three replicas, so the hub survives losing any one server) and one nats-server per
association (domain = the lower-case id) connected to it as a leaf that lists every hub
server, so it reconnects to whichever is up. Every JetStream store fsyncs each write before
acknowledging it (`sync_interval: always`): with the default (every two minutes) a
coordinated crash loses acknowledged writes (Jepsen's 2025 NATS analysis).

Every user logs in with an nkey (configs hold only public keys; seeds are 0600 files under
`secrets/`), and every client, route and leafnode connection is TLS with certificates of the
Alliance NATS CA (`tls/`); routes and leaf connections must present one (nats_tls.py).

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

from dataclasses import dataclass, field
from pathlib import Path

from federation_api.replication import nats_tls
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.nats_keys import UserSeeds, public_key, write_secret

HUB_SIZE = 3  # servers in the hub: a JetStream cluster of 3 keeps a quorum after losing 1
CLUSTER_NAME = "alliance-hub"
SECRETS = "secrets"  # seeds, beside the configs (0600)
TLS = "tls"  # CA and server certificates and keys (keys 0600)


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
        """Where a leaf connects (its nkey and certificate come from the leaf's config)."""
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
    """Where the servers listen, where their config directory is, where they keep stores.

    `config_dir` is where each server finds its config, `secrets/` and `tls/` (the generated
    directory copied there); TLS file paths in the configs are absolute paths under it.
    `sync_always=False` gives JetStream's default lazy fsync; it exists only so the benchmark
    can measure what `sync_interval: always` costs. Never deploy it.
    """

    associations: tuple[str, ...]
    hub: tuple[HubServer, ...] = hub_servers(tuple(f"hub-{i}.alliance.example"
                                                   for i in range(1, HUB_SIZE + 1)))
    leaf_ports: dict[str, int] = field(default_factory=dict)
    store_root: Path = Path("/var/lib/nats")
    config_dir: Path = Path("/etc/alliance/nats")
    listen_host: str = "127.0.0.1"
    sync_always: bool = True

    def __post_init__(self) -> None:
        if len(self.hub) != HUB_SIZE:
            raise ValueError(f"the hub needs exactly {HUB_SIZE} servers, got {len(self.hub)}")
        if len({s.name for s in self.hub}) != HUB_SIZE:
            raise ValueError("hub server names must differ")
        for a in self.associations:
            if not (a.isascii() and a.isalpha() and 2 <= len(a) <= 8):
                raise ValueError(f"association id {a!r}: 2-8 letters")

    def leaf_port(self, association: str) -> int:
        """Client port of one association's leaf server."""
        return self.leaf_ports.get(association, 4222)

    def ids(self) -> list[str]:
        """Lower-case association ids (JetStream domains and subject tokens)."""
        return [a.lower() for a in self.associations]

    def jetstream_sync(self) -> str:
        """The jetstream-block line that makes every acknowledged write durable."""
        return "sync_interval: always" if self.sync_always else "# sync_interval: default"

    def tls(self, server: str) -> nats_tls.ServerTls:
        """Where a server (`hub-1`, `leaf-ak`) finds its certificate, key and the CA."""
        directory = self.config_dir / TLS
        return nats_tls.ServerTls(directory / f"{server}.pem", directory / f"{server}.key",
                                  self.ca_file)

    @property
    def ca_file(self) -> Path:
        """Where every server and client finds the Alliance NATS CA certificate."""
        return self.config_dir / TLS / "ca.pem"

    def client_host(self) -> str:
        """Where a node on the leaf's machine reaches the leaf's client port."""
        return "127.0.0.1" if self.listen_host in ("0.0.0.0", "::") else self.listen_host  # noqa: S104

    def leaf_hosts(self, association: str) -> tuple[str, ...]:
        """The names a leaf's certificate is valid for."""
        return tuple(dict.fromkeys(("localhost", "127.0.0.1", self.client_host(),
                                    f"leaf-{association.lower()}")))


def hub_config(topology: Topology, seeds: UserSeeds, server: HubServer) -> str:
    """The config of one hub server (all three share accounts, domain and cluster name)."""
    users = "\n".join(_leaf_user(a, public_key(seeds.leaf[a])) for a in topology.ids())
    routes = ", ".join(f'"{s.route_url}"' for s in topology.hub if s != server)
    tls = topology.tls(server.name)
    return f"""# Alliance hub server {server.name} of {len(topology.hub)} (cluster {CLUSTER_NAME}),
# JetStream domain "hub"; associations: {' '.join(topology.ids())}
# Users are nkeys (public keys only here); every port is TLS with the Alliance NATS CA.
server_name: {server.name}
listen: {topology.listen_host}:{server.client_port}
{tls.block(verify=False)}
jetstream {{
  domain: hub
  store_dir: "{topology.store_root / server.name}"
  {topology.jetstream_sync()}
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: {topology.listen_host}:{server.cluster_port}
  routes: [ {routes} ]
  # Routes authenticate by certificate: only a server holding one from the CA may join.
  {tls.block(verify=True)}
}}
leafnodes {{
  listen: {topology.listen_host}:{server.leaf_port}
  # A leaf must present a certificate from the CA as well as log in with its nkey.
  {tls.block(verify=True)}
}}
# A mirror's consumer-create reply becomes $JSC.R.<domain>..., so each leaf is allowed only
# the replies of its own mirror.
feature_flags {{
  js_api_reply_v2: true
}}
accounts {{
  SYS: {{
    users: [ {{nkey: {public_key(seeds.sys)}}} ]
  }}
  ALLIANCE: {{
    jetstream: enabled
    users: [
      # hub_admin (Alliance ops: creates the mirrors), client port only
      {{nkey: {public_key(seeds.hub_admin)}, allowed_connection_types: ["STANDARD"]}}
{users}
    ]
  }}
}}
system_account: SYS
"""


def _leaf_user(a: str, nkey: str) -> str:
    # publish = what leaf `a` may send into the hub; subscribe = what the hub may send to it.
    return f"""      # leaf_{a}
      {{nkey: {nkey},
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


def leaf_seed_include(association: str) -> str:
    """The leaf's nkey seed file, included into its remote block (relative to its config)."""
    return f"{SECRETS}/leaf-{association.lower()}.nkey.conf"


def node_seed_file(association: str) -> str:
    """The node's nkey seed file (relative to the config directory)."""
    return f"{SECRETS}/node-{association.lower()}.nk"


def leaf_config(topology: Topology, seeds: UserSeeds, association: str, *,
                hub_urls: tuple[str, ...] | None = None) -> str:
    """One association's leaf server config (`hub_urls`: reach the hub through these instead,
    e.g. a relay a test can cut)."""
    a = association.lower()
    urls = ", ".join(f'"{u}"' for u in (hub_urls or tuple(s.leaf_url for s in topology.hub)))
    tls = topology.tls(f"leaf-{a}")
    return f"""# Association {a.upper()}: its own nats-server (JetStream domain "{a}"), a hub leaf.
server_name: leaf-{a}
listen: {topology.listen_host}:{topology.leaf_port(association)}
{tls.block(verify=False)}
jetstream {{
  domain: {a}
  store_dir: "{topology.store_root / a}"
  {topology.jetstream_sync()}
}}
authorization {{
  users: [
    # The association's node (connects with inbox_prefix "_INBOX.{a}").
    {{nkey: {public_key(seeds.node[a])},
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
    {{ urls: [{urls}]
      # the leaf's nkey seed (user leaf_{a} on the hub), 0600
      include "{leaf_seed_include(a)}"
      tls {{ cert_file: "{tls.cert_file}", key_file: "{tls.key_file}", ca_file: "{tls.ca_file}" }}
    }}
  ]
}}
"""


def node_connection(topology: Topology, association: str) -> NatsConnection:
    """How a node reaches its own leaf: TLS, its nkey seed file, the Alliance CA."""
    return NatsConnection(
        url=f"tls://{topology.client_host()}:{topology.leaf_port(association)}",
        nkey_seed=topology.config_dir / node_seed_file(association),
        ca_file=topology.ca_file)


def admin_connection(topology: Topology, index: int = 0, host: str | None = None
                     ) -> NatsConnection:
    """How Alliance ops reach hub server `index` as `hub_admin`."""
    server = topology.hub[index]
    return NatsConnection(url=f"tls://{host or server.host}:{server.client_port}",
                          nkey_seed=topology.config_dir / SECRETS / "hub_admin.nk",
                          ca_file=topology.ca_file)


def write(out: Path, topology: Topology, seeds: UserSeeds,
          ca: nats_tls.CertificateAuthority, *, write_ca_key: bool = True) -> list[Path]:
    """Write every hub and leaf config, `secrets/` (seeds, 0600) and `tls/` (the CA
    certificate, each server's certificate and key, 0600; the CA key too when it was made
    here) into `out`; the configs refer to these files under `topology.config_dir`."""
    out.mkdir(parents=True, exist_ok=True)
    tls_dir = out / TLS
    written = [nats_tls.write_ca_certificate(ca, tls_dir)]
    if write_ca_key:
        written.append(nats_tls.write_ca_key(ca, tls_dir))
    for server in topology.hub:
        issued = nats_tls.write_server(ca, tls_dir, server.name, (server.host,))
        written += [issued.cert_file, issued.key_file]
    for a in topology.ids():
        issued = nats_tls.write_server(ca, tls_dir, f"leaf-{a}", topology.leaf_hosts(a))
        written += [issued.cert_file, issued.key_file]
    secrets = out / SECRETS
    secrets.mkdir(mode=0o700, exist_ok=True)
    secrets.chmod(0o700)
    written.append(write_secret(secrets / "hub_admin.nk", seeds.hub_admin))
    written.append(write_secret(secrets / "sys.nk", seeds.sys))
    for a in topology.ids():
        written.append(write_secret(out / node_seed_file(a), seeds.node[a]))
        written.append(write_secret(out / leaf_seed_include(a), f'nkey: "{seeds.leaf[a]}"\n'))
    configs = {f"{s.name}.conf": hub_config(topology, seeds, s) for s in topology.hub}
    for association in topology.associations:
        configs[f"leaf-{association.lower()}.conf"] = leaf_config(topology, seeds, association)
    for name, text in configs.items():
        path = out / name
        path.write_text(text)  # public keys and file paths only: no secret in a config
        written.append(path)
    return written
