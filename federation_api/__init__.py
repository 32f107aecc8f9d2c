"""The node's edges: HTTP API and pages, NATS replication, employer notifications, the CLI,
the demo, settings and the wiring of a node. May import every other layer.

At the top: `settings`, `clock` (the only place the edge reads the time of day) and `errors`
(the root of the edge's own errors). Below them, in layers that import only downwards:

- `notifications/` and `replication/` (each needs only the top modules and the lower layers);
- `node/`: the composition root and a node's set-up, tokens, idempotency, reciprocity, its
  own ledger's length, and the local Alliance used by the demo, tests and benchmarks;
- `proofs/` and `audit/`: proofs and receipts made on a live node; export and audit;
- `web/`: the FastAPI app, error mapping, auth, rate limits, `routes/` and `pages/`;
- `demo/`, then `cli/` at the very top.
"""
