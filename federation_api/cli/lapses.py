"""`alliance lapses record`: the association's daily lapse run, for a timer (ops/systemd/).

It asks the running node (`POST /v1/lapses`, a coordinator token) rather than opening the
node's stores itself: the served node is the ledger's single writer, and its publisher sends
what it seals to the peers. The request carries `Idempotency-Key: daily-lapses-<date>`, so a
timer that fires twice, or a run retried after a lost answer, records the day's lapses once.
The node notes each successful run (`alliance_lapse_run_last_success_timestamp_seconds`); an
alert fires when a day passes without one (ops/prometheus/alerts.yml).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ssl
import stat
import sys
from pathlib import Path
from typing import Any

import httpx

from federation_api.clock import today
from federation_api.settings import Settings
from federation_api.web.urls import url_host

TIMEOUT_SECONDS = 120.0  # a day's lapses are one transaction; a large roster takes a while


def read_token(path: Path) -> str:
    """A bearer token from a file only the job's user can read (like a key file)."""
    try:
        mode = path.stat().st_mode
        token = path.read_text().strip()
    except OSError as e:
        raise ValueError(f"cannot read the token file {path.name}: {e.strerror}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"token file {path.name} must not be readable by group or others "
                         f"(chmod 600)")
    if not token:
        raise ValueError(f"token file {path.name} is empty")
    return token


def cmd_lapses_record(args: argparse.Namespace, settings: Settings) -> int:
    """Record every lapse due on the date (default today) through the running node."""
    on = dt.date.fromisoformat(args.on) if args.on else today()
    token = read_token(Path(args.token_file))
    url = (args.url or settings.public_url
           or f"{'https' if settings.tls_cert else 'http'}://{url_host(settings.host)}:"
              f"{settings.port}").rstrip("/")
    verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=args.ca_file)
                                     if args.ca_file else True)
    try:
        answer = httpx.post(f"{url}/v1/lapses", json={"on": on.isoformat()},
                            headers={"Authorization": f"Bearer {token}",
                                     "Idempotency-Key": f"daily-lapses-{on.isoformat()}"},
                            timeout=TIMEOUT_SECONDS, verify=verify)
    except httpx.HTTPError as e:
        print(f"alliance: error: the node at {url} did not answer: {type(e).__name__}",
              file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"alliance: error: {url}/v1/lapses answered {answer.status_code}: "
              f"{_message(answer)}", file=sys.stderr)
        return 1
    lapsed: list[dict[str, Any]] = answer.json()
    replayed = answer.headers.get("Idempotent-Replayed") == "true"
    print(f"lapses due on {on.isoformat()}: {len(lapsed)} recorded"
          f"{' (already recorded by an earlier run today)' if replayed else ''}")
    for endorsement in lapsed:
        print(f"  {endorsement.get('endorsement_id')}")
    if (reminders := answer.headers.get("Reminders-Queued")) is not None:
        print(f"reminders queued: {reminders} (each is queued once, however often this runs)")
    return 0


def _message(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("message", answer.text[:200]))
    except ValueError:
        return answer.text[:200]


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `lapses record` under the main parser."""
    lapses = sub.add_parser("lapses", help="the daily lapse run").add_subparsers(
        dest="lapses_command", required=True)
    p = add(lapses, "record", cmd_lapses_record,
            "record every lapse due today through the running node (POST /v1/lapses)")
    p.add_argument("--token-file", required=True,
                   help="file holding a coordinator token (0600)")
    p.add_argument("--url", help="the node (default ALLIANCE_PUBLIC_URL, else the listen "
                                 "address, https with ALLIANCE_TLS_CERT)")
    p.add_argument("--on", metavar="YYYY-MM-DD", help="the day (default today, UTC)")
    p.add_argument("--ca-file", help="CA certificate to trust for an https node")
