"""The one HTTP `Fetch` that credential checks use on the network: the list watch (on request
and in the replicator's anti-entropy pass) and `alliance verify-credential`.

Redirects are never followed: a peer refers another association's lists to their origin with a
307, and whoever checks a list must read it where the credential says it is, not wherever a
node points. Transport failures become OSError, which the checks report as "unreachable".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from federation_api.credentials.evidence import Fetch


@contextmanager
def http_fetch(timeout: float) -> Iterator[Fetch]:
    """A Fetch over one pooled httpx client, closed when the block ends."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        def fetch(url: str) -> tuple[int, bytes]:
            try:
                response = client.get(url)
            except httpx.HTTPError as e:
                raise OSError(str(e)) from e
            return response.status_code, response.content

        yield fetch
