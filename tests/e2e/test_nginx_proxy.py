"""The reverse-proxy example (ops/nginx/alliance-node.conf) in front of a real node (issue 13).

A real nginx runs the example file, with only its ports, certificate paths and server name
replaced, ending TLS for a node served on loopback with the proxy in its trusted-proxy list.
What a visitor sees must be HTTPS throughout: HSTS, Secure cookies, https redirects; whatever
forwarding headers the visitor sends are overwritten by the proxy; /metrics stays inside.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from federation_api.replication.nats_process import free_port
from federation_api.settings import RateLimitSettings
from tests.integration.live_app import live_node
from tests.integration.tls_certs import ServerCert, server_cert

EXAMPLE = Path(__file__).resolve().parents[2] / "ops" / "nginx" / "alliance-node.conf"


def _site(node_port: int, http_port: int, https_port: int, cert: ServerCert) -> str:
    text = EXAMPLE.read_text()
    replaced = {
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{node_port};",
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen [::]:80;\n": "",
        "    listen 443 ssl http2;\n": f"    listen 127.0.0.1:{https_port} ssl http2;\n",
        "    listen [::]:443 ssl http2;\n": "",
        "server_name ak.alliance.example;": "server_name localhost;",
        "/etc/ssl/alliance/fullchain.pem": str(cert.cert),
        "/etc/ssl/alliance/privkey.pem": str(cert.key),
    }
    for old, new in replaced.items():
        assert old in text, f"the example no longer has {old!r}"
        text = text.replace(old, new)
    return text


@contextmanager
def nginx(root: Path, site: str, ports: tuple[int, ...]) -> Iterator[None]:
    """nginx in the foreground with `site` in its http block, until the block ends."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise AssertionError("nginx is missing: install the Debian package nginx (.ci/run does)")
    temp = {name: root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True)
    conf = root / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\n"
        "events {}\nhttp {\n    access_log off;\n"
        f"    client_body_temp_path {temp['body']};\n    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n{site}\n}}\n")
    checked = subprocess.run([binary, "-t", "-p", str(root), "-c", str(conf)],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        for port in ports:
            while True:
                assert process.poll() is None, (root / "error.log").read_text()
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        yield
    finally:
        os.kill(process.pid, signal.SIGQUIT)  # graceful stop of this nginx, by its pid
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def test_the_nginx_example_serves_the_node_over_https(tmp_path: Path) -> None:
    cert = server_cert(tmp_path / "tls")
    trust = ssl.create_default_context(cafile=str(cert.cert))
    http_port, https_port = free_port(), free_port()
    limits = RateLimitSettings(trusted_proxies=("127.0.0.1",))
    with live_node(tmp_path / "node", limits=limits) as live:
        node_port = int(live.url.rsplit(":", 1)[1])
        site = _site(node_port, http_port, https_port, cert)
        with nginx(tmp_path / "nginx", site, (http_port, https_port)), \
                httpx.Client(base_url=f"https://localhost:{https_port}", verify=trust,
                             timeout=30) as visitor:
            # A visitor's own forwarding headers are overwritten by the proxy.
            forged = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example",
                      "Forwarded": "for=6.6.6.6;proto=http;host=evil.example"}
            answer = visitor.get("/healthz", headers=forged)
            assert answer.status_code == 200
            assert answer.headers["strict-transport-security"].startswith("max-age=")
            login = visitor.get("/staff/login", headers=forged)
            assert login.status_code == 200
            assert "; secure" in login.headers["set-cookie"].lower()
            redirect = visitor.get("/staff/login/", headers=forged, follow_redirects=False)
            assert redirect.headers["location"] == "https://localhost/staff/login"
            assert visitor.get("/metrics").status_code == 403
            plain = httpx.get(f"http://127.0.0.1:{http_port}/verify?by=id", timeout=30,
                              headers={"Host": "localhost"}, follow_redirects=False)
            assert plain.status_code == 301
            assert plain.headers["location"] == "https://localhost/verify?by=id"
            assert "strict-transport-security" not in plain.headers
