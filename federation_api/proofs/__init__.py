"""Proofs and receipts made on a live node: `status` (building a status proof, asking a peer
for a checkpoint when needed) and `receipts` (signing a receipt of an answer)."""
