"""`alliance audit`: run the audit on an export directory or a node URL, and report it.

stdout carries the report (a human summary, or JSON with `--json`); findings and warnings also
go to stderr in the human form; progress bars go to stderr only (see `progress.py`). Exit
code 0 when there is no finding, 1 on any finding, 2 when the input could not be read.

`--genesis FILE` pins the Alliance's genesis (distributed out of band; every node serves it at
`/v1/alliance/genesis.json`). The audit fails closed without it. Over `--url` it is required
when the node serves a registry, since otherwise the node would choose its own trust root: the
audit exits 2 before checking anything. On an export directory, whose registry (or keyring)
came with the export, the audit runs and reports, and the finding "genesis: not pinned" makes
it fail (exit 1). `--trust-bundled-registry` accepts the registry the export or node brings;
the report then warns that the result holds only against keys its maker chose. A genesis that
differs from the pinned one is a finding (exit 1, "genesis: ..."), in both modes, so the
report still shows what was audited; a node without a registry over `--url` is the finding
"no registry: keys are the node's own claim". The genesis digest is printed in every report,
to compare out of band.

Two different dates can be asked about, and they are named apart:
- `--recorded-through DATE` replays only the entries the ledgers had recorded by the end of
  DATE (UTC, by each entry's recorded-at time): the ledgers as they stood then. A backdated
  entry recorded later is left out.
- `--effective-on DATE` reports every endorsement's standing on DATE by its own dates (grant,
  renewal, lapse, suspension ... effective dates), as `GET /v1/status?on=DATE` answers: who was
  endorsed on that day, as the ledgers now tell it (or as they told it on the
  `--recorded-through` date, when both are given). It replays the checked ledgers once more.
The old `--as-of` meant the first but read like the second, so it is refused with a message
naming both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from federation_api.audit.fetch import FetchError, fetch
from federation_api.audit.run import audit
from federation_api.web.urls import GENESIS_PATH
from ledger.audit.report import AuditReport
from ledger.codec import decode_canonical, decode_json, decode_stored
from ledger.errors import LedgerError
from ledger.storage.database import Database, DatabaseUrl
from ledger.trust.registry import Genesis
from projections.decoded_entries import from_body
from projections.projector import Projector

AS_OF_REFUSED = ("error: --as-of is ambiguous and no longer accepted; say which date you mean: "
                 "--recorded-through DATE (replay only the entries recorded by that day: the "
                 "ledgers as they stood then; what --as-of did) or --effective-on DATE (each "
                 "endorsement's standing on that day by its own effective dates, as "
                 "/v1/status?on=DATE answers)")
NOT_PINNED = (f"genesis: not pinned: the registry (or keyring) came with what is audited, so "
              f"it proves only that the entries match keys its maker chose; pin the Alliance's "
              f"genesis with --genesis FILE (every node serves it at {GENESIS_PATH}; compare "
              f"its digest with the one the Alliance publishes), or accept it with "
              f"--trust-bundled-registry")
BUNDLED = ("trust root NOT pinned (--trust-bundled-registry): the audit holds against the "
           "registry or keyring that came with the export, not against the Alliance's genesis")
NOT_YET = "not yet granted"


def _date(args: argparse.Namespace, flag: str) -> dt.date | None:
    value = getattr(args, flag)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--{flag.replace('_', '-')} must be a date (YYYY-MM-DD), "
                         f"got {value!r}") from None


def run_audit(args: argparse.Namespace) -> int:
    """The `alliance audit` command."""
    if (args.export is None) == (args.url is None):
        print("error: give an export directory or --url (one of them)", file=sys.stderr)
        return 2
    if args.as_of is not None:
        print(AS_OF_REFUSED, file=sys.stderr)
        return 2
    try:
        as_of = _date(args, "recorded_through")
        effective_on = _date(args, "effective_on")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    pinned: Genesis | None = None
    if args.genesis is not None:
        try:
            pinned = decode_json(Path(args.genesis).read_bytes(), Genesis)
        except (OSError, LedgerError, ValueError) as e:
            print(f"error: cannot read the genesis file: {e}", file=sys.stderr)
            return 2
    with ExitStack() as stack:
        if args.url is not None:
            if args.token_file is None:
                print("error: --url needs --token-file (an auditor token)", file=sys.stderr)
                return 2
            try:
                token = Path(args.token_file).read_text().strip()
            except OSError as e:
                print(f"error: cannot read the token file: {e}", file=sys.stderr)
                return 2
            root = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "fetched"
            try:
                fetch(args.url, token, root)
            except FetchError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            if pinned is None and (root / "registry").exists() and \
                    not args.trust_bundled_registry:
                print(f"error: the node serves a registry: pin the Alliance's genesis with "
                      f"--genesis FILE (the node's own genesis proves nothing; every node serves "
                      f"the Alliance's at {GENESIS_PATH}: compare its digest with the one the "
                      f"Alliance publishes)", file=sys.stderr)
                return 2
        else:
            root = Path(args.export)
            if not (root / "ledgers").is_dir():
                print(f"error: {root} is not an export directory (no ledgers/)",
                      file=sys.stderr)
                return 2
        bars = None
        if args.progress or sys.stderr.isatty():
            from federation_api.cli.progress import AuditBars

            bars = stack.enter_context(AuditBars(sys.stderr))
        report = audit(root, full_signatures=args.full_signatures, as_of=as_of,
                       progress=bars, require_witnessed=args.require_witnessed,
                       pinned_genesis=pinned, keys_from_node=args.url is not None)
        trust = _trust_root(report, pinned, bundled=args.trust_bundled_registry,
                            from_node=args.url is not None)
        standings = (None if effective_on is None else
                     standings_on(root, set(report.ledgers), effective_on, as_of))
    if args.json:
        out: dict[str, Any] = {**report.as_json(), "trust_root": trust,
                               "recorded_through": as_of and as_of.isoformat()}
        if standings is not None and effective_on is not None:
            out["effective_on"] = {"date": effective_on.isoformat(),
                                   "counts": _counts(standings), "endorsements": standings}
        print(json.dumps(out, indent=2))
    else:
        if standings is not None and effective_on is not None:
            _print_standings(standings, effective_on)
        _summary(report, as_of, full_signatures=args.full_signatures, trust=trust)
    return 0 if report.ok else 1


def _trust_root(report: AuditReport, pinned: Genesis | None, *, bundled: bool,
                from_node: bool) -> str:
    """"pinned", "bundled" (accepted with the flag: a warning) or "none" (a finding)."""
    if pinned is not None:
        return "pinned"
    if from_node and not report.genesis_digest:
        return "none"  # the audit's own finding says it: "no registry: keys are the node's..."
    if bundled:
        report.warnings.append(BUNDLED)
        return "bundled"
    report.findings.append(NOT_PINNED)
    return "none"


def standings_on(root: Path, held: set[str], on: dt.date,
                 recorded_through: dt.date | None) -> list[dict[str, Any]]:
    """Every endorsement's standing on `on` by its effective dates, replayed from the export's
    ledgers whose chains held (`held`), optionally only entries recorded by
    `recorded_through`. One row per endorsement, in (association, id) order."""
    with tempfile.TemporaryDirectory() as tmp:
        projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{tmp}/on.sqlite")))
        try:
            with projector.bulk():
                for path in sorted((root / "ledgers").glob("*.bin")):
                    if path.stem not in held:
                        continue
                    bodies = [decode_stored(w)
                              for w in decode_canonical(path.read_bytes(), list[bytes])]
                    if recorded_through is not None:
                        # Recorded in time order: "by the end of that day" is a prefix.
                        late = next((i for i, b in enumerate(bodies)
                                     if b.recorded_at.astimezone(dt.UTC).date()
                                     > recorded_through), len(bodies))
                        bodies = bodies[:late]
                    projector.apply_ledger([from_body(b) for b in bodies])
            rows = []
            for row in sorted(projector.roster(), key=lambda r: (r.association,
                                                                 r.endorsement_id)):
                answer = projector.status_as_of(row.endorsement_id, on)
                rows.append({"endorsement_id": row.endorsement_id,
                             "association": row.association,
                             "level": None if answer is None else str(answer.level),
                             "designation": None if answer is None or answer.designation is None
                             else str(answer.designation),
                             "standing": NOT_YET if answer is None else str(answer.standing),
                             "valid_through": None if answer is None
                             else answer.valid_through.isoformat()})
            return rows
        finally:
            projector.db.close()


def _counts(standings: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for row in standings:
        counts.setdefault(row["association"], Counter())[row["standing"]] += 1
    return {a: dict(sorted(c.items())) for a, c in sorted(counts.items())}


def _print_standings(standings: list[dict[str, Any]], on: dt.date) -> None:
    print(f"standing on {on.isoformat()} (by the endorsements' effective dates):")
    for association, counts in _counts(standings).items():
        print(f"  {association}: " + ", ".join(f"{n} {word}" for word, n in counts.items()))


def _summary(report: AuditReport, as_of: dt.date | None, *, full_signatures: bool,
             trust: str) -> None:
    for association, count in sorted(report.ledgers.items()):
        checkpoint = report.checkpoints.get(association)
        witnesses = report.witnesses.get(association, [])
        where = (f"checkpoint at {checkpoint} matches its Merkle root, cosigned by "
                 f"{len(witnesses)} witnesses" if checkpoint is not None
                 else "no matching checkpoint")
        witnessed = report.witnessed.get(association)
        if witnessed:
            where += ("; witnessed by the quorum at " + ", ".join(map(str, witnessed))
                      + " (a prefix of the exported ledger)")
        print(f"{association}: {count} entries, chain intact, {where}")
    print(f"genesis digest: {report.genesis_digest or 'none (no registry)'}"
          + {"pinned": " (the pinned one)", "bundled": " (NOT pinned: taken from the export)",
             "none": " (NOT pinned)"}[trust])
    if report.witness_quorum:
        print(f"witness quorum set by the registry: {report.witness_quorum}")
    if full_signatures:
        print(f"{report.signatures_verified} entry signatures verified")
    label = f"of the entries recorded through {as_of}" if as_of else "replayed"
    print(f"projections {label} ({report.replayed} entries): digest {report.digest}")
    if report.node_digest and as_of is None:
        same = "matches" if report.node_digest == report.digest else "DIFFERS from"
        print(f"the replay {same} the node's digest {report.node_digest}")
    print("time: " + ", ".join(f"{phase} {seconds:.2f} s"
                               for phase, seconds in report.seconds.items()))
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for finding in report.findings:
        print(f"FINDING: {finding}", file=sys.stderr)
    print("audit passed" if report.ok else f"audit FAILED ({len(report.findings)} findings)")
