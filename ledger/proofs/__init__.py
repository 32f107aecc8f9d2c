"""Offline-checkable proofs: status proofs, tree heads, signed receipts and what they prove."""
