"""`alliance lapses record` (the daily lapse job) against a served node, as the timer runs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.e2e.harness import ServerProcess, head_seq, init_node, provider_import, run_alliance


def test_the_daily_lapse_job_records_once_per_day(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=("coordinator", "auditor"))
    token_file = tmp_path / "coordinator.token"
    token_file.write_text(node.tokens["coordinator"] + "\n")
    token_file.chmod(0o600)
    last_year = dt.date(dt.date.today().year - 1, 12, 31)  # its grace period is over
    with ServerProcess(node) as server, server.client() as client:
        imported = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                               json=provider_import(last_year))
        assert imported.status_code in (200, 201), imported.text
        endorsement_id = imported.json()["endorsement_id"]
        before = client.get("/metrics").text
        assert "alliance_lapse_run_last_success_timestamp_seconds{" not in before

        first = run_alliance("lapses", "record", "--url", server.url,
                             "--token-file", str(token_file))
        assert "1 recorded" in first.stdout and endorsement_id in first.stdout
        assert head_seq(client, node) == 2
        # The timer fired twice (or a run was retried): nothing is recorded twice.
        again = run_alliance("lapses", "record", "--url", server.url,
                             "--token-file", str(token_file))
        assert "already recorded" in again.stdout
        assert head_seq(client, node) == 2
        metrics = client.get("/metrics").text
        assert 'alliance_lapse_run_last_success_timestamp_seconds{association="AK"}' in metrics

        # Refusals say why and record nothing.
        wrong = tmp_path / "wrong.token"
        wrong.write_text("not-a-token")
        wrong.chmod(0o600)
        refused = run_alliance("lapses", "record", "--url", server.url, "--token-file",
                               str(wrong), check=False)
        assert refused.returncode == 1 and "answered 401" in refused.stderr
        token_file.chmod(0o644)
        loose = run_alliance("lapses", "record", "--url", server.url, "--token-file",
                             str(token_file), check=False)
        assert loose.returncode == 2 and "must not be readable" in loose.stderr
        assert head_seq(client, node) == 2
    down = run_alliance("lapses", "record", "--url", server.url, "--token-file",
                        str(wrong), check=False)
    assert down.returncode == 1 and "did not answer" in down.stderr
