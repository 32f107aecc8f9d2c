"""The interactive API documentation at `/docs`, served by the node alone.

FastAPI's own `/docs` page loads Swagger UI from a CDN: on a network without internet it is
blank, and it runs a third party's script on the node's origin. Here the two Swagger UI files
come from the pinned `swagger-ui-bundle-v2` package (the upstream `swagger-ui-dist` files of
the same version) and the few lines that start it are a file of ours (`static/api-docs.js`),
so the page has no inline script at all. Its Content-Security-Policy allows scripts, styles
and requests from this node only (the node serves no script but these two), images from this
node and `data:` URLs (Swagger UI's icons), and nothing else; each tag also carries the
file's Subresource Integrity hash, so a script changed on disk would not run. Swagger UI's
online validator badge is switched off (it would call a third party with the document).
ReDoc (`/redoc`) is not served: it too loads from a CDN, and no pinned package ships it.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from federation_api.web.pages.templating import STATIC_DIR, TEMPLATES

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
STARTER = "api-docs.js"  # in the pages' static directory
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

router = APIRouter(include_in_schema=False)


def _asset(name: str) -> Path:
    return Path(str(swagger_ui_path)) / name


@cache
def integrity(path: Path) -> str:
    """The Subresource Integrity value of a file (read once per process)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over this node's OpenAPI document."""
    html = TEMPLATES.get_template("api_docs.html").render(
        title=request.app.title, openapi_url=request.app.openapi_url,
        css=("/docs/swagger-ui.css", integrity(_asset("swagger-ui.css"))),
        scripts=[("/docs/swagger-ui-bundle.js", integrity(_asset("swagger-ui-bundle.js"))),
                 (f"/static/{STARTER}", integrity(STATIC_DIR / STARTER))])
    return HTMLResponse(html, headers={**HEADERS, "Cache-Control": "no-store"})


def _serve(name: str) -> None:
    media_type = ASSETS[name]

    def asset() -> FileResponse:
        # Versioned by the pinned package: a day's caching is safe and saves 1.5 MB a visit.
        return FileResponse(_asset(name), media_type=media_type,
                            headers={**HEADERS, "Cache-Control": "public, max-age=86400"})

    router.add_api_route(f"/docs/{name}", asset, methods=["GET"], name=f"docs-{name}")


for _name in ASSETS:
    _serve(_name)


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets on `app` (created with FastAPI's own docs switched off)."""
    app.include_router(router)
