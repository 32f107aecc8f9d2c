"""The gauges the alert rules watch (ops/prometheus/alerts.yml), read from a real node."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from domain.policy import AssociationPolicy
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.replication.replicator import PUBLISHER
from federation_api.settings import Settings
from federation_api.web.node_gauges import OUTBOX, NodeGauges
from tests.integration.live_app import live_node
from tests.integration.tls_certs import server_cert
from tests.pg import postgres_schema_url


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_name_the_node_its_sealing_and_its_certificate(tmp_path: Path) -> None:
    cert = server_cert(tmp_path / "tls", days=20)
    trust = ssl.create_default_context(cafile=str(cert.cert))
    with live_node(tmp_path / "node", tls=(cert.cert, cert.key)) as live, \
            httpx.Client(base_url=live.url, verify=trust, timeout=30) as client:
        samples = _samples(client.get("/metrics").text)
        head = live.node.ledger.head("AK")
        assert head is not None
    assert samples[("alliance_node_info", (("association", "AK"),))] == 1
    assert samples[("alliance_ledger_head_seq", (("association", "AK"),))] == head[0]
    assert samples[("alliance_unsealed_events", ())] == 0
    assert samples[("alliance_seal_gate_closed", ())] == 0
    assert ("alliance_checkpoint_size", (("association", "AK"),)) in samples
    assert samples[("alliance_tls_certificate_not_after_timestamp_seconds",
                    (("listener", "https"),))] == cert.not_after.timestamp()
    # No replication configured: no outbox to watch, so no outbox gauges to alert on; no
    # lapse run yet since the start.
    assert not any(name.startswith(("alliance_outbox_", "alliance_lapse_run"))
                   for name, _ in samples)


def test_the_outbox_gauge_ages_until_the_stream_confirms(tmp_path: Path) -> None:
    with live_node(tmp_path) as live:
        node = live.node
        gauges = NodeGauges(CollectorRegistry())
        head = node.ledger.head("AK")
        assert head is not None and head[0] > 1
        later = now() + dt.timedelta(minutes=10)
        gauges.observe(node, now=later, replicating=True, tls_not_after=None)
        assert gauges.published.labels(OUTBOX)._value.get() == node.ledger.position(PUBLISHER)
        waited = gauges.unsent_age.labels(OUTBOX)._value.get()
        assert 600 <= waited < 3600  # the first entry was sealed minutes before `later`
        node.ledger.set_position(PUBLISHER, head[0])  # what the publisher does on confirmation
        gauges.observe(node, now=later, replicating=True, tls_not_after=None)
        assert gauges.published.labels(OUTBOX)._value.get() == head[0]
        assert gauges.unsent_age.labels(OUTBOX)._value.get() == 0


def test_the_seal_gate_gauge_follows_the_gate(tmp_path: Path) -> None:
    with live_node(tmp_path) as live:
        node = live.node
        gauges = NodeGauges(CollectorRegistry())
        gauges.observe(node, now=now(), replicating=False, tls_not_after=None)
        assert gauges.gate._value.get() == 0
        head = node.ledger.head("AK")
        assert head is not None
        node.gate.hold("AK", head[0], "peers not asked yet")  # what a restored node does
        try:
            gauges.observe(node, now=now(), replicating=False, tls_not_after=None)
            assert gauges.gate._value.get() == 1
        finally:
            node.gate.release()
        gauges.observe(node, now=now(), replicating=False, tls_not_after=None)
        assert gauges.gate._value.get() == 0
        assert gauges.unsealed._value.get() == 0


@pytest.mark.postgres
def test_the_gauges_read_a_node_on_postgresql(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        _gauges_on(Settings(data_dir=tmp_path / "ak", database_url=url))


def _gauges_on(settings: Settings) -> None:
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(),
              now=now() - dt.timedelta(days=1))
    node = Node(settings)
    try:
        seed(node, today())
        gauges = NodeGauges(CollectorRegistry())
        gauges.observe(node, now=now() + dt.timedelta(minutes=1), replicating=True,
                       tls_not_after=None)
        assert gauges.unsealed._value.get() == 0
        assert gauges.gate._value.get() == 0
        assert gauges.unsent_age.labels(OUTBOX)._value.get() >= 60
    finally:
        node.close()
