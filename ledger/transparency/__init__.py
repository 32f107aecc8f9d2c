"""A ledger as a transparency log: `merkle` and `merkle_cache` (RFC 6962 trees and proofs),
`notes` (C2SP signed notes), `checkpoints` (checkpoint bodies and cosignatures),
`witness_rules` (when a witness cosigns, when the log may sign), `cosigners` (who witnesses
whose checkpoints under which keys), `log` (the node's signed checkpoints of its own ledger and
the cosignatures it collected) and `witness` (the node witnessing its peers)."""
