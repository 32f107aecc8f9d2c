"""Signing up for the portal: an applicant account, then the same emailed link as sign-in.

Passwordless on purpose: people who sign in a few times a year forget passwords, and the
link proves they hold the address. The answer is the same whether or not the address has an
account already (no one learns who applies): a self-service account that exists simply gets
a sign-in link, a staff address gets nothing (staff sign in with a password and TOTP).
"""

from __future__ import annotations

import datetime as dt

from federation_api.accounts.audit_log import Actor
from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.store import check_display_name, normalise_email


def sign_up(accounts: Accounts, *, email: str, display_name: str, now: dt.datetime,
            client: str = "") -> None:
    """Make an applicant account for a new address and email a sign-in link to it.

    InvalidAccountInput (with its field) for a malformed name or address; TooManyAttempts
    when the client's budget is spent. Nothing is written for bad input."""
    accounts.sign_in.charge(client, now)
    address, _ = normalise_email(email)
    name = check_display_name(display_name)
    with accounts.store.db.transaction() as cur:
        if accounts.store.by_email(cur, address) is None:
            account = accounts.store.create(cur, email=address, display_name=name,
                                            roles=[AccountRole.APPLICANT], now=now)
            accounts.audit.record(cur, actor=Actor.account(account.account_id),
                                  action="portal.sign_up", detail="signed up in the portal",
                                  client=client, now=now)
    accounts.email_sign_in.request(address, now=now, client=client)
