"""Why a schema cannot be migrated, or why the node may not run on it."""

from __future__ import annotations

from federation_api.errors import EdgeError
from ledger.errors import LedgerError


class MigrationError(EdgeError, LedgerError):
    """The root of the migrations' errors (a LedgerError, so the CLI answers it plainly)."""


class SchemaBehind(MigrationError):
    """The database's schema is older than this release needs; `alliance migrate` brings it."""

    def __init__(self, behind: dict[str, tuple[str | None, str]]) -> None:
        self.behind = behind  # store -> (its revision, the head this release has)
        stores = ", ".join(f"{store} at {found or 'no revision'} (this release needs {head})"
                           for store, (found, head) in sorted(behind.items()))
        super().__init__(f"the database schema is behind this release: {stores}. Run "
                         f"`alliance migrate` with the schema owner's database URL first")


class SchemaAhead(MigrationError):
    """The database was migrated by a newer release than this one."""

    def __init__(self, store: str, found: str) -> None:
        self.store = store
        self.found = found
        super().__init__(f"the {store} store is at revision {found}, which this release does "
                         f"not know: it was migrated by a newer release; run that release")


class SchemaMismatch(MigrationError):
    """Tables made before migrations existed differ from the baseline, so none is assumed."""

    def __init__(self, store: str, differences: list[str]) -> None:
        self.store = store
        self.differences = differences
        super().__init__(f"the {store} store has tables but no version, and they do not match "
                         f"the baseline revision, so it is not stamped: "
                         + "; ".join(differences))
