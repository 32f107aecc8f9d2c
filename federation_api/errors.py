"""The edge's own errors: one root, `EdgeError`, under every error federation_api raises itself.

Each error is defined beside the code that raises it (as ledger's `MerkleProofError` is beside
the Merkle code) and subclasses `EdgeError`; those that callers also handle as a `ValueError`
(a rejected upload or URL) or a `LedgerError` (a node that cannot start, a proof that cannot
be made yet) keep that base too. Errors of other packages (domain, ledger) keep their own
roots. The one place that maps errors to HTTP answers is `federation_api.web.errors`.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error federation_api raises itself."""
