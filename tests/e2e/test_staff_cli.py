"""`alliance staff add|list|disable|reset-password|remove-totp` as an administrator at the
server's shell runs them, against a node's real files; what they did is then checked through
the accounts services of the same node (sign-in, sessions, audit log)."""

from __future__ import annotations

import re
from pathlib import Path

from federation_api.accounts import totp
from federation_api.accounts.errors import SignInRefused
from federation_api.accounts.sessions import SessionStage
from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.settings import Settings
from tests.e2e.harness import NodeDir, init_node, run_alliance

PASSWORD = "tulip harbour seventeen"


def staff(node: NodeDir, *args: str, stdin: str | None = None,
          check: bool = True) -> tuple[int, str, str]:
    done = run_alliance("staff", *args, *node.store_args(), check=check, stdin=stdin)
    return done.returncode, done.stdout, done.stderr


def opened(node: NodeDir) -> Node:
    return Node(Settings(data_dir=node.data_dir))


def test_the_first_coordinator_and_a_reviewer_come_from_the_shell(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=())
    code, out, _ = staff(node, "add", "--email", "Cora@AK.example.org", "--name", "Cora Coord",
                         "--role", "coordinator", "--role", "auditor", "--password-stdin",
                         stdin=PASSWORD + "\n")
    assert code == 0 and "added Cora@AK.example.org (auditor, coordinator)" in out
    assert PASSWORD not in out and "authenticator app is set up at the first sign-in" in out
    code, out, _ = staff(node, "add", "--email", "rae@ak.example.org", "--name", "Rae",
                         "--role", "reviewer")
    link = re.search(r"https?://\S+/staff/invitation\?token=(\S+)", out)
    assert code == 0 and link, out
    code, out, _ = staff(node, "list")
    lines = sorted(out.splitlines(), key=lambda line: line.split("\t")[1].lower())
    assert len(lines) == 2
    assert lines[0].split("\t")[1:] == ["Cora@AK.example.org", "Cora Coord",
                                        "auditor,coordinator", "active", "no-totp"]
    assert lines[1].split("\t")[1:] == ["rae@ak.example.org", "Rae", "reviewer", "invited",
                                        "no-totp"]
    n = opened(node)
    try:
        signed = n.accounts.sign_in.sign_in("cora@ak.example.org", PASSWORD, now=now())
        assert signed.stage is SessionStage.ENROL_SECOND_FACTOR
        accepted = n.accounts.invitations.accept(link.group(1), PASSWORD + " two", now=now())
        assert accepted.has_password
        actors = {(e.actor, e.action) for e in n.accounts.audit.entries()}
        assert ("cli", "account.create") in actors
    finally:
        n.close()


def test_bad_input_is_refused_with_a_message_and_writes_nothing(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=())
    code, _, err = staff(node, "add", "--email", "cora@ak.example.org", "--name", "Cora",
                         "--role", "coordinator", "--password-stdin", stdin="password123\n",
                         check=False)
    assert code == 2 and "alliance: error:" in err and "password" in err
    code, _, err = staff(node, "add", "--email", "not an email", "--name", "X", "--role",
                         "reviewer", check=False)
    assert code == 2 and "email address" in err
    code, _, err = staff(node, "disable", "nobody@ak.example.org", check=False)
    assert code == 2 and "no account" in err
    code, out, _ = staff(node, "list")
    assert out == ""
    staff(node, "add", "--email", "cora@ak.example.org", "--name", "Cora", "--role",
          "coordinator", "--password-stdin", stdin=PASSWORD + "\n")
    code, _, err = staff(node, "add", "--email", "CORA@ak.example.org", "--name", "Cora 2",
                         "--role", "reviewer", check=False)
    assert code == 2 and "exists already" in err
    # The last active coordinator is kept.
    code, _, err = staff(node, "disable", "cora@ak.example.org", check=False)
    assert code == 2 and "last active coordinator" in err


def test_disable_reset_password_and_remove_totp_end_the_sessions(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=())
    for email, role in (("cora@ak.example.org", "coordinator"), ("cal@ak.example.org",
                                                                  "committee")):
        staff(node, "add", "--email", email, "--name", email[:4], "--role", role,
              "--password-stdin", stdin=PASSWORD + "\n")
    n = opened(node)
    try:
        pending = n.accounts.sign_in.sign_in("cal@ak.example.org", PASSWORD, now=now())
        enrolment = n.accounts.sign_in.begin_enrolment(pending.session_id, now=now())
        signed, _ = n.accounts.sign_in.confirm_enrolment(
            pending.session_id, totp.code_at(enrolment.secret, totp.step_of(now())), now=now())
    finally:
        n.close()

    code, out, _ = staff(node, "remove-totp", "cal@ak.example.org")
    assert code == 0 and "removed the authenticator" in out
    code, out, _ = staff(node, "reset-password", "cal@ak.example.org")
    assert code == 0 and re.search(r"/staff/password-reset\?token=olt_", out)
    code, out, _ = staff(node, "reset-password", "cal@ak.example.org", "--password-stdin",
                         stdin="a brand new passphrase\n")
    assert code == 0 and "password set" in out
    n = opened(node)
    try:
        assert n.accounts.sign_in.current(signed.session_id, now=now()) is None
        again = n.accounts.sign_in.sign_in("cal@ak.example.org", "a brand new passphrase",
                                           now=now())
        assert again.stage is SessionStage.ENROL_SECOND_FACTOR  # the app is set up again
    finally:
        n.close()
    code, out, _ = staff(node, "disable", "cal@ak.example.org")
    assert code == 0 and "disabled cal@ak.example.org" in out
    n = opened(node)
    try:
        assert n.accounts.sign_in.current(again.session_id, now=now(), stage=None) is None
        try:
            n.accounts.sign_in.sign_in("cal@ak.example.org", "a brand new passphrase",
                                       now=now())
            raise AssertionError("a disabled account signed in")
        except SignInRefused:
            pass
        cli_actions = [e.action for e in n.accounts.audit.entries() if e.actor == "cli"]
        assert cli_actions.count("account.password_reset") == 2
        assert {"account.disable", "account.second_factor_reset"} <= set(cli_actions)
    finally:
        n.close()
