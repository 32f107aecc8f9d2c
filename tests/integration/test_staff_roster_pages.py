"""The roster page by keyset over a real node (SQLite and PostgreSQL): following the "next"
links visits every endorsement once, in id order, a page at a time; the filters hold across
pages (the name filter too, which reads in chunks); a forged page link is refused; a page
kept from an earlier view shows what was projected since."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.web.pages import staff
from projections import roster_pages
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"
PAGE = 10  # the page size the tests set (100 in service), so a few rows make several pages
COUNT = 23  # two full pages and a part
ROW_ID = re.compile(r'<td><a href="/staff/endorsements/([A-Z0-9-]+)">')
NEXT = re.compile(r'<a href="(/staff/roster\?[^"]+)" rel="next">')


@pytest.fixture
def ws(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[Workspace]:
    """AK with COUNT imported endorsements; every seventh holder is named Tran. Pages of
    PAGE rows, and the name filter reads 4 rows at a time, so it needs several reads."""
    monkeypatch.setattr(staff, "ROSTER_PAGE_SIZE", PAGE)
    monkeypatch.setattr(roster_pages, "CHUNK", 4)
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        svc = made.node.service
        for i in range(COUNT):
            svc.record_existing(
                endorsement_id=new_endorsement_id("AK", f"paging:{i}"), person_id=f"AK-Q-{i}",
                family_name="Trần" if i % 7 == 0 else f"Holder{i}",
                given_name="<b>Kim</b> & Co" if i == 1 else "Kim",
                level=Level.IFA if i % 2 else Level.IFS, designation=None,
                granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2099, 12, 31),
                legacy_reference=f"paging-{i}", now=now())
        yield made


def walk(browser: TestClient, first: str) -> list[list[str]]:
    """The endorsement ids of every page, following the next links from `first`."""
    pages, url = [], first
    while url:
        r = browser.get(url.replace("&amp;", "&"))
        assert r.status_code == 200
        pages.append(ROW_ID.findall(r.text))
        found = NEXT.search(r.text)
        url = found.group(1) if found else ""
        assert len(pages) < 10
    return pages


class RosterPagesContract:
    """Keyset pages on every backend."""

    def test_the_next_links_visit_every_endorsement_once_in_order(self, ws: Workspace
                                                                  ) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        pages = walk(browser, "/staff/roster")
        assert [len(p) for p in pages] == [PAGE, PAGE, COUNT - 2 * PAGE]
        ids = [i for p in pages for i in p]
        assert ids == sorted(ids) and len(set(ids)) == COUNT
        second = browser.get(f"/staff/roster?after={pages[0][-1]}").text
        assert ROW_ID.findall(second) == pages[1]
        assert 'href="/staff/roster">First page</a>' in second

    def test_filters_hold_across_pages(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        level = [i for p in walk(browser, "/staff/roster?level=IFA") for i in p]
        assert len(level) == COUNT // 2
        tran = walk(browser, "/staff/roster?name=tran")  # folded: finds "Trần"
        assert [len(p) for p in tran] == [len(range(0, COUNT, 7))]
        assert walk(browser, "/staff/roster?status=lapsed") == [[]]

    def test_names_are_text_never_markup(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        page = browser.get("/staff/roster").text
        assert "&lt;b&gt;Kim&lt;/b&gt; &amp; Co Holder1" in page and "<b>Kim" not in page

    def test_a_forged_page_link_is_refused(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        r = browser.get("/staff/roster", params={"after": "x' OR 1=1 --"})
        assert r.status_code == 422 and "not one the roster made" in r.text


    def test_a_kept_page_follows_the_projection(self, ws: Workspace) -> None:
        # The rows are kept while nothing is projected: a grant and a suspension after a
        # first view must show at the next one.
        browser = ws.browser()
        sign_in(browser, CORA)
        shown = ROW_ID.findall(browser.get("/staff/roster").text)
        assert ROW_ID.findall(browser.get("/staff/roster").text) == shown  # kept
        ws.node.service.record_existing(
            endorsement_id="AK-0000FIRST", person_id="AK-Q-first", family_name="Early",
            given_name="Ann", level=Level.IFA, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2099, 12, 31),
            legacy_reference="first", now=now())
        ws.node.service.suspend(shown[0], effective_on=today(), reason="complaint",
                                now=now())
        again = browser.get("/staff/roster").text
        assert ROW_ID.findall(again) == ["AK-0000FIRST", *shown[:PAGE - 1]]
        row = re.search(rf'<tr><td><a href="/staff/endorsements/{shown[0]}">.*?</tr>', again)
        assert row is not None and "<td>suspended</td>" in row.group(0)


class TestOnSQLite(RosterPagesContract, OnSQLite):
    """SQLite files."""


class TestOnPostgreSQL(RosterPagesContract, OnPostgreSQL):
    """A real PostgreSQL server."""
