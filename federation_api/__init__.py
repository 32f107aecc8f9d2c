"""The node's edges: HTTP API and pages, NATS replication, employer notifications, the CLI,
the demo, settings and the wiring of a node. May import every other layer.

At the top: `settings`, `clock` (the only place the edge reads the time of day), `errors`
(the root of the edge's own errors) and `rate_buckets` (the token buckets every rate limit
counts with). Below them, in layers that import only downwards:

- `mail/`: the mail outbox and its SMTP sender;
- `accounts/`, `notifications/` and `replication/` (each needs only the rooms below it):
  staff accounts, sessions and API tokens; employer notifications; NATS replication;
- `node/`: the composition root and a node's set-up, idempotency, reciprocity, its own
  ledger's length, and the local Alliance used by the demo, tests and benchmarks;
- `proofs/` and `audit/`: proofs and receipts made on a live node; export and audit;
- `web/`: the FastAPI app, error mapping, auth, rate limits, `routes/` and `pages/`;
- `demo/`, then `cli/` at the very top.
"""
