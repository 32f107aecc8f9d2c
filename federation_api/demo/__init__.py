"""`alliance demo`: three federated nodes, seeded."""
