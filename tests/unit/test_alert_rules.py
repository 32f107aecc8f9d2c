"""The Prometheus alert rules (ops/prometheus/alerts.yml), tested by promtool (issue 13).

`promtool test rules` runs the unit tests in alerts_test.yml and alerts_daily_test.yml: each
alert fires on the failure it names and stays quiet on a healthy node. Also checked: every
metric a rule reads is one the node exports, every alert has a test and a runbook section,
and a broken rule fails its test (so the tests can fail at all).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from federation_api.web.observability import Metrics

OPS = Path(__file__).resolve().parents[2] / "ops"
RULES = OPS / "prometheus" / "alerts.yml"
TESTS = (OPS / "prometheus" / "alerts_test.yml",  # minute by minute
         OPS / "prometheus" / "alerts_daily_test.yml")  # hour by hour, over days
RUNBOOK = OPS / "runbook.md"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        raise AssertionError("promtool is missing: install the Debian package prometheus "
                             "(.ci/run does)")
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def _alerts() -> set[str]:
    return set(re.findall(r"^\s+- alert: (\w+)$", RULES.read_text(), re.M))


def test_the_rules_are_valid_and_pass_their_tests() -> None:
    checked = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", *(t.name for t in TESTS), cwd=RULES.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_example_scrape_config_is_valid() -> None:
    checked = _promtool("check", "config", "prometheus.yml", cwd=RULES.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_broken_rule_fails_its_test(tmp_path: Path) -> None:
    for path in (RULES, *TESTS):
        (tmp_path / path.name).write_text(path.read_text())
    broken = tmp_path / RULES.name
    broken.write_text(broken.read_text().replace(
        "expr: alliance_outbox_oldest_unsent_age_seconds > 300",
        "expr: alliance_outbox_oldest_unsent_age_seconds > 3000"))
    tested = _promtool("test", "rules", TESTS[0].name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "AllianceOutboxStuck" in tested.stdout + tested.stderr


def test_every_metric_a_rule_reads_is_exported_by_the_node() -> None:
    exported = {family.name for family in Metrics().registry.collect()}
    # prometheus_client names a counter's family without its _total suffix.
    exported |= {f"{name}_total" for name in exported}
    used = set(re.findall(r"\b(alliance_[a-z_]+)\b", RULES.read_text()))
    assert used and used <= exported, sorted(used - exported)


def test_every_alert_has_a_test_and_a_runbook_section() -> None:
    alerts = _alerts()
    assert len(alerts) >= 10
    tested = {name for path in TESTS
              for name in re.findall(r"alertname: (\w+)", path.read_text())}
    assert alerts <= tested, sorted(alerts - tested)
    runbook = RUNBOOK.read_text()
    headings = {re.sub(r"[^a-z0-9]", "", h.lower())
                for h in re.findall(r"^## (.+)$", runbook, re.M)}
    anchors = set(re.findall(r"ops/runbook\.md#(\w+)", RULES.read_text()))
    assert anchors <= headings, sorted(anchors - headings)


@pytest.mark.parametrize("alert", sorted(_alerts()))
def test_each_alert_links_its_runbook_section(alert: str) -> None:
    block = RULES.read_text().split(f"- alert: {alert}\n", 1)[1].split("- alert:", 1)[0]
    assert re.search(r'runbook: "ops/runbook\.md#\w+"', block), alert
