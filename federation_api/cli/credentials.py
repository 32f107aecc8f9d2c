"""`alliance verify-credential FILE [--as-of DATE] [--url NODE] [--genesis FILE]`: prove a
credential and the status its issuer's ledger shows for it on a date.

It fetches the issuer's DID document from the host its did:web names, the recorded versions of
the credential's status lists with the signed ledger entry of each (from the origin, or from
any Alliance node with `--url`, which holds the replicated ledger: a node showing a list its
peers' replicas do not record is caught that way), and the list version that stood on the
date; each version must be under a checkpoint of the issuer's ledger that the trust
registry's witness quorum cosigned (`ledger.proofs.list_history`), unless
`--unwitnessed` says to take the signed entries alone; `ledger.credentials.verify` judges
the rest. No node is opened; nothing but those GETs leaves the machine.

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
from federation_api.web.urls import GENESIS_PATH
from ledger.codec import decode_json
from ledger.credentials.verify import CredentialState, load_document, verify_credential
from ledger.errors import CredentialError
from ledger.proofs.list_history import WitnessedHead
from ledger.trust.registry import Genesis

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
    p.add_argument("--genesis", metavar="FILE",
                   help="the Alliance genesis.json you trust (every node serves it at "
                        f"{GENESIS_PATH}); the registry the node serves must start from it. "
                        "Without it that registry is taken as served, and the report says so")
    p.add_argument("--unwitnessed", action="store_true",
                   help="accept list versions proven by their signed ledger entries alone, "
                        "under no witnessed checkpoint (a node outside an Alliance has no "
                        "witnesses); the report says so")
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
    pinned = (decode_json(Path(args.genesis).read_bytes(), Genesis) if args.genesis else None)
    with http_fetch(TIMEOUT_SECONDS) as fetch:
        try:
            evidence = gather(credential, fetch, at, args.url, pinned_genesis=pinned,
                              witnessed=not args.unwitnessed)
            proven = verify_credential(credential, evidence, at)
        except CredentialError as e:
            _report(args, {"ok": False, "as_of": at.isoformat(), "refused": str(e)},
                    f"refused: {e}")
            return 1
    statuses = [{"purpose": s.purpose.value, "list": s.list_url, "version": s.list_version,
                 "set": s.is_set, "witnessed": _witnessed(evidence.witnessed.get(s.list_url))}
                for s in proven.statuses]
    report = {"ok": proven.state is CredentialState.ACTIVE, "as_of": at.isoformat(),
              "credential": proven.credential_id, "issuer": proven.issuer,
              "association": proven.association, "key": proven.verification_method,
              "state": proven.state.value, "statuses": statuses}
    lines = [f"credential {proven.credential_id}",
             f"issuer {proven.issuer} (association {proven.association})",
             f"signed with {proven.verification_method}",
             *(f"{s['purpose']} list {s['list']}: version {s['version']} stood on "
               f"{at.isoformat()}, bit {'set' if s['set'] else 'clear'}"
               for s in statuses),
             *(_witness_line(evidence.witnessed.get(s.list_url)) for s in proven.statuses[:1]),
             f"{proven.state.value} as of {at.isoformat()}"]
    if proven.state is not CredentialState.ACTIVE:
        lines.append(f"refused: the issuer's status lists say {proven.state.value}")
    _report(args, report, "\n".join(lines))
    return 0 if proven.state is CredentialState.ACTIVE else 1


def _witnessed(head: WitnessedHead | None) -> dict[str, Any] | None:
    if head is None:
        return None
    return {"checkpoint_size": head.size, "witnesses": list(head.witnesses),
            "quorum": head.quorum, "genesis": head.genesis_digest,
            "genesis_pinned": head.pinned}


def _witness_line(head: WitnessedHead | None) -> str:
    """How the versions were proven: under which checkpoint, from which trust root."""
    if head is None:
        return ("NOT witnessed (--unwitnessed): the versions are proven by their signed "
                "ledger entries alone, under no checkpoint the witnesses cosigned")
    root = ("the genesis you pinned" if head.pinned else
            "the registry as the node served it, NOT pinned (use --genesis)")
    return (f"under the checkpoint of {head.association}'s ledger of size {head.size}, "
            f"cosigned by {', '.join(head.witnesses)} (quorum {head.quorum}); trust root: "
            f"{root}, genesis {head.genesis_digest[:16]}")


def _report(args: argparse.Namespace, report: dict[str, Any], text: str) -> None:
    print(json.dumps(report, indent=2) if args.json else text)
