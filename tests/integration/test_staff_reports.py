"""The board reports page over a real node (SQLite and PostgreSQL): the counts, renewal and
lapse rates and pipeline times of the seeded history, as HTML tables, CSV files and SVG
charts; current endorsements by the county of this node's private person records (not
Alliance-wide); this association against the whole Alliance from a replicated peer ledger; who may
see them; a bad scope refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.levels import Level, ReviewDecision
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence, seed
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.people.county_report import by_county
from ledger.storage.database import Database, DatabaseUrl
from projections.reports import BoardReports, nearest_rank
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.ledger_fixtures import grant, open_ledger, renew, replicate
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"
RITA = "rita@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node with the demo history, three more Level II applications granted after 10,
    20 and 100 days, a coordinator and a reviewer."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        add_staff(made.node, RITA, "reviewer", name="Rita Reviewer")
        on = today()
        seed(made.node, on)
        svc = made.node.service
        for days in (10, 20, 100):
            application_id = uuid.uuid5(uuid.NAMESPACE_URL, f"reports-test:{days}")
            svc.start_application(application_id=application_id, person_id=f"AK-P-9{days:03d}",
                                  family_name="Ng", given_name=f"Kai{days}", level=Level.IFS,
                                  designation=None, started_on=on - dt.timedelta(days=days),
                                  now=now())
            svc.submit_evidence(application_id, level_two_evidence(on), submitted_on=on,
                                now=now())
            svc.review(application_id, ReviewDecision.APPROVE, reviewer="test reviewer",
                       reason="all requirements met", decided_on=on, now=now())
            svc.grant(application_id,
                      endorsement_id=new_endorsement_id("AK", f"reports-test:{days}"),
                      granted_on=on, now=now())
        yield made


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


class StaffReportsContract:
    """The reports page on every backend."""

    def test_the_page_shows_the_seeded_figures_as_tables_and_charts(self, ws: Workspace
                                                                     ) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        page = browser.get("/staff/reports")
        assert page.status_code == 200
        html = page.text
        assert "<script" not in html
        year = today().year
        # Rivera renewed this year and Chen lapsed: one of each, 50% each.
        assert (f"<tr><td>{year}</td><td>1</td><td>1</td><td>50%</td><td>50%</td></tr>"
                in html)
        # Doe (0 days) and the three above: Level II median 10, p90 100 (nearest rank).
        assert ("<tr><td>Infant Family Specialist (IFS)</td><td>4</td><td>10</td><td>100</td>"
                "<td>100</td></tr>" in html)
        assert "<tr><td>2015</td><td>IMHM-C</td><td>current</td><td>1</td></tr>" in html
        assert "<tr><td>2021</td><td>IFA</td><td>suspended</td><td>1</td></tr>" in html
        assert "<tr><td>2020</td><td>IFS</td><td>lapsed</td><td>1</td></tr>" in html
        assert f"<tr><td>{year}</td><td>IFS</td><td>current</td><td>4</td></tr>" in html
        # Five charts, each an image with a title and a description naming its table.
        charts = re.findall(r'<svg [^>]*role="img"[^>]*aria-labelledby="([^"]+)"', html)
        assert len(charts) == 5
        for labels in charts:
            title, desc = labels.split()
            assert f'id="{title}"' in html and f'id="{desc}"' in html
        assert re.search(r"<title id=\"chart-renewals-title\">Renewal rate per year</title>",
                         html)
        assert ">50% of 2</text>" in html
        assert '<a href="/staff/reports">Board reports</a>' in html  # in the nav

    def test_current_endorsements_by_the_county_of_the_person_record(self, ws: Workspace
                                                                     ) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        # Current in AK: Rivera (0001), Okafor (0002), Doe (0005) and the three Ngs.
        for person_id, county in (("AK-P-0001", "Anchorage"), ("AK-P-0002", " anchorage "),
                                  ("AK-P-9010", "Juneau"), ("AK-P-9020", ""),
                                  ("AK-P-0003", "Sitka")):  # Chen's endorsement lapsed
            r = browser.post("/staff/people", data={
                "csrf_token": form_token(browser.get("/staff/people/new").text),
                "person_id": person_id, "given_name": "A", "family_name": "B",
                "county": county})
            assert r.status_code == 303, r.text
        html = browser.get("/staff/reports").text
        assert "private person records" in html and "cannot have this table" in html
        table = html.split('id="counties-title"')[1].split("</table>")[0]
        assert re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td></tr>", table) == [
            ("Anchorage", "2"), ("Juneau", "1"), ("(county not recorded)", "1"),
            ("(no person record on this node)", "2")]
        assert "Sitka" not in table
        assert '<title id="chart-counties-title">' in html
        rows = csv_rows(browser.get("/staff/reports/counties.csv").text)
        assert rows == [["county", "current_endorsements"], ["Anchorage", "2"],
                        ["Juneau", "1"], ["(county not recorded)", "1"],
                        ["(no person record on this node)", "2"]]
        # The counts are kept, but not past a change of the person records: Doe gets one.
        assert browser.post("/staff/people", data={
            "csrf_token": form_token(browser.get("/staff/people/new").text),
            "person_id": "AK-P-0005", "given_name": "Jane", "family_name": "Doe",
            "county": "juneau"}).status_code == 303
        assert csv_rows(browser.get("/staff/reports/counties.csv").text)[1:] == [
            ["Anchorage", "2"], ["Juneau", "2"], ["(county not recorded)", "1"],
            ["(no person record on this node)", "1"]]
        # Kept, and moved by the roster rows the projection changes: Rivera suspended, and
        # Chen (Sitka, whose endorsement lapsed) imported from a paper roster. The one
        # Anchorage holder left spells it "anchorage".
        rivera = next(r for r in ws.node.projector.roster("AK") if r.person_id == "AK-P-0001")
        ws.node.service.suspend(rivera.endorsement_id, effective_on=today(),
                                reason="complaint", now=now())
        ws.node.service.record_existing(
            endorsement_id=new_endorsement_id("AK", "county-test"), person_id="AK-P-0003",
            family_name="Chen", given_name="Lee", level=Level.IFA, designation=None,
            granted_on=today(), valid_through=today() + dt.timedelta(days=300),
            legacy_reference="paper-county", now=now())
        expected = [["Juneau", "2"], ["anchorage", "1"], ["Sitka", "1"],
                    ["(county not recorded)", "1"], ["(no person record on this node)", "1"]]
        assert csv_rows(browser.get("/staff/reports/counties.csv").text)[1:] == expected
        board = BoardReports(ws.node.projector.db)
        from_scratch = by_county(board.current_holders("AK", today()).values(),
                                 ws.node.people.counties())
        assert [[c.county, str(c.count)] for c in from_scratch] == expected
        alliance = browser.get("/staff/reports", params={"scope": "alliance"}).text
        assert "Anchorage" not in alliance and "no node has another association" in alliance
        refused = browser.get("/staff/reports/counties.csv", params={"scope": "alliance"})
        assert refused.status_code == 422 and "Anchorage" not in refused.text

    def test_the_dashboard_counts_open_applications_by_state(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        html = browser.get("/staff/").text
        # Kim's Level III application waits for reviewers; the four granted ones are closed.
        assert "Open applications: 1</h2>" in html
        assert "<tr><td>Submitted, no reviewers yet</td><td>1</td></tr>" in html
        assert "<tr><td>In review</td><td>0</td></tr>" in html

    def test_each_table_downloads_as_csv(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        year = str(today().year)
        renewals = browser.get("/staff/reports/renewals.csv")
        assert renewals.status_code == 200
        assert renewals.headers["content-type"].startswith("text/csv")
        assert "attachment" in renewals.headers["content-disposition"]
        assert csv_rows(renewals.text) == [
            ["year", "renewed", "lapsed", "renewal_rate", "lapse_rate"],
            [year, "1", "1", "0.5000", "0.5000"]]
        pipeline = csv_rows(browser.get("/staff/reports/pipeline.csv").text)
        assert pipeline[0] == ["level", "granted", "median_days", "p90_days", "longest_days"]
        assert ["IFS", "4", "10", "100", "100"] in pipeline
        counts = csv_rows(browser.get("/staff/reports/counts.csv").text)
        assert counts[0] == ["year_granted", "level", "designation", "standing", "count"]
        assert ["2015", "IMHM", "C", "current", "1"] in counts
        assert sum(int(r[4]) for r in counts[1:]) == 8  # every endorsement once
        assert browser.get("/staff/reports/people.csv").status_code == 404
        assert csv_rows(browser.get("/staff/reports/counties.csv").text) == [
            ["county", "current_endorsements"], ["(no person record on this node)", "6"]]

    def test_a_bad_scope_is_refused_and_a_reviewer_sees_no_report(self, ws: Workspace
                                                                   ) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        refused = browser.get("/staff/reports", params={"scope": "everyone"})
        assert refused.status_code == 422
        assert "Choose this association or the whole Alliance." in refused.text
        assert browser.get("/staff/reports/counts.csv",
                           params={"scope": "x"}).status_code == 422
        reviewer = ws.browser()
        sign_in(reviewer, RITA)
        assert reviewer.get("/staff/reports").status_code == 403
        assert reviewer.get("/staff/reports/counts.csv").status_code == 403
        assert 'href="/staff/reports"' not in reviewer.get("/staff/").text

    def test_alliance_wide_adds_a_replicated_peer(self, ws: Workspace,
                                                  tmp_path: Path) -> None:
        node = ws.node
        browser = ws.browser()
        sign_in(browser, CORA)
        # Seen once before the peer's entries arrive: the report kept for this day must not
        # outlive them (the projection's tracking positions move).
        before = browser.get("/staff/reports", params={"scope": "alliance"}).text
        assert "<td>IMHS</td><td>expired</td>" not in before
        assert ">100% of 2</text>" not in before  # the renewal chart has no 2024 bar yet
        mi_db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'mi-ledger.sqlite'}"))
        mi = open_ledger(tmp_path / "mi-events", mi_db, "MI")
        try:
            for i in range(3):
                e = grant(mi, f"MI-{i:04d}", f"mi-{i}", dt.date(2024, 2, 1 + i),
                          level=Level.IMHS)
                if i < 2:
                    renew(mi, e, dt.date(2024, 12, 1))
            # Verified and stored as a federation consumer stores a peer's entries.
            assert replicate(mi, node.ledger) == 5
        finally:
            mi.close()
        node.project()
        here = browser.get("/staff/reports").text
        assert "<tr><td>2024</td><td>IMHS</td>" not in here
        alliance = browser.get("/staff/reports", params={"scope": "alliance"})
        assert alliance.status_code == 200 and "the whole Alliance" in alliance.text
        # Past their valid-through with no lapse recorded yet: expired, never current.
        assert "<tr><td>2024</td><td>IMHS</td><td>expired</td><td>3</td></tr>" in alliance.text
        assert ("<tr><td>2024</td><td>2</td><td>0</td><td>100%</td><td>0%</td></tr>"
                in alliance.text)
        assert ">100% of 2</text>" in alliance.text  # the charts kept are drawn again too
        rows = csv_rows(browser.get("/staff/reports/renewals.csv",
                                    params={"scope": "alliance"}).text)
        assert ["2024", "2", "0", "1.0000", "0.0000"] in rows
        reports = BoardReports(node.projector.db)
        assert sum(r.count for r in reports.counts(None, today())) == 11
        assert sum(r.count for r in reports.counts("AK", today())) == 8
        assert sum(r.count for r in reports.counts("MI", today())) == 3


class TestOnSQLite(StaffReportsContract, OnSQLite):
    """SQLite files."""


class TestOnPostgreSQL(StaffReportsContract, OnPostgreSQL):
    """A real PostgreSQL server."""


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([(0, 1), (10, 1), (20, 1), (100, 1)], 0.5) == 10
    assert nearest_rank([(100, 1), (0, 1), (20, 1), (10, 1)], 0.9) == 100
    assert nearest_rank([(5, 9), (50, 1)], 0.9) == 5
    assert nearest_rank([(5, 9), (50, 1)], 1.0) == 50
    with pytest.raises(ValueError):
        nearest_rank([], 0.5)
