"""Export and audit: `export` (an export directory of a node; the only module here that knows
`Node`), `run` (the audit of an export directory) and `fetch` (reading a live node over its
auditor API into an export directory)."""
