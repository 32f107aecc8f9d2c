"""Every CSV the node writes goes through one formula guard with one (the strict) rule.

Writers: the roster over HTTP (`/v1/roster?format=csv`), the staff page's download
(`/staff/roster.csv`), `alliance roster export`, the bulk verification answer and the
subscription upload results. Names and echoed inputs that start with `= + - @`, a tab or a
carriage return must come out with a leading apostrophe in each of them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.levels import EndorsementStatus, Level
from federation_api.accounts.tokens import Role
from federation_api.cli.main import main
from federation_api.clock import now
from federation_api.settings import RateLimitSettings
from federation_api.web.csv_files import FORMULA_STARTS, ROSTER_COLUMNS, roster_csv, safe_cell
from tests.integration.live_app import LiveNode, live_node
from tests.integration.staff_browser import PASSWORD, add_staff, form_token

# (given name, family name) a spreadsheet would run; one endorsement is imported for each.
HOSTILE = {"AK-FORMULA1": ("Eve", "=HYPERLINK(1)"), "AK-FORMULA2": ("Eve", "+1+1"),
           "AK-FORMULA3": ("Eve", "-2+3"), "AK-FORMULA4": ("Eve", "@SUM(A1)"),
           "AK-FORMULA5": ("\tEve", "Tabbed"), "AK-FORMULA6": ("\rEve", "Returned")}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("csv"), RateLimitSettings(enabled=False)
                   ) as served:
        for endorsement_id, (given, family) in HOSTILE.items():
            served.node.service.record_existing(
                endorsement_id=endorsement_id, person_id=f"P-{endorsement_id}",
                family_name=family, given_name=given, level=Level.IFA, designation=None,
                granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2099, 12, 31),
                legacy_reference=f"paper-{endorsement_id}", now=now())
        yield served


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _guarded(cells: list[str]) -> None:
    """No cell may start like a formula unless it is quoted with the apostrophe."""
    for cell in cells:
        assert not cell.startswith(FORMULA_STARTS), repr(cell)


def _cells(rows: list[list[str]], column: str) -> set[str]:
    index = rows[0].index(column)
    return {row[index] for row in rows[1:]}


def _roster_guarded(rows: list[list[str]]) -> None:
    assert tuple(rows[0]) == ROSTER_COLUMNS
    assert {"'=HYPERLINK(1)", "'+1+1", "'-2+3", "'@SUM(A1)"} <= _cells(rows, "family_name")
    assert {"'\tEve", "'\rEve"} <= _cells(rows, "given_name")
    for row in rows:
        _guarded(row)


@pytest.mark.parametrize("first", [*FORMULA_STARTS, "'", "a", " ", "0"])
def test_the_rule(first: str) -> None:
    value = f"{first}value"
    assert safe_cell(value) == (f"'{value}" if first in FORMULA_STARTS else value)


def test_cells_of_every_kind() -> None:
    assert safe_cell(None) == ""
    assert safe_cell(EndorsementStatus.ACTIVE) == "active"
    assert safe_cell(dt.date(2024, 2, 29)) == "2024-02-29"
    assert safe_cell(-5) == "'-5"  # a number a formula could start with is text, too
    assert roster_csv([]) == ",".join(ROSTER_COLUMNS) + "\r\n"  # the header alone


def test_the_roster_over_http(live: LiveNode) -> None:
    with live.client(**live.token(Role.COORDINATOR)) as client:
        answer = client.get("/v1/roster", params={"format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    _roster_guarded(_rows(answer.text))


def test_the_staff_page_download(live: LiveNode) -> None:
    add_staff(live.node, "aud@ak.example.org", "auditor")
    with live.client() as client:
        page = client.get("/staff/login")
        assert client.post("/staff/login", data={
            "email": "aud@ak.example.org", "password": PASSWORD,
            "csrf_token": form_token(page.text)}, follow_redirects=False).status_code == 303
        answer = client.get("/staff/roster.csv")
    assert answer.status_code == 200
    _roster_guarded(_rows(answer.text))


def test_the_command_line_export(live: LiveNode, tmp_path: Path) -> None:
    out = tmp_path / "roster.csv"
    assert main(["roster", "export", "--data-dir", str(live.node.settings.data_dir),
                 "--format", "csv", "--output", str(out)]) == 0
    with out.open(newline="") as exported:
        _roster_guarded(list(csv.reader(exported)))


def test_the_bulk_verification_answer(live: LiveNode) -> None:
    lines = ["endorsement_id,last_name"] + [
        f'{endorsement_id},"{family}"' for endorsement_id, (_, family) in HOSTILE.items()]
    lines.append('-AK-NONE,"=cmd"')  # echoed as given, found or not
    with live.client(**live.token(Role.EMPLOYER)) as client:
        answer = client.post("/v1/verify/bulk", content="\r\n".join(lines).encode(),
                             headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    rows = _rows(answer.text)
    assert _cells(rows, "found") == {"yes", "no"}
    assert _cells(rows, "last_name") == {"'=HYPERLINK(1)", "'+1+1", "'-2+3", "'@SUM(A1)",
                                         "Tabbed", "Returned", "'=cmd"}
    assert "'-AK-NONE" in _cells(rows, "endorsement_id")
    assert {"'\tEve Tabbed", "'\rEve Returned"} <= _cells(rows, "name")
    for row in rows:
        _guarded(row)


def test_the_subscription_upload_results(live: LiveNode) -> None:
    data = "endorsement_id,last_name\r\n-AK-23,Nobody\r\nAK-FORMULA1,\"=HYPERLINK(1)\"\r\n"
    with live.client(**live.token(Role.EMPLOYER)) as client:
        answer = client.post("/v1/subscriptions/csv", params={"format": "csv"},
                             content=data.encode(), headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = _rows(answer.text)
    assert rows[0] == ["line", "endorsement_id", "result"]
    assert rows[1] == ["2", "'-AK-23", "not_found"]
    assert rows[2] == ["3", "AK-FORMULA1", "subscribed"]
    for row in rows:
        _guarded(row)


def test_no_other_module_writes_csv() -> None:
    """One place: only web/csv_files.py creates a csv writer in the node's code."""
    root = Path(__file__).resolve().parents[2] / "federation_api"
    writers = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                     if re.search(r"csv\.(writer|DictWriter)\(", p.read_text()))
    assert writers == ["web/csv_files.py"]
