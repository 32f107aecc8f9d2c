"""The steps of issue 12's whole journey across roles, each a small function of one person's
doing in the browser (JavaScript off) against `alliance serve`, with every page checked by
axe-core; `tests/browser/test_portal_journey_browser.py` runs them in order.

A step reads what the person would see (pages, mails on the real SMTP server) and leaves
what the next step needs on the `Journey` (the draft's and the application's addresses, the
endorsement's id). A step that another portal piece adds (uploads, rater links, payment) is
one more function here and one more line in the test.

Time: the node reads the real clock (`federation_api.clock`) and nothing here moves it. "A
year later" is reached by the association's policy instead: its renewal date is three weeks
from today and the first cycle is not stretched to a year (`first_cycle_min_months=0`), so
the endorsement granted today is inside the reminder window at once, exactly as one granted
a year ago would be now. The hours, the reminder and the renewal all fall on real dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from pypdf import PdfReader

from domain.policy import AssociationPolicy
from federation_api.clock import today
from federation_api.demo.seed import level_two_evidence
from federation_api.node.root import Node
from federation_api.portal.texts import Document, text_of
from federation_api.ratings.areas import AREAS
from federation_api.settings import Settings
from federation_api.web.pages import evidence_form
from federation_api.web.pages.templating import long_date
from tests import document_files
from tests.browser.journeys import (
    PROVIDER,
    Account,
    Checker,
    fill_form,
    follow,
    nav_link,
    new_context,
    sign_in,
)
from tests.e2e.harness import NodeDir, ServerProcess, head_seq
from tests.integration.fake_payments import FakeProvider
from tests.integration.smtp_sink import Received, SmtpSink

APPLICANT = "ana.garcia@example.org"
APPLICANT_NAME = "Ana García"
PERSON_ID = "AK-P-0042"
DUE_IN_DAYS = 21  # under the 30-day reminder, over the 7-day one
MAIL_WAIT = 60.0  # seconds: the outbox sender of a loaded machine


def renewal_soon_policy(on: dt.date) -> AssociationPolicy:
    """The association's policy that makes an endorsement granted on `on` come due in
    DUE_IN_DAYS days (see the module docstring); 29 February is skipped, as no fixed renewal
    date can be it."""
    due = on + dt.timedelta(days=DUE_IN_DAYS)
    if (due.month, due.day) == (2, 29):
        due += dt.timedelta(days=1)
    return AssociationPolicy(fixed_month=due.month, fixed_day=due.day,
                             first_cycle_min_months=0)


@dataclass
class Journey:
    """Everyone's browsers and what the steps found on the way."""

    browser: Any
    server: ServerProcess
    node: NodeDir
    sink: SmtpSink
    provider: FakeProvider
    accounts: dict[str, Account]
    policy: AssociationPolicy
    axe: Checker
    coordinator: Any = None  # the coordinator's browser context, signed in once
    applicant: Any = None  # the applicant's current browser context
    page: Any = None  # the applicant's current page
    draft_url: str = ""
    transcript: bytes = b""  # the bytes the applicant uploaded
    application_url: str = ""
    endorsement_id: str = ""
    links_used: int = 0
    contexts: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def head(self) -> int:
        with self.server.client() as client:
            return head_seq(client, self.node)

    def new_applicant_context(self) -> Any:
        context = self.browser.new_context(java_script_enabled=False, accept_downloads=True)
        self.contexts.append(context)
        self.applicant = context
        self.page = context.new_page()
        return self.page

    def staff_page(self) -> Any:
        """A new page of the coordinator's browser (signed in at the first call)."""
        if self.coordinator is None:
            self.coordinator = new_context(self.browser)
            self.contexts.append(self.coordinator)
            sign_in(self.coordinator, self.url, self.accounts["cora"], self.axe).close()
        return self.coordinator.new_page()

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.axe.close()


# -- mail ------------------------------------------------------------------------------------


def mails_to(sink: SmtpSink, recipient: str, subject: str) -> list[Received]:
    return [m for m in list(sink.received) if recipient in m.rcpt_tos
            and subject in str(m.message["Subject"])]


def wait_for_mail(sink: SmtpSink, recipient: str, subject: str, count: int = 1) -> Received:
    """The `count`-th mail to `recipient` whose subject holds `subject`, once it arrived."""
    deadline = time.monotonic() + MAIL_WAIT
    while time.monotonic() < deadline:
        found = mails_to(sink, recipient, subject)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no mail {count} to {recipient} about {subject!r}; the server got "
                         f"{[str(m.message['Subject']) for m in sink.received]}")


def mail_with(sink: SmtpSink, recipient: str, text: str, count: int = 1) -> Received:
    """The `count`-th mail to `recipient` whose text holds `text`, once it arrived."""
    deadline = time.monotonic() + MAIL_WAIT
    while time.monotonic() < deadline:
        found = [m for m in list(sink.received) if recipient in m.rcpt_tos and text in m.text()]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no mail {count} to {recipient} holding {text!r}")


def sign_in_link(j: Journey) -> str:
    """The link of the applicant's next sign-in mail (each earlier one has been used)."""
    j.links_used += 1
    mail = mail_with(j.sink, APPLICANT, "/portal/sign-in/link?token=", j.links_used)
    link = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+", mail.text())
    assert link, mail.text()
    return link.group(0)


# -- the applicant ---------------------------------------------------------------------------


RATERS = {  # the three raters as the applicant names them: id, name, role, address, degree
    "AK-X-0100": ("Robin Supervisor", "program_supervisor", "robin.supervisor@example.org", ""),
    PROVIDER: ("Maria Rivera", "rsc_provider", "maria.rivera@example.org", "master"),
    "AK-X-0101": ("Lee Colleague", "colleague", "lee.colleague@example.org", ""),
}


def evidence_values() -> dict[str, str]:
    """A complete Level II application as the portal's form takes it: the staff form's
    values of the demo's Level II evidence, less what only the association records (the
    transcript's arrival) and the ticked declarations the portal replaces with signatures,
    and with the raters named with their addresses (they rate through emailed links)."""
    values = evidence_form.form_values(level_two_evidence(today()))
    kept = {k: v for k, v in values.items() if v and k.count("-") >= 2
            and not k.endswith("-transcript_received") and not k.startswith("ratings-")}
    for row, (rater_id, (name, role, email, degree)) in enumerate(RATERS.items()):
        kept |= {f"ratings-{row}-rater_id": rater_id, f"ratings-{row}-rater_name": name,
                 f"ratings-{row}-role": role, f"ratings-{row}-rater_email": email}
        if degree:
            kept[f"ratings-{row}-rater_degree"] = degree
    return kept


def part(values: dict[str, str], sections: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k.split("-")[0] in sections}


FIRST_SESSION = ("degrees", "trainings", "work")
SECOND_SESSION = ("rsc", "ratings", "memberships")


def save_rows(page: Any, values: dict[str, str], rounds: int = 5) -> None:
    """Fill the rows the draft shows, save (a new empty row appears), until all are in."""
    left = dict(values)
    for _ in range(rounds):
        filled = fill_form(page, left)
        follow(page.get_by_role("button", name="Save the draft"))
        assert "Your draft is saved" in page.locator(".message").first.inner_text()
        left = {k: v for k, v in left.items() if k not in filled}
        if not left:
            return
    raise AssertionError(f"the draft never showed {sorted(left)}")


def sign_up(j: Journey) -> None:
    """Sign up (an empty form refused next to its field), then sign in by the emailed link."""
    page = j.new_applicant_context()
    page.goto(f"{j.url}/portal/sign-up")
    j.axe.check(page)
    follow(page.get_by_role("button", name="Create account"))
    assert page.locator("#display_name-error").is_visible()
    assert "display_name-error" in (page.locator("#display_name").get_attribute(
        "aria-describedby") or "")
    j.axe.check(page)
    page.get_by_label("Your full name").fill(APPLICANT_NAME)
    page.get_by_label("Email address").fill(APPLICANT)
    follow(page.get_by_role("button", name="Create account"))
    assert page.get_by_role("heading", level=1, name="Check your email").is_visible()
    j.axe.check(page)
    follow_sign_in_link(j)


def follow_sign_in_link(j: Journey) -> None:
    """Open the latest emailed link and press its one button; the home page."""
    page = j.page
    page.goto(sign_in_link(j))
    j.axe.check(page)
    follow(page.get_by_role("button", name="Sign in"))
    assert page.get_by_role("heading", level=1, name="Your applications").is_visible()
    j.axe.check(page)


def draft_first_session(j: Journey) -> None:
    """Start a Level II draft, enter the first half, sign out."""
    page = j.page
    follow(page.get_by_role("link", name="Start an application"))
    j.axe.check(page)
    page.get_by_label("Level", exact=True).select_option("IFS")
    follow(page.get_by_role("button", name="Start the draft"))
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Draft application: Level II"), heading
    j.draft_url = page.url.split("?")[0]
    j.axe.check(page)
    save_rows(page, part(evidence_values(), FIRST_SESSION))
    assert "Not met yet:" in page.locator(".checklist").inner_text()  # half an application
    j.axe.check(page)
    follow(page.get_by_role("button", name="Sign out"))
    page.goto(j.draft_url)  # signed out: the draft is not shown
    assert "Anchorage Early Head Start" not in page.content()


def draft_second_session(j: Journey) -> None:
    """Ask for a new link in a new browser, find the first session's work kept, finish the
    draft (the RS/C provider named by id, shown by name; three raters with their
    addresses), sign both texts and the waiver of access to the ratings."""
    page = j.new_applicant_context()
    page.goto(f"{j.url}/portal/sign-in")
    j.axe.check(page)
    page.get_by_label("Email address").fill(APPLICANT)
    follow(page.get_by_role("button", name="Email me a sign-in link"))
    j.axe.check(page)
    follow_sign_in_link(j)
    follow(page.get_by_role("link", name=re.compile("^Level II: Infant Family Specialist")))
    assert page.url.split("?")[0] == j.draft_url
    values = evidence_values()
    assert page.locator('[id="work-0-employer"]').input_value() == values["work-0-employer"]
    save_rows(page, part(values, SECOND_SESSION))
    assert "This id names Maria Rivera (AK-P-0001)" in page.locator("main").inner_text()
    j.axe.check(page)
    for heading, prefix in (("Code of Ethics", "code_of_ethics"),
                            ("Endorsement Agreement", "endorsement_agreement")):
        page.get_by_label(re.compile(f"^I have read the {heading}")).check()
        page.locator(f"#sign-{prefix}-name").fill(APPLICANT_NAME)
        follow(page.get_by_role("button", name=f"Sign the {heading}"))
        assert "Your signature is recorded" in page.locator(".message").first.inner_text()
    j.axe.check(page)
    # The waiver of access to the ratings: the box left unticked is named next to it.
    follow(page.get_by_role("button", name="Sign the waiver"))
    assert page.locator("#waiver-agreed-error").is_visible()
    assert page.locator("#waiver-agreed").get_attribute("aria-describedby") == \
        "waiver-agreed-error"
    j.axe.check(page)
    page.get_by_label(re.compile("^I have read the waiver")).check()
    follow(page.get_by_role("button", name="Sign the waiver"))
    assert "Your waiver is recorded" in page.locator(".message").first.inner_text()
    head = j.head()
    follow(page.get_by_role("button", name="Submit the application"))  # not yet confirmed
    assert "not yet confirmed" in page.locator(".error-summary").inner_text()
    assert j.head() == head
    j.axe.check(page)


TRANSCRIPT_NAME = "Official transcript 2016.pdf"


def upload_transcript(j: Journey) -> None:
    """On the draft page, a web page named like a PDF is refused next to the file field
    (nothing stored), then the transcript (a PDF) is stored and listed."""
    page = j.page
    page.goto(j.draft_url)
    folder = j.node.data_dir.parent / "applicant-files"
    folder.mkdir(exist_ok=True)
    hostile = folder / "transcript.pdf"
    hostile.write_bytes(document_files.HTML)
    page.get_by_label("File", exact=True).set_input_files(str(hostile))
    follow(page.get_by_role("button", name="Upload the document"))
    error = page.locator("#document-file-error")
    assert "Web pages (HTML) are not accepted" in error.inner_text()
    assert "document-file-error" in (page.get_by_label("File", exact=True).get_attribute(
        "aria-describedby") or "")
    j.axe.check(page)
    j.transcript = document_files.pdf(2)
    transcript = folder / TRANSCRIPT_NAME
    transcript.write_bytes(j.transcript)
    page.get_by_label("What the document is").select_option("transcript")
    page.get_by_label("File", exact=True).set_input_files(str(transcript))
    follow(page.get_by_role("button", name="Upload the document"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Draft application")
    assert "The document is stored" in page.locator(
        "#documents-title ~ .message").first.inner_text()
    assert page.get_by_role("link", name=TRANSCRIPT_NAME).is_visible()
    j.axe.check(page)


def pay_on_the_provider_page(j: Journey, button: str, back: str) -> None:
    """Press the portal's Pay button, pay on the fake provider's checkout page (not the
    project's page: not checked by axe-core), come back to the portal's "paid" page."""
    page = j.page
    follow(page.get_by_role("button", name=button))
    assert page.url.startswith(f"{j.provider.url}/checkout?")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Pay ")
    follow(page.get_by_role("button", name="Pay", exact=True))
    assert page.get_by_role("heading", level=1).inner_text() == "Your fee is paid"
    assert "through the payment provider" in page.content()
    j.axe.check(page)
    follow(page.get_by_role("link", name=back))


def pay_the_application_fee(j: Journey) -> None:
    """The draft's fee panel says what is due; paid through the provider, the checklist
    shows the fee met (the node's record, marked paid by the provider's signed callback)."""
    page = j.page
    page.goto(j.draft_url)
    fee = page.locator("#fee-title").locator("xpath=..")
    assert "Due: 100.50 USD. Not paid yet." in fee.inner_text()
    j.axe.check(page)
    pay_on_the_provider_page(j, "Pay 100.50 USD online", "Back to your draft")
    checklist = page.get_by_role("list", name="What the rules need")
    assert "Met: The processing fee is paid." in checklist.inner_text()
    assert page.get_by_role("button", name=re.compile("online$")).count() == 0
    j.axe.check(page)


def submit(j: Journey) -> None:
    """Submit the draft; the status page."""
    page = j.page
    page.goto(j.draft_url)
    head = j.head()
    follow(page.get_by_role("button", name="Submit the application"))
    assert "Your application is submitted" in page.locator(".message").inner_text()
    assert "Submitted" in page.locator(".facts").inner_text()
    assert j.head() > head
    j.application_url = page.url.split("?")[0]
    j.axe.check(page)


def read_comments_and_answer(j: Journey, asked: str, answer: str,
                             change: dict[str, str]) -> None:
    """The applicant is mailed that the application was returned, reads the comments on
    the status page (under "Reviewer 1", never a reviewer's name), and answers with the
    `change` made to the application. A wrong
    value in the answer, and an answer that neither says nor changes anything, are refused
    next to their fields, nothing written."""
    mail_with(j.sink, APPLICANT, asked)  # the return mail carries the comments
    page = j.page
    page.goto(j.application_url)
    main = page.locator("main").inner_text()
    assert "Returned" in page.locator(".facts").inner_text()
    assert f"Reviewer 1 wrote: {asked}" in " ".join(main.split())
    for name in ("Rae Reviewer", "Ray Reviewer"):
        assert name not in main
    j.axe.check(page)
    hours = page.locator('[id="trainings-0-hours"]')
    kept = hours.input_value()
    hours.fill("lots")  # a wrong value in the changed application: refused, nothing written
    head = j.head()
    follow(page.get_by_role("button", name="Send the answer"))
    assert page.locator("#trainings-0-hours-error").is_visible()
    assert "trainings-0-hours-error" in (hours.get_attribute("aria-describedby") or "")
    assert "Returned" in page.locator(".facts").inner_text()
    assert j.head() == head
    j.axe.check(page)
    hours.fill(kept)
    follow(page.get_by_role("button", name="Send the answer"))  # nothing said, nothing changed
    assert page.locator("#response-error").is_visible(), page.locator("main").inner_text()
    assert "response-error" in (page.locator("#response").get_attribute(
        "aria-describedby") or "")
    assert j.head() == head
    j.axe.check(page)
    assert fill_form(page, change) == set(change)
    page.get_by_label("Your answer to the comments").fill(answer)
    follow(page.get_by_role("button", name="Send the answer"))
    assert "Your answer is sent" in page.locator(".message").inner_text()
    assert "In review" in page.locator(".facts").inner_text()
    main = page.locator("main").inner_text()
    assert answer in main and "Waiting for the reviewers' decisions." in main
    assert "acc_" not in main  # the staff's account ids are the staff's
    j.axe.check(page)


def download_certificate(j: Journey) -> None:
    """The applicant's home page lists the new endorsement; its certificate is a PDF naming
    them, the level, the id and the valid-through date."""
    page = j.page
    page.goto(f"{j.url}/portal/")
    through = j.policy.first_valid_through(today())
    endorsements = page.locator("main").inner_text()
    assert j.endorsement_id in endorsements and long_date(through) in endorsements
    j.axe.check(page)
    follow(page.get_by_role("link", name="Your renewal"))
    j.axe.check(page)
    follow(page.get_by_role("link", name=re.compile(j.endorsement_id)))
    j.axe.check(page)
    link = page.get_by_role("link", name="Download your certificate (PDF)")
    href = link.get_attribute("href")
    assert href == f"/portal/renewal/{j.endorsement_id}/certificate.pdf"
    # As the browser fetches it with the session (Chromium's viewer would only show it).
    answer = j.applicant.request.get(f"{j.url}{href}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.body()))
    text = " ".join(reader.pages[0].extract_text().split())
    for fact in (APPLICANT_NAME, "Level II", j.endorsement_id, long_date(through)):
        assert fact in text, (fact, text)
    assert j.applicant.request.get(f"{j.url}/portal/renewal/AK-NOSUCH00/certificate.pdf"
                                   ).status == 404


def log_hours(j: Journey, kind: str, hours: str, provider: str) -> None:
    page = j.page
    page.get_by_label("What the hours were").select_option(kind)
    page.get_by_label("Date").fill(today().isoformat())
    page.get_by_label("Clock hours").fill(hours)
    page.get_by_label("Provider").fill(provider)
    follow(page.get_by_role("button", name="Log the hours"))
    assert page.get_by_role("status").inner_text() == "The hours are logged."
    j.axe.check(page)


def renew_in_the_page(j: Journey) -> None:
    """The reminded professional signs in by a new link, logs the cycle's hours (the page
    says what is still lacking in between), pays the renewal fee through the provider and
    renews: the new valid-through is shown."""
    page = j.new_applicant_context()
    page.goto(f"{j.url}/portal/sign-in")
    page.get_by_label("Email address").fill(APPLICANT)
    follow(page.get_by_role("button", name="Email me a sign-in link"))
    follow_sign_in_link(j)
    follow(page.get_by_role("link", name="Your hours"))
    j.axe.check(page)
    log_hours(j, "training", "16", "AK-AIMH annual conference")
    page.goto(f"{j.url}/portal/renewal/{j.endorsement_id}")
    lacking = page.get_by_role("list", name="What your logged hours still lack")
    assert "RS/C" in lacking.inner_text()
    j.axe.check(page)
    follow(page.get_by_role("link", name="Log or correct your hours"))
    log_hours(j, "rsc", "12", "Maria Rivera")
    page.goto(f"{j.url}/portal/renewal/{j.endorsement_id}")
    assert "Your logged hours meet the cycle's requirements." in page.content()
    j.axe.check(page)
    through = j.policy.first_valid_through(today())
    fee = page.locator("#fee-title").locator("xpath=..")
    assert "Not met yet: The renewal fee is paid." in fee.inner_text()
    pay_on_the_provider_page(j, "Pay 60.00 USD online", "Back to your renewal")
    fee = page.locator("#fee-title").locator("xpath=..")
    assert "Met: The renewal fee is paid." in fee.inner_text()  # on time: no late fee
    j.axe.check(page)
    head = j.head()
    page.get_by_label("Association you are a member of").fill("AK")
    page.get_by_label("Membership valid through").fill(
        (through + dt.timedelta(days=366)).isoformat())
    page.get_by_label("I confirm my membership is current as stated").check()
    page.get_by_label("I have read the Code of Ethics and sign it again").check()
    page.get_by_label("Your full name, as your signature").fill(APPLICANT_NAME)
    follow(page.get_by_role("button", name="Renew my endorsement"))
    assert "Your endorsement is renewed." in page.get_by_role("status").inner_text()
    assert j.head() > head
    assert long_date(j.policy.next_valid_through(through)) in page.locator("main").inner_text()
    j.axe.check(page)


RATING_SECRET = "Only the association reads this about Ana."


def rating_link(j: Journey, address: str) -> str:
    mail = mail_with(j.sink, address, "/rate?token=")
    found = re.search(r"https?://\S+/rate\?token=\S+", mail.text())
    assert found, mail.text()
    return found.group(0)


def raters_rate(j: Journey) -> None:
    """Each rater, with no account, opens the link of their mail and rates every area;
    a link used once says so plainly. The applicant's status page then says each has
    rated, never what they said, and the checklist's ratings are met."""
    for rater_id, (_, role, address, _) in RATERS.items():
        link = rating_link(j, address)
        context = j.browser.new_context(java_script_enabled=False)
        try:
            form = context.new_page()
            form.goto(link)
            j.axe.check(form)
            form.get_by_label("Your relationship to the applicant").select_option(role)
            for area in AREAS:
                form.locator(f'[id="{area.code}-score-4"]').check()
            form.get_by_label("Comments on Thinking").fill(RATING_SECRET)
            follow(form.get_by_role("button", name="Submit the rating"))
            assert form.get_by_role("heading", level=1).inner_text() == \
                "Thank you: your rating is submitted"
            j.axe.check(form)
            if rater_id == PROVIDER:  # the same link again: used, said plainly
                form.goto(link)
                assert form.get_by_role("heading", level=1).inner_text() == \
                    "This link was already used"
                j.axe.check(form)
        finally:
            context.close()
    page = j.page
    page.goto(j.application_url)
    assert page.locator("#raters-title + div").inner_text().count("Rated on") == 3
    assert RATING_SECRET not in page.content()
    checklist = page.locator(".checklist").inner_text()
    assert "Met: Exactly 3 reference ratings" in checklist, checklist
    j.axe.check(page)


# -- the staff -------------------------------------------------------------------------------


def confirm_identity(j: Journey) -> None:
    """The coordinator records the person (with the applicant's address) and ties the
    portal account to the record; the applicant is mailed that it is done."""
    desk = j.staff_page()
    desk.goto(f"{j.url}/staff/people/new")
    j.axe.check(desk)
    fill_form(desk, {"person_id": PERSON_ID, "given_name": "Ana", "family_name": "García",
                     "email": APPLICANT})
    follow(desk.get_by_role("button", name="Save the record"))
    follow(nav_link(desk, "Portal accounts"))
    j.axe.check(desk)
    follow(desk.get_by_role("link", name=APPLICANT_NAME))
    assert "the same email address" in desk.locator("main").inner_text()
    j.axe.check(desk)
    desk.get_by_label("Professional id of the person's record").fill(PERSON_ID)
    follow(desk.get_by_role("button", name="Confirm identity"))
    assert f"tied to {PERSON_ID}" in desk.locator(".message").inner_text()
    j.axe.check(desk)
    desk.close()
    wait_for_mail(j.sink, APPLICANT, "your account is confirmed")


def open_as_coordinator(j: Journey) -> Any:
    """The application's staff page, found in the coordinator's queue by the name."""
    desk = j.staff_page()
    desk.goto(f"{j.url}/staff/applications")
    j.axe.check(desk)
    follow(desk.get_by_role("link", name=APPLICANT_NAME))
    j.axe.check(desk)
    return desk


def send_rating_requests(j: Journey) -> None:
    """The coordinator sends each rater's request (to the address the applicant gave) from
    the application's ratings page."""
    application_id = j.application_url.rsplit("/", 1)[1]
    desk = j.staff_page()
    desk.goto(f"{j.url}/staff/applications/{application_id}/ratings")
    assert "maria.rivera@example.org (given by the applicant)" in \
        desk.locator("main").inner_text()
    j.axe.check(desk)
    for rater_id, (_, _, address, _) in RATERS.items():
        desk.get_by_label("Rater", exact=True).select_option(rater_id)
        follow(desk.get_by_role("button", name="Send the request"))
        assert address in desk.locator(".message").inner_text()
    j.axe.check(desk)
    desk.close()


def set_the_fees(j: Journey) -> None:
    """The coordinator sets the association's fees (a comma refused next to its field)."""
    desk = j.staff_page()
    desk.goto(f"{j.url}/staff/fees")
    j.axe.check(desk)
    desk.get_by_label("Application fee").fill("75")
    desk.get_by_label("Processing fee").fill("25,50")
    desk.get_by_label("Renewal fee").fill("60")
    desk.get_by_label("Late fee").fill("15")
    follow(desk.get_by_role("button", name="Save as a new version"))
    assert "125.50" in desk.locator("#processing-error").inner_text()
    j.axe.check(desk)
    desk.get_by_label("Processing fee").fill("25.50")
    follow(desk.get_by_role("button", name="Save as a new version"))
    assert "The new fee schedule is saved." in desk.locator("main").inner_text()
    j.axe.check(desk)
    desk.close()


def check_the_transcript(j: Journey) -> None:
    """The coordinator opens the transcript the applicant uploaded (the very bytes, as an
    attachment) and ticks that the official transcript arrived: the association's own
    judgement, on the staff evidence form. The fee shows paid (the provider's record)."""
    desk = open_as_coordinator(j)
    link = desk.get_by_role("link", name=TRANSCRIPT_NAME)
    fetched = j.coordinator.request.get(f"{j.url}{link.get_attribute('href')}")
    assert fetched.status == 200 and fetched.body() == j.transcript
    assert fetched.headers["content-disposition"].startswith("attachment")
    assert fetched.headers["x-content-type-options"] == "nosniff"
    follow(desk.get_by_role("link", name="Fees and payment"))
    assert re.search(r"State\s+paid", desk.locator("main").inner_text())
    assert desk.get_by_role("button", name="Record the cheque").count() == 0
    j.axe.check(desk)
    follow(desk.get_by_role("link", name=re.compile("^Back to the application")))
    follow(desk.get_by_role("link", name="Enter or change the evidence"))
    j.axe.check(desk)
    assert desk.locator('[id="fee_paid"]').is_checked()  # from the payment
    assert fill_form(desk, {"degrees-0-transcript_received": "on"}) == {
        "degrees-0-transcript_received"}
    follow(desk.get_by_role("button", name="Save the evidence"))
    assert desk.locator(".error-summary").count() == 0, desk.locator("main").inner_text()
    assert "Not met:" not in desk.locator("main").inner_text()
    j.axe.check(desk)
    desk.close()


def assign_reviewers(j: Journey) -> None:
    desk = open_as_coordinator(j)
    desk.get_by_label("First reviewer").select_option(label=j.accounts["rae"].name)
    desk.get_by_label("Second reviewer").select_option(label=j.accounts["ray"].name)
    follow(desk.get_by_role("button", name="Assign"))
    assert "The two reviewers are assigned" in desk.locator(".message").inner_text()
    j.axe.check(desk)
    desk.close()


def decide(j: Journey, reviewer: str, decision: str, comments: str,
           returns: bool = False) -> None:
    """A reviewer signs in in a browser of their own, opens the application from their
    queue and records a decision with comments (`returns`: the decision that concludes the
    round in a return, which the page says is mailed to the applicant)."""
    context = new_context(j.browser)
    try:
        page = sign_in(context, j.url, j.accounts[reviewer], j.axe)
        assert page.get_by_role("heading", level=2,
                                name=re.compile("My review queue")).is_visible()
        j.axe.check(page)
        follow(page.get_by_role("link", name=APPLICANT_NAME))
        j.axe.check(page)
        page.get_by_label(decision, exact=True).check()
        page.get_by_label("Comments", exact=True).fill(comments)
        follow(page.get_by_role("button", name="Record my decision"))
        said = " ".join(page.locator(".message").all_inner_texts())
        assert "Your decision is recorded." in said
        if returns:  # the round concluded in a return: the applicant is mailed
            assert f"The comments are emailed to the applicant at {APPLICANT}" in said
        j.axe.check(page)
    finally:
        context.close()


def grant(j: Journey) -> None:
    """The coordinator grants; the endorsement's id is on the page, and it is current."""
    desk = open_as_coordinator(j)
    assert "Approved" in desk.locator('.stages [aria-current="step"]').inner_text()
    head = j.head()
    follow(desk.get_by_role("button", name="Grant the endorsement"))
    assert "The endorsement is granted." in desk.locator(".message").inner_text()
    assert j.head() > head
    found = re.search(r"Endorsement: (AK-[0-9A-Z]+)", desk.locator("main").inner_text())
    assert found, desk.locator("main").inner_text()
    j.endorsement_id = found[1]
    j.axe.check(desk)
    desk.close()


def evidence_kept_to_the_grant(j: Journey) -> None:
    """The granted application's evidence (the node's private record, read beside the
    server) still holds both texts as signed in the page, with the SHA-256 of the exact
    wording, and the uploaded transcript's SHA-256 (never its bytes), although the
    coordinator and the applicant each changed the evidence since: the ledger's commitment
    to that evidence pins what was signed and sent."""
    application_id = uuid.UUID(j.application_url.rsplit("/", 1)[1])
    node = Node(Settings(data_dir=j.node.data_dir, association=j.node.association,
                         database_url=j.node.database_url))
    try:
        evidence = node.service.application(application_id).evidence
    finally:
        node.close()
    assert evidence.code_of_ethics_signed and evidence.agreement_signed
    signed = {} if isinstance(evidence.signed_texts, msgspec.UnsetType) else {
        s.document: s for s in evidence.signed_texts}
    for document in (Document.CODE_OF_ETHICS, Document.AGREEMENT):
        text = text_of(document)
        assert document.value in signed, f"{document.value} lost from the evidence"
        assert signed[document.value].sha256 == text.sha256
        assert signed[document.value].signed_name == APPLICANT_NAME
    # The answer's change is in, and what the coordinator recorded before it still holds.
    assert evidence.work[0].families_served == 15
    assert evidence.degrees[0].transcript_received and evidence.fee_paid
    documents = () if isinstance(evidence.documents, msgspec.UnsetType) else evidence.documents
    assert [(d.kind, d.sha256) for d in documents] == [
        ("transcript", hashlib.sha256(j.transcript).hexdigest())]


def daily_run(j: Journey) -> None:
    """The association's daily run (`alliance lapses record` asks this) queues the renewal
    reminder once; run again, nothing more. The professional gets exactly one reminder."""
    through = j.policy.first_valid_through(today())
    days = (through - today()).days
    subject = f"Your endorsement renewal is due in {days} days"
    for expected in ("1", "0"):
        answer = httpx.post(f"{j.url}/v1/lapses", json={}, timeout=60,
                            headers=j.node.auth("coordinator"))
        assert answer.status_code == 200, answer.text
        assert answer.headers["Reminders-Queued"] == expected
    mail = wait_for_mail(j.sink, APPLICANT, subject)
    assert j.endorsement_id in mail.text() and through.isoformat() in mail.text()
    time.sleep(1)  # a second copy would be on its way by now
    assert len(mails_to(j.sink, APPLICANT, "renewal is due")) == 1
