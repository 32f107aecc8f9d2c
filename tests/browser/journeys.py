"""Fixtures for the staff journeys in a real browser (a helper module, not a test module):
`alliance serve` of a node on SQLite or on a fresh PostgreSQL schema with its staff accounts
made by `alliance staff add`, Chromium contexts that sign in as those accounts through the
pages (enrolling the authenticator where the role needs one, later with a recovery code),
axe-core on copies of the pages, and the ledger head read through the auditor API.

Nothing of the node runs in the test process: the test reaches it as a browser and as an
API client do. The evidence forms are filled from the domain's own evidence values through
`evidence_form.form_values`, so the browser types exactly what the integration tests post.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.evidence import (
    ApplicationEvidence,
    Degree,
    Membership,
    Rating,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, RaterRole, WorkKind
from domain.policy import AssociationPolicy
from federation_api.accounts import totp
from federation_api.accounts.tokens import Role
from federation_api.clock import now
from federation_api.node.local_alliance import admit, distribute
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths, init_node
from federation_api.settings import Settings
from ledger.signing import Signer
from ledger.trust.registry import Action, Genesis
from ledger.trust.registry_files import RegistryDir
from tests.browser import axe_stack
from tests.e2e.harness import NodeDir, ServerProcess, head_seq, today
from tests.pg import postgres_schema_url

PASSWORD = "tulip harbour seventeen"
BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))
NAMES = {"AK": "Alaska Association for Infant and Early Childhood Mental Health",
         "MI": "Michigan Association for Infant Mental Health"}
# Maria Rivera, a Level III endorsed since 2012: the RS/C provider and a rater of the
# applications the journeys take through.
PROVIDER = "AK-P-0001"


@dataclass
class Account:
    """A staff account made with `alliance staff add`; what its owner keeps after the first
    sign-in (the authenticator secret, the recovery codes not used yet)."""

    email: str
    name: str
    roles: tuple[str, ...]
    secret: str | None = None
    recovery: list[str] = field(default_factory=list)


@dataclass
class StaffNode:
    """`alliance serve` of one node, its API tokens (for reading the ledger head and seeding)
    and its staff accounts by short name."""

    server: ServerProcess
    node: NodeDir
    accounts: dict[str, Account]

    @property
    def url(self) -> str:
        return self.server.url

    def head(self) -> int:
        """The node's own ledger head seq, as the auditor API reports it."""
        with self.server.client() as client:
            return head_seq(client, self.node)

    def entry(self, seq: int) -> dict[str, Any]:
        """One entry of the node's own ledger (auditor API)."""
        with self.server.client() as client:
            r = client.get(f"/v1/ledger/{self.node.association}/entries",
                           params={"from": seq, "to": seq}, headers=self.node.auth("auditor"))
            assert r.status_code == 200, r.text
            found: dict[str, Any] = r.json()["entries"][0]
            return found

    def api(self) -> httpx.Client:
        return self.server.client(timeout=30)


COORDINATOR = ("cora@ak.example.org", "Cora Coordinator", ("coordinator",))
REVIEWERS = {"rae": ("rae@ak.example.org", "Rae Reviewer", ("reviewer",)),
             "ray": ("ray@ak.example.org", "Ray Reviewer", ("reviewer",))}
COMMITTEE = ("cal@ak.example.org", "Cal Committee", ("committee",))


@contextlib.contextmanager
def database_url(backend: str) -> Iterator[str | None]:
    """None (the node's own SQLite files) or a fresh PostgreSQL schema, dropped afterwards."""
    if backend == "sqlite":
        yield None
    else:
        with postgres_schema_url() as url:
            yield url


def make_node(root: Path, association: str, url: str | None,
              staff: dict[str, tuple[str, str, tuple[str, ...]]],
              policy: AssociationPolicy | None = None) -> tuple[NodeDir, dict[str, Account]]:
    """A node initialised as `alliance init` does (the 31 December renewal date, 60 days'
    grace, unless `policy` says otherwise), a coordinator's and an auditor's API token, and
    each staff account as `alliance staff add` makes it. Made in this process, in one go:
    under load every `alliance` command costs seconds of start-up, and the commands
    themselves are tested in tests/e2e/test_staff_cli.py."""
    node = NodeDir(data_dir=root / association.lower(), association=association,
                   database_url=url)
    settings = Settings(data_dir=node.data_dir, association=association, database_url=url)
    init_node(settings, association=association, name=NAMES[association],
              policy=policy or AssociationPolicy(), now=now())
    opened = Node(settings)
    accounts = {}
    try:
        for role in (Role.COORDINATOR, Role.AUDITOR):
            _, node.tokens[role.value] = opened.tokens.issue(label=f"journeys {role.value}",
                                                             role=role, now=now())
        for short, (email, name, roles) in staff.items():
            opened.accounts.invitations.staff_add(email=email, display_name=name, roles=roles,
                                                  password=PASSWORD, now=now())
            accounts[short] = Account(email=email, name=name, roles=roles)
    finally:
        opened.close()
    return node, accounts


def import_endorsement(client: httpx.Client, node: NodeDir, person: str, family: str,
                       given: str, level: str, valid_through: dt.date,
                       designation: str | None = None) -> str:
    """An endorsement from the paper roster (the coordinator's import API); its id."""
    r = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
        "person_id": person, "family_name": family, "given_name": given, "level": level,
        "designation": designation, "granted_on": "2012-03-01",
        "valid_through": valid_through.isoformat(), "legacy_reference": f"paper-{person}"})
    assert r.status_code == 201, r.text
    return str(r.json()["endorsement_id"])


def admit_all(root: Path, nodes: list[NodeDir]) -> None:
    """A one-key Alliance registry admitting every node (founded a day ago), copied into each
    node's data directory: the registry names the peers a node replicates."""
    created = now() - dt.timedelta(days=1)
    governance = Signer.generate()
    registry = RegistryDir(root / "registry")
    registry.create(Genesis(alliance="Journeys", governance_keys=(governance.public_key,),
                            threshold=1, created_at=created))
    for node in nodes:
        public = Signer.load(NodePaths(node.data_dir).signing_key).public_key
        admit(registry, governance, Action.ADMIT, issued_at=created,
              association=node.association, name=NAMES[node.association], public_key=public,
              effective_at=created)
    distribute(registry, [node.data_dir for node in nodes])


# -- the browser -----------------------------------------------------------------------------


_TEXT = re.compile(r">[^<]*<")
_VALUES = re.compile(r'\b(href|action|value|content|datetime)="[^"]*"')


def shape(html: str) -> str:
    """A page's markup without its text and its links' and values' targets: two pages of
    one shape (the same template in the same state, another application's data) get the
    same axe-core result, so a journey checks each shape once."""
    return hashlib.sha256(_VALUES.sub(r'\1=""', _TEXT.sub("><", html)).encode()).hexdigest()


class Checker:
    """Runs axe-core on copies of the journey's pages (the journey's own context has
    JavaScript off, and the pages' policy forbids scripts: the copy bypasses both). With
    `seen` (shared by the tests of a module), a page of a shape checked before is not checked
    again."""

    def __init__(self, browser: Any, url: str, script: Path,
                 seen: set[str] | None = None) -> None:
        self.context = browser.new_context(java_script_enabled=True, bypass_csp=True)
        self.page = self.context.new_page()
        self.page.goto(f"{url}/healthz")  # the origin the copies resolve against
        self.script = script
        self.seen = seen
        self.checked: list[str] = []
        self.problems: list[str] = []

    def check(self, page: Any) -> None:
        title = page.title()
        html = page.content()
        self.checked.append(title)
        if self.seen is not None:
            key = shape(html)
            if key in self.seen:
                return
            self.seen.add(key)
        self.page.set_content(html, wait_until="load")
        found = axe_stack.blocking(axe_stack.violations(self.page, self.script))
        self.problems += [f"{title}: {line}" for line in found]

    def close(self) -> None:
        self.context.close()


def axe_script_or_skip() -> Path:
    """axe.min.js, installed from the pinned lockfile; a skip (saying why) without npm."""
    try:
        return axe_stack.install()
    except axe_stack.AxeMissing as e:
        pytest.skip(str(e))


def follow(target: Any) -> None:
    """Click a link or submit button and wait until the page it leads to has loaded (a bare
    click returns before the navigation is done, which a loaded machine shows)."""
    with target.page.expect_navigation():
        target.click()


def nav_link(page: Any, name: str) -> Any:
    """A link of the staff pages' navigation, by its whole text ("Accounts" is not "Portal
    accounts")."""
    return page.get_by_role("navigation", name="Staff pages").get_by_role("link", name=name,
                                                                          exact=True)


def session_cookie(context: Any) -> str | None:
    """The staff session id the browser holds (None before any)."""
    return next((c["value"] for c in context.cookies() if c["name"] == "alliance_staff"), None)


def new_context(browser: Any) -> Any:
    """A browser profile of its own (cookies), with JavaScript off as the pages promise."""
    return browser.new_context(java_script_enabled=False)


def sign_in(context: Any, url: str, account: Account, axe: Checker | None = None,
            next_path: str = "") -> Any:
    """Sign `account` in through the pages in `context`; the page it lands on. The first
    sign-in of a role that needs a second factor sets up the authenticator (keeping the
    secret and the recovery codes); later ones enter a recovery code. The session cookie
    must change at every step that admits the person further (session fixation)."""
    page = context.new_page()
    page.goto(f"{url}/staff/login" + (f"?next={next_path}" if next_path else ""))
    before = session_cookie(context)
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password").fill(PASSWORD)
    follow(page.get_by_role("button", name="Sign in"))
    after_password = session_cookie(context)
    assert after_password is not None and after_password != before
    if page.url.split("?")[0].endswith("/staff/login/enrol"):
        if axe:
            axe.check(page)
        account.secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(
            totp.code_at(account.secret, totp.step_of(now())))
        follow(page.get_by_role("button", name="Finish setting up"))
        account.recovery = [li.inner_text().strip() for li in
                            page.locator("ul.codes li").all()]
        assert len(account.recovery) == 10
        if axe:
            axe.check(page)
        follow(page.get_by_role("link", name="Continue"))
    elif page.url.split("?")[0].endswith("/staff/login/code"):
        if axe:
            axe.check(page)
        page.get_by_label("Code", exact=True).fill(account.recovery.pop())
        follow(page.get_by_role("button", name="Continue"))
    if account.secret is not None:
        assert session_cookie(context) not in (before, after_password)
    assert "/staff/login" not in page.url, page.locator("main").inner_text()
    return page


def fill_form(page: Any, values: dict[str, str]) -> set[str]:
    """Fill the inputs of `values` the page shows (text, date, select, checkbox); the names
    it filled."""
    filled = set()
    for name, value in values.items():
        box = page.locator(f'[id="{name}"]')
        if box.count() == 0:
            continue
        kind = box.get_attribute("type")
        if box.locator("xpath=self::select").count():
            box.select_option(value)
        elif kind == "checkbox":
            box.set_checked(value == "on")
        else:
            box.fill(value)
        filled.add(name)
    return filled


def enter_evidence(page: Any, values: dict[str, str], button: str = "Save the evidence",
                   rounds: int = 6) -> None:
    """Type the evidence into the form as a person without JavaScript does: fill the rows
    shown, save (which adds an empty row per section), and go on until every value is in."""
    left = dict(values)
    for _ in range(rounds):
        filled = fill_form(page, left)
        follow(page.get_by_role("button", name=button))
        assert page.locator(".error-summary").count() == 0, page.locator("main").inner_text()
        left = {k: v for k, v in left.items() if k not in filled}
        if not left:
            return
        follow(page.get_by_role("link", name="Enter or change the evidence"))
    raise AssertionError(f"the form never showed {sorted(left)}")


def shown_entry(page: Any) -> tuple[int, str]:
    """The ledger entry the page after an action names: (seq, the hash's first 16 digits)."""
    found = re.search(r"Ledger entry [A-Z]{2} #(\d+), hash ([0-9a-f]{16})",
                      page.locator(".message").inner_text())
    assert found, page.locator("main").inner_text()
    return int(found[1]), found[2]


def level_three_evidence() -> ApplicationEvidence:
    """Everything Level III needs but the exam, with Maria Rivera as RS/C provider and
    rater (as tests/integration/test_staff_applications.py uses)."""
    d = dt.date
    rated = d(2021, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                        awarded_on=d(2017, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=40, completed_on=d(2022, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.IMH_INFANT_AND_PARENT, employer="Clinic",
                             started_on=d(2018, 1, 1), ended_on=d(2021, 1, 31), supervised=True,
                             families_served=20, infant_social_emotional_focus=True,
                             post_bachelor=True, post_master=True),),
        rsc=(RscHours(provider_id=PROVIDER, hours=60, started_on=d(2019, 6, 1),
                      ended_on=d(2020, 12, 31), post_bachelor=True, post_master=True),),
        ratings=(Rating(rater_id="AK-X-0100", rater_name="Supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated),
                 Rating(rater_id=PROVIDER, rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated,
                        rater_degree=DegreeKind.MASTER),
                 Rating(rater_id="AK-X-0101", rater_name="Colleague",
                        role=RaterRole.COLLEAGUE, rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=d(today().year, 12, 31)),))
