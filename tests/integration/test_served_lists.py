"""The signed status list documents a node serves (`ServedLists`), on every backend: the first
document of a version is the one served, ever; every version stays readable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation_api.credentials.served_lists import ServedList, ServedLists
from ledger.storage.database import Database, DatabaseUrl
from tests.backends import Backend, OnPostgreSQL, OnSQLite

LIST = "260ff57a-9e99-5d72-8038-b231cc635f9a"


def _version(version: int, document: bytes = b"{}") -> ServedList:
    return ServedList(list_id=LIST, list_version=version,
                      signed_at=f"2026-03-0{version}T10:00:00+00:00", document=document)


class ServedListsContract:
    """The contract of the served status lists."""

    @pytest.fixture
    def served(self, backend: Backend, tmp_path: Path) -> Iterator[ServedLists]:
        backend.require()
        with backend.database_url(tmp_path / "node.sqlite") as url:
            assert url is not None
            db = Database(DatabaseUrl.parse(url))
            try:
                yield ServedLists(db)
            finally:
                db.close()

    def test_versions_are_kept_and_the_latest_is_the_default(self, served: ServedLists) -> None:
        assert served.get(LIST) is None
        assert served.put(_version(1, b'{"v": 1}'))
        assert served.put(_version(2, b'{"v": 2}'))
        assert served.get(LIST) == _version(2, b'{"v": 2}')
        assert served.get(LIST, 1) == _version(1, b'{"v": 1}')
        assert served.get(LIST, 3) is None
        assert served.has(LIST, 1) and not served.has(LIST, 3)

    def test_a_version_once_stored_is_never_replaced(self, served: ServedLists) -> None:
        assert served.put(_version(1, b'{"first": true}'))
        assert served.put(_version(1, b'{"first": true}'))  # the same again: harmless
        assert not served.put(_version(1, b'{"other": true}'))
        assert served.get(LIST, 1) == _version(1, b'{"first": true}')


class TestServedListsOnSQLite(ServedListsContract, OnSQLite):
    """On SQLite files."""


class TestServedListsOnPostgreSQL(ServedListsContract, OnPostgreSQL):
    """On a real PostgreSQL."""
