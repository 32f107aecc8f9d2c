"""Storage: the SQL adapter (driver errors translated here) and the private event store."""
