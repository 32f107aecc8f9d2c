"""Wiring: the `Portal`, every portal service over the node database.

Built once per app (`Portal.open`) from the node's own pieces, which it is given rather
than fetching from the `Node` (the portal stands beside `node/`, a level above accounts and
people): the node database, its accounts, its person records and its mail outbox. The
drafts' tables are made on that same database, so a draft's change, its audit entry and its
email commit together.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation_api.accounts.bootstrap import Accounts
from federation_api.mail.outbox import Outbox
from federation_api.people.store import PeopleStore
from federation_api.portal.drafts import DraftStore
from ledger.storage.database import Database


@dataclass(frozen=True)
class Portal:
    """The portal's services of one node."""

    db: Database
    drafts: DraftStore
    accounts: Accounts
    people: PeopleStore
    outbox: Outbox

    @classmethod
    def open(cls, db: Database, *, accounts: Accounts, people: PeopleStore,
             outbox: Outbox) -> Portal:
        """Create the portal's tables if needed and wire the services. Everything must be on
        the one node database `db`, so that one transaction covers an action and its mail."""
        if accounts.store.db is not db or people.db is not db or outbox.db is not db:
            raise ValueError("the portal's accounts, people and outbox must share its database")
        return cls(db=db, drafts=DraftStore(db), accounts=accounts, people=people,
                   outbox=outbox)
