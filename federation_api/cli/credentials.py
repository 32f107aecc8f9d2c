"""`alliance verify-credential FILE [--as-of DATE] [--url NODE]`: prove a credential and the
status its issuer's ledger shows for it on a date.

It fetches the issuer's DID document from the host its did:web names, the recorded versions of
the credential's status lists with the signed ledger entry of each (from the origin, or from
any Alliance node with `--url`, which holds the replicated ledger: a node showing a list its
peers' replicas do not record is caught that way), and the list version that stood on the
date; `ledger.credentials.verify` judges it all. No node is opened; nothing but those GETs
leaves the machine.

Exit 0: proven, and active on that date. Exit 1: refused, with the reason (unprovable, or the
issuer's lists say suspended or revoked). Exit 2: the file cannot be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from federation_api.clock import now
from federation_api.credentials.evidence import gather
from federation_api.credentials.http_fetch import http_fetch
from federation_api.settings import Settings
from ledger.credentials.verify import CredentialState, load_document, verify_credential
from ledger.errors import CredentialError

TIMEOUT_SECONDS = 20.0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Add `verify-credential` to the `alliance` parser."""
    p = add(sub, "verify-credential", cmd_verify_credential,
            "prove an Open Badges credential and its status on a date from its issuer's DID "
            "document, status lists and ledger; exit 0 if active, 1 if refused or not active")
    p.add_argument("file", help="the credential (JSON, as downloaded)")
    p.add_argument("--as-of", metavar="DATE",
                   help="a date (YYYY-MM-DD: the end of that day, UTC) or an ISO time with "
                        "offset; default now")
    p.add_argument("--url", metavar="NODE",
                   help="an Alliance node to read the issuer's ledger from (default: the "
                        "issuer's own node)")
    p.add_argument("--json", action="store_true", help="a JSON report on stdout")


def as_of_time(text: str | None, current: dt.datetime) -> dt.datetime:
    """The time a `--as-of` names (the end of a day, capped at now)."""
    if not text:
        return current
    if "T" not in text:
        day = dt.date.fromisoformat(text)
        end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
        return min(end, current)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("--as-of needs a time zone offset (e.g. 2026-03-01T12:00:00Z)")
    return moment


def cmd_verify_credential(args: argparse.Namespace, settings: Settings) -> int:
    """Prove the credential; print what was proven, or the reason it was refused."""
    current = now()
    at = as_of_time(args.as_of, current)
    credential = load_document(Path(args.file).read_bytes())
    with http_fetch(TIMEOUT_SECONDS) as fetch:
        try:
            proven = verify_credential(credential, gather(credential, fetch, at, args.url), at)
        except CredentialError as e:
            _report(args, {"ok": False, "as_of": at.isoformat(), "refused": str(e)},
                    f"refused: {e}")
            return 1
    statuses = [{"purpose": s.purpose.value, "list": s.list_url, "version": s.list_version,
                 "set": s.is_set} for s in proven.statuses]
    report = {"ok": proven.state is CredentialState.ACTIVE, "as_of": at.isoformat(),
              "credential": proven.credential_id, "issuer": proven.issuer,
              "association": proven.association, "key": proven.verification_method,
              "state": proven.state.value, "statuses": statuses}
    lines = [f"credential {proven.credential_id}",
             f"issuer {proven.issuer} (association {proven.association})",
             f"signed with {proven.verification_method}",
             *(f"{s['purpose']} list {s['list']}: version {s['version']} stood on "
               f"{at.isoformat()}, bit {'set' if s['set'] else 'clear'}" for s in statuses),
             f"{proven.state.value} as of {at.isoformat()}"]
    if proven.state is not CredentialState.ACTIVE:
        lines.append(f"refused: the issuer's status lists say {proven.state.value}")
    _report(args, report, "\n".join(lines))
    return 0 if proven.state is CredentialState.ACTIVE else 1


def _report(args: argparse.Namespace, report: dict[str, Any], text: str) -> None:
    print(json.dumps(report, indent=2) if args.json else text)
