"""Tying a portal account to the association's person record: the coordinator's check.

An account proves only that someone holds an email address. Before its applications can be
submitted (and its endorsements shown) a coordinator confirms who the person is and links
the account to their person record (`federation_api.people`), looking at the records that
match the account's address or name and at each record's possible duplicates (the same
detection the people pages use), so a second record of one person is noticed here rather
than after a second endorsement. A record may be tied to one account only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from federation_api.accounts.audit_log import Actor
from federation_api.accounts.roles import SELF_SERVICE_ROLES
from federation_api.accounts.store import Account
from federation_api.people.duplicates import Duplicate, duplicates_of
from federation_api.people.store import PersonRecord
from federation_api.portal.desk import Portal
from federation_api.portal.errors import NotYours, PortalError
from federation_api.portal.professional import give_professional, held_endorsement
from projections.queries import ProjectionReader

MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Candidate:
    """A person record that may be the account's person, with its possible duplicates."""

    record: PersonRecord
    same_email: bool
    duplicates: tuple[Duplicate, ...]
    linked_to: str | None  # another account already tied to this record


def portal_accounts(portal: Portal) -> list[Account]:
    """Every self-service account (no staff role), those awaiting confirmation first."""
    found = [a for a in portal.accounts.store.all()
             if a.roles & SELF_SERVICE_ROLES and not a.is_staff]
    return sorted(found, key=lambda a: (a.person_id is not None, a.display_name.casefold()))


def portal_account(portal: Portal, account_id: str) -> Account:
    """One self-service account; NotYours for a staff account or an unknown id."""
    account = portal.accounts.store.find(account_id[:64])
    if account is None or account.is_staff or not account.roles & SELF_SERVICE_ROLES:
        raise NotYours("no such portal account", field="account", rule="account.portal")
    return account


def candidates(portal: Portal, account: Account, *, projector: ProjectionReader,
               association: str) -> list[Candidate]:
    """The person records matching the account's email or name, the same email first."""
    records: dict[str, PersonRecord] = {}
    for text in (account.email, account.display_name):
        for record in portal.people.search(text, limit=MAX_CANDIDATES):
            records.setdefault(record.person_id, record)
    linked = {a.person_id: a.account_id for a in portal.accounts.store.all()
              if a.person_id is not None and a.account_id != account.account_id}
    email = account.email.casefold()
    found = [Candidate(record=r, same_email=r.details.email.casefold() == email,
                       duplicates=tuple(duplicates_of(r, people=portal.people,
                                                      projector=projector,
                                                      association=association)),
                       linked_to=linked.get(r.person_id))
             for r in records.values()]
    return sorted(found, key=lambda c: (not c.same_email, c.record.name.casefold()))


def confirm_identity(portal: Portal, *, account_id: str, person_id: str, by: Actor,
                     association_name: str, now: dt.datetime, client: str = "",
                     projector: ProjectionReader | None = None) -> Account:
    """Tie the account to the person record (the coordinator checked who they are), audited,
    and tell the person by email; one transaction. With `projector`, a person who holds an
    endorsement here already gets the `professional` role in the same transaction
    (`portal.professional`). PortalError naming `person_id` for an unknown record or one
    tied to another account; nothing is written then."""
    wanted = person_id.strip()
    if not wanted:
        raise PortalError("enter the professional id of the person's record",
                          field="person_id", rule="identity.person")
    store = portal.accounts.store
    with portal.db.transaction() as cur:
        account = store.get(cur, account_id[:64])
        if account is None or account.is_staff or not account.roles & SELF_SERVICE_ROLES:
            raise NotYours("no such portal account", field="account", rule="account.portal")
        record = portal.people.get(wanted[:64], cur=cur)
        if record is None:
            raise PortalError(f"there is no person record {wanted}; create it first",
                              field="person_id", rule="identity.person")
        taken = cur.execute("SELECT account_id FROM accounts WHERE person_id = ? AND "
                            "account_id <> ? AND association = ?",
                            (record.person_id, account.account_id,
                             store.association)).fetchone()
        if taken is not None:
            raise PortalError(f"{record.person_id} is tied to another portal account already",
                              field="person_id", rule="identity.unique")
        store.link_person(cur, account.account_id, record.person_id, now=now)
        portal.accounts.audit.record(cur, actor=by, action="portal.confirm_identity",
                                     target=account.account_id,
                                     detail=f"tied to person record {record.person_id}",
                                     client=client, now=now)
        held = None if projector is None else held_endorsement(
            projector, association=store.association, person_id=record.person_id,
            on=now.date())
        if held is not None:
            give_professional(cur, portal.accounts, account, by=by, endorsement_id=held,
                              now=now, client=client)
        portal.outbox.enqueue(
            cur, dedupe_key=f"portal.identity_confirmed:{account.account_id}:"
                            f"{record.person_id}",
            recipient=account.email, subject=f"{association_name}: your account is confirmed",
            text=f"Hello {account.display_name},\n\nThe association has confirmed who you "
                 f"are and tied your account to its record of you. You can now submit your "
                 f"applications and see your endorsements when you sign in.\n", now=now)
        confirmed = store.get(cur, account.account_id)
    assert confirmed is not None
    portal.outbox.notify()
    return confirmed
