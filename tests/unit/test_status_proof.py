"""Bundle and receipt files: anything that is not one is refused before anything is trusted."""

from __future__ import annotations

import pytest

from ledger.proofs.receipts import decode_receipt
from ledger.proofs.status import StatusProofError, decode_status_proof

NOT_FILES = [b"", b"{}", b"[]", b"\xff\xfe", b'{"format": "alliance-status-proof/v1"}',
             b"not json at all"]


@pytest.mark.parametrize("data", NOT_FILES)
def test_not_a_proof_is_refused(data: bytes) -> None:
    with pytest.raises(StatusProofError, match="not a status proof"):
        decode_status_proof(data)


@pytest.mark.parametrize("data", NOT_FILES)
def test_not_a_receipt_is_refused(data: bytes) -> None:
    with pytest.raises(StatusProofError, match="not a verification receipt"):
        decode_receipt(data)

