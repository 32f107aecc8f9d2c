"""Documents over a real node (SQLite and PostgreSQL): a coordinator uploads, staff download
(inert, logged), hostile uploads are refused with the reason next to the file field and
nothing stored, the owner rule of the service, and the streamed reader's bounds: a 200 MB
post refused without being read, a 20 MB transcript taken in memory bounded by the chunk.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.documents.errors import DocumentRefused, NoSuchDocument, TooLarge
from federation_api.documents.service import Documents, Viewer
from federation_api.documents.store import DocumentKind, Subject
from federation_api.web.documents_http import read_upload
from ledger.storage.database import Database, DatabaseUrl
from tests import document_files as files
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CHUNK = 64 * 1024


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    backend.require()
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        add_staff(made.node, "rey@ak.example.org", "reviewer", name="Rey")
        add_staff(made.node, "ode@ak.example.org", "auditor", name="Ode")
        yield made


def browser_of(ws: Workspace, email: str) -> TestClient:
    browser = ws.browser()
    sign_in(browser, email)
    return browser


def application(ws: Workspace) -> uuid.UUID:
    application_id = uuid.uuid4()
    ws.node.service.start_application(
        application_id=application_id, person_id="AK-P-0001", family_name="Ward",
        given_name="Lou", level=Level.IFS, designation=None, started_on=today(), now=now())
    return application_id


def upload(browser: TestClient, application_id: uuid.UUID, content: bytes, *,
           name: str = "transcript.pdf", kind: str = "transcript",
           token: str | None = None) -> httpx.Response:
    page = f"/staff/applications/{application_id}"
    csrf = form_token(browser.get(page).text) if token is None else token
    return browser.post(f"{page}/documents", data={"csrf_token": csrf, "kind": kind},
                        files={"file": (name, content, "application/pdf")})


def stored(ws: Workspace) -> tuple[int, list[str]]:
    storage = ws.node.documents.storage
    return ws.node.documents.store.count(), storage.names()


class StaffDocumentsContract:
    """The documents' pages and service on every backend."""

    def test_a_coordinator_uploads_and_staff_download_an_inert_logged_file(
            self, ws: Workspace) -> None:
        cora = browser_of(ws, "cora@ak.example.org")
        app_id = application(ws)
        head = ws.head()
        content = files.pdf(2)
        r = upload(cora, app_id, content, name="..\\..\\Zeugnis <i>2025.pdf")
        assert r.status_code == 303, r.text
        page = cora.get(r.headers["location"]).text
        assert "The document is stored." in page
        assert "Zeugnis &lt;i&gt;2025.pdf" in page  # inert text, path gone
        [document] = ws.node.documents.of_subject(Subject.application(app_id))
        assert document.kind is DocumentKind.TRANSCRIPT and document.size == len(content)
        assert f'href="/staff/documents/{document.document_id}"' in page
        assert ws.head() == head  # the ledger carries no document
        [audited] = [e for e in ws.node.accounts.audit.entries()
                     if e.action == "document.upload"]
        assert audited.target == f"application:{app_id}"
        assert document.document_id in audited.detail
        rey = browser_of(ws, "rey@ak.example.org")
        got = rey.get(f"/staff/documents/{document.document_id}")
        assert got.status_code == 200 and got.content == content
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"].startswith("attachment; ")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert "no-store" in got.headers["cache-control"]
        assert "private" in got.headers["cache-control"]
        [logged] = ws.node.documents.store.downloads(document.document_id)
        [rey_account] = [a for a in ws.node.accounts.store.all()
                         if a.email == "rey@ak.example.org"]
        assert logged.account_id == rey_account.account_id
        # The bytes are private files named by their hash.
        path = ws.node.documents.storage.root / document.sha256[:2] / document.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(ws.node.documents.storage.root.stat().st_mode) == 0o700

    @pytest.mark.parametrize(("content", "reason"), [
        (files.HTML, "Web pages (HTML) are not accepted"),
        (files.SVG_SCRIPT, "SVG images are not accepted"),
        (files.zip_bomb(), "ZIP archives are not accepted"),
        (files.pdf() + files.docx(), "does not end where a PDF ends"),
        (b"<html>" + files.pdf(), "Web pages (HTML) are not accepted"),
        (files.pdf(javascript=True), "contains scripts, actions or embedded files"),
        (b"", "The file is empty"),
    ], ids=["html", "svg-script", "zip-bomb", "pdf-zip", "html-pdf", "pdf-js", "empty"])
    def test_a_hostile_upload_is_refused_next_to_the_field_and_nothing_is_stored(
            self, ws: Workspace, content: bytes, reason: str) -> None:
        cora = browser_of(ws, "cora@ak.example.org")
        app_id = application(ws)
        head = ws.head()
        r = upload(cora, app_id, content, name="transcript.pdf")
        assert r.status_code == 422
        assert 'id="document-file-error"' in r.text and reason in r.text
        assert 'aria-invalid="true"' in r.text
        assert stored(ws) == (0, [])
        assert ws.head() == head
        assert list((ws.node.documents.storage.root / "incoming").iterdir()) == []

    def test_an_upload_without_the_sessions_token_is_refused_before_a_byte_is_kept(
            self, ws: Workspace) -> None:
        cora = browser_of(ws, "cora@ak.example.org")
        app_id = application(ws)
        forged = upload(cora, app_id, files.pdf(), token="not-the-token")
        assert forged.status_code == 403 and "did not come from this site" in forged.text
        # The token after the file is no token: the file part is where it is checked.
        token = form_token(cora.get(f"/staff/applications/{app_id}").text)
        late = cora.post(f"/staff/applications/{app_id}/documents",
                         files=[("file", ("t.pdf", files.pdf(), "application/pdf")),
                                ("csrf_token", (None, token)), ("kind", (None, "other"))])
        assert late.status_code == 403
        assert stored(ws) == (0, [])

    def test_only_coordinators_upload_and_auditors_do_not_open_documents(
            self, ws: Workspace) -> None:
        cora = browser_of(ws, "cora@ak.example.org")
        app_id = application(ws)
        assert upload(cora, app_id, files.png(), name="scan.png").status_code == 303
        [document] = ws.node.documents.of_subject(Subject.application(app_id))
        rey = browser_of(ws, "rey@ak.example.org")
        refused = upload(rey, app_id, files.pdf(), token=form_token(
            rey.get(f"/staff/applications/{app_id}").text))
        assert refused.status_code == 403 and "This page needs the coordinator" in refused.text
        ode = browser_of(ws, "ode@ak.example.org")
        assert ode.get(f"/staff/documents/{document.document_id}").status_code == 403
        assert ws.node.documents.store.downloads(document.document_id) == []
        assert cora.get("/staff/documents/doc_000000000000000000000000").status_code == 404
        visitor = ws.browser()
        away = visitor.get(f"/staff/documents/{document.document_id}")
        assert away.status_code == 303 and away.headers["location"].startswith("/staff/login")

    def test_staff_of_another_association_have_no_session_here(
            self, ws: Workspace, tmp_path: Path) -> None:
        cora = browser_of(ws, "cora@ak.example.org")
        app_id = application(ws)
        assert upload(cora, app_id, files.jpeg(), name="c.jpg").status_code == 303
        [document] = ws.node.documents.of_subject(Subject.application(app_id))
        with workspace(tmp_path / "mi", None, association="MI") as mi:
            add_staff(mi.node, "cora@mi.example.org", "coordinator", name="Cora MI")
            theirs = browser_of(mi, "cora@mi.example.org")
            stranger = ws.browser()
            for cookie in theirs.cookies.jar:
                stranger.cookies.set(cookie.name, cookie.value or "")
            r = stranger.get(f"/staff/documents/{document.document_id}")
            assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
        assert ws.node.documents.store.downloads(document.document_id) == []

    def test_an_applicant_opens_only_their_own_document(self, ws: Workspace) -> None:
        documents = ws.node.documents
        content = files.pdf()
        mine = accept(documents, content, owner="acc_alice")
        theirs = accept(documents, files.png(), owner="acc_bob")
        document, chunks = documents.open_for(mine.document_id, Viewer("acc_alice", False),
                                              now=now())
        assert b"".join(chunks) == content and document.sha256 == mine.sha256
        with pytest.raises(NoSuchDocument):
            documents.open_for(theirs.document_id, Viewer("acc_alice", False), now=now())
        with pytest.raises(NoSuchDocument):
            documents.open_for("doc_nothing", Viewer("acc_alice", False), now=now())
        assert [d.account_id for d in documents.store.downloads(mine.document_id)] == [
            "acc_alice"]
        assert documents.store.downloads(theirs.document_id) == []

    def test_the_same_bytes_twice_are_one_file_and_two_records(self, ws: Workspace) -> None:
        content = files.pdf()
        first = accept(ws.node.documents, content, owner="acc_alice")
        second = accept(ws.node.documents, content, owner="acc_bob")
        assert first.sha256 == second.sha256 and first.document_id != second.document_id
        assert stored(ws) == (2, [first.sha256])


def accept(documents: Documents, content: bytes, *, owner: str) -> Any:
    with documents.incoming() as incoming:
        incoming.write(content)
        return documents.accept(incoming, subject=Subject.application(uuid.uuid4()),
                                kind=DocumentKind.OTHER, original_name="x.pdf",
                                owner_account_id=owner, by=f"account:{owner}", now=now())


class TestStaffDocumentsOnSQLite(StaffDocumentsContract, OnSQLite):
    """On SQLite files."""


class TestStaffDocumentsOnPostgreSQL(StaffDocumentsContract, OnPostgreSQL):
    """On a real PostgreSQL."""


# -- the streamed reader's bounds (no database needed beyond the node's SQLite) -------------

BOUNDARY = "----alliance-test-boundary"


def multipart_head(file_name: str = "big.pdf") -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"tok\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n").encode()


def multipart_tail() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


class Body:
    """A request body produced chunk by chunk, counting what the reader pulled."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self.parts = parts
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        chunk = next(self.parts, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def request(body: Body, *, length: int | None) -> Request:
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers,
                    "query_string": b""}, body.receive)


def zeros(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"\x00" * min(CHUNK, total - sent)
        sent += CHUNK


def lazily(content: bytes) -> Iterator[bytes]:
    for start in range(0, len(content), CHUNK):
        yield content[start:start + CHUNK]


def local_documents(tmp_path: Path, **options: int) -> Documents:
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'node.sqlite'}"))
    return Documents.on_disk(db, tmp_path / "documents", **options)


def no_csrf_problem(token: str | None) -> None:
    assert token == "tok"


def read(documents: Documents, body: Body, length: int | None) -> Any:
    async def go() -> Any:
        return await read_upload(request(body, length=length), documents, no_csrf_problem)
    return asyncio.run(go())


def test_a_200_mb_upload_is_refused_before_it_is_read(tmp_path: Path) -> None:
    documents = local_documents(tmp_path)
    size = 200 * 1024 * 1024
    declared = Body(iter([multipart_head(), *zeros(size)]))
    with pytest.raises(TooLarge):
        read(documents, declared, length=size + 500)
    assert declared.pulled == 0  # refused from its Content-Length alone
    # Without a Content-Length (chunked): refused the moment the limit is passed.
    chunked = Body(iter([multipart_head(), *zeros(size)]))
    with pytest.raises(TooLarge):
        read(documents, chunked, length=None)
    assert chunked.pulled <= documents.max_bytes + 2 * CHUNK
    assert list((tmp_path / "documents" / "incoming").iterdir()) == []
    assert documents.storage.names() == []  # type: ignore[attr-defined]


def test_a_20_mb_transcript_costs_memory_bounded_by_the_chunk(tmp_path: Path) -> None:
    documents = local_documents(tmp_path, max_bytes=25 * 1024 * 1024)
    content = files.pdf(20, image_bytes=1024 * 1024)  # twenty scanned pages
    assert len(content) > 20 * 1024 * 1024
    parts = iter([multipart_head(), *lazily(content), multipart_tail()])
    body = Body(parts)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        received = read(documents, body, length=None)
        with received.incoming:
            document = documents.accept(
                received.incoming, subject=Subject.application(uuid.uuid4()),
                kind=DocumentKind.TRANSCRIPT, original_name=received.file_name,
                owner_account_id=None, by="account:cora", now=now())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert document.size == len(content)
    # The content itself (21 MB) is held by the test; the upload adds a few chunks plus the
    # largest single PDF object (one 1 MB page image) during the PDF check.
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    print(f"\n20 MB upload: peak traced memory {peak / 1e6:.2f} MB "
          f"(file {len(content) / 1e6:.1f} MB, chunk {CHUNK // 1024} KiB)")


def test_refusing_content_leaves_no_spool(tmp_path: Path) -> None:
    documents = local_documents(tmp_path)
    body = Body(iter([multipart_head(), files.HTML, multipart_tail()]))
    received = read(documents, body, length=None)
    with received.incoming, pytest.raises(DocumentRefused):
        documents.accept(received.incoming, subject=Subject.application(uuid.uuid4()),
                         kind=DocumentKind.OTHER, original_name="x", owner_account_id=None,
                         by="account:cora", now=now())
    assert os.listdir(tmp_path / "documents" / "incoming") == []


def test_a_backup_holds_the_documents_and_a_restore_puts_them_back_private(
        tmp_path: Path) -> None:
    import datetime as dt

    from federation_api.backup.make import make_backup
    from federation_api.backup.restore import release_restore, restore_backup
    from federation_api.node.root import Node
    from federation_api.settings import Settings

    with workspace(tmp_path / "live", None) as live:
        content = files.pdf()
        kept = accept(live.node.documents, content, owner="acc_alice")
        settings = live.node.settings
        archive = tmp_path / "ak.tar"
        manifest = make_backup(settings, archive, passphrase=None, now=now())
        assert f"node/documents/{kept.sha256[:2]}/{kept.sha256}" in {
            f.name for f in manifest.files}
        keys = settings.data_dir / "keys"
        restored = Settings(data_dir=tmp_path / "restored", association="AK")
        restore_backup(restored, archive, keys_from=keys, passphrase=None, force=False,
                       now=now() + dt.timedelta(minutes=1))
    release_restore(restored, reason="test: a lone node", now=now() + dt.timedelta(minutes=2))
    path = restored.data_dir / "documents" / kept.sha256[:2] / kept.sha256
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    node = Node(restored)
    try:
        document, chunks = node.documents.open_for(kept.document_id,
                                                   Viewer("acc_alice", False), now=now())
        assert b"".join(chunks) == content and document.sha256 == kept.sha256
    finally:
        node.close()
