"""The `alliance` command line: `main` (the parser and entry point), `node_commands`,
`registry`, `proofs`, `employers`, `audit` and `progress` (the audit's progress bars)."""
