"""Read models built from the verified ledgers of every association, with tracking.

`Projector` applies ledger entries to the tables (`roster`, `status_history`, `applications`,
`projection_tracking`) exactly once and answers the queries; the rules that turn an entry into
rows are pure functions in `transitions`, so a rebuild on any node gives the same digest.
"""
