"""`alliance audit` as an auditor runs it: on an export directory and on a live node's URL.

A real `alliance serve` holds a few imported endorsements; the auditor token comes from
`alliance tokens`; the node never joined an Alliance, so over its URL the keys are only its own
claim (a finding), while its export audited as a directory passes. The JSON report on stdout
stays parseable while progress bars are drawn on stderr; the exit code says whether anything
was found.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.e2e.harness import NodeDir, ServerProcess, init_node, provider_import, run_alliance


def _imports(node: NodeDir, server: ServerProcess, count: int) -> None:
    with server.client() as c:
        for i in range(count):
            body = {**provider_import(dt.date(dt.date.today().year, 12, 31)),
                    "person_id": f"AK-P-9{i:03d}", "legacy_reference": f"paper-9{i:03d}"}
            r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json=body)
            assert r.status_code == 201, r.text


def test_audit_of_an_export_and_of_a_live_node(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak")
    token_file = tmp_path / "auditor.token"
    token_file.write_text(node.tokens["auditor"] + "\n")
    server = ServerProcess(node)
    with server:
        _imports(node, server, 4)
        over_http = run_alliance("audit", "--url", server.url, "--token-file", str(token_file),
                                 "--json", "--progress", check=False)
        refused = tmp_path / "refused.token"
        refused.write_text("not-a-token\n")
        denied = run_alliance("audit", "--url", server.url, "--token-file", str(refused),
                              check=False)
    # This node never joined an Alliance: it has no registry, only its own keyring, which an
    # audit over --url cannot trust, so it can never pass (everything else still checks out).
    assert over_http.returncode == 1, over_http.stderr
    report = json.loads(over_http.stdout)  # the bars went to stderr, not into the JSON
    assert report["findings"] == ["no registry: keys are the node's own claim"]
    assert report["ledgers"] == {"AK": 4} and report["checkpoints"] == {"AK": 4}
    assert report["digest"] == report["node_digest"] and report["genesis_digest"] == ""
    assert "replay into projections" in over_http.stderr  # a progress bar was drawn
    assert denied.returncode == 2 and "HTTP 401" in denied.stderr

    node.cli("export", "--out", str(tmp_path / "export"))
    # Fail closed: the export brings its own keyring, which nobody pinned.
    unpinned = run_alliance("audit", str(tmp_path / "export"), "--json", check=False)
    assert unpinned.returncode == 1
    report = json.loads(unpinned.stdout)
    assert report["trust_root"] == "none" and len(report["findings"]) == 1
    assert report["findings"][0].startswith("genesis: not pinned")
    assert "/v1/alliance/genesis.json" in report["findings"][0]
    human = run_alliance("audit", str(tmp_path / "export"), "--full-signatures",
                         "--trust-bundled-registry")
    assert "AK: 4 entries, chain intact, checkpoint at 4" in human.stdout
    assert "4 entry signatures verified" in human.stdout and "audit passed" in human.stdout
    assert "genesis digest: none (no registry) (NOT pinned: taken from the export)" in (
        human.stdout)
    assert "WARNING: trust root NOT pinned (--trust-bundled-registry)" in human.stderr
    assert "━" not in human.stderr  # stderr is not a terminal: no bars unless asked

    (tmp_path / "export" / "digest.txt").write_text("0" * 64 + "\n")
    failed = run_alliance("audit", str(tmp_path / "export"), "--json",
                          "--trust-bundled-registry", check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["findings"] == [
        "replayed projections differ from the node's digest"]
    assert run_alliance("audit", str(tmp_path), check=False).returncode == 2  # not an export


def test_recorded_through_and_effective_on_are_two_different_dates(tmp_path: Path) -> None:
    """Endorsements granted in 2010 but recorded today: by recorded time nothing existed
    yesterday, by effective dates all four were current in 2015 and none in 2009. The
    ambiguous --as-of is refused, naming both."""
    node = init_node(tmp_path / "ak")
    with ServerProcess(node) as server:
        _imports(node, server, 4)
    node.cli("export", "--out", str(tmp_path / "export"))
    base = ["audit", str(tmp_path / "export"), "--trust-bundled-registry"]
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()

    recorded = json.loads(run_alliance(*base, "--recorded-through", yesterday, "--json").stdout)
    assert recorded["replayed"] == 0 and recorded["recorded_through"] == yesterday
    effective = json.loads(run_alliance(*base, "--effective-on", "2015-06-01", "--json").stdout)
    assert effective["replayed"] == 4 and effective["ok"]
    assert effective["effective_on"]["counts"] == {"AK": {"current": 4}}
    assert {e["standing"] for e in effective["effective_on"]["endorsements"]} == {"current"}
    before = run_alliance(*base, "--effective-on", "2009-12-31")
    assert "standing on 2009-12-31 (by the endorsements' effective dates):" in before.stdout
    assert "  AK: 4 not yet granted" in before.stdout
    both = json.loads(run_alliance(*base, "--recorded-through", yesterday, "--effective-on",
                                   "2015-06-01", "--json").stdout)
    assert both["effective_on"]["endorsements"] == []  # nothing was recorded by then

    refused = run_alliance(*base, "--as-of", "2015-06-01", check=False)
    assert refused.returncode == 2
    assert "--recorded-through" in refused.stderr and "--effective-on" in refused.stderr
    bad = run_alliance(*base, "--effective-on", "June 2015", check=False)
    assert bad.returncode == 2 and "--effective-on must be a date" in bad.stderr
    helped = run_alliance("audit", "--help").stdout
    assert "--recorded-through" in helped and "--effective-on" in helped
    assert "--as-of" not in helped
