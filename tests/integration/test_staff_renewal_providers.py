"""The renewal and reinstatement forms find the RS/C provider by name across the Alliance, as
the application's evidence form does (`people_picker`), over a real node (SQLite and
PostgreSQL): one match shown on the form with its person id and nothing written until the
form is sent again; several shown as radio buttons, the chosen one recorded; none an error
next to the field; the ledger head unmoved until the entry is written."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, CORA, "coordinator", name="Cora")
        yield made


@pytest.fixture
def cora(ws: Workspace) -> TestClient:
    browser = ws.browser()
    sign_in(browser, CORA)
    return browser


def shown_values(html: str) -> dict[str, str]:
    """The text inputs' values as the page shows them (what a browser sends back)."""
    return {name: value for name, value in re.findall(
        r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html) if value}


def cycle_evidence(year: int, day: str, provider: str) -> dict[str, str]:
    """A renewal cycle's evidence in the form, with `provider` typed for the RS/C."""
    return {"trainings-0-title": "Conference", "trainings-0-hours": "20",
            "trainings-0-completed_on": day, "rsc-0-provider_id": provider,
            "rsc-0-hours": "14", "rsc-0-started_on": f"{year}-01-02", "rsc-0-ended_on": day,
            "rsc-0-while_serving_families": "on", "memberships-0-association": "AK",
            "memberships-0-valid_through": f"{year + 1}-12-31"}


class RenewalProvidersContract:
    """The provider picked by name on every backend."""

    def test_a_renewal_finds_its_provider_by_name(self, ws: Workspace,
                                                  cora: TestClient) -> None:
        okafor = seed(ws.node, today())["okafor"]  # Level IV-C, valid through 31 December
        # A second Rivera makes "riv" ambiguous; Maria Rivera (AK-P-0001) is Level III.
        ws.node.service.record_existing(
            endorsement_id="AK-RIVERA02", person_id="AK-P-0090", family_name="Rivera",
            given_name="Dana", level=Level.IFS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=today() + dt.timedelta(days=300),
            legacy_reference="rivera-2", now=now())
        page = f"/staff/endorsements/{okafor}/renewal"
        shown = cora.get(page).text
        assert "Provider: name or person id" in shown
        year, day, head = today().year, today().isoformat(), ws.head()
        token = form_token(shown)

        nobody = cora.post(page, data={"csrf_token": token,
                                       **cycle_evidence(year, day, "Nobody Atall")})
        assert nobody.status_code == 422 and 'id="rsc-0-provider_id-error"' in nobody.text
        assert "Nobody endorsed in the Alliance has a name like “Nobody Atall”" in nobody.text
        assert ws.head() == head

        several = cora.post(page, data={"csrf_token": token,
                                        **cycle_evidence(year, day, "riv")})
        assert several.status_code == 422 and "The renewal was not recorded" in several.text
        assert "2 people in the Alliance have a name like “riv”" in several.text
        for person, name in (("AK-P-0001", "Maria Rivera"), ("AK-P-0090", "Dana Rivera")):
            assert (f'name="rsc-0-provider_id-pick" value="{person}"><label '
                    f'for="rsc-0-provider_id-pick-') in several.text
            assert f"{name} ({person}): AK " in several.text
        assert ws.head() == head

        # One match: the form comes back with the person id in place and whom it names,
        # nothing written; sent again as shown, the renewal is recorded.
        alone = cora.post(page, data={"csrf_token": token,
                                      **cycle_evidence(year, day, "maria rivera")})
        assert alone.status_code == 200 and "Nothing is recorded yet" in alone.text
        assert "“maria rivera” is Maria Rivera (AK-P-0001): AK Infant Mental Health " \
               "Specialist (IMHS), current" in alone.text
        assert 'value="AK-P-0001"' in alone.text
        assert "This id names Maria Rivera (AK-P-0001)" in alone.text
        assert ws.head() == head
        again = shown_values(alone.text)
        assert again["rsc-0-provider_id"] == "AK-P-0001"
        done = cora.post(page, data={**again, "rsc-0-while_serving_families": "on"})
        assert done.status_code == 303, done.text
        assert "The endorsement is renewed." in cora.get(done.headers["location"]).text
        assert ws.head() != head

    def test_a_chosen_candidate_is_recorded_at_once(self, ws: Workspace,
                                                    cora: TestClient) -> None:
        okafor = seed(ws.node, today())["okafor"]
        ws.node.service.record_existing(
            endorsement_id="AK-RIVERA02", person_id="AK-P-0090", family_name="Rivera",
            given_name="Dana", level=Level.IFS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=today() + dt.timedelta(days=300),
            legacy_reference="rivera-2", now=now())
        page = f"/staff/endorsements/{okafor}/renewal"
        year, day, head = today().year, today().isoformat(), ws.head()
        chosen = cora.post(page, data={"csrf_token": form_token(cora.get(page).text),
                                       **cycle_evidence(year, day, "riv"),
                                       "rsc-0-provider_id-pick": "AK-P-0001"})
        assert chosen.status_code == 303, chosen.text
        assert ws.head() != head

    def test_a_reinstatement_finds_its_provider_by_name(self, ws: Workspace,
                                                        cora: TestClient) -> None:
        seed(ws.node, today())  # Sam Okafor (AK-P-0002), Level IV-C, the only Okafor
        ended = today() - dt.timedelta(days=200)
        ws.node.service.record_existing(
            endorsement_id="AK-CRUZ0001", person_id="AK-P-0403", family_name="Cruz",
            given_name="Jo", level=Level.IFA, designation=None,
            granted_on=ended - dt.timedelta(days=730), valid_through=ended,
            legacy_reference="cruz", now=now())
        ws.node.service.lapse("AK-CRUZ0001", on=today(), now=now())
        page = "/staff/endorsements/AK-CRUZ0001/reinstatement"
        form_page = cora.get(page).text
        assert "Provider: name or person id" in form_page
        in_cycle = (ended - dt.timedelta(days=30)).isoformat()
        evidence = {"trainings-0-title": "Conference", "trainings-0-hours": "20",
                    "trainings-0-completed_on": in_cycle, "memberships-0-association": "AK",
                    "memberships-0-valid_through": f"{today().year + 1}-12-31",
                    "rsc-0-hours": "12", "rsc-0-started_on": (
                        ended - dt.timedelta(days=300)).isoformat(),
                    "rsc-0-ended_on": in_cycle}
        head, token = ws.head(), form_token(form_page)
        nobody = cora.post(page, data={"csrf_token": token, "reason": "Hours documented late",
                                       **evidence, "rsc-0-provider_id": "Zzyzx"})
        assert nobody.status_code == 422 and 'id="rsc-0-provider_id-error"' in nobody.text
        assert "The reinstatement was not recorded" in nobody.text
        alone = cora.post(page, data={"csrf_token": token, "reason": "Hours documented late",
                                      **evidence, "rsc-0-provider_id": "okafor"})
        assert alone.status_code == 200 and "Nothing is recorded yet" in alone.text
        assert "“okafor” is Sam Okafor (AK-P-0002)" in alone.text
        assert "record the reinstatement again" in alone.text
        assert ws.head() == head
        again = shown_values(alone.text)
        assert again["rsc-0-provider_id"] == "AK-P-0002"
        assert again["reason"] == "Hours documented late"
        done = cora.post(page, data=again)
        assert done.status_code == 303, done.text
        assert "The endorsement is reinstated." in cora.get(done.headers["location"]).text


class TestRenewalProvidersOnSQLite(RenewalProvidersContract, OnSQLite):
    """On SQLite files."""


class TestRenewalProvidersOnPostgreSQL(RenewalProvidersContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
