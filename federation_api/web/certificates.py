"""Endorsement certificates as PDF: the facts of one endorsement and a QR code of the public
verification link for it, laid out by WeasyPrint from an HTML template.

A certificate is a snapshot on paper, so it carries the link where its current standing can
always be checked; the pages that serve it (`pages/staff_certificates.py` for staff,
`pages/portal_renewal.py` for the professional's own) issue one only for an endorsement in
good standing, each through `certificate_response`, which prints it and records who did.
The template is autoescaped like every page, and the renderer may load nothing but `data:`
URLs (the QR code), so a name can neither add markup nor make the node fetch a URL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from fastapi import Request
from fastapi.responses import Response
from weasyprint import HTML, URLFetcher

from federation_api.accounts.audit_log import Actor
from federation_api.clock import now, today
from federation_api.web.audited import client_of
from federation_api.web.pages.level_titles import level_title
from federation_api.web.pages.templating import SECURITY_HEADERS, TEMPLATES, association_name
from federation_api.web.urls import node_base_url
from projections.rows import RosterRow


@dataclass(frozen=True)
class Certificate:
    """What one certificate says."""

    endorsement_id: str
    given_name: str
    family_name: str
    level_title: str  # e.g. "Level IV: Infant Mental Health Mentor - Clinical (IMHM-C)"
    association_name: str
    granted_on: dt.date
    valid_through: dt.date
    issued_on: dt.date
    verify_url: str


def public_base(request: Request) -> str:
    """The node's public URL (ALLIANCE_PUBLIC_URL), else its listen address: the base of
    the URLs `alliance serve` prints (and a certificate's QR code links to)."""
    return node_base_url(request.app.state.node.settings)


def verification_url(public_url: str, endorsement_id: str, family_name: str) -> str:
    """The public verification result of one endorsement, the URL `alliance serve` prints
    as "verification result"."""
    query = urlencode({"by": "id", "endorsement_id": endorsement_id, "last_name": family_name})
    return f"{public_url.rstrip('/')}/verify?{query}"


def qr_data_uri(url: str) -> str:
    """The URL as a QR code (SVG, error correction level M) in a data: URL."""
    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=4))


def certificate_pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF."""
    html = TEMPLATES.get_template("certificate.html").render(
        c=certificate, qr=qr_data_uri(certificate.verify_url))
    fetcher = URLFetcher(allowed_protocols=("data",))
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


def certificate_response(request: Request, row: RosterRow, *, actor: Actor) -> Response:
    """The certificate of `row` (an endorsement the page found current today) as an inline
    PDF, its printing recorded in the audit log under `actor` (`certificate.print`)."""
    node = request.app.state.node
    pdf = certificate_pdf(Certificate(
        endorsement_id=row.endorsement_id, given_name=row.given_name,
        family_name=row.family_name, level_title=level_title(row.level, row.designation),
        association_name=association_name(request, row.association),
        granted_on=row.granted_on, valid_through=row.valid_through, issued_on=today(),
        verify_url=verification_url(public_base(request), row.endorsement_id,
                                    row.family_name)))
    with node.accounts.audit.db.transaction() as cur:
        node.accounts.audit.record(cur, actor=actor, action="certificate.print",
                                   target=row.endorsement_id, client=client_of(request) or
                                   "unknown", now=now())
    return Response(pdf, media_type="application/pdf", headers={
        **SECURITY_HEADERS,
        "Content-Disposition": f'inline; filename="certificate-{row.endorsement_id}.pdf"'})
