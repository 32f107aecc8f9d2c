"""The `professional` role: a portal account whose person holds an endorsement here.

Sign-up gives `applicant`. Once a coordinator has tied the account to a person record
(`portal.identity`), the account also gets `professional` when that person holds an active
endorsement of this association: at the confirmation itself if they hold one already, and
when an application of theirs is granted. `applicant` is kept (a professional applies for a
higher level too), and nothing takes `professional` away again: a lapsed professional still
signs in to renew or to ask for reinstatement, and their endorsement's status says the rest.

Every role given is an audit entry (`portal.professional`, actor the staff account or token
whose action caused it), written in the caller's transaction, so the role and its record
commit together. Giving it twice changes nothing and records nothing: the calls are safe to
repeat after a crash or a replayed command.
"""

from __future__ import annotations

import datetime as dt

from domain.levels import EndorsementStatus
from federation_api.accounts.audit_log import Actor
from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.roles import SELF_SERVICE_ROLES, AccountRole
from federation_api.accounts.store import Account
from ledger.storage.database import Cursor
from projections.queries import ProjectionReader

ACTION = "portal.professional"


def held_endorsement(reader: ProjectionReader, *, association: str, person_id: str,
                     on: dt.date) -> str | None:
    """The id of an endorsement of `association` the person holds (recorded active on
    `on`), or None. Another association's endorsement does not make them this one's."""
    for found in reader.recorded_for(person_id, on):
        if found.association == association and found.status is EndorsementStatus.ACTIVE:
            return found.endorsement_id
    return None


def give_professional(cur: Cursor, accounts: Accounts, account: Account, *, by: Actor,
                      endorsement_id: str, now: dt.datetime, client: str = "") -> bool:
    """Add `professional` to a self-service account (keeping its other roles), audited in
    `cur`; False, writing nothing, if it holds the role already or is no portal account."""
    if (account.is_staff or not account.roles & SELF_SERVICE_ROLES
            or AccountRole.PROFESSIONAL in account.roles):
        return False
    accounts.store.set_roles(cur, account.account_id,
                             account.roles | {AccountRole.PROFESSIONAL}, now=now)
    accounts.audit.record(cur, actor=by, action=ACTION, target=account.account_id,
                          detail=f"holds endorsement {endorsement_id}", client=client, now=now)
    return True


def professional_on_grant(cur: Cursor, accounts: Accounts, *, person_id: str,
                          endorsement_id: str, by: Actor, now: dt.datetime,
                          client: str = "") -> bool:
    """After a grant to `person_id`: the role for the portal account tied to their record,
    if there is one (an applicant the association typed in may have none)."""
    account = accounts.store.tied_to(cur, person_id)
    if account is None:
        return False
    return give_professional(cur, accounts, account, by=by, endorsement_id=endorsement_id,
                             now=now, client=client)
