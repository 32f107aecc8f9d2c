"""Storage: `database` (the SQL adapter over SQLite and PostgreSQL; driver errors are turned
into `StorageError` there, one-to-one) and `event_store` (the private eventsourcing store)."""
