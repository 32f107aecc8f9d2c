"""The applicant's documents over a real node, on SQLite files and on PostgreSQL, signed in
by the link read from the real SMTP server: uploads on the draft page over two sessions, the
list, inert and logged downloads, the documents' digests in the submitted and the answered
evidence (never the bytes on the ledger), a staff reviewer opening them; another
applicant's ids answering 404 with nothing served, logged or written; hostile uploads
refused next to the file field with nothing stored; forged forms refused before a byte is
kept; removal while a draft, and a discarded draft taking its files with it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from domain.evidence import DocumentDigest
from federation_api.clock import today
from federation_api.documents.store import DocumentKind, Subject
from tests import document_files as files
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import (
    ANA,
    account_id_of,
    ana_and_sam,
    confirm_identity,
    level_one_form,
    post,
    save_form,
    second_session,
    sign_both,
    signed_up,
    start_draft,
    submit,
)
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

BOB = "bob@example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node's app on the backend under test."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


def upload(browser: TestClient, page: str, action: str, content: bytes, *,
           name: str = "transcript.pdf", kind: str = "transcript",
           token: str | None = None) -> httpx.Response:
    """The upload form of `page` sent to `action` (the token before the file, as the form
    has it)."""
    csrf = form_token(browser.get(page).text) if token is None else token
    return browser.post(action, data={"csrf_token": csrf, "kind": kind},
                        files={"file": (name, content, "application/pdf")})


def to_draft(browser: TestClient, draft_id: str, content: bytes, **options: str
             ) -> httpx.Response:
    page = f"/portal/drafts/{draft_id}"
    return upload(browser, page, f"{page}/documents", content, **options)


def written(ws: Workspace) -> tuple[int, list[str], list[str], int]:
    """Everything an upload could write: records, stored files, spool files, audit rows."""
    storage = ws.node.documents.storage
    incoming = storage.root / "incoming"
    spooled = sorted(p.name for p in incoming.iterdir()) if incoming.exists() else []
    audited = [e for e in ws.node.accounts.audit.entries(limit=10_000)
               if e.action.startswith("portal.document")]
    return ws.node.documents.store.count(), storage.names(), spooled, len(audited)


def document_links(html: str) -> list[str]:
    return re.findall(r'href="/portal/documents/(doc_[0-9a-f]+)"', html)


class PortalDocumentsContract:
    """The portal's documents on every backend."""

    def test_documents_over_two_sessions_travel_with_the_application(
            self, ws: Workspace) -> None:
        staff = ana_and_sam(ws)
        first = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(first)
        head = ws.head()
        transcript = files.pdf(2)
        stored = to_draft(first, draft_id, transcript, name="..\\..\\Zeugnis <i>2025.pdf")
        assert stored.status_code == 303, stored.text
        assert stored.headers["location"] == (f"/portal/drafts/{draft_id}?document=stored"
                                              "#documents-title")
        page = first.get(stored.headers["location"]).text
        assert "The document is stored with your application." in page
        assert "Zeugnis &lt;i&gt;2025.pdf" in page and "<i>2025" not in page
        [transcript_id] = document_links(page)
        assert first.post("/portal/sign-out", data={"csrf_token": form_token(page)}
                          ).status_code == 303

        # The second session finds the document and adds a certificate.
        second = second_session(ws, ANA, 2)
        page = second.get(f"/portal/drafts/{draft_id}").text
        assert document_links(page) == [transcript_id]
        certificate = files.png(40, 30)
        assert to_draft(second, draft_id, certificate, name="Certificate.png",
                        kind="certificate").status_code == 303
        page = second.get(f"/portal/drafts/{draft_id}").text
        [_, certificate_id] = document_links(page)
        assert "Certificate.png" in page and "Transcript" in page
        assert ws.head() == head  # uploads are never on the ledger
        records = ws.node.documents.of_subject(Subject.application(
            ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), draft_id)
            .application_id))
        assert [d.document_id for d in records] == [transcript_id, certificate_id]
        assert {d.owner_account_id for d in records} == {account_id_of(ws, ANA)}
        assert [e.target for e in ws.node.accounts.audit.entries(limit=1000)
                if e.action == "portal.document_upload"] == [
            f"application:{records[0].subject.id}"] * 2

        # The owner's download: the very bytes, inert, private, logged.
        got = second.get(f"/portal/documents/{transcript_id}")
        assert got.status_code == 200 and got.content == transcript
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment; ")
        assert "<" not in got.headers["content-disposition"]
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert "no-store" in got.headers["cache-control"]
        assert "private" in got.headers["cache-control"]
        [logged] = ws.node.documents.store.downloads(transcript_id)
        assert logged.account_id == account_id_of(ws, ANA)

        # Submitted: the evidence lists both files by kind and hash, from the node's records.
        assert save_form(second, draft_id, level_one_form(today().year)).status_code == 200
        sign_both(second, draft_id, "Ana García")
        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        application_id = submit(second, draft_id)
        application = ws.node.service.application(uuid.UUID(application_id))
        expected = {DocumentDigest(kind="transcript", sha256=records[0].sha256),
                    DocumentDigest(kind="certificate", sha256=records[1].sha256)}
        assert set(application.evidence.documents) == expected  # type: ignore[arg-type]
        # The applicant still lists and opens them; no more uploads or removals now.
        status = second.get(f"/portal/applications/{application_id}").text
        assert document_links(status) == [transcript_id, certificate_id]
        assert "Upload the document" not in status and "/remove" not in status
        late = upload(second, f"/portal/applications/{application_id}",
                      f"/portal/drafts/{draft_id}/documents", files.pdf())
        assert late.status_code == 404
        assert upload(second, f"/portal/applications/{application_id}",
                      f"/portal/applications/{application_id}/documents",
                      files.pdf()).status_code == 404
        assert ws.node.documents.store.count() == 2

        # A reviewer sees the same documents on the staff page and opens one.
        add_staff(ws.node, "rey@ak.example.org", "reviewer", name="Rey")
        rey = ws.browser()
        sign_in(rey, "rey@ak.example.org")
        staff_page = rey.get(f"/staff/applications/{application_id}").text
        assert f'href="/staff/documents/{transcript_id}"' in staff_page
        assert "Zeugnis &lt;i&gt;2025.pdf" in staff_page
        assert rey.get(f"/staff/documents/{certificate_id}").content == certificate

        # Returned for a missing document: the applicant uploads it, answers, and the
        # answered evidence lists it, although no field of the form changed.
        token = form_token(staff.get(f"/staff/applications/{application_id}").text)
        assert staff.post(f"/staff/applications/{application_id}/return", data={
            "csrf_token": token, "comments": "Please add your diploma."}).status_code == 303
        status_path = f"/portal/applications/{application_id}"
        assert "Upload the document" in second.get(status_path).text
        diploma = files.jpeg(20, 10)
        added = upload(second, status_path, f"{status_path}/documents", diploma,
                       name="diploma.jpg", kind="other")
        assert added.status_code == 303, added.text
        assert added.headers["location"] == f"{status_path}?document=stored#documents-title"
        assert len(document_links(second.get(status_path).text)) == 3
        values = ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), draft_id).values
        answered = post(second, f"{status_path}/answer", status_path,
                        response="The diploma is attached.", **values)
        assert answered.status_code == 303, answered.text
        application = ws.node.service.application(uuid.UUID(application_id))
        assert len(application.evidence.documents) == 3  # type: ignore[arg-type]
        assert application.evidence.signed_texts
        assert DocumentDigest(kind="other", sha256=ws.node.documents.of_subject(
            Subject.application(application_id))[2].sha256) in application.evidence.documents  # type: ignore[operator]

    def test_another_applicants_documents_are_not_found_and_nothing_is_logged(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        assert to_draft(ana, draft_id, files.pdf()).status_code == 303
        [document_id] = document_links(ana.get(f"/portal/drafts/{draft_id}").text)
        bob = signed_up(ws, "Bob Other", BOB)
        bobs_draft = start_draft(bob)
        before = written(ws)
        for path in (f"/portal/documents/{document_id}", "/portal/documents/doc_nothing",
                     "/portal/documents/%3Cscript%3E"):
            answer = bob.get(path)
            assert answer.status_code == 404, path
            assert answer.content != files.pdf() and "attachment" not in answer.headers.get(
                "content-disposition", "")
        def page(path: str) -> str:  # the page, its (per-page) CSRF token left out
            return re.sub(r'name="csrf_token" value="[^"]+"', "", bob.get(path).text)
        assert page(f"/portal/documents/{document_id}") == page("/portal/documents/doc_nothing")
        assert ws.node.documents.store.downloads(document_id) == []
        token = form_token(bob.get(f"/portal/drafts/{bobs_draft}").text)
        # Removing Ana's document, from her draft or through his own: not found.
        for path in (f"/portal/drafts/{draft_id}/documents/{document_id}/remove",
                     f"/portal/drafts/{bobs_draft}/documents/{document_id}/remove"):
            assert bob.post(path, data={"csrf_token": token}).status_code == 404, path
        # Uploading into Ana's draft: not found, nothing read or kept.
        into = upload(bob, f"/portal/drafts/{bobs_draft}", f"/portal/drafts/{draft_id}/documents",
                      files.pdf(3))
        assert into.status_code == 404
        assert written(ws) == before
        assert ana.get(f"/portal/documents/{document_id}").status_code == 200
        # Nor does a staff account's session open a portal document.
        add_staff(ws.node, "rey@ak.example.org", "reviewer")
        rey = ws.browser()
        sign_in(rey, "rey@ak.example.org")
        assert rey.get(f"/portal/documents/{document_id}").status_code == 303
        assert [d.account_id for d in ws.node.documents.store.downloads(document_id)] == [
            account_id_of(ws, ANA)]

    def test_hostile_uploads_are_refused_next_to_the_field_and_nothing_is_written(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        before = written(ws)
        assert before == (0, [], [], 0)
        ws.node.documents.max_bytes = 1024 * 1024  # the limit, set low to keep the test quick
        hostile = [
            ("html", files.HTML, "Web pages (HTML) are not accepted", 422),
            ("svg-script", files.SVG_SCRIPT, "SVG images are not accepted", 422),
            ("zip-bomb", files.zip_bomb(), "ZIP archives are not accepted", 422),
            ("pdf-then-zip", files.pdf() + files.docx(), "does not end where a PDF ends", 422),
            ("html-then-pdf", b"<html>" + files.pdf(), "Web pages (HTML) are not accepted",
             422),
            ("pdf-javascript", files.pdf(javascript=True),
             "contains scripts, actions or embedded files", 422),
            ("pdf-hidden-action", files.pdf_with_hidden_action(),
             "contains scripts, actions or embedded files", 422),
            ("over-the-limit", files.pdf(1, image_bytes=2 * 1024 * 1024),
             "The file is larger than 1 MB", 413),
            ("empty", b"", "The file is empty", 422),
        ]
        for label, content, reason, status in hostile:
            answer = to_draft(ana, draft_id, content, name="<b>transcript</b>.pdf")
            assert answer.status_code == status, (label, answer.text)
            assert 'id="document-file-error"' in answer.text and reason in answer.text, label
            assert 'aria-invalid="true"' in answer.text, label
            assert "Nothing was stored" in answer.text, label
            assert "<b>transcript" not in answer.text, label
            assert written(ws) == before, label
        # A kind that is not one: refused next to its own field.
        wrong = to_draft(ana, draft_id, files.pdf(), kind="passport")
        assert wrong.status_code == 422 and 'id="document-kind-error"' in wrong.text
        assert written(ws) == before
        # A name with markup on an acceptable file: stored, shown and served as text only.
        named = to_draft(ana, draft_id, files.pdf(),
                         name='"><img src=x onerror=alert(1)>\r\nX-Evil: 1.pdf')
        assert named.status_code == 303
        page = ana.get(f"/portal/drafts/{draft_id}").text
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        [document_id] = document_links(page)
        got = ana.get(f"/portal/documents/{document_id}")
        assert got.status_code == 200 and "x-evil" not in got.headers
        assert got.headers["content-disposition"].startswith('attachment; filename="')
        assert "<" not in got.headers["content-disposition"]

    def test_a_form_without_the_sessions_token_is_refused_before_a_byte_is_kept(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        before = written(ws)
        action = f"/portal/drafts/{draft_id}/documents"
        forged = to_draft(ana, draft_id, files.pdf(), token="not-the-token")
        assert forged.status_code == 403 and "did not come from this site" in forged.text
        missing = ana.post(action, data={"kind": "transcript"},
                           files={"file": ("t.pdf", files.pdf(), "application/pdf")})
        assert missing.status_code == 403
        # The token after the file is no token: the file part is where it is checked.
        token = form_token(ana.get(f"/portal/drafts/{draft_id}").text)
        late = ana.post(action, files=[("file", ("t.pdf", files.pdf(), "application/pdf")),
                                       ("csrf_token", (None, token)), ("kind", (None, "other"))])
        assert late.status_code == 403
        # A body that is not the upload form is refused as a forged one.
        plain = ana.post(action, data={"csrf_token": "x", "kind": "other"})
        assert plain.status_code == 403
        assert written(ws) == before
        # Removal is a form of its own, with the gate's check.
        assert to_draft(ana, draft_id, files.pdf()).status_code == 303
        [document_id] = document_links(ana.get(f"/portal/drafts/{draft_id}").text)
        removal = f"/portal/drafts/{draft_id}/documents/{document_id}/remove"
        assert ana.post(removal, data={}).status_code == 403
        assert ana.post(removal, data={"csrf_token": "forged"}).status_code == 403
        assert ws.node.documents.store.count() == 1

    def test_removing_a_document_and_discarding_a_draft_leave_no_file(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        content = files.pdf()
        assert to_draft(ana, draft_id, content).status_code == 303
        assert to_draft(ana, draft_id, content, name="again.pdf").status_code == 303
        first, second = document_links(ana.get(f"/portal/drafts/{draft_id}").text)
        storage = ws.node.documents.storage
        assert len(storage.names()) == 1  # the same bytes twice: one file, two records
        removed = post(ana, f"/portal/drafts/{draft_id}/documents/{first}/remove",
                       f"/portal/drafts/{draft_id}")
        assert removed.status_code == 303
        page = ana.get(removed.headers["location"]).text
        assert "The document is removed." in page and document_links(page) == [second]
        assert len(storage.names()) == 1  # the other record still names the bytes
        assert ana.get(f"/portal/documents/{first}").status_code == 404
        assert [e.action for e in ws.node.accounts.audit.entries(limit=100)
                if e.action == "portal.document_remove"] == ["portal.document_remove"]
        # Thrown away, the draft takes its documents (records and bytes) with it.
        assert to_draft(ana, draft_id, files.png(), name="scan.png").status_code == 303
        gone = post(ana, f"/portal/drafts/{draft_id}/discard", f"/portal/drafts/{draft_id}",
                    confirm="on")
        assert gone.status_code == 303
        assert ws.node.documents.store.count() == 0 and storage.names() == []
        assert ana.get(f"/portal/documents/{second}").status_code == 404


class TestPortalDocumentsOnSQLite(PortalDocumentsContract, OnSQLite):
    """SQLite files."""


class TestPortalDocumentsOnPostgreSQL(PortalDocumentsContract, OnPostgreSQL):
    """A PostgreSQL schema."""


def test_the_kinds_offered_are_the_stores(tmp_path: Path) -> None:
    from federation_api.web.pages.portal_document_panel import KINDS

    assert [value for value, _ in KINDS] == [k.value for k in DocumentKind]
