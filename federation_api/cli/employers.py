"""`alliance employers ...`: operators' view of webhook deliveries, across employers.

Employers see their own deliveries through the API; an operator answering "why did we not
get the suspension notice?" needs every employer's, and a way to give a delivery that used up
its attempts (a receiver down for a day) one more try. Never shows URLs or secrets.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec

from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.settings import Settings


def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    """List webhook deliveries (newest changes last) with their last attempt."""
    node = Node(settings)
    try:
        found = node.webhooks.deliveries(args.employer, state=args.state, after=args.after,
                                         limit=args.limit)
    finally:
        node.close()
    if args.json:
        print(json.dumps([msgspec.to_builtins(d) for d in found], indent=2))
        return 0
    for d in found:
        last = d.log[-1] if d.log else None
        outcome = "" if last is None else (
            f" last: {last.status_code if last.status_code is not None else '-'}"
            f"{' ' + last.error if last.error else ''} at {last.attempted_at}")
        print(f"{d.delivery_id} employer={d.employer} change={d.change_id} {d.state} "
              f"attempts={d.attempts}{outcome}")
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    """Give a failed delivery one more attempt (the running node sends it shortly)."""
    node = Node(settings)
    try:
        done = node.webhooks.retry(args.delivery_id, int(now().timestamp() * 1000))
    finally:
        node.close()
    if not done:
        print(f"alliance: error: no failed delivery {args.delivery_id}")
        return 1
    print(f"{args.delivery_id} is pending again")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `employers ...` under the main parser."""
    employers = sub.add_parser("employers", help="employer notifications (webhooks)"
                               ).add_subparsers(dest="employers_command", required=True)
    p = add(employers, "deliveries", cmd_deliveries, "list webhook deliveries and attempts")
    p.add_argument("--state", choices=["pending", "delivered", "failed"])
    p.add_argument("--employer", help="an employer token's id (see `alliance tokens list`)")
    p.add_argument("--after", type=int, default=0, help="only changes after this change id")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true", help="JSON, with every attempt")
    p = add(employers, "retry", cmd_retry, "send a failed delivery once more")
    p.add_argument("delivery_id")
