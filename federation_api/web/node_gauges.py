"""The node's state as Prometheus gauges, read at each scrape: what the alert rules watch.

`ops/prometheus/alerts.yml` names each of these; `ops/runbook.md` says what to do when one
fires. They are read from the stores when /metrics is asked (a scrape every 15-60 s costs a
few indexed reads), not kept up to date on every commit, so they cannot drift from the stores.

- `alliance_node_info{association}`: 1, naming this node's own association (for joins).
- `alliance_ledger_head_seq`, `alliance_projection_seq` (per ledger), `alliance_quarantined_
  entries`, `alliance_forked_associations`: as before issue 13.
- `alliance_checkpoint_size{association}`: the largest signed checkpoint held: this node's own
  for its ledger, the origin's latest announced one for a peer's. A peer's checkpoint above
  the replica's head is replication lag, in entries.
- `alliance_witnessed_checkpoint_size{association}`: the largest checkpoint cosigned by the
  registry's witness quorum (absent without a registry).
- `alliance_unsealed_events`: private events stored but not yet sealed into the ledger, and
  `alliance_seal_gate_closed`: 1 while the node refuses to seal (its ledger is shorter than a
  record of it): together, "the ledger is not advancing".
- `alliance_outbox_published_seq{outbox="nats"}` and `alliance_outbox_oldest_unsent_age_
  seconds{outbox="nats"}`: the NATS publisher's confirmed position and how long the oldest
  entry after it has waited (0 when nothing waits; absent without replication): "the outbox
  is stuck".
- `alliance_tls_certificate_not_after_timestamp_seconds{listener="https"}`: when the
  certificate the node serves expires (absent without --tls-cert).
- `alliance_lapse_run_last_success_timestamp_seconds{association}` (set by POST /v1/lapses,
  kept in `Metrics`): absent until the first run after a start.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Gauge

from federation_api.node.root import Node
from federation_api.replication.replicator import PUBLISHER
from ledger.chain.writer import FOLLOWER
from ledger.codec import decode_body, decode_signed
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.notes import parse_note

OUTBOX = "nats"  # the outbox label: the ledger's entries waiting for the NATS stream


class NodeGauges:
    """The gauges of the module docstring, in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, text, list(labels), registry=registry)

        self.info = gauge("alliance_node_info", "This node's own association", ("association",))
        self.checkpoint = gauge("alliance_checkpoint_size", "Largest signed checkpoint held",
                                ("association",))
        self.witnessed = gauge("alliance_witnessed_checkpoint_size",
                               "Largest checkpoint cosigned by the witness quorum",
                               ("association",))
        self.unsealed = gauge("alliance_unsealed_events",
                              "Private events stored but not yet sealed into the ledger")
        self.gate = gauge("alliance_seal_gate_closed",
                          "1 while the node refuses to seal (its ledger is behind a record)")
        # Labelled, so that they are absent (not 0) on a node without replication or TLS.
        self.published = gauge("alliance_outbox_published_seq",
                               "Own entries confirmed by the NATS stream", ("outbox",))
        self.unsent_age = gauge("alliance_outbox_oldest_unsent_age_seconds",
                                "Age of the oldest own entry not yet confirmed by NATS",
                                ("outbox",))
        self.tls_not_after = gauge("alliance_tls_certificate_not_after_timestamp_seconds",
                                   "When the served TLS certificate expires", ("listener",))

    def observe(self, node: Node, *, now: dt.datetime, replicating: bool,
                tls_not_after: float | None) -> None:
        """Read the node's stores into the gauges."""
        own = node.association
        self.info.labels(own).set(1)
        for association in node.ledger.associations():
            self.checkpoint.labels(association).set(node.log.signed_size(association))
            note = node.log.latest_witnessed_checkpoint(association)
            if note is not None:
                self.witnessed.labels(association).set(_size(note))
        tracked = node.ledger.position(FOLLOWER)
        stored = node.events.recorder.max_notification_id() or 0
        self.unsealed.set(max(0, stored - tracked))
        self.gate.set(0 if node.gate.reason is None else 1)
        if replicating:
            self._outbox(node, own, now)
        if tls_not_after is not None:
            self.tls_not_after.labels("https").set(tls_not_after)

    def _outbox(self, node: Node, own: str, now: dt.datetime) -> None:
        position = node.ledger.position(PUBLISHER)
        self.published.labels(OUTBOX).set(position)
        age = self.unsent_age.labels(OUTBOX)
        head = node.ledger.head(own)
        if head is None or head[0] <= position:
            age.set(0)
            return
        oldest = next(node.ledger.wires(own, position + 1, position + 1), None)
        if oldest is None:
            age.set(0)
            return
        # The node's own stored entry, verified when it was sealed: only its time is read.
        recorded = decode_body(decode_signed(oldest).body).recorded_at
        age.set(max(0.0, (now - recorded).total_seconds()))


def _size(note: bytes) -> int:
    return parse_body(parse_note(note).text).size
