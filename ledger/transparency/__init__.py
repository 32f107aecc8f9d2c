"""Transparency: Merkle trees, signed checkpoints, cosignatures, the log and its witness."""
