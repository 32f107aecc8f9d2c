"""The URLs a node serves that other parts name: the genesis path, and the full list that
`alliance serve` and `alliance demo` print (DESIGN: every URL in full, `http://HOST:PORT/...`).

The list is kept beside the paths it names so that a new route's URL is printed by both
commands; the demo fills in one of its seeded endorsements so each URL works as printed.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.requests import Request

from federation_api import clock
from federation_api.settings import Settings

GENESIS_PATH = "/v1/alliance/genesis.json"


def request_scheme(request: Request) -> str:
    """The scheme the browser used ("http" or "https"): the one function that decides it, so
    cookies are `Secure` exactly when the browser's connection is TLS (behind a trusted TLS
    proxy too, once the forwarded scheme is read here)."""
    return request.url.scheme


def url_host(host: str) -> str:
    """A listen host as it goes into a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def node_base_url(settings: Settings) -> str:
    """The node's public URL (ALLIANCE_PUBLIC_URL), else its listen address: the base of
    the URLs `alliance serve` prints and of every link the node puts in a mail or on paper
    (a certificate's QR code, an application's portal page)."""
    return str(settings.public_url or f"http://{url_host(settings.host)}:{settings.port}"
               ).rstrip("/")


def print_urls(association: str, base: str, *, example: tuple[str, str] | None = None,
               today: dt.date | None = None, genesis_digest: str | None = None) -> None:
    """Print every URL a node serves, in full. With `example` (an endorsement id and last
    name, and the date `today`) the per-endorsement URLs are filled in and work as printed;
    without one they are templates, and a line says which <PLACEHOLDERS> to replace."""
    if example is not None:
        query = urlencode({"endorsement_id": example[0], "last_name": example[1]})
        on = (today or clock.today()).isoformat()
    else:
        query, on = "endorsement_id=<ENDORSEMENT-ID>&last_name=<LAST-NAME>", "<YYYY-MM-DD>"
    print(f"node {association} serving at {base}/", flush=True)
    if example is None:
        print("  (URL templates: replace <ENDORSEMENT-ID>, <LAST-NAME> and <YYYY-MM-DD>)")
    lines = [("verification page", "/"), ("verification result", f"/verify?by=id&{query}"),
             ("staff workspace", "/staff/login"), ("API docs (OpenAPI)", "/docs"),
             ("OpenAPI document", "/openapi.json"), ("public verification", f"/v1/verify?{query}"),
             ("status on a date", f"/v1/status?{query}&on={on}"),
             ("status proof (staff)", f"/v1/proofs/status?{query}&as_of={on}"),
             ("signed receipt", f"/v1/receipts?{query}"),
             ("printable receipt", f"/receipts/view?{query}"),
             ("issuer DID document", "/.well-known/did.json")]
    if example is not None:
        named = urlencode({"last_name": example[1]})
        lines.append(("credential (wallet)", f"/v1/credentials/{example[0]}?{named}"))
    if genesis_digest is not None:
        lines.append(("Alliance genesis", f"{GENESIS_PATH} (digest {genesis_digest}: compare "
                                          f"it with the one the Alliance publishes)"))
    lines += [("employer change feed", "/v1/changes?cursor=0 (employer token)"),
              ("health", "/healthz"), ("readiness", "/readyz"), ("metrics", "/metrics")]
    for label, path in lines:
        print(f"  {label:22} {base}{path}", flush=True)
