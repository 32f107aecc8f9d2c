"""Replication over NATS: the replicator, checkpoint gossip and the nats-server tools."""
