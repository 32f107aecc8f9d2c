"""`alliance registry ...`: create the trust registry, propose entries, collect signatures.

Governance signatures are collected one key holder at a time: one person writes a proposal
file, each holder runs `registry sign` with their own key on their own machine, and anyone
runs `registry append` once the proposal carries a quorum (append verifies it).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from federation_api.clock import now
from federation_api.settings import Settings
from ledger.signing import Signer, key_id_of
from ledger.trust.registry import Action, Genesis, propose
from ledger.trust.registry_files import RegistryDir, read_proposal, write_proposal


def read_public_key(path: Path) -> bytes:
    """A public key file as written next to a private key (hex), or 32 raw bytes."""
    data = path.read_bytes()
    try:
        key = bytes.fromhex(data.decode().strip())
    except (UnicodeDecodeError, ValueError):
        key = data
    if len(key) != 32:
        raise ValueError(f"{path.name} does not hold a 32-byte Ed25519 public key")
    return key


def _when(value: str | None) -> dt.datetime:
    if not value:
        return now()
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def cmd_keygen(args: argparse.Namespace, settings: Settings) -> int:
    """Generate a governance key pair (private file 0600, public beside it)."""
    signer = Signer.generate()
    signer.save(Path(args.out), settings.passphrase())
    print(f"governance key {signer.key_id} written to {args.out} (public: "
          f"{Path(args.out).with_suffix('.pub')})")
    return 0


def cmd_init(args: argparse.Namespace, _: Settings) -> int:
    """Create a registry from governance public keys and a quorum."""
    keys = tuple(read_public_key(Path(p)) for p in args.governance_key)
    genesis = Genesis(alliance=args.alliance, governance_keys=keys, threshold=args.threshold,
                      created_at=now(), witness_quorum=args.witness_quorum)
    RegistryDir(Path(args.dir)).create(genesis)
    print(f"registry created in {args.dir}: {len(keys)} governance keys, quorum "
          f"{args.threshold}, genesis {genesis.digest().hex()}")
    return 0


def _propose(args: argparse.Namespace, action: Action, **fields: Any) -> int:
    state = RegistryDir(Path(args.dir)).state()
    body = state.next_body(action, issued_at=now(), association=args.association,
                           effective_at=_when(getattr(args, "effective_at", None)), **fields)
    write_proposal(Path(args.out), propose(body))
    print(f"proposal for registry entry {body.seq} ({action.value} {args.association}) "
          f"written to {args.out}; it needs {state.threshold} governance signatures")
    return 0


def cmd_admit(args: argparse.Namespace, _: Settings) -> int:
    """Propose admitting an association with its first signing key."""
    return _propose(args, Action.ADMIT, name=args.name,
                    public_key=read_public_key(Path(args.public_key_file)))


def cmd_rotate_key(args: argparse.Namespace, _: Settings) -> int:
    """Propose a new key; the current one stops being valid at --effective-at."""
    return _propose(args, Action.ADD_KEY, public_key=read_public_key(Path(args.public_key_file)))


def cmd_revoke_key(args: argparse.Namespace, _: Settings) -> int:
    """Propose revoking a key from --effective-at on (may lie in the past: compromise)."""
    return _propose(args, Action.REVOKE_KEY, key_id=args.key_id)


def cmd_suspend(args: argparse.Namespace, _: Settings) -> int:
    """Propose suspending an association (all its keys close)."""
    return _propose(args, Action.SUSPEND, note=args.note or "")


def cmd_withdraw(args: argparse.Namespace, _: Settings) -> int:
    """Propose recording an association's withdrawal; its history stays verifiable."""
    return _propose(args, Action.WITHDRAW, note=args.note or "")


def cmd_witness_quorum(args: argparse.Namespace, _: Settings) -> int:
    """Propose the number of distinct witnesses a checkpoint needs (0: the default rule)."""
    if args.quorum < 0:
        raise ValueError("--quorum must be 0 (default rule) or a positive count")
    state = RegistryDir(Path(args.dir)).state()
    body = state.next_body(Action.WITNESS_QUORUM, issued_at=now(), threshold=args.quorum,
                           note=args.note or "")
    write_proposal(Path(args.out), propose(body))
    print(f"proposal for registry entry {body.seq} (witness quorum {args.quorum or 'default'})"
          f" written to {args.out}; it needs {state.threshold} governance signatures")
    return 0


def cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    """Add this governance key's signature to a proposal file."""
    proposal = read_proposal(Path(args.proposal))
    signed = proposal.with_signature(Signer.load(Path(args.key), settings.passphrase()))
    write_proposal(Path(args.proposal), signed)
    print(f"{args.proposal}: {len(signed.signatures)} signature(s)")
    return 0


def cmd_append(args: argparse.Namespace, _: Settings) -> int:
    """Verify a signed proposal against the registry and append it."""
    state = RegistryDir(Path(args.dir)).append(read_proposal(Path(args.proposal)))
    print(f"registry now at entry {state.seq}, head {state.head_hash.hex()}")
    return 0


def cmd_show(args: argparse.Namespace, _: Settings) -> int:
    """Verify the registry from genesis and print associations and keys."""
    state = RegistryDir(Path(args.dir)).state()
    print(f"{state.genesis.alliance}: {state.seq} entries, quorum {state.threshold} of "
          f"{len(state.governance_keys)} governance keys "
          f"({', '.join(key_id_of(k)[:12] for k in state.governance_keys)})")
    rule = "set" if state.configured_witness_quorum else "default: a majority of the peers"
    print(f"witness quorum: {state.witness_quorum} distinct witnesses per checkpoint ({rule})")
    for record in state.associations:
        print(f"{record.association:8} {record.state.value:10} since {record.since.isoformat()}"
              f"  {record.name}")
        for key in state.keyring.keys:
            if key.association == record.association:
                until = key.valid_until.isoformat() if key.valid_until else "(open)"
                print(f"         key {key.key_id[:16]} {key.valid_from.isoformat()} .. {until}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `registry ...` under the main parser."""
    registry = sub.add_parser("registry", help="the Alliance trust registry").add_subparsers(
        dest="registry_command", required=True)
    p = add(registry, "keygen", cmd_keygen, "generate a governance key pair")
    p.add_argument("--out", required=True, help="private key file to create")
    p = add(registry, "init", cmd_init, "create a registry (genesis)")
    p.add_argument("--dir", required=True)
    p.add_argument("--alliance", default="Alliance for the Advancement of Infant Mental Health")
    p.add_argument("--governance-key", action="append", required=True,
                   help="a governance public key file (repeat)")
    p.add_argument("--threshold", type=int, required=True, help="signatures needed (k of n)")
    p.add_argument("--witness-quorum", type=int, default=0,
                   help="cosignatures a checkpoint needs (default 0: a majority of the "
                        "origin's peers)")
    for name, handler, help_ in (
            ("admit", cmd_admit, "propose admitting an association"),
            ("rotate-key", cmd_rotate_key, "propose a new key for an association"),
            ("revoke-key", cmd_revoke_key, "propose revoking a key"),
            ("suspend", cmd_suspend, "propose suspending an association"),
            ("withdraw", cmd_withdraw, "propose recording an association's withdrawal")):
        p = add(registry, name, handler, help_)
        p.add_argument("--dir", required=True)
        p.add_argument("--association", required=True)
        p.add_argument("--out", required=True, help="proposal file to write")
        p.add_argument("--effective-at", help="ISO time (default now)")
        if name == "admit":
            p.add_argument("--name", required=True)
        if name in ("admit", "rotate-key"):
            p.add_argument("--public-key-file", required=True)
        if name == "revoke-key":
            p.add_argument("--key-id", required=True)
        if name in ("suspend", "withdraw"):
            p.add_argument("--note")
    p = add(registry, "witness-quorum", cmd_witness_quorum,
            "propose how many distinct witnesses must cosign a checkpoint")
    p.add_argument("--dir", required=True)
    p.add_argument("--quorum", type=int, required=True,
                   help="distinct witnesses (never the origin); 0 restores the default rule")
    p.add_argument("--out", required=True, help="proposal file to write")
    p.add_argument("--note")
    p = add(registry, "sign", cmd_sign, "sign a proposal with a governance key")
    p.add_argument("--proposal", required=True)
    p.add_argument("--key", required=True, help="governance private key file")
    p = add(registry, "append", cmd_append, "append a signed proposal to the registry")
    p.add_argument("--dir", required=True)
    p.add_argument("--proposal", required=True)
    p = add(registry, "show", cmd_show, "verify and show the registry")
    p.add_argument("--dir", required=True)
