"""Accounts, sign-in, sessions, links, tokens and the audit log on real databases.

The contract (`AccountsContract`) runs on a SQLite file and on a PostgreSQL schema
(`tests/backends.py`); one test beyond it runs two account services (two `alliance serve`
processes) on one PostgreSQL database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation_api.accounts.audit_log import LedgerRef, Outcome
from federation_api.accounts.errors import (
    CsrfRefused,
    EmailTaken,
    Forbidden,
    InvalidAccountInput,
    LastCoordinator,
    LinkInvalid,
    PasswordRejected,
    SecondFactorRefused,
    SessionInvalid,
    SignInRefused,
    TooManyAttempts,
)
from federation_api.accounts.links import LinkPurpose
from federation_api.accounts.policy import SignInPolicy
from federation_api.accounts.sessions import SessionStage, check_csrf, csrf_token
from federation_api.accounts.signin import SignedIn
from federation_api.accounts.tokens import Role
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.accounts_world import PASSWORD, T0, World, link_token
from tests.pg import postgres_schema_url


@pytest.fixture
def db_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """The node database on the backend under test: a SQLite file or a fresh schema."""
    with backend.database_url(tmp_path / "node.sqlite") as url:
        assert url is not None
        yield url


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    """The accounts of an association on the database."""
    w = World(db_url)
    try:
        yield w
    finally:
        w.close()


def actions(world: World, account_id: str | None = None) -> list[tuple[str, str]]:
    """(action, outcome) of the audit log, oldest first."""
    return [(e.action, e.outcome.value)
            for e in reversed(world.accounts.audit.entries(account_id=account_id))]


# -- the contract, and the backends it runs on ---------------------------------------------


class AccountsContract:
    """Accounts, sessions, one-time links, tokens and the audit log in the node's tables, on
    every backend."""

    # -- signing in --------------------------------------------------------------------------------

    def test_a_reviewer_signs_in_with_email_and_password(self, world: World) -> None:
        rid = world.add("Rae.Reviewer@AK.example.org", "reviewer")
        signed = world.accounts.sign_in.sign_in("rae.reviewer@ak.example.org", PASSWORD,
                                                now=world.now, client="10.0.0.1")
        assert signed.stage is SessionStage.FULL and signed.account.account_id == rid
        assert signed.session_id.startswith("ses_") and len(signed.session_id) > 40
        found = world.accounts.sign_in.current(signed.session_id, now=world.tick(minutes=5))
        assert found is not None and found.account.email == "Rae.Reviewer@AK.example.org"
        assert actions(world, rid) == [("sign_in", "ok")]
        assert world.accounts.audit.entries()[-1].actor == "cli"  # account.create

    def test_refusals_say_the_same_for_unknown_wrong_locked_and_disabled(
            self, world: World) -> None:
        policy = world.accounts.sign_in.policy
        world.add("a@ak.example.org", "reviewer")
        coordinator, _ = world.coordinator()
        messages = set()
        for email, password in [("nobody@ak.example.org", PASSWORD), ("a@ak.example.org", "nope")]:
            with pytest.raises(SignInRefused) as caught:
                world.accounts.sign_in.sign_in(email, password, now=world.now)
            messages.add(caught.value.message)
        for _ in range(policy.max_failures):
            with pytest.raises(SignInRefused):
                world.accounts.sign_in.sign_in("a@ak.example.org", "wrong password", now=world.now)
        with pytest.raises(SignInRefused) as caught:  # locked, though the password is right
            world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        messages.add(caught.value.message)
        other = world.add("b@ak.example.org", "auditor")
        world.accounts.admin.disable(coordinator, other, now=world.now)
        with pytest.raises(SignInRefused) as caught:
            world.accounts.sign_in.sign_in("b@ak.example.org", PASSWORD, now=world.now)
        messages.add(caught.value.message)
        assert len(messages) == 1

    def test_five_failures_lock_the_account_for_fifteen_minutes(self, world: World) -> None:
        aid = world.add("a@ak.example.org", "reviewer")
        for _ in range(4):
            with pytest.raises(SignInRefused):
                world.accounts.sign_in.sign_in("a@ak.example.org", "wrong password", now=world.now)
        assert world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        for _ in range(5):  # the success forgave the four; five more lock
            with pytest.raises(SignInRefused):
                world.accounts.sign_in.sign_in("a@ak.example.org", "wrong password", now=world.now)
        account = world.accounts.store.find(aid)
        assert account is not None and account.locked_until == T0 + dt.timedelta(minutes=15)
        world.tick(minutes=14, seconds=59)
        with pytest.raises(SignInRefused):
            world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        world.tick(seconds=1)
        assert world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        assert ("account.locked", "ok") in actions(world, aid)
        assert actions(world, aid).count(("sign_in", "refused")) == 10

    def test_wrong_codes_count_towards_the_lock_out(self, world: World) -> None:
        world.coordinator()
        for attempt in range(5):
            world.tick(seconds=30)
            pending = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD,
                                                     now=world.now)
            assert pending.stage is SessionStage.SECOND_FACTOR
            with pytest.raises(SecondFactorRefused):
                world.accounts.sign_in.second_factor(pending.session_id, "000000", now=world.now)
            if attempt < 4:  # the pending session survives a typo
                assert world.accounts.sign_in.current(pending.session_id, now=world.now,
                                                      stage=None) is not None
        assert world.accounts.sign_in.current(pending.session_id, now=world.now, stage=None) is None
        with pytest.raises(SignInRefused):
            world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)

    def test_the_per_client_limit_refuses_a_sprayer_and_not_others(self, db_url: str) -> None:
        w = World(db_url, policy=SignInPolicy(client_burst=3, client_per_hour=60))
        try:
            w.add("a@ak.example.org", "reviewer")
            for i in range(3):
                with pytest.raises(SignInRefused):
                    w.accounts.sign_in.sign_in(f"guess{i}@ak.example.org", "x", now=w.now,
                                               client="203.0.113.9")
            with pytest.raises(TooManyAttempts) as caught:
                w.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=w.now,
                                           client="203.0.113.9")
            assert caught.value.retry_after == pytest.approx(60)
            assert w.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=w.now,
                                              client="198.51.100.7")
            w.tick(minutes=1)
            assert w.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=w.now,
                                              client="203.0.113.9")
        finally:
            w.close()

    def test_a_rehash_happens_at_sign_in_when_parameters_changed(self, world: World) -> None:
        aid = world.add("a@ak.example.org", "reviewer")
        from federation_api.accounts.passwords import PasswordHasher

        with world.db.transaction() as cur:  # a hash from the days of weaker parameters
            world.accounts.store.rehash(cur, aid, PasswordHasher().hash(PASSWORD))
        world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        with world.db.transaction(read_only=True) as cur:
            stored = world.accounts.store.credentials(cur, aid).password_hash
        assert stored is not None and "$m=1024,t=1,p=1$" in stored

    # -- the second factor -------------------------------------------------------------------------

    def test_a_coordinator_must_enrol_before_anything_else(self, world: World) -> None:
        added = world.accounts.invitations.staff_add(email="coord@ak.example.org",
                                                     display_name="Cora", roles=["coordinator"],
                                                     now=world.now)
        assert added.link is not None and added.link.startswith(
            "https://ak.example.org/staff/invitation?token=olt_")
        world.accounts.invitations.accept(link_token(added.link), PASSWORD, now=world.now)
        pending = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        assert pending.stage is SessionStage.ENROL_SECOND_FACTOR
        assert world.accounts.sign_in.current(pending.session_id, now=world.now) is None
        with pytest.raises(Forbidden):
            pending.require()
        enrolment = world.accounts.sign_in.begin_enrolment(pending.session_id, now=world.now)
        assert enrolment.qr_svg.startswith("<svg") and enrolment.secret in enrolment.uri
        with pytest.raises(SecondFactorRefused):
            world.accounts.sign_in.confirm_enrolment(pending.session_id, "123456", now=world.now)
        signed, codes = world.accounts.sign_in.confirm_enrolment(
            pending.session_id, world.code(enrolment), now=world.now)
        assert signed.stage is SessionStage.FULL and signed.session_id != pending.session_id
        assert world.accounts.sign_in.current(pending.session_id, now=world.now, stage=None) is None
        assert len(codes) == 10 and signed.account.second_factor
        assert world.accounts.store.recovery_codes_left(signed.account.account_id) == 10
        signed.require()  # a full session now

    def test_totp_sign_in_refuses_a_replayed_code_and_accepts_the_next(self, world: World) -> None:
        _, enrolment = world.coordinator()
        world.tick(seconds=30)
        first = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        code = world.code(enrolment)
        assert world.accounts.sign_in.second_factor(first.session_id, code, now=world.now)
        again = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        with pytest.raises(SecondFactorRefused):  # the same code, seen over a shoulder
            world.accounts.sign_in.second_factor(again.session_id, code, now=world.now)
        signed = world.accounts.sign_in.second_factor(again.session_id, world.code(enrolment, 1),
                                                      now=world.now)
        assert signed.stage is SessionStage.FULL

    def test_the_seed_is_stored_sealed(self, world: World) -> None:
        signed, enrolment = world.coordinator()
        rows = world.db.query("SELECT totp_secret FROM accounts WHERE account_id = ?",
                              (signed.account.account_id,))
        stored = bytes(rows[0][0])
        assert enrolment.secret.encode() not in stored and len(stored) > 40

    def test_a_recovery_code_works_once(self, world: World) -> None:
        world.add("coord@ak.example.org", "coordinator")
        first = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        enrolment = world.accounts.sign_in.begin_enrolment(first.session_id, now=world.now)
        _, codes = world.accounts.sign_in.confirm_enrolment(first.session_id, world.code(enrolment),
                                                            now=world.now)
        pending = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        signed = world.accounts.sign_in.second_factor(pending.session_id, codes[3].upper(),
                                                      now=world.now)
        assert signed.stage is SessionStage.FULL
        again = world.accounts.sign_in.sign_in("coord@ak.example.org", PASSWORD, now=world.now)
        with pytest.raises(SecondFactorRefused):
            world.accounts.sign_in.second_factor(again.session_id, codes[3], now=world.now)
        assert world.accounts.store.recovery_codes_left(signed.account.account_id) == 9

    def test_a_coordinator_removes_a_lost_authenticator(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        world.add("comm@ak.example.org", "committee")
        member, _ = world.enrolled("comm@ak.example.org")
        world.accounts.admin.reset_second_factor(coordinator, member.account.account_id,
                                                 now=world.now)
        assert world.accounts.sign_in.current(member.session_id, now=world.now) is None
        again = world.accounts.sign_in.sign_in("comm@ak.example.org", PASSWORD, now=world.now)
        assert again.stage is SessionStage.ENROL_SECOND_FACTOR
        assert any("removed the authenticator" in text for _, _, text in world.mails())

    # -- sessions ----------------------------------------------------------------------------------

    def test_sessions_expire_when_idle_and_absolutely(self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        idle = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        busy = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        world.tick(minutes=20)
        assert world.accounts.sign_in.current(busy.session_id, now=world.now)
        world.tick(minutes=11)  # 31 minutes without a request
        assert world.accounts.sign_in.current(idle.session_id, now=world.now) is None
        end = T0 + dt.timedelta(hours=8)
        while world.now + dt.timedelta(minutes=25) < end:  # a request every 25 minutes: not idle
            assert world.accounts.sign_in.current(busy.session_id, now=world.now)
            world.tick(minutes=25)
        assert world.accounts.sign_in.current(busy.session_id, now=world.now)
        world.now = end  # less than 30 minutes after the last request, but 8 hours after sign-in
        assert world.accounts.sign_in.current(busy.session_id, now=world.now) is None

    def test_sign_in_revokes_the_session_it_replaces_and_sign_out_ends_it(
            self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        planted = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        mine = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now,
                                              replaces=planted.session_id)
        assert mine.session_id != planted.session_id
        assert world.accounts.sign_in.current(planted.session_id, now=world.now) is None
        world.accounts.sign_in.sign_out(mine.session_id, now=world.now)
        assert world.accounts.sign_in.current(mine.session_id, now=world.now) is None
        assert world.accounts.sign_in.current("ses_made-up", now=world.now) is None
        assert world.accounts.sign_in.current("", now=world.now) is None

    def test_a_role_change_or_disable_ends_every_session_of_the_account(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        rid = world.add("r@ak.example.org", "reviewer")
        sessions = [world.accounts.sign_in.sign_in("r@ak.example.org", PASSWORD, now=world.now)
                    for _ in range(2)]
        changed = world.accounts.admin.set_roles(coordinator, rid, ["reviewer", "auditor"],
                                                 now=world.now)
        assert changed.roles == {"reviewer", "auditor"}
        assert all(world.accounts.sign_in.current(s.session_id, now=world.now) is None
                   for s in sessions)
        again = world.accounts.sign_in.sign_in("r@ak.example.org", PASSWORD, now=world.now)
        world.accounts.admin.disable(coordinator, rid, now=world.now)
        assert world.accounts.sign_in.current(again.session_id, now=world.now) is None
        assert coordinator.account.account_id not in {e.target for e in
                                                       world.accounts.audit.entries()
                                                       if e.action == "account.disable"}

    def test_csrf_tokens_differ_per_form_and_belong_to_their_session(self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        one = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        two = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        first, second = csrf_token(one.session), csrf_token(one.session)
        assert first != second
        check_csrf(one.session, first)
        check_csrf(one.session, second)
        for bad in (csrf_token(two.session), "", None, "not-base64!", first[:-2]):
            with pytest.raises(CsrfRefused):
                check_csrf(one.session, bad)
        looked_up = world.accounts.sign_in.current(one.session_id, now=world.now)
        assert looked_up is not None
        check_csrf(looked_up.session, first)  # the secret is in the database, not the process

    def test_the_cookie_id_is_not_stored(self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        signed = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        dump = repr(world.db.query("SELECT * FROM account_sessions"))
        assert signed.session_id not in dump and signed.session_id[4:] not in dump

    # -- invitations, resets, links ----------------------------------------------------------------

    def test_a_coordinator_invites_and_the_invitee_sets_a_password(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        invited = world.accounts.invitations.invite(
            coordinator, email="New.Reviewer@ak.example.org", display_name="  Nell   Reviewer ",
            roles=["reviewer"], now=world.now)
        assert invited.display_name == "Nell Reviewer" and not invited.has_password
        to, subject, text = world.mails()[-1]
        assert to == "New.Reviewer@ak.example.org" and "invitation" in subject.lower()
        token = link_token(text)
        with pytest.raises(PasswordRejected):  # a refused password leaves the link usable
            world.accounts.invitations.accept(token, "Password1234", now=world.now)
        world.accounts.invitations.accept(token, PASSWORD, now=world.now)
        with pytest.raises(LinkInvalid):
            world.accounts.invitations.accept(token, PASSWORD, now=world.now)
        assert world.accounts.sign_in.sign_in("new.reviewer@ak.example.org", PASSWORD,
                                              now=world.now).stage is SessionStage.FULL
        with pytest.raises(EmailTaken):
            world.accounts.invitations.invite(coordinator, email="new.reviewer@AK.example.org",
                                              display_name="Again", roles=["auditor"],
                                              now=world.now)
        assert ("account.invite", "ok") in actions(world, coordinator.account.account_id)

    def test_inviting_again_cancels_the_first_link(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        for _ in range(2):
            world.accounts.invitations.invite(coordinator, email="x@ak.example.org",
                                              display_name="X", roles=["reviewer"], now=world.tick(
                                                  minutes=1))
        first, second = (link_token(text) for to, _, text in world.mails()
                         if to == "x@ak.example.org")
        with pytest.raises(LinkInvalid):
            world.accounts.invitations.check(first, now=world.now)
        assert world.accounts.invitations.check(second, now=world.now).purpose is \
            LinkPurpose.INVITATION

    def test_only_a_coordinator_invites_and_bad_input_writes_nothing(self, world: World) -> None:
        world.add("r@ak.example.org", "reviewer")
        reviewer = world.accounts.sign_in.sign_in("r@ak.example.org", PASSWORD, now=world.now)
        with pytest.raises(Forbidden):
            world.accounts.invitations.invite(reviewer, email="x@ak.example.org", display_name="X",
                                              roles=["reviewer"], now=world.now)
        coordinator, _ = world.coordinator()
        before = len(world.accounts.store.all()), len(world.mails())
        for email, roles in [("not an email", ["reviewer"]), ("y@ak.example.org", ["admin"]),
                             ("y@ak.example.org", []), ("y@ak.example.org", ["applicant"])]:
            with pytest.raises(InvalidAccountInput):
                world.accounts.invitations.invite(coordinator, email=email, display_name="Y",
                                                  roles=roles, now=world.now)
        assert (len(world.accounts.store.all()), len(world.mails())) == before

    def test_an_invitation_expires_after_seven_days(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        world.accounts.invitations.invite(coordinator, email="x@ak.example.org", display_name="X",
                                          roles=["reviewer"], now=world.now)
        token = link_token(world.mails()[-1][2])
        world.tick(days=7, seconds=1)
        with pytest.raises(LinkInvalid):
            world.accounts.invitations.accept(token, PASSWORD, now=world.now)

    def test_password_reset_by_emailed_link(self, world: World) -> None:
        aid = world.add("a@ak.example.org", "reviewer")
        old = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        world.accounts.resets.request("nobody@ak.example.org", now=world.now)  # says nothing
        assert world.mails() == []
        world.accounts.resets.request("A@AK.example.org", now=world.now)
        world.accounts.resets.request("a@ak.example.org", now=world.tick(minutes=1))
        assert len(world.mails()) == 1  # one email per quarter hour, however often asked
        token = link_token(world.mails()[0][2])
        with pytest.raises(LinkInvalid):  # a reset link is not an invitation
            world.accounts.invitations.accept(token, "another good passphrase", now=world.now)
        with pytest.raises(PasswordRejected):
            world.accounts.resets.complete(token, "a@ak.example.org", now=world.now)
        world.accounts.resets.complete(token, "another good passphrase", now=world.now)
        assert world.accounts.sign_in.current(old.session_id, now=world.now) is None
        with pytest.raises(LinkInvalid):
            world.accounts.resets.complete(token, "yet another passphrase", now=world.now)
        with pytest.raises(SignInRefused):
            world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        assert world.accounts.sign_in.sign_in("a@ak.example.org", "another good passphrase",
                                              now=world.now)
        assert "was changed" in world.mails()[-1][1]
        assert [a for a, _ in actions(world, aid)].count("account.password_reset") == 1

    def test_a_reset_link_expires_after_an_hour_and_lifts_a_lock_out(self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        for _ in range(5):
            with pytest.raises(SignInRefused):
                world.accounts.sign_in.sign_in("a@ak.example.org", "wrong password", now=world.now)
        world.accounts.resets.request("a@ak.example.org", now=world.now)
        stale = link_token(world.mails()[-1][2])
        world.tick(hours=1, seconds=1)
        with pytest.raises(LinkInvalid):
            world.accounts.resets.complete(stale, "another good passphrase", now=world.now)
        world.accounts.resets.request("a@ak.example.org", now=world.now)
        world.accounts.resets.complete(link_token(world.mails()[-1][2]), "another good passphrase",
                                       now=world.now)
        assert world.accounts.sign_in.sign_in("a@ak.example.org", "another good passphrase",
                                              now=world.now)

    def test_changing_ones_password_rotates_the_session_and_ends_the_others(
            self, world: World) -> None:
        world.add("a@ak.example.org", "reviewer")
        here = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        there = world.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=world.now)
        with pytest.raises(SignInRefused):
            world.accounts.sign_in.change_password(here.session_id, "wrong", "new good passphrase",
                                                   now=world.now)
        moved = world.accounts.sign_in.change_password(here.session_id, PASSWORD,
                                                       "new good passphrase", now=world.now)
        assert world.accounts.sign_in.current(moved.session_id, now=world.now)
        for old in (here, there):
            assert world.accounts.sign_in.current(old.session_id, now=world.now) is None

    def test_emails_are_case_folded_per_association(self, world: World) -> None:
        import unicodedata

        world.add("Jane@AK.example.org", "reviewer")
        with pytest.raises(EmailTaken):
            world.add("jane@ak.EXAMPLE.org", "auditor")
        world.add(unicodedata.normalize("NFC", "José@ak.example.org"), "auditor")
        decomposed = unicodedata.normalize("NFD", "JOSÉ@ak.example.org")
        assert world.accounts.sign_in.sign_in(decomposed, PASSWORD, now=world.now)

    def test_the_last_coordinator_cannot_be_removed(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        cid = coordinator.account.account_id
        with pytest.raises(LastCoordinator):
            world.accounts.admin.set_roles(coordinator, cid, ["reviewer"], now=world.now)
        with pytest.raises(LastCoordinator):
            world.accounts.admin.disable(coordinator, cid, now=world.now)
        second = world.add("second@ak.example.org", "coordinator")
        world.accounts.admin.set_roles(coordinator, cid, ["reviewer"], now=world.now)
        assert world.accounts.store.find(cid).roles == {"reviewer"}  # type: ignore[union-attr]
        assert world.accounts.store.find(second).has("coordinator")  # type: ignore[union-attr]

    def test_an_applicant_signs_in_by_emailed_link_and_staff_cannot(self, world: World) -> None:
        from federation_api.accounts.roles import AccountRole

        with world.db.transaction() as cur:  # how issue 12's sign-up will make an account
            world.accounts.store.create(cur, email="ana@example.org", display_name="Ana García",
                                        roles=[AccountRole.APPLICANT], now=world.now)
        world.add("r@ak.example.org", "reviewer")
        links = world.accounts.email_sign_in
        for email in ("ana@example.org", "r@ak.example.org", "nobody@example.org",
                      "ANA@example.org"):
            links.request(email, now=world.now)
        assert [to for to, _, _ in world.mails()] == ["ana@example.org"]
        token = link_token(world.mails()[0][2])
        signed = links.complete(token, now=world.now)
        assert signed.stage is SessionStage.FULL and signed.account.email_verified
        with pytest.raises(LinkInvalid):
            links.complete(token, now=world.now)
        with pytest.raises(Forbidden):
            signed.require(AccountRole.REVIEWER)

    # -- API tokens --------------------------------------------------------------------------------

    def test_a_coordinator_issues_and_revokes_an_expiring_api_token(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        token_id, secret = world.accounts.tokens.issue(
            coordinator, label="Reviewer laptop", role=Role.REVIEWER,
            expires_at=world.now + dt.timedelta(days=30), now=world.now)
        store = world.token_store
        assert store.authenticate(secret, now=world.now + dt.timedelta(days=29))
        assert store.authenticate(secret, now=world.now + dt.timedelta(days=30)) is None
        detail = next(d for d in world.accounts.tokens.list(coordinator) if d.token_id == token_id)
        assert detail.issued_by == f"account:{coordinator.account.account_id}"
        assert detail.expires_at is not None
        world.accounts.tokens.revoke(coordinator, token_id, now=world.now)
        assert store.authenticate(secret, now=world.now) is None
        audited = ((e.action, e.target) for e in world.accounts.audit.entries())
        assert [(a, t) for a, t in audited if a.startswith("token.")] == [
            ("token.revoke", token_id), ("token.issue", token_id)]
        with pytest.raises(InvalidAccountInput):
            world.accounts.tokens.issue(coordinator, label="forever", role=Role.AUDITOR,
                                        expires_at=world.now + dt.timedelta(days=400),
                                        now=world.now)

    def test_only_coordinators_issue_tokens(self, world: World) -> None:
        world.add("r@ak.example.org", "reviewer")
        reviewer = world.accounts.sign_in.sign_in("r@ak.example.org", PASSWORD, now=world.now)
        with pytest.raises(Forbidden):
            world.accounts.tokens.issue(reviewer, label="mine", role=Role.COORDINATOR,
                                        expires_at=world.now + dt.timedelta(days=1), now=world.now)
        assert world.token_store.details() == []

    def test_a_token_table_from_before_expiry_keeps_working(self, db_url: str) -> None:
        from federation_api.accounts.tokens import TOKEN_PREFIX, TokenStore, _hash
        from ledger.storage.database import Database, DatabaseUrl

        db = Database(DatabaseUrl.parse(db_url))
        try:
            with db.transaction() as cur:  # the table as earlier releases made it
                cur.execute("CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, token_id TEXT "
                            "NOT NULL UNIQUE, label TEXT NOT NULL, role TEXT NOT NULL, created_at "
                            "TEXT NOT NULL, revoked_at TEXT)")
                old = TOKEN_PREFIX + "an-old-cli-token-with-enough-randomness-0001"
                cur.execute("INSERT INTO api_tokens VALUES (?, 'old1', 'CLI auditor', 'auditor', "
                            "'2025-01-01T00:00:00+00:00', NULL)", (_hash(old),))
            store = TokenStore(db)
            principal = store.authenticate(old)
            assert principal is not None and principal.token_id == "old1"
            assert store.details()[0].expires_at is None
            assert store.list() == [("old1", "CLI auditor", "auditor", "2025-01-01T00:00:00+00:00",
                                     None)]
            TokenStore(db)  # opening again (another process) changes nothing
            _, new = store.issue(label="new", role=Role.AUDITOR, now=T0,
                                 expires_at=T0 + dt.timedelta(days=1))
            assert store.authenticate(new, now=T0) is not None
        finally:
            db.close()

    # -- the audit log -----------------------------------------------------------------------------

    def test_a_ledger_action_is_audited_before_and_after_with_its_entry(self, world: World) -> None:
        coordinator, _ = world.coordinator()
        audit = world.accounts.audit
        started = audit.begin(actor=coordinator.actor, action="endorsement.grant",
                              target="AK-2026-0001", now=world.now, client="10.0.0.5")
        entry = audit.entries(action="endorsement.grant")[0]
        assert entry.outcome is Outcome.STARTED and entry.finished_at is None
        audit.finish(started, outcome=Outcome.OK, now=world.tick(seconds=1),
                     ledger=LedgerRef("AK", 42, "ab" * 32))
        entry = audit.entries(action="endorsement.grant")[0]
        assert (entry.account_id, entry.outcome, entry.ledger) == (
            coordinator.account.account_id, Outcome.OK, LedgerRef("AK", 42, "ab" * 32))
        assert entry.client == "10.0.0.5" and entry.finished_at == world.now
        newest, *_ = audit.entries(account_id=coordinator.account.account_id, limit=2)
        assert newest.audit_id == started
        assert audit.entries(before=started, limit=1)[0].audit_id < started

    def test_details_never_hold_secrets(self, world: World) -> None:
        coordinator, enrolment = world.coordinator()
        world.accounts.resets.request("coord@ak.example.org", now=world.now)
        _, secret = world.accounts.tokens.issue(coordinator, label="x", role=Role.AUDITOR,
                                                expires_at=world.now + dt.timedelta(days=1),
                                                now=world.now)
        dump = repr(world.db.query("SELECT * FROM staff_audit"))
        for value in (PASSWORD, enrolment.secret, secret, link_token(world.mails()[-1][2])):
            assert value not in dump

    # -- the emails through a real SMTP server -----------------------------------------------------

    def test_an_invitation_and_a_reset_arrive_by_smtp_and_their_links_work(
            self, world: World) -> None:
        from federation_api.mail.messages import Sender
        from federation_api.mail.sender import OutboxSender
        from federation_api.mail.smtp import SmtpClient, SmtpUrl
        from tests.integration.smtp_sink import SmtpSink

        coordinator, _ = world.coordinator()
        with SmtpSink() as sink:
            sender = OutboxSender(world.outbox, SmtpClient(SmtpUrl.parse(sink.url)),
                                  Sender.parse("Alaska Association <noreply@ak.example.org>"),
                                  clock=lambda: world.now)
            world.accounts.invitations.invite(coordinator, email="nell@ak.example.org",
                                              display_name="Nell", roles=["reviewer"],
                                              now=world.now)
            assert sender.run_once().sent == 1
            invitation = sink.wait_for(1)[0]
            assert invitation.rcpt_tos == ("nell@ak.example.org",)
            assert "coord has invited you" in invitation.text()
            world.accounts.invitations.accept(link_token(invitation.text()), PASSWORD,
                                              now=world.now)
            world.accounts.resets.request("nell@ak.example.org", now=world.tick(minutes=1))
            assert sender.run_once().sent == 1
            reset = sink.wait_for(2)[1]
            assert "https://ak.example.org/staff/password-reset?token=olt_" in reset.text()
            world.accounts.resets.complete(link_token(reset.text()), "a brand new passphrase",
                                           now=world.now)
            assert sender.run_once().sent == 1  # "your password was changed"
            assert "was changed" in str(sink.wait_for(3)[2].message["Subject"])
        assert world.accounts.sign_in.sign_in("nell@ak.example.org", "a brand new passphrase",
                                              now=world.now)


class TestAccountsOnSQLite(AccountsContract, OnSQLite):
    """The contract on SQLite files."""


class TestAccountsOnPostgreSQL(AccountsContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""


# -- two processes on one PostgreSQL database -------------------------------------------------


@pytest.mark.postgres
def test_two_serve_processes_share_sessions_and_lock_outs() -> None:
    with postgres_schema_url() as url:
        one, two = World(url), World(url)
        try:
            one.add("a@ak.example.org", "reviewer")
            signed: SignedIn = one.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD,
                                                            now=one.now)
            seen = two.accounts.sign_in.current(signed.session_id, now=two.now)
            assert seen is not None and seen.account.email == "a@ak.example.org"
            check_csrf(seen.session, csrf_token(signed.session))
            two.accounts.sign_in.sign_out(signed.session_id, now=two.now)
            assert one.accounts.sign_in.current(signed.session_id, now=one.now) is None
            for world in (one, two, one, two, one):  # failures counted across processes
                with pytest.raises(SignInRefused):
                    world.accounts.sign_in.sign_in("a@ak.example.org", "wrong", now=world.now)
            with pytest.raises(SignInRefused):
                two.accounts.sign_in.sign_in("a@ak.example.org", PASSWORD, now=two.now)
            with pytest.raises(SessionInvalid):
                two.accounts.sign_in.require("ses_unknown", now=two.now)
        finally:
            one.close()
            two.close()
