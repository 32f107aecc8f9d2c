"""`alliance audit`: run the audit on an export directory or a node URL, and report it.

stdout carries the report (a human summary, or JSON with `--json`); findings and warnings also
go to stderr in the human form; progress bars go to stderr only (see `audit_progress`). Exit
code 0 when there is no finding, 1 on any finding, 2 when the input could not be read.

`--genesis FILE` pins the Alliance's genesis (distributed out of band). Over `--url` it is
required when the node serves a registry, since otherwise the node would choose its own trust
root: the audit exits 2 before checking anything. A genesis that differs from the pinned one
is a finding (exit 1, "genesis: ..."), in both modes, so the report still shows what was
audited; a node without a registry over `--url` is the finding "no registry: keys are the
node's own claim". The genesis digest is printed in every report, to compare out of band.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from federation_api.audit import AuditReport, audit
from federation_api.audit_fetch import FetchError, fetch
from ledger.codec import decode_json
from ledger.errors import LedgerError
from ledger.registry import Genesis


def run_audit(args: argparse.Namespace) -> int:
    """The `alliance audit` command."""
    if (args.export is None) == (args.url is None):
        print("error: give an export directory or --url (one of them)", file=sys.stderr)
        return 2
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        print(f"error: --as-of must be a date (YYYY-MM-DD), got {args.as_of!r}", file=sys.stderr)
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
            if pinned is None and (root / "registry").exists():
                print("error: the node serves a registry: pin the Alliance's genesis with "
                      "--genesis FILE (the node's own genesis proves nothing)", file=sys.stderr)
                return 2
        else:
            root = Path(args.export)
            if not (root / "ledgers").is_dir():
                print(f"error: {root} is not an export directory (no ledgers/)",
                      file=sys.stderr)
                return 2
        bars = None
        if args.progress or sys.stderr.isatty():
            from federation_api.audit_progress import AuditBars

            bars = stack.enter_context(AuditBars(sys.stderr))
        report = audit(root, full_signatures=args.full_signatures, as_of=as_of,
                       progress=bars, require_witnessed=args.require_witnessed,
                       pinned_genesis=pinned, keys_from_node=args.url is not None)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _summary(report, as_of, full_signatures=args.full_signatures)
    return 0 if report.ok else 1


def _summary(report: AuditReport, as_of: dt.date | None, *, full_signatures: bool) -> None:
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
    print(f"genesis digest: {report.genesis_digest or 'none (no registry)'}")
    if report.witness_quorum:
        print(f"witness quorum set by the registry: {report.witness_quorum}")
    if full_signatures:
        print(f"{report.signatures_verified} entry signatures verified")
    label = f"as of {as_of}" if as_of else "replayed"
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
