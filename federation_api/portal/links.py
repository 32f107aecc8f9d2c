"""The link that sends an applicant to their application's page in the portal.

Mail about an application (its return, the reminders while it waits for an answer) points
the applicant to `/portal/applications/<id>` when they can open it there: their person record
is tied to a portal account and that account submitted the application from its draft. An
application the association typed in has no portal page (the status page answers 404 to
anyone), so its mail says what it said before the portal: send the association what is asked.
The link is built on the node's public URL, the base of every link the node emails.
"""

from __future__ import annotations

from federation_api.accounts.store import AccountStore
from federation_api.portal.drafts import DraftStore
from ledger.storage.database import Cursor

STATUS_PATH = "/portal/applications/{application_id}"


def status_url(cur: Cursor, *, accounts: AccountStore, drafts: DraftStore,
               application_id: str, person_id: str, base_url: str) -> str | None:
    """The application's portal page, in full, if its applicant can open it; else None."""
    owner = drafts.owner_of(cur, application_id)
    if owner is None:
        return None
    account = accounts.get(cur, owner)
    if account is None or account.person_id != person_id or account.disabled:
        return None
    return base_url.rstrip("/") + STATUS_PATH.format(application_id=application_id)
