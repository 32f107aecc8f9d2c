"""Proofs and receipts made on a live node."""
