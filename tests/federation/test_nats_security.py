"""TLS and nkeys on the production topology, with real servers from the generated files.

A probe leaf (an extra nats-server with an unrestricted local port) attaches to the hub with
a chosen nkey and certificate; whether a message its client publishes reaches a subscriber
on the hub shows what the hub let in. Each refusal has a control that differs in one file
only and is let in, so the test cannot pass because nothing works.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from federation_api.replication import nats_config, nats_tls
from federation_api.replication.loopback import HubAndLeafs
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.nats_keys import UserSeeds, write_secret
from federation_api.replication.nats_process import NatsServer, free_port

pytestmark = pytest.mark.timeout(180)
ASSOCIATIONS = ("AK", "MI")


def probe_leaf(servers: HubAndLeafs, name: str, *, seed_of: str,
               tls: nats_tls.ServerTls) -> NatsServer:
    """A leaf that logs into the hub as `leaf_<seed_of>` presenting `tls`'s certificate."""
    workdir = servers.workdir / name
    write_secret(workdir / "seed.conf", f'nkey: "{servers.seeds.leaf[seed_of.lower()]}"\n')
    port = free_port()
    urls = ", ".join(f'"{s.leaf_url}"' for s in servers.topology.hub)
    config = f"""server_name: {name}
listen: 127.0.0.1:{port}
leafnodes {{ remotes: [ {{ urls: [{urls}]
  include "seed.conf"
  tls {{ cert_file: "{tls.cert_file}", key_file: "{tls.key_file}", ca_file: "{tls.ca_file}" }}
}} ] }}
"""
    return NatsServer(config, workdir, name=name, port=port).start()


async def reaches_hub(servers: HubAndLeafs, leaf: NatsServer, subject: str,
                      seconds: float = 8.0) -> bool:
    """Whether what a client of `leaf` publishes on `subject` reaches the hub (bounded)."""
    hub = await nats.connect(**servers.admin().options())
    got = asyncio.Event()

    async def on_message(_: object) -> None:
        got.set()

    await hub.subscribe(subject, cb=on_message)
    await hub.flush()
    client = await nats.connect(leaf.url)
    try:
        for _ in range(int(seconds / 0.2)):
            await client.publish(subject, b"probe")
            await client.flush()
            try:
                await asyncio.wait_for(got.wait(), 0.2)
                return True
            except TimeoutError:
                continue
        return False
    finally:
        await client.close()
        await hub.close()


def test_a_leaf_with_a_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS)
        await servers.start()
        try:
            genuine = servers.topology.tls("leaf-ak")
            other_ca = nats_tls.CertificateAuthority.new("Not the Alliance")
            forged = nats_tls.write_server(other_ca, tmp_path / "forged", "leaf-ak",
                                           servers.topology.leaf_hosts("ak"))
            # Same nkey, same name, trusts the right CA: only the issuer of its own
            # certificate differs.
            forged = nats_tls.ServerTls(forged.cert_file, forged.key_file, genuine.ca_file)
            hub_logs = {hub.name: hub.log_size() for hub in servers.hubs}
            refused = probe_leaf(servers, "forged-leaf", seed_of="AK", tls=forged)
            assert not await reaches_hub(servers, refused, "alliance.ak.probe")
            refused.stop()
            logs = b"".join(hub.log_path.read_bytes()[hub_logs[hub.name]:]
                            for hub in servers.hubs)
            # (Go's TLS client sends no certificate that the hub's list of acceptable CAs
            # does not name, so the hub sees none.)
            assert b"TLS leafnode handshake error" in logs

            control = probe_leaf(servers, "genuine-leaf", seed_of="AK", tls=genuine)
            assert await reaches_hub(servers, control, "alliance.ak.probe")
            control.stop()
        finally:
            servers.stop()

    asyncio.run(scenario())


def test_another_associations_nkey_cannot_publish_on_its_subjects(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS)
        await servers.start()
        try:
            # MI's leaf key gets MI's subjects into the hub and nothing of AK's, even from a
            # leaf whose local clients are unrestricted.
            tls = servers.topology.tls("leaf-mi")
            leaf = probe_leaf(servers, "mi-probe-leaf", seed_of="MI", tls=tls)
            assert await reaches_hub(servers, leaf, "alliance.mi.probe")  # control
            assert not await reaches_hub(servers, leaf, "alliance.ak.probe")
            assert not await reaches_hub(servers, leaf, "alliance.ak.ledger", seconds=2)
            leaf.stop()

            # MI's node key is unknown to AK's leaf: refused at connect.
            mi_on_ak = NatsConnection(servers.node("AK").url,
                                      nkey_seed=servers.node("MI").nkey_seed,
                                      ca_file=servers.node("AK").ca_file)
            errors: list[Exception] = []

            async def on_error(e: Exception) -> None:
                errors.append(e)

            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await nats.connect(**mi_on_ak.options(), error_cb=on_error,
                                   allow_reconnect=False, connect_timeout=2)

            # MI's node key on MI's own leaf cannot publish as AK.
            errors.clear()
            nc = await nats.connect(**servers.node("MI").options(), error_cb=on_error,
                                    inbox_prefix="_INBOX.mi")
            await nc.publish("alliance.ak.ledger", b"forged")
            await nc.flush()
            await asyncio.sleep(0.5)
            await nc.close()
            assert any("permissions violation" in str(e).lower() for e in errors), errors

            # Without the CA, a client does not trust the leaf's certificate.
            with pytest.raises((NoServersError, ssl.SSLCertVerificationError)):
                await nats.connect(**NatsConnection(servers.node("AK").url,
                                                    nkey_seed=servers.node("AK").nkey_seed
                                                    ).options(),
                                   allow_reconnect=False, connect_timeout=2,
                                   error_cb=on_error)
        finally:
            servers.stop()

    asyncio.run(scenario())


def test_generated_files_hold_no_secret_in_a_config_and_every_secret_is_0600(
        tmp_path: Path) -> None:
    topology = nats_config.Topology(associations=("AK", "MI"))
    seeds = UserSeeds.new(topology.associations)
    written = nats_config.write(tmp_path, topology, seeds, nats_tls.CertificateAuthority.new())
    every_seed = [seeds.hub_admin, seeds.sys, *seeds.leaf.values(), *seeds.node.values()]
    configs = [p for p in written if p.suffix == ".conf" and p.parent == tmp_path]
    assert sorted(p.name for p in configs) == ["hub-1.conf", "hub-2.conf", "hub-3.conf",
                                                "leaf-ak.conf", "leaf-mi.conf"]
    for path in configs:
        text = path.read_text()
        assert not any(seed in text for seed in every_seed), path
        assert "PRIVATE KEY" not in text and "password" not in text
    secrets = [p for p in written if p.suffix in (".nk", ".key") or p.name.endswith(".nkey.conf")]
    assert len(secrets) == 2 + 2 * 2 + 1 + 3 + 2  # seeds, CA key, hub and leaf keys
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in secrets)
    hub_1 = (tmp_path / "hub-1.conf").read_text()
    assert "sync_interval: always" in hub_1 and "verify: true" in hub_1
    assert hub_1.count("nats-route://") == 2  # routes to the two others
    assert (tmp_path / "leaf-ak.conf").read_text().count("nats-leaf://") == 3
