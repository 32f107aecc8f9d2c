"""The stores a node owns: where each lives on each backend and where its revisions are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.storage.database import DatabaseUrl

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Store:
    """One chain of revisions: its SQLite file, its version table and its revisions' folder."""

    name: str
    sqlite_file: str

    @property
    def version_table(self) -> str:
        """Where Alembic records the store's revision (one per store, so the three chains can
        share a PostgreSQL schema)."""
        return f"alembic_version_{self.name}"

    @property
    def revisions(self) -> Path:
        """The folder of the store's revision modules (shipped inside the package)."""
        return _HERE / self.name

    def url(self, base: DatabaseUrl) -> DatabaseUrl:
        """The store's database: its own file on SQLite, the shared schema on PostgreSQL."""
        return base.with_file(self.sqlite_file)


LEDGER = Store("ledger", "ledger.sqlite")
PROJECTIONS = Store("projections", "projections.sqlite")
NODE = Store("node", "node.sqlite")
STORES = (LEDGER, PROJECTIONS, NODE)

# eventsourcing names its table after the application on PostgreSQL (`PrivateEventStore.name`
# + "_events") and always `stored_events` in a SQLite file.
EVENT_TABLES = {"sqlite": "stored_events", "postgres": "alliance_events"}
