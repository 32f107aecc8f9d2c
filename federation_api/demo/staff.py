"""The demo's staff accounts: on each node a coordinator, with a password made for this run
and an authenticator already set up, and a reviewer, who needs no code.

A coordinator must enter an authenticator code at every sign-in. For the demo only, the run
sets the authenticator up through the same enrolment the enrolment page uses and prints both
ways past that step: the authenticator secret (add it to any TOTP app, or compute a code
with `oathtool --totp -b SECRET`) and three of the ten single-use recovery codes. A real
node never prints either: there the person sets the app up at their first sign-in.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from domain.levels import Level
from federation_api.accounts import totp
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence
from federation_api.node.root import Node


@dataclass(frozen=True)
class DemoStaff:
    """What the demo prints about a node's staff accounts."""

    coordinator: str
    reviewer: str
    password: str  # both accounts', made for this run
    secret: str  # the coordinator's authenticator secret, grouped for typing
    recovery_codes: tuple[str, ...]


def demo_staff(node: Node) -> DemoStaff:
    """Create the demo's coordinator (enrolled) and reviewer on `node`."""
    domain = f"{node.association.lower()}.example.org"
    coordinator, reviewer = f"coordinator@{domain}", f"reviewer@{domain}"
    password = "demo " + secrets.token_urlsafe(9)
    accounts = node.accounts
    at = now()
    accounts.invitations.staff_add(email=coordinator, display_name="Demo Coordinator",
                                   roles=["coordinator"], password=password, now=at)
    reviewers = [accounts.invitations.staff_add(
        email=email, display_name=name, roles=["reviewer"], password=password,
        now=at).account.account_id
        for email, name in ((reviewer, "Demo Reviewer"),
                            (f"second.reviewer@{domain}", "Second Reviewer"))]
    if node.association == "AK":
        _applications_in_review(node, reviewers)
    pending = accounts.sign_in.sign_in(coordinator, password, now=at)
    enrolment = accounts.sign_in.begin_enrolment(pending.session_id, now=at)
    signed, codes = accounts.sign_in.confirm_enrolment(
        pending.session_id, totp.code_at(enrolment.secret, totp.step_of(at)), now=at)
    accounts.sign_in.sign_out(signed.session_id, now=at)
    return DemoStaff(coordinator=coordinator, reviewer=reviewer, password=password,
                     secret=enrolment.grouped_secret, recovery_codes=codes[:3])


def _applications_in_review(node: Node, reviewers: list[str]) -> None:
    """Two Level II applications for the dashboard: one with the two demo reviewers (in the
    demo reviewer's queue), one returned to the applicant with comments."""
    on, at = today(), now()
    for key, family, given in (("lopez", "Lopez", "Ana"), ("brooks", "Brooks", "Tim")):
        application = uuid.uuid5(uuid.NAMESPACE_URL, f"alliance-demo:{key}")
        node.service.submit_application(
            application_id=application, person_id=f"AK-P-01{len(family):02d}",
            family_name=family, given_name=given, level=Level.IFS, designation=None,
            evidence=level_two_evidence(on), submitted_on=on, now=at)
        node.service.assign_reviewers(application, reviewers, assigned_by="demo coordinator",
                                      assigned_on=on, now=at)
        if key == "brooks":
            node.service.return_with_comments(
                application, returned_by="demo coordinator", returned_on=on, now=at,
                comments="Please send the supervisor's rating on the association's form.")


def print_staff(staff: DemoStaff, base: str) -> None:
    """The lines of one node's staff accounts in the demo's output."""
    print(f"  {'coordinator':22} {staff.coordinator} / password: {staff.password}")
    print(f"  {'  authenticator':22} secret {staff.secret} (TOTP, 6 digits, 30 s), or "
          f"recovery codes {', '.join(staff.recovery_codes)} (each works once)")
    print(f"  {'reviewer':22} {staff.reviewer} / password: {staff.password} (no code)")
