"""Read models built from the verified ledgers of every association, with tracking.

`Projector` (`projector`) applies ledger entries to the tables (`roster`, `status_history`,
`applications`, `application_reviewers`, `exam_sittings`, `masters_prepared`,
`projection_faults`, `projection_tracking`, defined in `tables`) exactly once; the rules that
turn an entry into rows are pure functions in `transitions`, so a rebuild on any node gives the
same digest (`digests`). `ProjectionReader` (`queries`) is the reader API: the edge reads the
projections only through it, never by SQL of its own. `rows` holds the row values, `standing`
the word shown on a date, `decoded_entries` the entries as the projections consume them,
`values` the conversions, `errors` the errors.
"""
