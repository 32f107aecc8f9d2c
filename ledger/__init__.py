"""The association's ledger: signed, hash-chained entries of its domain events, and everything
that verifies them. Imports only `domain` (and the standard library and its own packages).

At the top: `errors` (two trees: verification and storage/config, over `LocatedError`),
`codec` (the one msgspec codec of everything signed or sent), `signing` (the one module that
imports `cryptography`), `service` (the command service: load, apply the domain rules, store,
seal) and `ingest` (peers' entries: verify, store in order, quarantine, fork evidence). Below
them, in layers that import only downwards:

- `storage/`: the SQL adapter (driver errors translated there) and the private event store;
- `trust/`: the Alliance trust registry, key windows, the registry's files;
- `chain/`: entries, salted commitments, the entry store, the writer, length records;
- `transparency/`: Merkle trees, signed notes, checkpoints, the witness rules, who cosigns
  for whom, the log and the node's witness;
- `proofs/`: offline-checkable status proofs, tree heads, receipts and what they prove;
- `audit/`: the pure checks of an audit (chains, witnesses, checkpoints) and its report.
"""
