"""The public verification page and the staff roster page, as HTML over a real node.

A real node (SQLite files, signing key, token store) behind the real FastAPI app; data is
written through the staff API, exactly as a coordinator would. No JavaScript is involved:
every page is a plain GET or form POST.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.clock import today
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths, init_node
from federation_api.settings import RateLimitSettings, Settings
from federation_api.web.app import create_app
from federation_api.web.pages import public as pages
from federation_api.web.pages.templating import render
from federation_api.web.schemas import VerifyOut
from ledger.signing import Signer
from ledger.trust.keyring import KeyRecord, Keyring
from projections.standing import Standing
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.federation.peers import T0, Peer
from tests.integration.proof_fixtures import ProofAlliance, at, import_endorsement
from tests.integration.staff_browser import add_staff
from tests.integration.staff_browser import sign_in as staff_sign_in

NOW = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
NAME = "Alaska Association for Infant and Early Childhood Mental Health"
SCRIPT = "<script>alert(1)</script>"


class Site:
    """A node's app with a token per role."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.people = 0
        self.client = TestClient(create_app(node))
        self.tokens = {role: node.tokens.issue(label=f"{role.value} on duty", role=role,
                                               now=NOW)[1] for role in Role}

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def endorse(self, family: str, given: str, *, level: str = "IMHS",
                designation: str | None = None, valid_through: dt.date | None = None,
                person: str = "") -> str:
        self.people += 1
        body = {"person_id": person or f"AK-P-{self.people:04d}",
                "family_name": family, "given_name": given, "level": level,
                "designation": designation, "granted_on": "2015-01-05",
                "valid_through": (valid_through or dt.date(today().year + 1, 12, 31)).isoformat(),
                "legacy_reference": "paper"}
        r = self.client.post("/v1/endorsements/imports", json=body,
                             headers=self.auth(Role.COORDINATOR))
        assert r.status_code == 201, r.text
        return str(r.json()["endorsement_id"])

    def committee(self, endorsement_id: str, action: str,
                  role: Role = Role.COMMITTEE) -> None:
        r = self.client.post(f"/v1/endorsements/{endorsement_id}/{action}",
                             json={"reason": "recorded decision"}, headers=self.auth(role))
        assert r.status_code == 200, r.text

    def by_id(self, endorsement_id: str, last_name: str) -> tuple[int, str]:
        r = self.client.get("/verify", params={"by": "id", "endorsement_id": endorsement_id,
                                               "last_name": last_name})
        return r.status_code, r.text

    def by_name(self, first: str, last: str, state: str = "AK") -> tuple[int, str]:
        r = self.client.get("/verify", params={"by": "name", "first_name": first,
                                               "last_name": last, "state": state})
        return r.status_code, r.text


@pytest.fixture
def site(backend: Backend, tmp_path: Path) -> Iterator[Site]:
    """A node on SQLite files, or on a fresh PostgreSQL schema (dropped afterwards)."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(backend.database_url())
        settings = Settings(data_dir=tmp_path / "ak", database_url=url)
        init_node(settings, association="AK", name=NAME, policy=AssociationPolicy(), now=NOW)
        site = Site(Node(settings))
        try:
            yield site
        finally:
            site.node.close()


def banner(html: str) -> str:
    """The text of the first standing banner."""
    found = re.search(r'<div class="banner (banner-[a-z-]+)"[^>]*>(.*?)</div>', html, re.S)
    assert found, html
    return found.group(1) + " " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2)))


def without_echo(html: str) -> str:
    """A page without what differs between two misses: echoed inputs and the time."""
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    return re.sub(r"<time[^>]*>[^<]*</time>", "<time></time>", html)


# -- the public page ---------------------------------------------------------------------------


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[ProofAlliance]:
    """AK, MI and TX nodes of a small Alliance with a registry (receipts need one)."""
    made = ProofAlliance(tmp_path / "alliance")
    try:
        yield made
    finally:
        made.close()


# -- the staff roster page ---------------------------------------------------------------------


@pytest.mark.parametrize("standing", list(Standing))
def test_every_standing_has_its_words_and_only_current_is_green(standing: Standing) -> None:
    answer = VerifyOut(name="Jo Doe", level=Level.IFS, level_title=Level.IFS.title,
                       designation=None, association="MI", status=standing.value,
                       valid_through=dt.date(2026, 12, 31), as_of=dt.date(2026, 6, 1))
    shown = pages.result(answer, endorsement_id="MI-1234ABCD", last_name="Doe",
                         association="Michigan Association for Infant Mental Health")
    form = dict.fromkeys(("by", "endorsement_id", "last_name", "first_name", "state"), "")
    html = render("search.html", node_name="AK", form=form, states=[], errors=[],
                  results=[shown], searched=True, more=False, genesis_url="",
                  answered_at=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)).body.decode()
    assert standing.value in banner(html).lower()
    if standing is Standing.CURRENT:
        assert banner(html).startswith("banner-current")
    else:
        assert banner(html).startswith("banner-not-current")
        assert "Not current" in banner(html)
    assert "Michigan Association for Infant Mental Health (MI)" in html


def test_the_page_counts_against_the_public_rate_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "ak",
                        rate_limits=RateLimitSettings(requests_per_minute=1, burst=3))
    init_node(settings, association="AK", name=NAME, policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    try:
        client = TestClient(create_app(node))
        search = {"by": "id", "endorsement_id": "AK-00000000", "last_name": "Doe"}
        codes = [client.get("/").status_code] + [
            client.get("/verify", params=search).status_code for _ in range(3)]
        assert codes == [200, 404, 404, 429]
        refused = client.get("/verify", params=search)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert client.get("/static/pages.css").status_code == 200  # never refused
    finally:
        node.close()


def test_a_transferred_endorsement_names_its_new_association_and_links_it(
        tmp_path: Path) -> None:
    """AK's endorsement recognised by MI: the old one's banner names MI in full and links the
    new endorsement's verification, on the origin (from its transfer-out entry) and on a
    third node that has only the origin's ledger."""
    alliance = ProofAlliance(tmp_path)
    try:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        eid = import_endorsement(ak, "AK-MOVE0001", family_name="García")
        alliance.sync("AK", "MI")
        mi.service.recognize(eid, endorsement_id="MI-MOVE0001", recognized_on=dt.date(2026, 4, 1),
                             now=at(dt.date(2026, 4, 1)), replica=mi.replica)
        alliance.sync("MI", "AK")  # AK records the transfer out by itself
        alliance.sync("AK", "TX")  # TX holds AK's transfer out, not MI's recognition
        for node in (ak, alliance.nodes["TX"], mi):
            client = TestClient(create_app(node))
            r = client.get("/verify", params={"by": "id", "endorsement_id": eid,
                                              "last_name": "garcia"})
            assert r.status_code == 200, r.text
            words = banner(r.text)
            assert words.startswith("banner-not-current"), words
            assert "This endorsement moved to MI association (MI), which holds it now as " \
                   "MI-MOVE0001." in words
            link = re.search(r'<a class="banner-link" href="([^"]+)">Verify MI-MOVE0001 with '
                             r'MI association</a>', r.text)
            assert link, r.text
            target = link[1].replace("&amp;", "&")
            assert parse_qs(urlsplit(target).query) == {
                "by": ["id"], "endorsement_id": ["MI-MOVE0001"], "last_name": ["garcia"]}
            if node is not alliance.nodes["TX"]:  # TX has not got MI's ledger at all
                followed = client.get(target)
                assert followed.status_code == 200
                assert banner(followed.text).startswith("banner-current")
    finally:
        alliance.close()


def test_the_receipt_link_gives_a_plain_page_when_no_receipt_can_be_made(
        alliance: ProofAlliance) -> None:
    """MI holds AK's entry but no checkpoint of AK's ledger covering it (and, without NATS,
    no way to ask AK for one): the result page's "Download receipt" answers an HTML page
    that says so in plain words, with a retry link, never JSON; the API keeps its 409. Once
    the checkpoint has come, the same link downloads the receipt."""
    ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
    eid = import_endorsement(ak, "AK-LATE0001", family_name="Rivera")
    alliance.sync("AK", "MI")
    client = TestClient(create_app(mi))
    page = client.get("/verify", params={"by": "id", "endorsement_id": eid,
                                         "last_name": "Rivera"})
    link = re.search(r'<a href="(/receipts/download\?[^"]+)">Download receipt', page.text)
    assert page.status_code == 200 and link, page.text
    assert ' download>' not in page.text  # a failure must show as a page, not a download
    assert 'href="/v1/alliance/genesis.json">Alliance genesis file</a>' in page.text
    url = link[1].replace("&amp;", "&")
    late = client.get(url)
    assert late.status_code == 409 and late.headers["content-type"].startswith("text/html")
    assert late.headers["retry-after"] == "10"
    assert "<h1>Receipt not ready yet</h1>" in late.text
    assert ("The answer rests on AK association&#39;s ledger, and this node has not yet "
            "received a signed checkpoint") in late.text
    assert f'<a href="{link[1]}">Try again</a>' in late.text
    assert "Back to the verification result" in late.text
    api = client.get("/v1/receipts", params={"endorsement_id": eid, "last_name": "Rivera"})
    assert api.status_code == 409 and api.json()["code"] == "proof_unavailable"
    view = client.get(url.replace("/download", "/view"))
    assert view.status_code == 409 and "Receipt not ready yet" in view.text

    alliance.checkpoint("AK", witnesses=("MI",))
    ready = client.get(url)
    assert ready.status_code == 200, ready.text
    assert ready.headers["content-disposition"].startswith('attachment; filename="receipt-')


def test_a_receipt_of_a_fresh_entry_is_signed_on_demand_and_says_it_is_not_witnessed(
        alliance: ProofAlliance) -> None:
    """The node's own ledger: no checkpoint covers the new entry, so the receipt request
    signs one at once; the printable receipt says the witnesses have not cosigned it yet."""
    ak = alliance.nodes["AK"]
    client = TestClient(create_app(ak))
    eid = import_endorsement(ak, "AK-NEW00001", family_name="Rivera")
    assert ak.log.latest_checkpoint("AK") is None
    query = {"endorsement_id": eid, "last_name": "Rivera"}
    assert client.get("/receipts/download", params=query).status_code == 200
    view = client.get("/receipts/view", params=query)
    assert view.status_code == 200
    text = re.sub(r"\s+", " ", view.text)
    assert "Not witnessed yet: AK&#39;s checkpoint (0 of 2 cosignatures)." in text
    assert 'href="/v1/alliance/genesis.json"' in text


# -- the contract, and the backends it runs on ---------------------------------------------


class PagesContract:
    """The pages over a node's stores (tokens, staff sessions, projections), on every backend."""

    def test_the_form_is_plain_accessible_html_without_script(self, site: Site) -> None:
        r = site.client.get("/")
        assert r.status_code == 200
        html = r.text
        assert '<html lang="en">' in html
        assert 'name="viewport"' in html
        assert "<script" not in html
        assert "script-src" not in r.headers["content-security-policy"]  # so: default-src 'none'
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert html.count('<form method="get" action="/verify"') == 2
        # Every input and select has a label pointing at it.
        ids = re.findall(r'<(?:input|select) id="([^"]+)"', html)
        assert ids and all(f'<label for="{i}">' in html for i in ids)
        assert "<h1>" in html and NAME in html
        css = site.client.get("/static/pages.css")
        assert css.status_code == 200 and ":focus-visible" in css.text

    def test_a_current_endorsement_reads_in_plain_words(self, site: Site) -> None:
        eid = site.endorse("García", "Ana", level="IMHM", designation="C")
        status, html = site.by_id(eid.lower(), "GARCIA")
        assert status == 200
        assert banner(html).startswith("banner-current")
        assert "Current" in banner(html) and "good standing" in banner(html)
        assert "Ana García" in html
        assert "Level IV: Infant Mental Health Mentor - Clinical (IMHM-C)" in html
        assert "Clinical (C)" in html
        assert f"{NAME} (AK)" in html
        year = today().year + 1
        assert f"31 December {year}" in html
        assert re.search(r"Answered on <time datetime=\"[0-9T:.+-]+\">\d+ \w+ \d{4}, "
                         r"\d\d:\d\d:\d\d UTC</time>", html)
        assert "no-store" in site.client.get("/verify", params={
            "endorsement_id": eid, "last_name": "García"}).headers["cache-control"]

    @pytest.mark.parametrize("action, role, words", [
        ("suspension", Role.COMMITTEE, "Not current: suspended"),
        ("revocation", Role.COMMITTEE, "Not current: revoked"),
        ("relinquishment", Role.COORDINATOR, "Not current: relinquished")])
    def test_recorded_ends_are_unmistakable(self, site: Site, action: str, role: Role,
                                            words: str) -> None:
        eid = site.endorse("Rivera", "Maria")
        site.committee(eid, action, role)
        status, html = site.by_id(eid, "Rivera")
        assert status == 200
        assert banner(html).startswith("banner-not-current")
        assert words.upper() in banner(html).upper()
        assert "Current</strong>" not in html
        assert f'<dd class="status-words">{words}</dd>' in html

    def test_expired_and_lapsed_endorsements_are_not_current(self, site: Site) -> None:
        long_ago = today() - dt.timedelta(days=400)  # past the 60-day grace period
        lapsing = site.endorse("Lee", "Kim", valid_through=long_ago)
        _, html = site.by_id(lapsing, "Lee")
        assert "NOT CURRENT: EXPIRED" in banner(html).upper()  # lapse not recorded yet
        r = site.client.post("/v1/lapses", json={}, headers=site.auth(Role.COORDINATOR))
        assert r.status_code == 200 and [e["endorsement_id"] for e in r.json()] == [lapsing]
        _, html = site.by_id(lapsing, "Lee")
        assert banner(html).startswith("banner-not-current")
        assert "NOT CURRENT: LAPSED" in banner(html).upper()

    def test_a_name_with_markup_is_inert_text(self, site: Site, alliance: ProofAlliance) -> None:
        eid = site.endorse(f"O'Neil {SCRIPT}", SCRIPT)
        status, html = site.by_id(eid, f"o'neil {SCRIPT}")
        assert status == 200
        assert "<script" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        status, html = site.by_name(SCRIPT, f"O'NEIL {SCRIPT}")
        assert status == 200 and "<script" not in html and eid in html
        # The receipt links (on a node with a registry) carry the parameters URL-encoded,
        # inside an escaped attribute.
        site = Site(alliance.nodes["AK"])
        eid = site.endorse(f"O'Neil {SCRIPT}", SCRIPT)
        status, html = site.by_id(eid, f"o'neil {SCRIPT}")
        assert status == 200 and "<script" not in html
        links = re.findall(r'<a href="(/receipts/(?:download|view)\?[^"]+)"', html)
        assert len(links) == 2
        for link in links:
            query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
            assert query == {"endorsement_id": [eid], "last_name": [f"o'neil {SCRIPT}"]}

    def test_a_wrong_name_and_a_wrong_id_give_the_same_not_found_page(self, site: Site) -> None:
        eid = site.endorse("Rivera", "Maria")
        wrong_name = site.by_id(eid, "Nobody")
        wrong_id = site.by_id("AK-00000000", "Nobody")
        assert wrong_name[0] == wrong_id[0] == 404
        assert "No endorsement matches what you entered." in wrong_name[1]
        assert eid not in without_echo(wrong_name[1])
        assert without_echo(wrong_name[1]) == without_echo(wrong_id[1].replace("AK-00000000", eid))

    def test_name_search_is_exact_and_shows_a_handful(self, site: Site) -> None:
        eid = site.endorse("Łukasiewicz-Pérez", "Zoë")
        assert site.by_name("zoe", "lukasiewicz-perez")[0] == 404  # Ł is a letter, not an accent
        status, html = site.by_name("ZOË", "łukasiewicz-pérez")
        assert status == 200 and eid in html and "Zoë Łukasiewicz-Pérez" in html
        for first, last in (("Zo", "Łukasiewicz-Pérez"), ("Zoë", "Łukasiewicz"), ("*", "*"),
                            ("%", "%"), ("Zoë", "Łukasiewicz-P_rez")):
            assert site.by_name(first, last)[0] == 404, (first, last)
        assert site.by_name("Zoë", "Łukasiewicz-Pérez", state="MI")[0] == 422  # not a state here
        ids = sorted(site.endorse("Smith", "John", person=f"P-smith-{n}") for n in range(7))
        status, html = site.by_name("john", "smith")
        assert status == 200
        assert [i for i in ids if i in html] == ids[:5]
        assert "only the\n  first 5 are shown" in html

    def test_bad_input_is_shown_next_to_its_field(self, site: Site) -> None:
        r = site.client.get("/verify",
                            params={"by": "id", "endorsement_id": "<b>", "last_name": ""})
        assert r.status_code == 422
        assert 'aria-invalid="true"' in r.text and "<b>" not in r.text
        assert "Enter the endorsement id as printed" in r.text and "Enter the last name." in r.text
        r = site.client.get("/verify", params={"by": "name", "first_name": "x" * 101,
                                               "last_name": "Doe", "state": "AK"})
        assert r.status_code == 422 and "at most 100 characters" in r.text

    def test_fork_warnings_are_shown(self, site: Site, tmp_path: Path) -> None:
        # A peer (MI) whose key this node trusts signs two different entries with one seq.
        mi = Peer("MI", Signer.generate())
        paths = NodePaths(tmp_path / "ak")
        site.node.close()
        Keyring.load(paths.keyring).with_key(KeyRecord(
            association="MI", public_key=mi.signer.public_key, valid_from=T0)).save(paths.keyring)
        node = site.node = Node(site.node.settings)  # the fixture closes it
        entries = [mi.append(name="DOE"), mi.append(name="DOE")]  # ids are upper case
        node.ingestor.ingest([e.wire for e in entries], source="test", now=NOW)
        node.after_ingest()
        client = TestClient(create_app(node))
        endorsement_id = "MI-E0000-DOE"
        clean = client.get("/verify", params={"endorsement_id": endorsement_id, "last_name": "Doe"})
        assert clean.status_code == 200 and "banner-warning" not in clean.text
        forked = mi.entry(seq=2, name="Rewritten")
        assert node.ingestor.ingest([forked.wire], source="test", now=NOW).forks == 1
        r = client.get("/verify", params={"endorsement_id": endorsement_id, "last_name": "doe"})
        assert r.status_code == 200
        assert 'class="banner banner-warning"' in r.text
        assert "MI&#39;s ledger is flagged" in r.text and "fork" in r.text

    def test_staff_pages_need_a_signed_in_session(self, site: Site) -> None:
        for path in ("/staff/roster", "/staff/roster.csv?status=active"):
            r = site.client.get(path, follow_redirects=False)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/staff/login?next=%2Fstaff%2Froster")
        forged = TestClient(site.client.app, cookies={"alliance_staff": "made-up"}).get(
            "/staff/roster", follow_redirects=False)
        assert forged.status_code == 303

    @pytest.mark.parametrize("role", ["coordinator", "committee", "auditor"])
    def test_roster_roles_may_see_it(self, site: Site, role: str) -> None:
        add_staff(site.node, f"{role}@ak.example.org", role, name=f"{role} on duty")
        staff_sign_in(site.client, f"{role}@ak.example.org")
        assert "on duty" in site.client.get("/staff/roster").text

    def test_a_reviewer_may_not_see_the_roster(self, site: Site) -> None:
        add_staff(site.node, "rae@ak.example.org", "reviewer")
        staff_sign_in(site.client, "rae@ak.example.org")
        r = site.client.get("/staff/roster")
        assert r.status_code == 403 and "needs the auditor or committee or coordinator" in r.text

    def test_roster_filters_and_csv(self, site: Site) -> None:
        soon = today() + dt.timedelta(days=20)
        later = dt.date(today().year + 2, 12, 31)
        due = site.endorse("Brown", "Amy", level="IFS", valid_through=soon)
        later_ifs = site.endorse("Green", "Bo", level="IFS", valid_through=later)
        mentor = site.endorse("Núñez", "Carla", level="IMHM", designation="P", valid_through=later)
        suspended = site.endorse("White", "Dee", level="IFS", valid_through=later)
        site.committee(suspended, "suspension")
        add_staff(site.node, "cora@ak.example.org", "coordinator")
        staff_sign_in(site.client, "cora@ak.example.org")

        def shown(**params: str) -> set[str]:
            r = site.client.get("/staff/roster", params=params)
            assert r.status_code == 200, r.text
            return {i for i in (due, later_ifs, mentor, suspended) if i in r.text}

        assert shown() == {due, later_ifs, mentor, suspended}
        assert shown(level="IFS") == {due, later_ifs, suspended}
        assert shown(status="suspended") == {suspended}
        assert shown(status="active", level="IFS") == {due, later_ifs}
        assert shown(due_within="30") == {due}
        assert shown(name="nunez") == {mentor}
        assert shown(name="B") == {due, later_ifs}  # Amy Brown, Bo Green
        bad = site.client.get("/staff/roster", params={"due_within": "-1", "status": "nope"})
        assert bad.status_code == 422 and "whole number of days" in bad.text

        page = site.client.get("/staff/roster", params={"level": "IFS", "status": "active"}).text
        link = re.search(r'href="(/staff/roster\.csv\?[^"]*)"', page)
        assert link
        r = site.client.get(link[1].replace("&amp;", "&"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        lines = r.text.splitlines()
        assert lines[0].startswith("endorsement_id,association,person_id,family_name")
        assert sorted(line.split(",")[0] for line in lines[1:]) == sorted([due, later_ifs])
        # The same columns as the staff API's CSV.
        api = site.client.get("/v1/roster", params={"format": "csv"},
                              headers=site.auth(Role.COORDINATOR))
        assert api.text.splitlines()[0] == lines[0]
        empty = site.client.get("/staff/roster.csv", params={"name": "nobody at all"})
        assert empty.text.splitlines() == [lines[0]]

    def test_api_docs_are_served_from_the_node_with_a_strict_policy(self, site: Site) -> None:
        """/docs names no other origin: its two Swagger UI files and its starter script come from
        the node (with integrity hashes), there is no inline script, and the policy says so."""
        r = site.client.get("/docs")
        assert r.status_code == 200
        policy = r.headers["content-security-policy"]
        assert policy.startswith("default-src 'none'; script-src 'self'; style-src 'self'")
        assert "unsafe" not in policy and "http" not in policy
        assert "http" not in r.text.replace(site.client.base_url.host, "")  # no CDN, no link out
        sources = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)" '
                             r'integrity="(sha384-[^"]+)"', r.text)
        assert [s for s, _ in sources] == ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js",
                                           "/static/api-docs.js"]
        assert re.search(r"<script>", r.text) is None  # no inline script for the policy to allow
        for path, integrity in sources:
            asset = site.client.get(path)
            assert asset.status_code == 200, path
            digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
            assert integrity == f"sha384-{digest}", path
        assert site.client.get("/docs/swagger-ui-bundle.js").headers["content-type"].startswith(
            "text/javascript")
        assert site.client.get("/redoc").status_code == 404  # it would load from a CDN

    def test_status_before_the_grant_says_not_yet_granted(self, site: Site) -> None:
        """`/v1/status?on=` a date before the grant: the id and last name did match, so the answer
        says the endorsement was not granted yet, rather than "no endorsement matches"; a wrong
        last name still gets the one miss, so the answer reveals nothing a match does not."""
        eid = site.endorse("Rivera", "Maria")  # granted 2015-01-05
        query = {"endorsement_id": eid, "last_name": "rivera"}
        before = site.client.get("/v1/status", params={**query, "on": "2015-01-04"})
        assert before.status_code == 404
        assert before.json()["code"] == "not_yet_granted"
        assert before.json()["message"] == (f"endorsement {eid} was not yet granted (or recognised "
                                            f"by its association) on 2015-01-04")
        on_the_day = site.client.get("/v1/status", params={**query, "on": "2015-01-05"})
        assert on_the_day.status_code == 200 and on_the_day.json()["status"] == "current"
        for miss in ({"endorsement_id": eid, "last_name": "Smith"},
                     {"endorsement_id": "AK-00000000", "last_name": "Rivera"}):
            wrong = site.client.get("/v1/status", params={**miss, "on": "2015-01-04"})
            assert wrong.status_code == 404
            assert wrong.json()["message"] == "no endorsement matches that id and last name"

    def test_a_node_without_registry_offers_no_receipt_links(self, site: Site) -> None:
        eid = site.endorse("Rivera", "Maria")
        status, html = site.by_id(eid, "Rivera")
        assert status == 200
        assert "/receipts/" not in html and "genesis.json" not in html
        assert "cannot sign receipts of its answers" in re.sub(r"\s+", " ", html)
        r = site.client.get("/receipts/download", params={"endorsement_id": eid,
                                                          "last_name": "Rivera"})
        assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
        assert "<h1>No receipts from this node</h1>" in r.text


class TestPagesOnSQLite(PagesContract, OnSQLite):
    """The contract on SQLite files."""


class TestPagesOnPostgreSQL(PagesContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
