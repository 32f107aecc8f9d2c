"""Every staff role's journey end to end in a real headless Chromium (JavaScript off, as the
pages promise to work without it) against `alliance serve` on SQLite files and on a fresh
PostgreSQL schema, each page on the way checked with axe-core (no serious or critical
violation):

- a coordinator takes a Level II application from intake to grant with two reviewers, each
  signed in in a browser of their own and deciding with comments; the page after the grant
  names the ledger entry (seq, hash) that the auditor API shows as the head;
- a Level III application through the exam: a failed sitting, then a passing retake under the
  association's exam policy, to grant;
- a renewal refused (too few training hours: the message next to the hours, the ledger head
  unmoved), then accepted with its new valid-through date;
- a reviewer who declares a conflict of interest loses the decision form, and a forged
  decision post is refused with the ledger head unmoved;
- an RS/C provider picked by a name two holders share, and a rater vetted;
- a renewal's RS/C provider found by name: none refused, one shown before anything is
  written, two offered as a choice.

One `alliance serve` per backend serves the whole module; the coordinator signs in once (the
authenticator enrolled at the first sign-in), the reviewers each time in a fresh browser.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.policy import AssociationPolicy
from federation_api.demo.seed import level_two_evidence
from federation_api.web.pages import evidence_form
from tests.browser.journeys import (
    BACKENDS,
    COORDINATOR,
    PROVIDER,
    REVIEWERS,
    Checker,
    StaffNode,
    axe_script_or_skip,
    database_url,
    enter_evidence,
    fill_form,
    follow,
    import_endorsement,
    level_three_evidence,
    make_node,
    new_context,
    shown_entry,
    sign_in,
)
from tests.e2e.harness import ServerProcess, today

PASS_MARK = 75.0


@pytest.fixture(scope="module", params=BACKENDS)
def ak(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[StaffNode]:
    """AK's node on the backend, its staff (a coordinator, two reviewers), Maria Rivera
    (Level III, the RS/C provider) and Sam Okafor (Level IV-C, valid through this year:
    renewable) imported. The association's exam policy: pass mark 75, a retake allowed the
    same day (so one journey can fail and retake)."""
    backend = str(request.param)
    root = tmp_path_factory.mktemp(f"journeys-{backend}")
    with database_url(backend) as url:
        node, accounts = make_node(root, "AK", url, {"cora": COORDINATOR, **REVIEWERS},
                                   AssociationPolicy(exam_pass_mark=PASS_MARK,
                                                     exam_retake_wait_days=0))
        server = ServerProcess(node)
        with server, server.client() as client:
            year = today().year
            import_endorsement(client, node, PROVIDER, "Rivera", "Maria", "IMHS",
                               dt.date(year + 1, 12, 31))
            import_endorsement(client, node, "AK-P-0002", "Okafor", "Sam", "IMHM",
                               dt.date(year, 12, 31), designation="C")
            yield StaffNode(server=server, node=node, accounts=accounts)


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


@pytest.fixture(scope="module")
def shapes(ak: StaffNode) -> set[str]:
    """The page shapes axe-core has checked on this backend's node."""
    return set()


@pytest.fixture
def axe(browser: Any, ak: StaffNode, axe_script: Path, shapes: set[str]) -> Iterator[Checker]:
    """The test's axe-core checker; the test fails on any serious or critical violation."""
    checker = Checker(browser, ak.url, axe_script, shapes)
    yield checker
    checker.close()
    assert checker.problems == []


@pytest.fixture(scope="module")
def coordinator(browser: Any, ak: StaffNode, axe_script: Path) -> Iterator[Any]:
    """Cora's browser, signed in once for the module (the authenticator set up then)."""
    context = new_context(browser)
    checker = Checker(browser, ak.url, axe_script)
    try:
        page = sign_in(context, ak.url, ak.accounts["cora"], checker)
        page.close()
        assert checker.problems == []
        yield context
    finally:
        checker.close()
        context.close()


def open_application(coordinator: Any, ak: StaffNode, axe: Checker, person: str,
                     given: str, family: str, level: str) -> Any:
    """The intake form: an empty form refused next to its fields (nothing written), then
    the application opened; its page."""
    page = coordinator.new_page()
    page.goto(f"{ak.url}/staff/applications")
    axe.check(page)
    head = ak.head()
    follow(page.get_by_role("button", name="Open the application"))
    assert page.locator(".error-summary").is_visible()
    for field in ("intake-person_id", "intake-family_name", "intake-level"):
        assert page.locator(f"#{field}-error").is_visible()
        assert f"{field}-error" in (page.locator(f"#{field}").get_attribute(
            "aria-describedby") or "")
    assert ak.head() == head
    axe.check(page)
    page.get_by_label("Person record id").fill(person)
    page.get_by_label("Given name").fill(given)
    page.get_by_label("Family name").fill(family)
    page.get_by_label("Level applied for").select_option(level)
    follow(page.get_by_role("button", name="Open the application"))
    assert "The application is open." in page.locator(".message").inner_text()
    assert shown_entry(page)[0] == ak.head()
    axe.check(page)
    return page


def assign(page: Any, ak: StaffNode, axe: Checker, first: str, second: str) -> None:
    page.get_by_label("First reviewer").select_option(label=ak.accounts[first].name)
    page.get_by_label("Second reviewer").select_option(label=ak.accounts[second].name)
    follow(page.get_by_role("button", name="Assign"))
    assert "The two reviewers are assigned" in page.locator(".message").inner_text()
    assert page.locator('.stages [aria-current="step"]').inner_text().startswith("In review")
    axe.check(page)


def decide(browser: Any, ak: StaffNode, axe: Checker, reviewer: str, applicant: str,
           decision: str, comments: str, unseen: str = "") -> None:
    """A reviewer signs in in a browser of their own, finds the application in their queue
    and records a decision with comments (reading their own, never the other reviewer's
    `unseen` ones)."""
    context = new_context(browser)
    try:
        page = sign_in(context, ak.url, ak.accounts[reviewer])
        queue = page.get_by_role("heading", level=2, name=re.compile("My review queue"))
        assert queue.is_visible()
        axe.check(page)
        follow(page.get_by_role("link", name=applicant))
        axe.check(page)
        page.get_by_label(decision, exact=True).check()
        page.get_by_label("Comments", exact=True).fill(comments)
        follow(page.get_by_role("button", name="Record my decision"))
        assert "Your decision is recorded." in page.locator(".message").inner_text()
        assert shown_entry(page)[0] == ak.head()
        assert page.get_by_role("button", name="Record my decision").count() == 0
        main = page.locator("main").inner_text()
        assert comments in main and (not unseen or unseen not in main)
        axe.check(page)
    finally:
        context.close()


def grant(page: Any, ak: StaffNode, axe: Checker, family: str) -> str:
    """The coordinator grants; the page after names the ledger entry (seq and hash) that
    is the ledger's head, and the endorsement's public verification says current."""
    page.reload()
    assert "This writes the grant to the association's ledger" in page.locator(
        "main").inner_text()
    axe.check(page)
    follow(page.get_by_role("button", name="Grant the endorsement"))
    assert "The endorsement is granted." in page.locator(".message").inner_text()
    seq, digest = shown_entry(page)
    assert seq == ak.head()
    entry = ak.entry(seq)
    assert entry["event_type"] == "EndorsementGranted"
    assert entry["entry_hash"].startswith(digest)
    assert page.locator('.stages [aria-current="step"]').inner_text().startswith("Granted")
    axe.check(page)
    found = re.search(r"Endorsement: (AK-[0-9A-Z]+)", page.locator("main").inner_text())
    assert found
    follow(page.get_by_role("link", name="public verification"))
    assert "current" in page.locator(".status-words").inner_text().lower()
    assert family in page.locator("main").inner_text()
    axe.check(page)
    return found[1]


def test_a_level_two_application_from_intake_to_grant_with_two_reviewers(
        browser: Any, ak: StaffNode, coordinator: Any, axe: Checker) -> None:
    page = open_application(coordinator, ak, axe, "AK-P-0310", "Noa", "Reyes", "IFS")
    follow(page.get_by_role("link", name="Enter or change the evidence"))
    axe.check(page)
    values = {k: v for k, v in evidence_form.form_values(level_two_evidence(today())).items()
              if v}
    enter_evidence(page, values)
    assert "Not met:" not in page.locator("main").inner_text()
    axe.check(page)
    assign(page, ak, axe, "rae", "ray")
    decide(browser, ak, axe, "rae", "Noa Reyes", "Approve", "Complete; checked by Rae.")
    decide(browser, ak, axe, "ray", "Noa Reyes", "Approve", "Complete; checked by Ray.",
           unseen="checked by Rae")
    page.reload()  # the coordinator reads both reviewers' comments before granting
    reviewers = page.get_by_role("list", name="Reviewers").inner_text()
    assert "Rae Reviewer: assigned" in reviewers and "Complete; checked by Rae." in reviewers
    assert "Complete; checked by Ray." in reviewers
    grant(page, ak, axe, "Reyes")
    assert len(axe.checked) >= 15


def test_a_level_three_application_through_the_exam_to_grant(
        browser: Any, ak: StaffNode, coordinator: Any, axe: Checker) -> None:
    page = open_application(coordinator, ak, axe, "AK-P-0311", "Alex", "Kim", "IMHS")
    follow(page.get_by_role("link", name="Enter or change the evidence"))
    values = {k: v for k, v in evidence_form.form_values(level_three_evidence()).items() if v}
    enter_evidence(page, values)
    assign(page, ak, axe, "rae", "ray")
    for reviewer in ("rae", "ray"):
        decide(browser, ak, axe, reviewer, "Alex Kim", "Approve for the exam (Levels III and IV)",
               "Ready for the exam.")
    page.reload()
    current = page.locator('.stages [aria-current="step"]')
    assert current.inner_text().startswith("Approved for exam")
    assert f"pass mark is {PASS_MARK:g}" in page.locator("main").inner_text()
    axe.check(page)

    head = ak.head()
    page.get_by_label("Score").fill("lots")
    follow(page.get_by_role("button", name="Record the sitting"))
    assert "as a number" in page.locator("#exam-score-error").inner_text()
    assert "exam-score-error" in (page.get_by_label("Score").get_attribute(
        "aria-describedby") or "")
    assert ak.head() == head
    axe.check(page)

    page.get_by_label("Score").fill("72")  # under the association's pass mark
    follow(page.get_by_role("button", name="Record the sitting"))
    assert "The exam sitting is recorded." in page.locator(".message").inner_text()
    assert shown_entry(page)[0] == ak.head()
    assert current.inner_text().startswith("Exam failed")
    sittings = page.get_by_role("table", name="Exam sittings")
    assert re.search(r"1\s+\S.*72.*75.*failed", sittings.inner_text().replace("\n", " "))
    axe.check(page)

    page.get_by_label("Score").fill("88")  # the retake
    follow(page.get_by_role("button", name="Record the sitting"))
    assert current.inner_text().startswith("Exam passed")
    rows = sittings.locator("tbody tr")
    assert rows.count() == 2 and "passed" in rows.nth(1).inner_text()
    assert ak.entry(ak.head())["event_type"] == "ApplicationExamSittingRecorded"
    axe.check(page)
    grant(page, ak, axe, "Kim")


def test_a_renewal_refused_for_too_few_hours_then_accepted(
        ak: StaffNode, coordinator: Any, axe: Checker) -> None:
    page = coordinator.new_page()
    page.goto(f"{ak.url}/staff/roster")
    axe.check(page)
    follow(page.locator("tr", has_text="Okafor").get_by_role("link").first)
    axe.check(page)
    follow(page.get_by_role("link", name="Renew this endorsement"))
    year = today().year
    text = page.locator("main").inner_text()
    assert f"1 January {year}" in text and f"31 December {year}" in text
    assert "at least 15 clock hours" in text
    axe.check(page)
    day = today().isoformat()
    evidence = {"trainings-0-title": "Conference", "trainings-0-hours": "4",
                "trainings-0-completed_on": day, "rsc-0-provider_id": PROVIDER,
                "rsc-0-hours": "14", "rsc-0-started_on": f"{year}-01-02",
                "rsc-0-ended_on": day, "rsc-0-while_serving_families": "on",
                "memberships-0-association": "AK",
                "memberships-0-valid_through": f"{year + 1}-12-31"}
    head = ak.head()
    assert fill_form(page, evidence) == set(evidence)
    follow(page.get_by_role("button", name="Record the renewal"))
    error = page.locator("#trainings-0-hours-error")
    assert error.is_visible() and "training" in error.inner_text().lower()
    assert "trainings-0-hours-error" in (page.locator("#trainings-0-hours").get_attribute(
        "aria-describedby") or "")
    assert page.locator(".error-summary").get_by_role(
        "link", name=re.compile("training", re.I)).count() >= 1
    assert page.locator("#trainings-0-title").input_value() == "Conference"  # kept
    assert ak.head() == head
    axe.check(page)

    page.locator("#trainings-0-hours").fill("20")
    follow(page.get_by_role("button", name="Record the renewal"))
    assert "The endorsement is renewed." in page.locator(".message").inner_text()
    seq, digest = shown_entry(page)
    assert seq == ak.head() and ak.entry(seq)["entry_hash"].startswith(digest)
    assert f"31 December {year + 1}" in page.locator("dl.facts").inner_text()
    axe.check(page)


def test_a_reviewer_with_a_declared_conflict_cannot_decide(
        browser: Any, ak: StaffNode, coordinator: Any, axe: Checker) -> None:
    page = open_application(coordinator, ak, axe, "AK-P-0312", "Tim", "Brooks", "IFS")
    application = page.url.split("?")[0]
    assign(page, ak, axe, "ray", "rae")
    context = new_context(browser)
    try:
        reviewer = sign_in(context, ak.url, ak.accounts["ray"])
        follow(reviewer.get_by_role("link", name="Tim Brooks"))
        form_token = reviewer.locator(
            'form[action$="/decision"] input[name="csrf_token"]').get_attribute("value")
        reviewer.get_by_label("Why you cannot review this application").fill(
            "I supervised him last year")
        follow(reviewer.get_by_role("button", name="Declare a conflict of interest"))
        assert "conflict of interest is recorded" in reviewer.locator(".message").inner_text()
        assert "Ray Reviewer: assigned" in reviewer.locator("main").inner_text()
        assert "declared a conflict of interest" in reviewer.locator("main").inner_text()
        assert reviewer.get_by_role("button", name="Record my decision").count() == 0
        axe.check(reviewer)

        # The form is gone; a decision posted anyway (the old form's token, this browser's
        # cookies) is refused and writes nothing.
        head = ak.head()
        refused = context.request.post(f"{application}/decision", form={
            "csrf_token": form_token or "", "decision": "approve", "comments": "fine"},
            max_redirects=0)
        assert refused.status == 422 and "Nothing was recorded" in refused.text()
        assert ak.head() == head
        # The form with another application's or no token at all: refused the same way.
        for token in ("", "forged"):
            forged = context.request.post(f"{application}/decision", form={
                "csrf_token": token, "decision": "approve"}, max_redirects=0)
            assert forged.status == 403 and ak.head() == head
        reviewer.goto(application)
        assert reviewer.get_by_role("button", name="Record my decision").count() == 0
    finally:
        context.close()


def test_sign_in_security_in_the_browser(browser: Any, ak: StaffNode, coordinator: Any,
                                         axe: Checker) -> None:
    """What only a browser shows (the HTTP-level attacks are in tests/integration/
    test_staff_pages.py): the session cookie changes at sign-in (checked by `sign_in`), a
    `next=` to another site lands on the dashboard, and the strict session cookie is not sent
    from another site, so neither a link nor a form there acts as the signed-in coordinator."""
    context = new_context(browser)
    try:
        page = sign_in(context, ak.url, ak.accounts["rae"], next_path="https://evil.example/")
        assert page.url == f"{ak.url}/staff/"
        assert page.get_by_role("heading", level=1, name="Dashboard").is_visible()
        axe.check(page)
    finally:
        context.close()

    evil = coordinator.new_page()
    evil.route("http://evil.example/**", lambda route: route.fulfill(
        content_type="text/html", body=f"""<!doctype html><html lang="en"><title>Prizes</title>
        <a href="{ak.url}/staff/accounts">See your prize</a>
        <form method="post" action="{ak.url}/staff/applications">
          <input type="hidden" name="person_id" value="AK-P-0666">
          <input type="hidden" name="given_name" value="Mal">
          <input type="hidden" name="family_name" value="Lory">
          <input type="hidden" name="level" value="IFS">
          <button type="submit">Claim it</button></form></html>"""))
    evil.goto("http://evil.example/")
    head = ak.head()
    follow(evil.get_by_role("button", name="Claim it"))
    assert "/staff/login" in evil.url and ak.head() == head
    evil.goto("http://evil.example/")
    follow(evil.get_by_role("link", name="See your prize"))
    assert "/staff/login" in evil.url  # the cookie stayed home
    evil.goto(f"{ak.url}/staff/accounts")  # typed in: the session is still there
    assert evil.get_by_role("heading", level=1, name="Staff accounts").is_visible()
    page = coordinator.new_page()
    page.goto(f"{ak.url}/staff/applications")
    assert "Lory" not in page.locator("main").inner_text()


def test_a_provider_picked_by_name_and_a_rater_vetted(
        browser: Any, ak: StaffNode, coordinator: Any, axe: Checker) -> None:
    """Without JavaScript: a provider typed by a name two holders share is offered as a
    choice (nothing saved), the chosen one saved under their id and shown; a rater vetted
    from the application page, the refused form first leaving the ledger head unmoved."""
    with ak.server.client() as client:
        import_endorsement(client, ak.node, "AK-P-0091", "Rivera", "Dana", "IFS",
                           dt.date(today().year + 1, 12, 31))
    page = open_application(coordinator, ak, axe, "AK-P-0330", "Eli", "Stone", "IFS")
    application = page.url.split("?")[0]
    follow(page.get_by_role("link", name="Enter or change the evidence"))
    enter_evidence(page, {k: v for k, v in evidence_form.form_values(
        level_two_evidence(today())).items() if v})
    follow(page.get_by_role("link", name="Enter or change the evidence"))
    head = ak.head()
    page.get_by_label("Provider: name or person id").first.fill("rivera")
    follow(page.get_by_role("button", name="Save the evidence"))
    assert page.locator("#rsc-0-provider_id-error").is_visible() and ak.head() == head
    choice = page.get_by_role("group", name="Whom do you mean by “rivera”?")
    assert choice.get_by_role("radio").count() == 2
    axe.check(page)
    choice.get_by_label(re.compile(r"^Maria Rivera \(AK-P-0001\)")).check()
    follow(page.get_by_role("button", name="Save the evidence"))
    assert "The evidence is saved." in page.locator(".message").inner_text()
    assert shown_entry(page)[0] == ak.head()
    assert "This id names Maria Rivera (AK-P-0001): AK Infant Mental Health Specialist" in (
        page.locator("main").inner_text())
    axe.check(page)

    page.goto(application)
    raters = page.get_by_role("table", name="Raters").inner_text()
    assert "Maria Rivera" in raters and "Program supervisor" in raters
    head = ak.head()
    page.get_by_label("Rater", exact=True).select_option("AK-X-0100")
    follow(page.get_by_role("button", name="Record the vetting"))
    assert page.locator("#vet-note-error").is_visible() and ak.head() == head
    axe.check(page)
    page.get_by_label("How you vetted the rater").fill("Phoned the programme office")
    follow(page.get_by_role("button", name="Record the vetting"))
    assert "The rater is vetted" in page.locator(".message").inner_text()
    assert shown_entry(page)[0] == ak.head() == head + 1
    assert ak.entry(head + 1)["event_type"] == "RaterVetted"
    axe.check(page)


def test_a_renewals_provider_found_by_name(ak: StaffNode, coordinator: Any,
                                           axe: Checker) -> None:
    """Without JavaScript, on the renewal form: a provider's name nobody has is refused next
    to the field; a name one holder has is shown with their person id, nothing written until
    the form is sent again; a name two holders share offers both, and the chosen one is
    recorded."""
    year = today().year
    with ak.server.client() as client:
        eid = import_endorsement(client, ak.node, "AK-P-0096", "Haddad", "Omar", "IFS",
                                 dt.date(year, 12, 31))
        import_endorsement(client, ak.node, "AK-P-0097", "Rivera", "Ines", "IFS",
                           dt.date(year + 1, 12, 31))
    page = coordinator.new_page()
    page.goto(f"{ak.url}/staff/endorsements/{eid}")
    follow(page.get_by_role("link", name="Renew this endorsement"))
    day = today().isoformat()
    evidence = {"trainings-0-title": "Conference", "trainings-0-hours": "20",
                "trainings-0-completed_on": day, "rsc-0-provider_id": "Nobody Atall",
                "rsc-0-hours": "14", "rsc-0-started_on": f"{year}-01-02",
                "rsc-0-ended_on": day, "rsc-0-while_serving_families": "on",
                "memberships-0-association": "AK",
                "memberships-0-valid_through": f"{year + 1}-12-31"}
    head = ak.head()
    assert fill_form(page, evidence) == set(evidence)
    follow(page.get_by_role("button", name="Record the renewal"))
    error = page.locator("#rsc-0-provider_id-error")
    assert error.is_visible() and "Nobody endorsed in the Alliance" in error.inner_text()
    assert ak.head() == head
    axe.check(page)

    provider = page.get_by_label("Provider: name or person id").first
    provider.fill("okafor")
    follow(page.get_by_role("button", name="Record the renewal"))
    notice = page.locator("p.message[role=status]").inner_text()
    assert "Nothing is recorded yet" in notice and "Sam Okafor (AK-P-0002)" in notice
    assert provider.input_value() == "AK-P-0002" and ak.head() == head
    assert "This id names Sam Okafor (AK-P-0002)" in page.locator("main").inner_text()
    axe.check(page)

    provider.fill("rivera")
    follow(page.get_by_role("button", name="Record the renewal"))
    choice = page.get_by_role("group", name="Whom do you mean by “rivera”?")
    assert choice.get_by_role("radio").count() >= 2 and ak.head() == head
    axe.check(page)
    choice.get_by_label(re.compile(r"^Maria Rivera \(AK-P-0001\)")).check()
    follow(page.get_by_role("button", name="Record the renewal"))
    assert "The endorsement is renewed." in page.locator(".message").inner_text()
    seq, digest = shown_entry(page)
    assert seq == ak.head() == head + 1 and ak.entry(seq)["entry_hash"].startswith(digest)
    axe.check(page)
