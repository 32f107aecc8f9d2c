"""The verification and roster pages in a real headless Chromium, against `alliance serve`.

Pages are driven with JavaScript off (they must not need it); a few checks that read computed
styles or layout evaluate a script in a separate, script-enabled context.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import ASSOCIATION_NAME, Seeded, downloads_dir
from tests.e2e.harness import run_alliance


def search_by_id(page: Any, seeded: Seeded, endorsement_id: str, last_name: str) -> None:
    page.goto(f"{seeded.url}/")
    page.get_by_role("textbox", name="Endorsement id").fill(endorsement_id)
    page.locator("#id-last_name").fill(last_name)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()


def banner_text(page: Any) -> str:
    return " ".join(page.locator(".result .banner").first.inner_text().split()).upper()


def test_a_current_endorsement_reads_current(page: Any, seeded: Seeded) -> None:
    search_by_id(page, seeded, seeded.current.lower(), "rivera")
    assert page.get_by_role("heading", level=2, name="1 endorsement found").is_visible()
    assert page.get_by_role("heading", level=3, name="Maria Rivera").is_visible()
    assert banner_text(page).startswith("✔ CURRENT")
    facts = page.locator(".result dl").inner_text()
    assert "Level III: Infant Mental Health Specialist (IMHS)" in facts
    assert f"{ASSOCIATION_NAME} (AK)" in facts
    assert "Answered on" in page.locator(".answered").inner_text()
    assert page.locator(".result .banner-not-current").count() == 0


def test_suspended_and_lapsed_are_unmistakable(page: Any, seeded: Seeded) -> None:
    for endorsement_id, last_name, words in ((seeded.suspended, "OKAFOR", "SUSPENDED"),
                                             (seeded.lapsed, "Lee", "LAPSED")):
        search_by_id(page, seeded, endorsement_id, last_name)
        text = banner_text(page)
        assert text.startswith("⚠ NOT CURRENT: " + words), text  # icon and words
        assert page.locator(".result .banner-not-current").count() == 1
        assert page.locator(".result .status-words").inner_text() == (
            "Not current: " + words.lower())


def test_search_by_name_and_state_ignores_case_and_accents(page: Any, seeded: Seeded) -> None:
    page.goto(f"{seeded.url}/")
    page.locator("#name-first_name").fill("jose")
    page.locator("#name-last_name").fill("NUNEZ")
    page.get_by_label("State association").select_option(label=f"{ASSOCIATION_NAME} (AK)")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("heading", level=3, name="José Núñez").is_visible()
    assert seeded.accented in page.locator(".result dl").inner_text()
    assert "Infant Mental Health Mentor - Clinical (IMHM-C)" in page.locator(
        ".result dl").inner_text()
    # A part of a name finds nobody.
    page.locator("#name-last_name").fill("Nú")
    page.get_by_role("button", name="Search").click()
    assert page.get_by_role("heading", level=2, name="No match").is_visible()


def test_a_miss_is_one_not_found_page(page: Any, seeded: Seeded) -> None:
    search_by_id(page, seeded, seeded.current, "Smith")
    wrong_name = page.locator(".results").inner_text()
    search_by_id(page, seeded, "AK-00000000", "Smith")
    wrong_id = page.locator(".results").inner_text()
    assert "NO ENDORSEMENT MATCHES WHAT YOU ENTERED." in wrong_name.upper()

    def strip_time(text: str) -> str:
        return re.sub(r"\d+ \w+ \d{4}, \d\d:\d\d:\d\d UTC", "TIME", text)

    assert strip_time(wrong_name) == strip_time(wrong_id)


def test_focus_is_visible_and_the_layout_fits_a_phone(browser: Any, seeded: Seeded) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"{seeded.url}/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
        box = page.locator(".skip-link").bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0  # shown when focused
        page.keyboard.press("Tab")  # the first field
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.id") == "id-endorsement_id"
        assert outline == "solid"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        search_by_id(page, seeded, seeded.suspended, "Okafor")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        context.close()


def test_roster_sign_in_filter_download_and_sign_out(page: Any, seeded: Seeded,
                                                      tmp_path: Path) -> None:
    password = "tulip harbour seventeen"
    run_alliance("staff", "add", "--email", "audra@ak.example.org", "--name", "Audra Auditor",
                 "--role", "auditor", "--password-stdin", *seeded.node.store_args(),
                 stdin=password + "\n")
    page.goto(f"{seeded.url}/staff/roster")
    assert "/staff/login?next=" in page.url  # not signed in yet
    page.get_by_label("Email address").fill("audra@ak.example.org")
    page.get_by_label("Password").fill("not the right one")
    page.get_by_role("button", name="Sign in").click()
    assert "is not right" in page.locator(".error-summary").inner_text()
    page.get_by_label("Email address").fill("audra@ak.example.org")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/staff/roster")  # back where the person was going
    assert "Audra Auditor" in page.locator(".staff-nav").inner_text()
    rows = page.locator("tbody tr")
    assert rows.count() == 5

    page.get_by_label("Recorded status").select_option("suspended")
    page.get_by_role("button", name="Apply filters").click()
    assert rows.count() == 1 and seeded.suspended in rows.first.inner_text()

    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Renewal due within (days)").fill("30")
    page.get_by_role("button", name="Apply filters").click()
    assert rows.count() == 1 and seeded.due_soon in rows.first.inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Download CSV")).click()
    saved = downloads_dir(tmp_path) / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("roster-AK-") and saved.suffix == ".csv"
    table = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["endorsement_id"] for r in table] == [seeded.due_soon]
    assert table[0]["family_name"] == "Brown" and table[0]["status"] == "active"

    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/staff/login?signed_out=1")
    assert "You have signed out." in page.locator("main").inner_text()
    page.goto(f"{seeded.url}/staff/roster")
    assert "/staff/login?next=" in page.url


def test_download_a_receipt_from_the_result_and_verify_it_offline(page: Any, seeded: Seeded,
                                                                  tmp_path: Path) -> None:
    search_by_id(page, seeded, seeded.current, "Rivera")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Download receipt")).click()
    saved = downloads_dir(tmp_path) / download.value.suggested_filename
    download.value.save_as(saved)
    done = run_alliance("verify-receipt", str(saved), "--genesis", str(seeded.genesis))
    assert "receipt verified" in done.stdout, done.stdout
    assert "receipt (public form)" in done.stdout  # no token in a browser: the public form
    assert seeded.current in saved.read_text()

    search_by_id(page, seeded, seeded.suspended, "Okafor")
    page.get_by_role("link", name=re.compile("^Printable receipt")).click()
    page.wait_for_load_state()
    assert "/receipts/view?" in page.url
    assert "SUSPENDED" in page.locator("body").inner_text().upper()
    assert page.get_by_role("heading", name="Ledger states behind the answer").is_visible()
    assert page.get_by_role("heading", name="What this receipt proves").is_visible()
    assert "AK" in page.locator("table").inner_text()  # the checkpoint of AK's ledger


def test_api_docs_render_with_nothing_but_the_node_reachable(browser: Any,
                                                             seeded: Seeded) -> None:
    """/docs draws every operation from the node's own assets: every request to anywhere
    else is refused (as on a network without internet), and the page's Content-Security-
    Policy is not violated (its scripts run; nothing is blocked)."""
    node = urlsplit(seeded.url).netloc
    context = browser.new_context()  # Swagger UI is a script: JavaScript on
    elsewhere: list[str] = []
    problems: list[str] = []
    try:
        context.route("**/*", lambda route: _pass_or_block(route, node, elsewhere))
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        answer = page.goto(f"{seeded.url}/docs")
        assert answer is not None and answer.ok
        page.locator(".opblock").first.wait_for(timeout=20_000)
        summaries = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/v1/verify" in summaries and "/v1/receipts" in summaries
        assert page.locator(".opblock").count() >= 20
        assert elsewhere == [], elsewhere
        assert problems == [], problems
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "http" not in policy  # no other origin is named
    finally:
        context.close()


def _pass_or_block(route: Any, node: str, elsewhere: list[str]) -> None:
    if urlsplit(route.request.url).netloc == node:
        route.continue_()
    else:
        elsewhere.append(route.request.url)
        route.abort("internetdisconnected")


def test_download_the_credential_for_a_wallet_and_find_the_linkedin_link(
        page: Any, seeded: Seeded, tmp_path: Path) -> None:
    from ledger.codec import decode_json
    from ledger.credentials.open_badges import schema_errors

    search_by_id(page, seeded, seeded.current, "Rivera")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Download credential")).click()
    assert download.value.suggested_filename == f"{seeded.current}-credential.json"
    saved = downloads_dir(tmp_path) / download.value.suggested_filename
    download.value.save_as(saved)
    credential = decode_json(saved.read_bytes(), dict[str, Any])
    assert schema_errors(credential) == ()
    assert "OpenBadgeCredential" in credential["type"]
    linkedin = page.get_by_role("link", name=re.compile("^Add to LinkedIn profile"))
    href = linkedin.get_attribute("href")
    assert href is not None and href.startswith("https://www.linkedin.com/profile/add?")
    assert f"certId={seeded.current}" in href

    search_by_id(page, seeded, seeded.suspended, "Okafor")  # not current: nothing to carry
    assert page.get_by_role("link", name=re.compile("^Download credential")).count() == 0
