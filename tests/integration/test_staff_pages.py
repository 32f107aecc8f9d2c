"""The staff workspace pages over a real node, on SQLite files and on PostgreSQL: sign-in with
the authenticator step, invitations and password resets through a real SMTP server, the
accounts, token and audit pages, and the attacks the pages must withstand (session fixation,
forged forms, open redirects, password guessing, another association's account).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from federation_api.accounts.sessions import session_key
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.web.app import create_app
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.accounts_world import link_token
from tests.integration.staff_browser import (
    PASSWORD,
    add_staff,
    enrol,
    form_token,
    post_login,
    sign_in,
)
from tests.integration.staff_workspace import Workspace, workspace
from tests.pg import postgres_schema_url

CORA = "cora@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node's workspace on the backend under test, with a coordinator account."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        yield made


def cookie_of(response: httpx.Response, name: str = "alliance_staff") -> str:
    """The Set-Cookie header of the session cookie."""
    return next(c for c in response.headers.get_list("set-cookie") if c.startswith(name + "="))


def session_cookie(browser: TestClient) -> str:
    return str(browser.cookies.get("alliance_staff", path="/staff"))


def post(browser: TestClient, path: str, page: str, **data: object) -> httpx.Response:
    """Send the form of `page` (a signed-in page whose CSRF token it carries) to `path`."""
    token = form_token(browser.get(page).text)
    return browser.post(path, data={"csrf_token": token, **data})


def audit_actions(ws: Workspace) -> list[tuple[str, str]]:
    return [(e.action, e.outcome.value) for e in ws.node.accounts.audit.entries(limit=1000)]


class StaffPagesContract:
    """The workspace's pages on every backend."""

    def test_a_coordinator_enrols_an_authenticator_at_the_first_sign_in(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        r = post_login(browser, CORA)
        assert r.status_code == 303 and r.headers["location"] == "/staff/login/enrol"
        pending_cookie = session_cookie(browser)
        # Nothing else is open to a session that has not set up its second factor.
        assert browser.get("/staff/").status_code == 303
        page = browser.get("/staff/login/enrol")
        assert '<svg role="img" aria-label="QR code for your authenticator app"' in page.text
        assert "<script" not in page.text
        secret, answer = enrol(browser, "/staff/login/enrol")
        codes = re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>", answer.text)
        assert answer.status_code == 200 and len(codes) == 10
        assert session_cookie(browser) != pending_cookie  # a new id for the new stage
        home = browser.get("/staff/")
        assert home.status_code == 200 and "Cora Coordinator" in home.text
        # The next sign-in asks for a code; a recovery code works once.
        browser.post("/staff/logout", data={"csrf_token": form_token(home.text)})
        r = post_login(browser, CORA)
        assert r.headers["location"] == "/staff/login/code"
        page = browser.get("/staff/login/code")
        wrong = browser.post("/staff/login/code", data={"code": "000000",
                                                        "csrf_token": form_token(page.text)})
        assert wrong.status_code == 401 and 'aria-describedby="code-hint code-error"' in wrong.text
        ok = browser.post("/staff/login/code", data={"code": codes[0].upper(),
                                                     "csrf_token": form_token(page.text)})
        assert ok.status_code == 303 and ok.headers["location"] == "/staff/"
        assert ("sign_in", "ok") in audit_actions(ws)
        assert secret and secret not in str(audit_actions(ws))

    def test_the_session_cookie_is_strict_http_only_and_secure_over_https(
            self, ws: Workspace) -> None:
        add_staff(ws.node, "rae@ak.example.org", "reviewer")
        plain = post_login(ws.browser(), "rae@ak.example.org")
        attributes = {a.strip().lower() for a in cookie_of(plain).split(";")[1:]}
        assert {"httponly", "path=/staff", "samesite=strict"} <= attributes
        assert "secure" not in attributes
        tls = post_login(ws.browser(https=True), "rae@ak.example.org")
        assert "secure" in {a.strip().lower() for a in cookie_of(tls).split(";")[1:]}
        stored = ws.node.accounts.store.db.query("SELECT session_hash FROM account_sessions")
        value = cookie_of(tls).split(";")[0].split("=", 1)[1]
        assert (session_key(value),) in {tuple(r) for r in stored}
        assert value not in {r[0] for r in stored}  # only its hash is kept

    def test_inviting_a_reviewer_sends_a_link_that_sets_the_password(
            self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        head = ws.head()
        r = post(coordinator, "/staff/accounts/invite", "/staff/accounts",
                 email="Rae.Reviewer@ak.example.org", display_name="Rae Reviewer",
                 roles=["reviewer"])
        assert r.status_code == 303 and r.headers["location"] == "/staff/accounts?invited=1"
        assert "Rae Reviewer" in coordinator.get("/staff/accounts").text
        [mail] = ws.mail_to("Rae.Reviewer@ak.example.org")
        assert "Cora Coordinator has invited you" in mail.text()
        link = re.search(r"http://testserver(/staff/invitation\?token=\S+)", mail.text())
        assert link
        reviewer = ws.browser()
        page = reviewer.get(link.group(1))
        assert page.status_code == 200 and "Rae.Reviewer@ak.example.org" in page.text
        token = link_token(mail.text())
        short = reviewer.post("/staff/invitation", data={
            "csrf_token": form_token(page.text), "token": token, "password": "short",
            "confirm": "short"})
        assert short.status_code == 422 and 'id="password-error"' in short.text
        assert "At least 12 characters" in short.text or "at least 12" in short.text
        done = reviewer.post("/staff/invitation", data={
            "csrf_token": form_token(short.text), "token": token, "password": PASSWORD,
            "confirm": PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/staff/login?password_set=1"
        assert reviewer.get(link.group(1)).status_code == 410  # used once
        sign_in(reviewer, "rae.reviewer@ak.example.org")  # no code: a reviewer's role
        home = reviewer.get("/staff/").text
        assert "My review queue: 0" in home and "Roster</a>" not in home
        assert ws.head() == head  # account work writes no ledger entry
        assert ("account.invite", "ok") in audit_actions(ws)
        assert ("account.invitation_accepted", "ok") in audit_actions(ws)

    def test_password_reset_answers_alike_and_the_link_works_once(self, ws: Workspace) -> None:
        browser = ws.browser()
        pages = []
        for email in ("nobody@ak.example.org", CORA):
            page = browser.get("/staff/password-reset")
            r = browser.post("/staff/password-reset", data={
                "csrf_token": form_token(page.text), "email": email})
            assert r.status_code == 200
            pages.append(re.sub(r'value="[^"]*"', "", r.text))
        assert pages[0] == pages[1] and "If this address has an account" in pages[0]
        [mail] = ws.mail_to(CORA)
        token = link_token(mail.text())
        old = ws.browser()
        sign_in(old, CORA)
        page = browser.get(f"/staff/password-reset?token={token}")
        assert page.status_code == 200 and CORA in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        r = browser.post("/staff/password-reset", data={
            "csrf_token": form_token(page.text), "token": token,
            "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
        assert r.status_code == 303
        assert old.get("/staff/").status_code == 303  # every session of the account ended
        assert browser.get(f"/staff/password-reset?token={token}").status_code == 410
        r = post_login(browser, CORA, "a brand new passphrase")
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login/")
        assert "password was changed" in str(ws.mail_to(CORA, 2)[1].message["Subject"])

    def test_session_fixation_a_planted_id_never_becomes_signed_in(self, ws: Workspace) -> None:
        # The attacker's own half-finished sign-in (password accepted, authenticator next)
        # gives an id the login page does not count as signed in; it is planted in the
        # victim's browser.
        add_staff(ws.node, "cal@ak.example.org", "committee")
        attacker = ws.browser()
        assert post_login(attacker, "cal@ak.example.org").status_code == 303
        planted = session_cookie(attacker)
        victim = ws.browser()
        victim.cookies.set("alliance_staff", planted, domain="testserver.local", path="/staff")
        r = post_login(victim, CORA)
        assert r.status_code == 303
        assert session_cookie(victim) != planted
        sign_in_service = ws.node.accounts.sign_in
        assert sign_in_service.current(planted, now=now(), stage=None) is None  # revoked
        pending = session_cookie(victim)
        enrol(victim, "/staff/login/enrol")
        assert session_cookie(victim) not in (planted, pending)
        for old in (planted, pending):
            stale = TestClient(ws.main.app, cookies={"alliance_staff": old})
            assert stale.get("/staff/", follow_redirects=False).status_code == 303
        assert victim.get("/staff/").status_code == 200

    def test_forms_without_the_sessions_csrf_token_are_refused_and_write_nothing(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        other = ws.browser()
        add_staff(ws.node, "aud@ak.example.org", "auditor")
        sign_in(other, "aud@ak.example.org")
        foreign = form_token(other.get("/staff/").text)  # a valid token of another session
        before = len(ws.node.accounts.store.all())
        for token in (None, "", "guessed", foreign):
            data = {"email": "x@ak.example.org", "display_name": "X", "roles": ["reviewer"]}
            if token is not None:
                data["csrf_token"] = token
            r = browser.post("/staff/accounts/invite", data=data)
            assert r.status_code == 403 and "did not come from this site" in r.text
        r = browser.post("/staff/logout", data={"csrf_token": "guessed"})
        assert r.status_code == 403 and browser.get("/staff/").status_code == 200
        assert len(ws.node.accounts.store.all()) == before
        assert ws.node.outbox.db.query("SELECT COUNT(*) FROM mail_outbox")[0][0] == 0
        # The sign-in form: its token must match the pre-session cookie of this browser.
        bare = ws.browser()
        r = bare.post("/staff/login", data={"email": CORA, "password": PASSWORD,
                                            "csrf_token": "x"})
        assert r.status_code == 403 and "alliance_staff=" not in str(r.headers)

    @pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/staff/",
                                        "/\\evil.example", "/staff/login", "javascript:x",
                                        "/%2F%2Fevil.example", "http:/staff/"])
    def test_no_open_redirect_after_sign_in(self, ws: Workspace, target: str) -> None:
        add_staff(ws.node, "rae@ak.example.org", "reviewer")
        browser = ws.browser()
        r = post_login(browser, "rae@ak.example.org", next_path=target)
        assert r.status_code == 303 and r.headers["location"] == "/staff/"

    def test_the_page_asked_for_is_shown_after_sign_in(self, ws: Workspace) -> None:
        add_staff(ws.node, "aud@ak.example.org", "auditor")
        browser = ws.browser()
        r = browser.get("/staff/roster?status=active")
        assert r.headers["location"] == "/staff/login?next=%2Fstaff%2Froster%3Fstatus%3Dactive"
        page = browser.get(r.headers["location"])
        assert 'name="next" value="/staff/roster?status=active"' in page.text
        r = post_login(browser, "aud@ak.example.org", next_path="/staff/roster?status=active")
        assert r.headers["location"] == "/staff/roster?status=active"

    def test_guessing_passwords_locks_the_account_until_a_coordinator_unlocks_it(
            self, ws: Workspace) -> None:
        add_staff(ws.node, "rae@ak.example.org", "reviewer", name="Rae")
        guesser = ws.browser()
        for attempt in range(5):
            r = post_login(guesser, "rae@ak.example.org", f"wrong guess number {attempt}")
            assert r.status_code == 401 and "is not right" in r.text
        r = post_login(guesser, "rae@ak.example.org")  # the right password, now refused
        assert r.status_code == 401 and "paused" in r.text
        unknown = post_login(guesser, "nobody@ak.example.org")
        assert re.sub(r'value="[^"]*"', "", unknown.text) == re.sub(r'value="[^"]*"', "",
                                                                    r.text)
        assert ("account.locked", "ok") in audit_actions(ws)
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        rae = next(
            a.account_id for a in ws.node.accounts.store.all() if a.email.startswith("rae"))
        page = f"/staff/accounts/{rae}"
        assert "Paused after failed sign-ins" in coordinator.get(page).text
        r = post(coordinator, f"{page}/unlock", page)
        assert r.status_code == 303
        assert post_login(guesser, "rae@ak.example.org").status_code == 303

    def test_coordinators_change_roles_disable_and_remove_a_lost_authenticator(
            self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        cal_id = add_staff(ws.node, "cal@ak.example.org", "committee", name="Cal")
        cal = ws.browser()
        sign_in(cal, "cal@ak.example.org")
        page = f"/staff/accounts/{cal_id}"
        r = post(coordinator, f"{page}/second-factor/remove", page)
        assert r.status_code == 303 and cal.get("/staff/").status_code == 303
        assert "removed the authenticator" in ws.mail_to("cal@ak.example.org")[0].text()
        assert post_login(cal, "cal@ak.example.org").headers["location"] == "/staff/login/enrol"
        sign_in(cal, "cal@ak.example.org")
        r = post(coordinator, f"{page}/roles", page, roles=["auditor", "committee"])
        assert r.status_code == 303 and cal.get("/staff/").status_code == 303
        assert "auditor, committee" in coordinator.get(page).text
        r = post(coordinator, f"{page}/roles", page)  # no role at all
        assert r.status_code == 422 and 'id="roles-error"' in r.text
        r = post(coordinator, f"{page}/disable", page)
        assert r.status_code == 303 and "Disabled" in coordinator.get(page).text
        assert post_login(cal, "cal@ak.example.org").status_code == 401
        cora_id = next(a.account_id for a in ws.node.accounts.store.all() if a.email == CORA)
        own = f"/staff/accounts/{cora_id}"
        r = post(coordinator, f"{own}/disable", own)
        assert r.status_code == 409 and "last active coordinator" in r.text
        assert coordinator.get("/staff/accounts/acc_nothing").status_code == 404

    def test_bad_invitations_are_refused_next_to_the_field(self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        before = len(ws.node.accounts.store.all())
        cases = [({"email": "not-an-email", "display_name": "X", "roles": ["reviewer"]},
                  "invite-email"),
                 ({"email": "x@ak.example.org", "display_name": " ", "roles": ["reviewer"]},
                  "invite-display_name"),
                 ({"email": "x@ak.example.org", "display_name": "X"}, "invite-roles"),
                 ({"email": "x@ak.example.org", "display_name": "X", "roles": ["king"]},
                  "invite-roles"),
                 ({"email": CORA.upper(), "display_name": "X", "roles": ["reviewer"]},
                  "invite-email")]
        for data, field in cases:
            r = post(coordinator, "/staff/accounts/invite", "/staff/accounts", **data)
            assert r.status_code in (409, 422), r.text
            assert f'id="{field}-error"' in r.text and f'href="#{field}"' in r.text
        assert len(ws.node.accounts.store.all()) == before

    def test_api_tokens_are_issued_with_expiry_shown_once_audited_and_revoked(
            self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        until = (today() + dt.timedelta(days=30)).isoformat()
        bad = post(coordinator, "/staff/tokens", "/staff/tokens", label="Intake robot",
                   role="coordinator", expires_on="2001-01-01")
        assert bad.status_code == 422 and 'id="token-expires_on-error"' in bad.text
        r = post(coordinator, "/staff/tokens", "/staff/tokens", label="Intake robot",
                 role="coordinator", expires_on=until)
        secret = re.search(r'value="(alt_[^"]+)"', r.text)
        assert r.status_code == 201 and secret
        listed = coordinator.get("/staff/tokens").text
        assert "Intake robot" in listed and secret.group(1) not in listed
        assert until in listed and "Cora Coordinator" in listed
        api = ws.browser()
        headers = {"Authorization": f"Bearer {secret.group(1)}"}
        made = api.post("/v1/endorsements/imports", headers=headers, json={
            "person_id": "AK-P-0001", "family_name": "Rivera", "given_name": "Maria",
            "level": "IMHS", "designation": None, "granted_on": "2015-01-05",
            "valid_through": f"{today().year + 1}-12-31", "legacy_reference": "paper"})
        assert made.status_code == 201, made.text
        cora_id = next(a.account_id for a in ws.node.accounts.store.all() if a.email == CORA)
        [entry] = ws.node.accounts.audit.entries(account_id=cora_id,
                                                 action="import_endorsement")
        head = ws.head()
        assert head is not None and entry.ledger is not None
        assert (entry.ledger.seq, entry.ledger.entry_hash) == (head[0], head[1].hex())
        assert entry.actor.startswith("token:") and entry.outcome.value == "ok"
        log = coordinator.get("/staff/audit", params={"account": cora_id,
                                                      "action": "import_endorsement"}).text
        assert "token of Cora Coordinator" in log and f"AK #{head[0]}" in log
        token_id = re.search(r'/staff/tokens/([0-9a-f]+)/revoke', listed)
        assert token_id
        r = post(coordinator, f"/staff/tokens/{token_id.group(1)}/revoke", "/staff/tokens")
        assert r.status_code == 303
        assert api.get("/v1/roster", headers=headers).status_code == 401

    def test_the_audit_log_filters_by_account_action_and_date(self, ws: Workspace) -> None:
        add_staff(ws.node, "aud@ak.example.org", "auditor", name="Audra")
        auditor = ws.browser()
        sign_in(auditor, "aud@ak.example.org")
        sign_in(ws.browser(), CORA)
        page = auditor.get("/staff/audit", params={"action": "account.second_factor_enrolled"})
        assert page.status_code == 200 and page.text.count("account.second_factor_enrolled") >= 1
        assert "1 entry" in page.text
        tomorrow = (today() + dt.timedelta(days=1)).isoformat()
        assert "No entries match" in auditor.get("/staff/audit", params={"from": tomorrow}).text
        bad = auditor.get("/staff/audit", params={"from": "yesterday", "account": "acc_x"})
        assert bad.status_code == 422 and 'id="audit-from-error"' in bad.text
        assert 'id="audit-account-error"' in bad.text
        # An auditor reads the log but cannot touch accounts or tokens.
        assert auditor.get("/staff/accounts").status_code == 403
        assert auditor.get("/staff/tokens").status_code == 403

    def test_changing_the_password_ends_other_sessions(self, ws: Workspace) -> None:
        add_staff(ws.node, "rae@ak.example.org", "reviewer")
        here, there = ws.browser(), ws.browser()
        sign_in(here, "rae@ak.example.org")
        sign_in(there, "rae@ak.example.org")
        wrong = post(here, "/staff/password", "/staff/password", current_password="nope",
                     password="a brand new passphrase", confirm="a brand new passphrase")
        assert wrong.status_code == 422 and 'id="current_password-error"' in wrong.text
        differ = post(here, "/staff/password", "/staff/password", current_password=PASSWORD,
                      password="a brand new passphrase", confirm="another one entirely")
        assert differ.status_code == 422 and 'id="confirm-error"' in differ.text
        before = session_cookie(here)
        r = post(here, "/staff/password", "/staff/password", current_password=PASSWORD,
                 password="a brand new passphrase", confirm="a brand new passphrase")
        assert r.status_code == 303 and session_cookie(here) != before
        assert here.get("/staff/").status_code == 200
        assert there.get("/staff/").status_code == 303
        assert "password was changed" in str(ws.mail_to("rae@ak.example.org")[0].message["Subject"])

    def test_sign_out_ends_the_session_in_the_database(self, ws: Workspace) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        old = session_cookie(browser)
        r = post(browser, "/staff/logout", "/staff/")
        assert r.status_code == 303 and r.headers["location"] == "/staff/login?signed_out=1"
        again = TestClient(ws.main.app, cookies={"alliance_staff": old})
        assert again.get("/staff/", follow_redirects=False).status_code == 303
        assert "You have signed out." in browser.get("/staff/login?signed_out=1").text


class TestStaffPagesOnSQLite(StaffPagesContract, OnSQLite):
    """The workspace on SQLite files."""


class TestStaffPagesOnPostgreSQL(StaffPagesContract, OnPostgreSQL):
    """The workspace on a PostgreSQL schema."""


def test_an_ak_account_is_nothing_on_mis_node(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        ak = stack.enter_context(workspace(tmp_path / "ak", None, "AK"))
        mi = stack.enter_context(workspace(tmp_path / "mi", None, "MI"))
        add_staff(ak.node, CORA, "coordinator")
        browser = ak.browser()
        sign_in(browser, CORA)
        cookie = session_cookie(browser)
        on_mi = TestClient(mi.main.app, cookies={"alliance_staff": cookie},
                           follow_redirects=False)
        assert on_mi.get("/staff/").status_code == 303
        assert on_mi.get("/staff/accounts").status_code == 303
        r = post_login(mi.browser(), CORA)
        assert r.status_code == 401 and "is not right" in r.text
        assert mi.node.accounts.store.all() == []


def test_the_mail_sender_runs_with_the_app_and_stops_with_it(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        assert ws.node.mail_sender is not None
        assert "alliance-mail" in {t.name for t in threading.enumerate()}
        # Queued while serving, delivered by the running sender.
        add_staff(ws.node, CORA, "auditor")
        ws.node.accounts.resets.request(CORA, now=now(), client="test")
        assert ws.mail_to(CORA)
    assert "alliance-mail" not in {t.name for t in threading.enumerate()}


def test_a_roster_download_is_audited(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        add_staff(ws.node, "aud@ak.example.org", "auditor")
        browser = ws.browser()
        sign_in(browser, "aud@ak.example.org")
        assert browser.get("/staff/roster.csv", params={"status": "active"}).status_code == 200
        [entry] = ws.node.accounts.audit.entries(action="roster.export")
        assert entry.detail == "0 rows; filter status=active"
        assert entry.account_id is not None


@pytest.mark.postgres
def test_two_serve_processes_on_one_postgresql_share_the_sessions(tmp_path: Path) -> None:
    """A session signed in on one node process works on another over the same database, and
    signing out on the second ends it on the first (sessions live in the database)."""
    with postgres_schema_url() as url, workspace(tmp_path, url) as ws:
        add_staff(ws.node, "rae@ak.example.org", "reviewer")
        first = ws.browser()
        sign_in(first, "rae@ak.example.org")
        other = Node(ws.node.settings)
        try:
            with TestClient(create_app(other), follow_redirects=False) as second:
                second.cookies.set("alliance_staff", session_cookie(first),
                                   domain="testserver.local", path="/staff")
                home = second.get("/staff/")
                assert home.status_code == 200 and "My review queue" in home.text
                assert second.post("/staff/logout", data={
                    "csrf_token": form_token(home.text)}).status_code == 303
            assert first.get("/staff/").status_code == 303
        finally:
            other.close()
