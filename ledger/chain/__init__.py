"""The signed chain of one association's entries: `entries` (seal, open, link), `commitments`
(salted commitments to private evidence), `store` (the entry store with its high-water mark),
`writer` (seals stored events into entries) and `own_length` (the records a ledger's length
is checked against, and the gate that stops sealing while it is behind)."""
