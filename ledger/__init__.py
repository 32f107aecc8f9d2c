"""The association's ledger: event store, signed hash-chained entries, keys and verification."""
