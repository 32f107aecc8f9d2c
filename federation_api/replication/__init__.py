"""Replication over NATS JetStream: `replicator` (publisher, consumers, backfill, anti-entropy),
`checkpoint_gossip` (checkpoints and cosignatures between peers), `nats_process` (a real
nats-server process), `nats_config` (the 3-server hub and leaf configs), `nats_keys` (nkey
users), `nats_tls` (the NATS CA and server certificates), `nats_connection` (URL, seed and CA
of one client), `nats_mirrors` (the hub's mirrors) and `loopback` (NATS on loopback for the
demo, tests and benchmarks)."""
