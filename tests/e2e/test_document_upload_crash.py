"""SIGKILL of `alliance serve` in the middle of a document upload: no half-stored document is
visible afterwards (no record, no file under any hash), and the restarted node takes the
same upload whole."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.settings import Settings
from tests import document_files as files
from tests.e2e.harness import ServerProcess, init_node
from tests.integration.staff_browser import add_staff, form_token, sign_in

BOUNDARY = "----alliance-crash-boundary"
CHUNK = 64 * 1024
STARTING = 180.0  # seconds: a loaded test machine starts `alliance serve` slowly


def body(token: str, content: bytes, half: threading.Event, killed: threading.Event
         ) -> Iterator[bytes]:
    """The upload form's body, pausing (until the server is killed) halfway through the
    file."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
           f"{token}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n"
           f"transcript\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"t.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    middle = len(content) // 2
    for start in range(0, len(content), CHUNK):
        if start >= middle and not half.is_set():
            half.set()
            killed.wait(30)
        yield content[start:start + CHUNK]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def signed_in(server: ServerProcess, secret: str | None = None
              ) -> tuple[httpx.Client, str | None]:
    """A browser signed in as the coordinator (enrolling TOTP the first time)."""
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    return client, sign_in(client, "cora@ak.example.org",  # type: ignore[arg-type]
                           secret=secret)


def records(data_dir: Path) -> int:
    node = Node(Settings(data_dir=data_dir))
    try:
        return node.documents.store.count()
    finally:
        node.close()


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "documents").glob("??/*")]


def test_sigkill_during_an_upload_leaves_no_half_document(tmp_path: Path) -> None:
    node_dir = init_node(tmp_path / "ak")
    node = Node(Settings(data_dir=node_dir.data_dir))
    add_staff(node, "cora@ak.example.org", "coordinator", name="Cora")
    application_id = uuid.uuid4()
    node.service.start_application(
        application_id=application_id, person_id="AK-P-0001", family_name="Ward",
        given_name="Lou", level=Level.IFS, designation=None, started_on=today(), now=now())
    node.close()
    content = files.pdf(4, image_bytes=512 * 1024)
    page = f"/staff/applications/{application_id}"
    server = ServerProcess(node_dir)
    server.start(timeout=STARTING)
    try:
        client, secret = signed_in(server)
        token = form_token(client.get(page).text)
        half, killed = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def send() -> None:
            try:
                client.post(f"{page}/documents", content=body(token, content, half, killed),
                            headers={"Content-Type":
                                     f"multipart/form-data; boundary={BOUNDARY}"})
            except httpx.HTTPError as e:
                errors.append(e)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        assert half.wait(30)
        threading.Event().wait(0.5)  # the server is spooling the first half now
        server.kill()
        killed.set()
        sender.join(30)
        assert errors, "the upload cannot have succeeded: the server was killed"
        assert stored_files(node_dir.data_dir) == []
        assert records(node_dir.data_dir) == 0
        server.start(timeout=STARTING)
        client, _ = signed_in(server, secret)
        whole = client.post(f"{page}/documents", data={
            "csrf_token": form_token(client.get(page).text), "kind": "transcript"},
            files={"file": ("t.pdf", content, "application/pdf")})
        assert whole.status_code == 303, whole.text
    finally:
        server.stop()
    [kept] = stored_files(node_dir.data_dir)
    assert kept.read_bytes() == content
    assert records(node_dir.data_dir) == 1
