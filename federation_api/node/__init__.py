"""One node: the composition root, set-up, reciprocity, tokens and idempotency."""
