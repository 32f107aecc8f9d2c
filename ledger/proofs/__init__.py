"""Bundles anyone can check offline, without trusting the node that made them: `status`
(status proofs), `tree_heads` (the witnessed checkpoints an answer rests on), `receipts`
(signed receipts, public or full) and `statements` (what each proves and what it does not,
in plain words). Pure: bytes in, reports out."""
