"""`alliance staff add|list|disable|reset-password|remove-totp`: staff accounts from the
server's shell (the audit log names the actor `cli`).

Passwords are never taken as arguments (they would stay in the shell history and in `ps`):
`--password-stdin` reads one line from standard input; without it `add` and
`reset-password` print a one-time link to hand to the person instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from federation_api.accounts.errors import AccountError
from federation_api.accounts.roles import STAFF_ROLES, needs_second_factor
from federation_api.accounts.shell import ShellAdmin
from federation_api.accounts.store import Account
from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.settings import Settings


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _failed(error: AccountError) -> int:
    print(f"alliance: error: {error.message}", file=sys.stderr)
    return 2


def _state(account: Account) -> str:
    if account.disabled:
        return "disabled"
    if not account.has_password:
        return "invited"
    return "locked" if account.locked(now()) else "active"


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    """Create a staff account (the first coordinator of a node comes from here)."""
    node = Node(settings)
    try:
        added = node.accounts.invitations.staff_add(
            email=args.email, display_name=args.name, roles=args.role, now=now(),
            password=_password(args))
    except AccountError as e:
        return _failed(e)
    finally:
        node.close()
    account = added.account
    print(f"added {account.email} ({', '.join(sorted(account.roles))}), id {account.account_id}")
    if added.link is not None and added.link_expires_at is not None:
        print(f"set-password link (works once, until {added.link_expires_at:%Y-%m-%d %H:%M} "
              f"UTC):\n  {added.link}")
    if account.has_password:
        print("sign in at /staff/login" + ("; an authenticator app is set up at the first "
                                          "sign-in" if needs_second_factor(account.roles)
                                          else ""))
    return 0


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    """List staff accounts (never a password or secret)."""
    node = Node(settings)
    try:
        accounts = [a for a in node.accounts.store.all() if a.is_staff]
    finally:
        node.close()
    for a in accounts:
        print(f"{a.account_id}\t{a.email}\t{a.display_name}\t{','.join(sorted(a.roles))}\t"
              f"{_state(a)}\t{'totp' if a.second_factor else 'no-totp'}")
    return 0


def cmd_staff_disable(args: argparse.Namespace, settings: Settings) -> int:
    """Disable an account (its sessions end at once)."""
    node = Node(settings)
    try:
        account = ShellAdmin(node.accounts).disable(args.account, now=now())
    except AccountError as e:
        return _failed(e)
    finally:
        node.close()
    print(f"disabled {account.email}")
    return 0


def cmd_staff_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    """Set a new password from standard input, or print a one-time reset link."""
    node = Node(settings)
    try:
        link = ShellAdmin(node.accounts).reset_password(args.account, now=now(),
                                                         password=_password(args))
    except AccountError as e:
        return _failed(e)
    finally:
        node.close()
    print(f"password reset link (works once, for an hour):\n  {link}" if link
          else "password set; every session of the account ended")
    return 0


def cmd_staff_remove_totp(args: argparse.Namespace, settings: Settings) -> int:
    """Remove a lost authenticator app (set up again at the next sign-in)."""
    node = Node(settings)
    try:
        account = ShellAdmin(node.accounts).remove_second_factor(args.account, now=now())
    except AccountError as e:
        return _failed(e)
    finally:
        node.close()
    print(f"removed the authenticator of {account.email}; it is set up again at the next "
          f"sign-in")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `staff ...` under the main parser."""
    staff = sub.add_parser("staff", help="staff accounts of the workspace").add_subparsers(
        dest="staff_command", required=True)
    p = add(staff, "add", cmd_staff_add, "create a staff account (prints a set-password link "
            "unless --password-stdin)")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True, help="the person's name as shown on the pages")
    p.add_argument("--role", action="append", required=True,
                   choices=sorted(r.value for r in STAFF_ROLES),
                   help="a role (repeat for several)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    add(staff, "list", cmd_staff_list, "list staff accounts")
    p = add(staff, "disable", cmd_staff_disable, "disable an account; its sessions end")
    p.add_argument("account", help="email address or account id")
    p = add(staff, "reset-password", cmd_staff_reset_password,
            "print a one-time password reset link (or set one with --password-stdin)")
    p.add_argument("account", help="email address or account id")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the new password from the first line of standard input")
    p = add(staff, "remove-totp", cmd_staff_remove_totp,
            "remove a lost authenticator app; it is set up again at the next sign-in")
    p.add_argument("account", help="email address or account id")
