"""The endorsement page and the committee's actions over a real node (SQLite and
PostgreSQL): suspend, lift and revoke with reasons, each a ledger entry the page names and the
public verification reflects; refusals next to their field with the ledger head unmoved; the
other roles read the page but cannot act."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cal@ak.example.org", "committee", name="Cal Committee")
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        yield made


@pytest.fixture
def rivera(ws: Workspace) -> str:
    """The demo history on the node; Maria Rivera's endorsement (active, Level III)."""
    return seed(ws.node, today())["rivera"]


class StaffEndorsementsContract:
    """The endorsement page on every backend."""

    def test_the_committee_suspends_lifts_and_revokes_with_reasons(self, ws: Workspace,
                                                                   rivera: str) -> None:
        page = f"/staff/endorsements/{rivera}"
        committee = ws.browser()
        sign_in(committee, "cal@ak.example.org")
        shown = committee.get(page).text
        assert f"<h1>Maria Rivera: {rivera}</h1>" in shown
        assert "Suspend</button>" in shown and "Lift the suspension" not in shown
        head = ws.head()
        empty = committee.post(f"{page}/suspend", data={
            "csrf_token": form_token(shown), "reason": "  ", "effective_on": "soon"})
        assert empty.status_code == 422
        assert 'id="suspend-reason-error"' in empty.text
        assert 'id="suspend-effective_on-error"' in empty.text
        assert ws.head() == head

        def act(action: str, reason: str) -> str:
            r = committee.post(f"{page}/{action}", data={
                "csrf_token": form_token(committee.get(page).text), "reason": reason,
                "effective_on": today().isoformat()})
            assert r.status_code == 303, r.text
            return committee.get(r.headers["location"]).text

        def public() -> str:
            return str(ws.browser().get("/v1/verify", params={
                "endorsement_id": rivera, "last_name": "Rivera"}).json()["status"])

        after = act("suspend", "Complaint under review")
        seq = ws.head()
        assert seq is not None and f"Ledger entry AK #{seq[0]}" in after
        assert public() == "suspended" and "Lift the suspension" in after
        act("lift", "Complaint dismissed")
        assert public() == "current"
        act("revoke", "Code of Ethics breach")
        assert public() == "revoked"
        actions = [e.action for e in ws.node.accounts.audit.entries()
                   if e.action.startswith("endorsement.")]
        # The refused form never reached the ledger, so it is no ledger action.
        assert sorted(actions) == ["endorsement.lift", "endorsement.revoke",
                                   "endorsement.suspend"]

    def test_other_roles_read_but_do_not_act(self, ws: Workspace, rivera: str) -> None:
        page = f"/staff/endorsements/{rivera}"
        coordinator = ws.browser()
        sign_in(coordinator, "cora@ak.example.org")
        shown = coordinator.get(page)
        assert shown.status_code == 200 and "Suspend</button>" not in shown.text
        r = coordinator.post(f"{page}/suspend", data={
            "csrf_token": form_token(coordinator.get("/staff/").text), "reason": "x"})
        assert r.status_code == 403
        assert coordinator.get("/staff/endorsements/AK-NOSUCH00").status_code == 404
        roster = coordinator.get("/staff/roster").text
        assert f'href="/staff/endorsements/{rivera}"' in roster


class TestStaffEndorsementsOnSQLite(StaffEndorsementsContract, OnSQLite):
    """On SQLite files."""


class TestStaffEndorsementsOnPostgreSQL(StaffEndorsementsContract, OnPostgreSQL):
    """On a PostgreSQL schema."""


def test_the_daily_lapse_run_shows_what_it_will_write(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        add_staff(ws.node, "cora@ak.example.org", "coordinator")
        service = ws.node.service
        for key, through in (("late", today() - dt.timedelta(days=100)),
                             ("in-grace", today() - dt.timedelta(days=10))):
            service.record_existing(endorsement_id=f"AK-{key.upper().replace('-', '')}1",
                                    person_id=f"AK-P-{key}", family_name=key.title(),
                                    given_name="Pat", level=Level.IFS, designation=None,
                                    granted_on=dt.date(2015, 1, 5), valid_through=through,
                                    legacy_reference="paper", now=now())
        coordinator = ws.browser()
        sign_in(coordinator, "cora@ak.example.org")
        page = coordinator.get("/staff/lapses").text
        assert "1 lapse due" in page and "AK-LATE1" in page and "AK-INGRACE1" not in page
        head = ws.head()
        empty = coordinator.post("/staff/lapses", data={"csrf_token": form_token(page)})
        assert empty.status_code == 422 and ws.head() == head
        done = coordinator.post("/staff/lapses", data={"csrf_token": form_token(page),
                                                       "endorsement_id": ["AK-LATE1",
                                                                          "AK-INGRACE1"]})
        after = ws.head()
        assert done.status_code == 200 and after is not None
        assert f"Recorded 1 lapse; the last ledger entry is AK #{after[0]}" in done.text
        assert "No lapse is due today." in done.text
        verdict = ws.browser().get("/v1/verify", params={"endorsement_id": "AK-LATE1",
                                                         "last_name": "Late"}).json()
        assert verdict["status"] == "lapsed"


def test_a_renewal_refused_then_accepted(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        okafor = seed(ws.node, today())["okafor"]  # Level IV-C, valid through 31 December
        add_staff(ws.node, "cora@ak.example.org", "coordinator")
        coordinator = ws.browser()
        sign_in(coordinator, "cora@ak.example.org")
        page = f"/staff/endorsements/{okafor}/renewal"
        shown = coordinator.get(page).text
        year = today().year
        assert f"1 January {year}" in shown and f"31 December {year}" in shown
        assert "at least 15 clock hours" in shown
        head = ws.head()
        day = today().isoformat()
        short = coordinator.post(page, data={
            "csrf_token": form_token(shown), "trainings-0-title": "Conference",
            "trainings-0-hours": "4", "trainings-0-completed_on": day,
            "memberships-0-association": "AK",
            "memberships-0-valid_through": f"{year + 1}-12-31"})
        assert short.status_code == 422 and "Not met:" in short.text
        # The unmet hours are written next to the hours, which name the message.
        assert 'id="trainings-0-hours-error"' in short.text
        assert re.search(r'id="trainings-0-hours"[^>]*aria-describedby="[^"]*'
                         r'trainings-0-hours-error"', short.text)
        assert 'value="Conference"' in short.text and ws.head() == head
        bad = coordinator.post(page, data={"csrf_token": form_token(shown),
                                           "trainings-0-title": "Conference",
                                           "trainings-0-hours": "many"})
        assert bad.status_code == 422 and 'id="trainings-0-hours-error"' in bad.text
        done = coordinator.post(page, data={
            "csrf_token": form_token(shown), "trainings-0-title": "Conference",
            "trainings-0-hours": "20", "trainings-0-completed_on": day,
            "rsc-0-provider_id": "AK-P-0001", "rsc-0-hours": "14",
            "rsc-0-started_on": f"{year}-01-02", "rsc-0-ended_on": day,
            "rsc-0-while_serving_families": "on", "memberships-0-association": "AK",
            "memberships-0-valid_through": f"{year + 1}-12-31"})
        assert done.status_code == 303, done.text
        after = coordinator.get(done.headers["location"]).text
        assert "The endorsement is renewed." in after and f"{year + 1}-12-31" in after
