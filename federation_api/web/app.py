"""The FastAPI application of one node."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from federation_api.node.root import Node
from federation_api.notifications.dispatcher import WebhookDispatcher
from federation_api.replication.replicator import Replicator
from federation_api.web import errors as http_errors
from federation_api.web.observability import Metrics, install_request_logging
from federation_api.web.origin import install_origin
from federation_api.web.pages import (
    portal_applications,
    portal_documents,
    portal_drafts,
    portal_home,
    portal_hours,
    portal_payments,
    portal_renewal,
    portal_session,
    portal_signin,
    rater_form,
    staff_accounts,
    staff_applications,
    staff_audit,
    staff_certificates,
    staff_documents,
    staff_endorsement_actions,
    staff_endorsements,
    staff_fees,
    staff_lapses,
    staff_people,
    staff_portal_accounts,
    staff_ratings,
    staff_renewals_due,
    staff_reports,
    staff_session,
    staff_signin,
    staff_tokens,
)
from federation_api.web.pages import public as public_pages
from federation_api.web.pages import staff as staff_pages
from federation_api.web.pages.api_docs import install_docs
from federation_api.web.pages.templating import install_static
from federation_api.web.rate_limits import install_rate_limits
from federation_api.web.routes import auditor as routes_auditor
from federation_api.web.routes import bulk as routes_bulk
from federation_api.web.routes import credentials as routes_credentials
from federation_api.web.routes import employers as routes_employers
from federation_api.web.routes import federation as routes_federation
from federation_api.web.routes import payments as routes_payments
from federation_api.web.routes import proofs as routes_proofs
from federation_api.web.routes import public as routes_public
from federation_api.web.routes import staff as routes_staff
from federation_api.web.schemas import errors
from federation_api.web.tls import TlsFiles

DESCRIPTION = """
Endorsement ledger node of one Alliance association.

* **Public**: `GET /v1/verify` and `GET /v1/status` answer for one endorsement, given its id
  and the holder's last name.
* **Staff** (bearer token with a role): the application, review, endorsement and renewal
  workflow. Commands accept `Idempotency-Key` (a retry writes once) and `If-Match: <version>`.
* **Auditors**: signed ledger entries, checkpoints, proofs, keys, the registry and the
  federation's state (peers, quarantine, forks): auditor tokens only.
* **Employers**: bulk verification, subscriptions, the webhook and the change feed.

Each protected operation lists the roles it admits (`x-roles`, and a "Roles:" line). The token
is checked before the body is read: 401 without a valid token, 403 for another role.
"""
# Any operation can meet a storage outage (http_errors maps it to 503 with Retry-After).
_EVERY_OPERATION = errors(503)


def create_app(node: Node, replicator: Replicator | None = None, *,
               tls: TlsFiles | None = None) -> FastAPI:
    """An app serving `node`; with a replicator, replication runs on the app's event loop;
    `tls` names the certificate the server presents (for its expiry metric)."""
    # Employer notifications: notices changes after projection and delivers webhooks.
    dispatcher = WebhookDispatcher(node.notifier, node.webhooks, node.changes, node.settings,
                                   user_agent=f"alliance-node/{node.association}")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if replicator is not None:
            await replicator.start()
            node.commit_listeners.append(replicator.wake)
        await dispatcher.start()
        if node.status_lists is not None:
            node.status_lists.start()  # publishes the status lists after commands
        node.commit_listeners.append(dispatcher.wake)
        node.ingest_listeners.append(dispatcher.wake)
        if node.mail_sender is not None:  # the outbox's sender thread (ALLIANCE_SMTP_URL)
            node.mail_sender.start()
        try:
            yield
        finally:
            if node.mail_sender is not None:  # hands its unsent claim back, ends the thread
                await asyncio.to_thread(node.mail_sender.stop)
            node.ingest_listeners.remove(dispatcher.wake)
            node.commit_listeners.remove(dispatcher.wake)
            await dispatcher.stop()
            if node.status_lists is not None:
                node.status_lists.stop()
            if replicator is not None:
                node.commit_listeners.remove(replicator.wake)
                await replicator.stop()

    # /docs is served from the node's own copy of Swagger UI (api_docs.py), never a CDN.
    app = FastAPI(title=f"Alliance endorsement ledger - {node.config.name}",
                  version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.replicator = replicator
    app.state.webhook_dispatcher = dispatcher
    app.state.node = node
    # The certificate uvicorn loaded at start is the one served until a restart, so its
    # expiry is read once (the metric must not follow a renewed file the server never loaded).
    app.state.tls_not_after = tls.not_after() if tls is not None else None
    app.state.metrics = Metrics()
    http_errors.install(app)
    # Inside the request logger, so refused requests are logged and counted like others.
    app.state.rate_limits = install_rate_limits(app, node.settings.rate_limits)
    install_request_logging(app, app.state.metrics)
    # Outermost: the origin (scheme, host) a trusted proxy reports, and HSTS on HTTPS answers.
    install_origin(app, node.settings.rate_limits.networks())
    # A request is matched against the routes in the order they were included, one pattern
    # after another, and the staff pages are viewed far more often than the JSON API's
    # commands are called: the public lookups first, then the pages, then the rest of the
    # API (the routes of one never match a path of another: /v1/... against /, /staff/...,
    # /portal/...). Measured: the match was a fifth of a dashboard view's work behind the
    # API's 80 routes (docs/reports.md).
    app.include_router(routes_public.router, responses=_EVERY_OPERATION)
    # The pages: public, then the staff workspace (each page behind its StaffGate), /static.
    app.include_router(public_pages.router)
    staff_session.install(app)
    for pages in (staff_signin, staff_pages, staff_accounts, staff_tokens, staff_audit,
                  staff_applications, staff_endorsements, staff_lapses, staff_people,
                  staff_renewals_due, staff_endorsement_actions, staff_reports,
                  staff_certificates, staff_documents, rater_form, staff_ratings, staff_fees):
        app.include_router(pages.router)
    # The applicant portal (issue 12): each page behind its PortalGate but sign-up/sign-in.
    portal_session.install(app)
    for pages in (portal_signin, portal_home, staff_portal_accounts, portal_drafts,
                  portal_applications):
        app.include_router(pages.router)
    # Endorsed professionals: the hours log and the renewal, certificate and receipt.
    portal_hours.install(app)
    for pages in (portal_hours, portal_renewal):
        app.include_router(pages.router)
    # The applicant's documents (uploads on the draft page, their own downloads).
    app.include_router(portal_documents.router)
    # Paying the application and renewal fees through the payment provider.
    portal_payments.install(app)
    app.include_router(portal_payments.router)
    for module in (routes_bulk, routes_employers, routes_staff, routes_auditor,
                   routes_federation, routes_proofs, routes_credentials, routes_payments):
        app.include_router(module.router, responses=_EVERY_OPERATION)
    install_static(app)
    install_docs(app)
    return app
