"""No query value, header value or body reaches a log line, even when a request raises.

The README promises that logs never hold headers, query strings or bodies. The request
logger only writes the route template, but exceptions were a way round it: a `ValueError`
for `?status=<value>` carried the value into uvicorn's "Exception in ASGI application"
traceback. Two tests:

- a real `alliance serve` process, whose stderr is the node's whole log: every operation of
  its OpenAPI document and every page is called with a marker in every query parameter, in
  headers, in the path, in JSON, CSV, form, malformed and non-UTF-8 bodies, without a token and
  with each role's; plus a request line uvicorn cannot parse. The marker must appear in no
  line, and no request may have ended in an unhandled error.
- the app in-process with a route that raises an exception whose message and cause hold the
  marker, served by a real uvicorn with the node's JSON log format on its loggers: the
  answer is the API's JSON 500, the log says which exception and where, never its message.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import Request

from federation_api.clock import now
from federation_api.node.local_alliance import found_alliance
from federation_api.node.root import Node
from federation_api.replication.nats_process import free_port
from federation_api.web.app import create_app
from federation_api.web.observability import JsonFormatter
from ledger.signing import Signer
from tests.e2e.harness import ROLES, ServerProcess, init_node, provider_import

MARKER = "Zq7MarkerXv9"
NOT_UTF8 = b'{"reason": "' + MARKER.encode() + b'\xff\xfe"}'


def _bodies() -> list[dict[str, object]]:
    """Request bodies for one call each: JSON with the marker everywhere a value goes, JSON
    that is malformed, a body that is not UTF-8, CSV and a form."""
    json_value = {"reason": MARKER, "person_id": MARKER, "family_name": MARKER,
                  "given_name": MARKER, "level": MARKER, "url": f"https://{MARKER}.example/",
                  "endorsement_id": MARKER, "last_name": MARKER, "resolution": MARKER,
                  "evidence": {"trainings": [{"title": MARKER, "hours": MARKER}]},
                  MARKER: MARKER}
    return [{"json": json_value},
            {"content": f'{{"reason": "{MARKER}"'.encode(),
             "headers": {"Content-Type": "application/json"}},
            {"content": NOT_UTF8, "headers": {"Content-Type": "application/json"}},
            {"content": f"endorsement_id,last_name\n{MARKER},{MARKER}\n".encode(),
             "headers": {"Content-Type": "text/csv"}},
            {"data": {"token": MARKER, "csrf": MARKER}},
            {"data": {"email": f"{MARKER}@ak.example.org", "password": MARKER,
                      "csrf_token": MARKER, "code": MARKER, "next": MARKER}}]


def _fill(path: str) -> str:
    return re.sub(r"\{\w+\}", MARKER, path)


def test_a_real_server_logs_no_request_contents(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=(*ROLES, "employer"))
    with ServerProcess(node, env={"ALLIANCE_RATE_LIMIT": "off"}).start() as server, \
            server.client() as client:
        assert client.post("/v1/endorsements/imports", json=provider_import(
            dt.date(2099, 12, 31)), headers=node.auth("coordinator")).status_code == 201
        document = client.get("/openapi.json").json()
        calls = [(method.upper(), path, list(operation.get("parameters", [])))
                 for path, operations in document["paths"].items()
                 for method, operation in operations.items()]
        calls += [("GET", page, []) for page in ("/", "/verify", "/receipts/view",
                                                  "/staff/login", "/staff/roster",
                                                  "/staff/roster.csv")]
        calls += [("POST", path, []) for path in ("/staff/login", "/staff/logout",
                                                   "/staff/login/code", "/staff/password-reset",
                                                   "/staff/invitation", "/staff/accounts/invite",
                                                   "/staff/tokens")]
        calls += [("GET", "/staff/invitation", []), ("GET", "/staff/password-reset", []),
                  ("GET", f"/{MARKER}/unknown", [])]
        # A rater's link: its token (the marker here) must never reach a log line either.
        calls += [("GET", "/rate", [{"name": "token", "in": "query"}]), ("POST", "/rate", [])]
        credentials = [{}, {"Authorization": f"Bearer alt_{MARKER}"},
                       {"Authorization": MARKER}] + [node.auth(role) for role in node.tokens]
        sent, failed = 0, []
        for method, path, parameters in calls:
            names = [p["name"] for p in parameters if p["in"] == "query"]
            # The marker in every parameter at once, then in each alone (so one that is
            # checked late, after the others passed, is reached too).
            queries = [{**dict.fromkeys(names, MARKER), "unexpected": MARKER},
                       *({name: MARKER} for name in names)]
            for headers in credentials:
                for number, query in enumerate(queries):
                    bodies = _bodies() if method in ("POST", "PUT") and number == 0 else [{}]
                    for body in bodies:
                        extra: dict[str, str] = body.pop("headers", {})  # type: ignore[assignment]
                        sent += 1
                        try:
                            answer = client.request(method, _fill(path), params=query, headers={
                                **headers, **extra, "User-Agent": MARKER,
                                "X-Request-Id": MARKER, "Idempotency-Key": MARKER,
                                "If-Match": MARKER, "Referer": MARKER,
                                "Cookie": f"alliance_staff={MARKER}"}, **body)
                        except httpx.TransportError as e:
                            failed.append(f"{method} {path} {query} {list(body)}: {e!r}")
                            continue
                        if answer.status_code >= 500:
                            failed.append(f"{method} {path} {query}: {answer.status_code}")
        assert sent > 1000
        # A request uvicorn itself refuses, with the marker in the request line and a header.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(f"GET /v1/verify?last_name={MARKER} HTTP/1.1\r\nHost: x\r\n"
                        f"Bad Header {MARKER}\r\n\r\n".encode())
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        assert client.get("/healthz").status_code == 200
    log = server.log()
    assert '"route":"/v1/roster"' in log  # the requests were logged, by route template
    assert [line for line in log.splitlines() if MARKER in line] == []
    assert "unhandled error" not in log and "Exception in ASGI application" not in log
    assert failed == []


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The node's JSON log format on the root logger (where uvicorn's loggers propagate),
    into a buffer; the previous handlers come back afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_an_exception_that_escapes_every_handler_is_logged_without_its_message(
        tmp_path: Path, captured: io.StringIO) -> None:
    founded = found_alliance(tmp_path, {"AK": "Alaska"}, Signer.generate(), alliance="Test",
                             created=now() - dt.timedelta(days=1))
    node = Node(founded["AK"])
    app = create_app(node)

    @app.get("/v1/boom")
    def boom(request: Request) -> None:  # a defect, reached with the caller's input
        value = request.query_params.get("q", "")
        try:
            int(value)
        except ValueError as e:
            raise LookupError(f"no row for {value!r}") from e

    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.02)
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/boom", params={"q": MARKER},
                           headers={"X-Request-Id": MARKER}, timeout=10)
        assert answer.status_code == 500
        assert answer.json()["code"] == "internal_error"
        assert MARKER not in answer.text
        # The formatter redacts exceptions logged by anyone (here: as uvicorn would).
        try:
            raise ValueError(f"'{MARKER}' is not a valid EndorsementStatus")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        node.close()
    log = captured.getvalue()
    assert MARKER not in log
    lines = [line for line in log.splitlines() if "unhandled error" in line]
    assert len(lines) == 1
    assert '"route":"/v1/boom"' in lines[0]
    assert "builtins.LookupError at " in lines[0] and "test_log_privacy.py" in lines[0]
    assert "<- builtins.ValueError" in lines[0]  # the cause, by type
    uvicorn_style = [line for line in log.splitlines() if "Exception in ASGI" in line]
    assert len(uvicorn_style) == 1 and "builtins.ValueError at " in uvicorn_style[0]
