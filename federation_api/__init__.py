"""The node's edges: HTTP API, CLI, settings and wiring (and, later, NATS replication)."""
