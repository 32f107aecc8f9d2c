"""Replication over NATS JetStream: `replicator` (publisher, consumers, backfill, anti-entropy),
`checkpoint_gossip` (checkpoints and cosignatures between peers), `nats_process` (a real
nats-server process), `nats_config` (the hub and leaf configs), `nats_mirrors` (the hub's
mirrors) and `loopback` (NATS on loopback for the demo, tests and benchmarks)."""
