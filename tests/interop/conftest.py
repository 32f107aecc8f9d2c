"""Fixtures of the interop tests: the npm verifier and a loopback HTTP server for the node's
documents (DID document, status lists)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.interop.js_stack import JsVerifier, StackMissing, install
from tests.interop.loopback_site import Site, running_site


@pytest.fixture(scope="session")
def js_verifier() -> JsVerifier:
    """The installed verifier. Without node/npm the tests are skipped, visibly, except under
    CI, where the third-party check must run."""
    try:
        return install()
    except StackMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the interop tests)")
        pytest.skip(f"{missing}: interop tests not run")


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback HTTP server on a free port."""
    with running_site() as running:
        yield running
