"""HTTPS served by the node, the origin behind trusted proxies, and HSTS (issue 13).

Real uvicorn servers on loopback, real TLS handshakes against a certificate made in the test.
The staff login page sets a cookie (its `Secure` flag follows the request's scheme) and a
trailing-slash redirect names the absolute URL the node believes it was asked for, so both
show what origin the node settled on.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from federation_api.settings import RateLimitSettings
from federation_api.web.tls import TlsFiles, TlsFilesError
from tests.integration.live_app import live_node
from tests.integration.tls_certs import server_cert

HSTS = "strict-transport-security"


def _login_cookie(response: httpx.Response) -> str:
    cookies = response.headers.get_list("set-cookie")
    assert cookies, response.headers
    return cookies[0].lower()


def test_https_answers_carry_hsts_and_secure_cookies(tmp_path: Path) -> None:
    cert = server_cert(tmp_path / "tls")
    trust = ssl.create_default_context(cafile=str(cert.cert))
    with live_node(tmp_path / "node", tls=(cert.cert, cert.key)) as live:
        assert live.url.startswith("https://")
        with httpx.Client(base_url=live.url, verify=trust, timeout=30) as client:
            for path in ("/healthz", "/v1/verify?endorsement_id=x&last_name=y", "/nowhere"):
                answer = client.get(path)
                assert answer.headers[HSTS] == "max-age=63072000", path
            login = client.get("/staff/login")
            assert login.status_code == 200
            assert "; secure" in _login_cookie(login)
        # A client that does not trust the certificate is refused by the handshake.
        with httpx.Client(base_url=live.url, timeout=30) as stranger, \
                pytest.raises(httpx.ConnectError):
            stranger.get("/healthz")


def test_plain_http_gets_no_hsts_even_when_the_client_claims_https(tmp_path: Path) -> None:
    # 127.0.0.1 is a peer, not a trusted proxy: its forwarded headers are not evidence.
    limits = RateLimitSettings(trusted_proxies=("10.9.8.7",))
    with live_node(tmp_path, limits=limits) as live, live.client() as client:
        claims = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
                  "Forwarded": "for=1.2.3.4;proto=https;host=evil.example"}
        answer = client.get("/healthz", headers=claims)
        assert HSTS not in answer.headers
        login = client.get("/staff/login", headers=claims)
        assert "secure" not in _login_cookie(login)
        redirect = client.get("/staff/login/", headers=claims, follow_redirects=False)
        assert redirect.status_code == 307
        assert redirect.headers["location"] == f"{live.url}/staff/login"


@pytest.mark.parametrize(("headers", "origin"), [
    ({"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ak.example.org",
      "X-Forwarded-For": "203.0.113.5"}, "https://ak.example.org"),
    ({"Forwarded": 'for=203.0.113.5;proto=https;host="ak.example.org"'},
     "https://ak.example.org"),
    # Through two trusted proxies the outermost one's element counts.
    ({"Forwarded": "for=203.0.113.5;proto=https;host=ak.example.org, "
                   "for=127.0.0.1;proto=http;host=inner.local"}, "https://ak.example.org"),
    # A client's own forged element before the proxy's is not reached.
    ({"Forwarded": "for=127.0.0.1;proto=http;host=forged.example, "
                   "for=203.0.113.5;proto=https;host=ak.example.org"},
     "https://ak.example.org"),
    # An empty Forwarded header does not hide the X-Forwarded-* ones.
    ({"Forwarded": "", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "ak.example.org"},
     "https://ak.example.org"),
    # Nonsense is ignored, field by field.
    ({"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a b/c@d"}, None),
], ids=["x-forwarded", "forwarded", "two-proxies", "forged-left", "empty-forwarded",
        "nonsense"])
def test_a_trusted_proxy_sets_the_origin(tmp_path: Path, headers: dict[str, str],
                                         origin: str | None) -> None:
    limits = RateLimitSettings(trusted_proxies=("127.0.0.1",))
    with live_node(tmp_path, limits=limits) as live, live.client() as client:
        expected = origin or live.url
        redirect = client.get("/staff/login/", headers=headers, follow_redirects=False)
        assert redirect.headers["location"] == f"{expected}/staff/login"
        login = client.get("/staff/login", headers=headers)
        https = expected.startswith("https://")
        assert ("; secure" in _login_cookie(login)) is https
        assert (HSTS in login.headers) is https


def test_tls_files_are_checked_before_serving(tmp_path: Path) -> None:
    one = server_cert(tmp_path / "one", name="one")
    other = server_cert(tmp_path / "other", name="other")
    assert TlsFiles.checked(None, None) is None
    assert TlsFiles.checked(one.cert, one.key) == TlsFiles(one.cert, one.key)
    assert TlsFiles(one.cert, one.key).not_after() == one.not_after.timestamp()
    with pytest.raises(TlsFilesError, match="go together"):
        TlsFiles.checked(one.cert, None)
    with pytest.raises(TlsFilesError, match="does not exist"):
        TlsFiles.checked(tmp_path / "missing.crt", one.key)
    with pytest.raises(TlsFilesError, match="matching pair"):
        TlsFiles.checked(one.cert, other.key)
    one.key.chmod(0o644)
    with pytest.raises(TlsFilesError, match="readable by others"):
        TlsFiles.checked(one.cert, one.key)
