"""One node: `root` (the composition root, `Node`), `setup` (its data directory: paths, init,
key rotation), `idempotency`, `endorsement_ids`, `reciprocity` (the projected replica
and the reactor that records transfers out), `own_ledger` (its own ledger's length against
every record of it) and `local_alliance` (a whole Alliance on one machine)."""
