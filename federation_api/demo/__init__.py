"""`alliance demo`: `run` (three federated nodes on an embedded nats-server, served until
Ctrl-C) and `seed` (the story the demo records)."""
