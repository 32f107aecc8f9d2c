"""`alliance demo` (what `make demo` runs): three federated nodes, real URLs, clean Ctrl-C.

Everything it prints is used as printed: every URL (filled in with a seeded endorsement, no
templates), every role's token, each node's data directory; `--listen` and `--data-dir` are
obeyed. Receipts answer at once on every node, also for peers' fresh entries.
"""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.demo_process import NODE, demo, per_node
from tests.e2e.harness import run_alliance

pytestmark = pytest.mark.timeout(180)
ROLES = ("coordinator", "reviewer", "committee", "auditor", "employer")
LINE = re.compile(r"^  (\S.*?)\s{2,}(http://\S+)(.*)$", re.M)


def stop(process: subprocess.Popen[str]) -> str:
    """Ctrl-C; the rest of the output (the exit code must be 0)."""
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    return rest


def three_free_ports() -> int:
    """The first of three consecutive ports that are free now."""
    for _ in range(200):
        first = random.randint(20000, 60000)
        sockets = [socket.socket() for _ in range(3)]
        try:
            for i, s in enumerate(sockets):
                s.bind(("127.0.0.1", first + i))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no three consecutive free ports")


def test_demo_serves_three_nodes_and_stops_on_ctrl_c() -> None:
    with demo("--listen", "127.0.0.1:0") as (process, output):
        nodes = {m.group(1): m.group(2) for m in NODE.finditer(output)}
        assert sorted(nodes) == ["AK", "MI", "TX"], output
        assert output.count("/docs") == 3
        assert output.count("/v1/alliance/genesis.json (digest ") == 3
        assert "..." not in output and "<" not in output  # no template is printed as a link
        blocks = per_node(output)
        for association, block in blocks.items():
            tokens = dict(re.findall(r"^  (\w+) token\s+(alt_\S+)$", block, re.M))
            assert sorted(tokens) == sorted(ROLES), block
            data_dir = re.search(r"^  data directory\s+(\S+)$", block, re.M)
            assert data_dir and (Path(data_dir[1]) / "node.json").exists(), block
            staff = {"Authorization": f"Bearer {tokens['auditor']}"}
            employer = {"Authorization": f"Bearer {tokens['employer']}"}
            for label, url, rest in LINE.findall(block):
                headers = employer if "employer token" in rest else (
                    staff if label.startswith("status proof") else {})
                answer = httpx.get(url, headers=headers, timeout=20)
                assert answer.status_code == 200, (association, label, url, answer.text[:300])
            for role in ROLES:  # every printed token is one this node accepts
                path = "/v1/changes" if role == "employer" else "/v1/applications"
                r = httpx.get(nodes[association] + path, timeout=20,
                              headers={"Authorization": f"Bearer {tokens[role]}"})
                assert r.status_code in (200, 403), (association, role, r.status_code)
                assert r.status_code == 200 or role in ("auditor", "reviewer", "committee")

        answers = {}
        example = r"^  (.+?)\s+(http://\S+/v1/verify\?endorsement_id=[A-Z]\S+)$"
        examples = re.findall(example, output.split("Any node answers")[1], re.M)
        for label, url in examples:
            answers[label] = httpx.get(url, timeout=10).json()["status"]
        assert answers["Rivera (AK, Level III)"] == "current"
        assert answers["Doe (MI, Level II)"] == "current"  # RS/C provider endorsed in AK
        assert answers["Garcia (MI, moved from TX)"] == "current"
        assert answers["Garcia's old TX endorsement"] == "transferred"
        assert answers["Chen (AK, lapsed)"] == "lapsed"
        # A receipt of any example from any node, right away: a node asks the endorsing
        # association for a checkpoint rather than answering 409 until the next interval.
        for base in nodes.values():
            for _, url in examples:
                receipt = httpx.get(url.replace(url.split("/v1/")[0], base).replace(
                    "/v1/verify", "/v1/receipts"), timeout=20)
                assert receipt.status_code == 200, (base, url, receipt.text)
        sign_in_as_the_demo_coordinator(nodes["AK"], blocks["AK"])
        data_dir = re.search(r"data in (\S+) \(removed on exit\)", output)
        assert data_dir is not None
        stop(process)
        assert not Path(data_dir.group(1)).exists()


def test_demo_listens_where_asked_and_keeps_its_data_dir(tmp_path: Path) -> None:
    first = three_free_ports()
    kept = tmp_path / "demo"
    with demo("--listen", f"127.0.0.1:{first}", "--data-dir", str(kept)) as (process, output):
        ports = {m.group(1): int(m.group(3)) for m in NODE.finditer(output)}
        assert ports == {"AK": first, "MI": first + 1, "TX": first + 2}, output
        assert f"data in {kept} (kept on exit)" in output
        for association in ports:
            assert f"  data directory         {kept / association.lower()}\n" in output
        genesis = kept / "registry" / "genesis.json"
        assert f"Alliance genesis (demo): {genesis} (digest " in output
        rest = stop(process)
    assert f"demo: data kept in {kept}" in rest
    for association in ("ak", "mi", "tx"):
        assert (kept / association / "node.json").exists()
    verified = run_alliance("ledger", "verify", "--data-dir", str(kept / "mi"))
    assert "entries verified" in verified.stdout


def test_demo_refuses_a_busy_port_and_a_used_data_dir(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = run_alliance("demo", "--listen", f"127.0.0.1:{port}", check=False)
    assert refused.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (for AK)" in refused.stderr
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    refused = run_alliance("demo", "--listen", "127.0.0.1:0", "--data-dir", str(used),
                           check=False)
    assert refused.returncode == 2 and "is not an empty directory" in refused.stderr
    assert sorted(p.name for p in used.iterdir()) == ["something"]  # nothing written
    helped = " ".join(run_alliance("demo", "--help").stdout.split())
    assert "--database-url" not in helped and "MI and TX take the next" in helped


def sign_in_as_the_demo_coordinator(base: str, block: str) -> None:
    """The printed coordinator signs in with the printed password and a printed recovery
    code, and lands on the dashboard with the seeded applications; the printed reviewer
    sees the application in their queue."""
    found = re.search(r"^  coordinator\s+(\S+) / password: (.+)$", block, re.M)
    codes = re.search(r"recovery codes ((?:[a-z2-7-]{19}(?:, )?)+) \(each works once\)", block)
    reviewer = re.search(r"^  reviewer\s+(\S+) / password: (.+) \(no code\)$", block, re.M)
    assert found and codes and reviewer, block
    with httpx.Client(base_url=base, timeout=20) as browser:
        page = browser.get("/staff/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        r = browser.post("/staff/login", data={"email": found[1], "password": found[2],
                                               "csrf_token": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/staff/login/code", r.text
        page = browser.get("/staff/login/code")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        r = browser.post("/staff/login/code", data={"code": codes[1].split(", ")[0],
                                                    "csrf_token": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/staff/"
        home = browser.get("/staff/").text
        for state in ("Submitted, no reviewers yet</td><td>1", "In review</td><td>1",
                      "Returned with comments</td><td>1"):
            assert state in home, home
        assert "Renewals due within" in home
        # The seeded person records, and the one possible duplicate among them.
        people = browser.get("/staff/people").text
        assert "AK-P-0001" in people and "maria.rivera@example.org" in people
        assert "AK-P-0005" in browser.get("/staff/people/duplicates").text
    with httpx.Client(base_url=base, timeout=20) as browser:
        page = browser.get("/staff/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        r = browser.post("/staff/login", data={"email": reviewer[1], "password": reviewer[2],
                                               "csrf_token": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/staff/"
        queue = browser.get("/staff/").text
        assert "My review queue: 1" in queue and "Ana Lopez" in queue
