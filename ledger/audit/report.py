"""What an audit checked and found: the report `alliance audit` prints (or writes as JSON).

Every finding makes the audit fail (exit 1); warnings are reported and do not. The phase names
are the keys of `seconds` and the labels of the progress bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Phase names, as the progress bars and `AuditReport.seconds` show them.
LOAD, CHECKPOINTS, CHAINS, REPLAY, SIGNATURES = (
    "loading ledgers", "checkpoints and cosignatures", "chains and Merkle roots",
    "replay into projections", "entry signatures")


@dataclass
class AuditReport:
    """What the audit checked and found."""

    ledgers: dict[str, int] = field(default_factory=dict)
    signatures_verified: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)
    witnesses: dict[str, list[str]] = field(default_factory=dict)  # valid cosigners
    witness_quorum: int = 0
    witnessed: dict[str, list[int]] = field(default_factory=dict)  # sizes proven witnessed
    replayed: int = 0
    genesis_digest: str = ""  # hex SHA-256 of the export's canonical genesis ("" without one)
    digest: str = ""
    node_digest: str = ""
    findings: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase

    @property
    def ok(self) -> bool:
        """No finding at all."""
        return not self.findings

    def as_json(self) -> dict[str, object]:
        """The JSON report (`alliance audit --json`)."""
        return {"ok": self.ok, "ledgers": self.ledgers, "checkpoints": self.checkpoints,
                "witnesses": self.witnesses, "witness_quorum": self.witness_quorum,
                "witnessed": self.witnessed, "genesis_digest": self.genesis_digest,
                "signatures_verified": self.signatures_verified, "replayed": self.replayed,
                "digest": self.digest, "node_digest": self.node_digest,
                "findings": self.findings, "warnings": self.warnings,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}
