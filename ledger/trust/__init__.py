"""Trust: `registry` (the Alliance trust registry, a quorum-signed ledger of its own),
`keyring` (which key may sign for which association, when) and `registry_files` (a registry
kept as a genesis file and an entries file). Imports only the ledger's ground modules."""
