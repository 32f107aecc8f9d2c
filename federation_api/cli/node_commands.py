"""The `alliance` commands that act on a node or its data directory, one function each.

Each takes the parsed arguments and the node's settings and returns the exit code; the parser
that maps commands to them is `federation_api.cli.main`. Heavy imports (the web app, uvicorn,
the demo, the audit) are made inside the command that needs them, so `alliance --help` and the
small commands start fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

from domain.policy import (
    AssociationPolicy,
    FirstCycleHours,
    ReinstatementRule,
    RenewalCycle,
    RevocationReapply,
)
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.node.setup import init_node, rotate_key
from federation_api.replication.replicator import Replicator
from federation_api.settings import Settings
from federation_api.web.schemas import RosterStatus
from federation_api.web.urls import print_urls, url_host
from ledger.chain.own_length import Source
from ledger.errors import LedgerBehind, VerificationError


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create a node's data directory with its keys and policy."""
    month, _, day = args.renewal_date.partition("-")
    policy = AssociationPolicy(cycle=RenewalCycle(args.renewal_cycle), fixed_month=int(month),
                               fixed_day=int(day), grace_days=args.grace_days,
                               reinstatement=ReinstatementRule(args.reinstatement),
                               first_cycle_min_months=args.first_cycle_months,
                               first_cycle_hours_from=FirstCycleHours(args.first_cycle_hours_from),
                               first_cycle_lookback_days=args.first_cycle_lookback_days,
                               reapply_after_revocation=RevocationReapply(
                                   args.reapply_after_revocation),
                               reapply_after_years=args.reapply_after_years)
    config = init_node(settings, association=args.association, name=args.name, policy=policy,
                       now=now())
    node = Node(settings)
    print(f"initialised node {config.association} ({config.name}) in {settings.data_dir}")
    print(f"signing key id: {node.signer.key_id}")
    node.close()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the HTTP API until interrupted."""
    import uvicorn

    from federation_api.web import heap
    from federation_api.web.app import create_app
    from federation_api.web.observability import configure_logging
    from federation_api.web.tls import TlsFiles

    configure_logging()
    tls = TlsFiles.checked(settings.tls_cert, settings.tls_key)  # before anything starts
    # With NATS, nothing is sealed before the peers and the hub were asked for this node's
    # own entries beyond its head (a node that lost entries gets them back first).
    node = Node(settings, await_peers=bool(settings.nats_url))
    behind = node.own_ledger.behind()
    if behind is None and node.restored is not None:
        behind = node.gate.reason  # restored from a backup, not yet caught up
    if behind is not None:
        print(f"WARNING: {behind}\n  {behind.recovery}", file=sys.stderr, flush=True)
    app = create_app(node, replicator_for(node, settings), tls=tls)
    base = f"{'https' if tls else 'http'}://{url_host(settings.host)}:{settings.port}"
    digest = node.registry_dir.genesis().digest().hex() if node.registry_dir.exists() else None
    if settings.public_url:
        # Behind a proxy the URLs users follow are the public ones; the listen address is
        # printed too, for checks from the machine itself.
        print(f"listening at {base}/", flush=True)
        base = settings.public_url.rstrip("/")
    print_urls(node.association, base, genesis_digest=digest)
    if node.mail_sender is None:
        print("  mail: no ALLIANCE_SMTP_URL; invitation and reset emails wait in the outbox "
              "until a relay is set", flush=True)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-* from any loopback peer;
    # which proxies are trusted is ALLIANCE_TRUSTED_PROXIES's decision (web/origin.py for the
    # scheme and host, web/rate_limits.py for the client).
    heap.settle()  # what is loaded now lives as long as the process: out of the collector's way
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                access_log=False, proxy_headers=False,
                ssl_certfile=str(tls.cert) if tls else None,
                ssl_keyfile=str(tls.key) if tls else None)
    node.close()
    return 0


def replicator_for(node: Node, settings: Settings) -> Replicator | None:
    """Replication when a NATS URL is configured (and a registry names the peers)."""
    if not settings.nats_url:
        return None
    from federation_api.replication.nats_connection import NatsConnection

    connection = NatsConnection(settings.nats_url, nkey_seed=settings.nats_nkey_seed,
                                ca_file=settings.nats_ca)
    return Replicator(node, connection, peers=node.peers,
                      local_domain=settings.nats_domain, hub_domain=settings.hub_domain)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Three federated nodes over an embedded nats-server, seeded, until Ctrl-C."""
    from federation_api.demo.run import run_demo

    # Only the flag names the demo's directory: ALLIANCE_DATA_DIR names a real node's.
    return run_demo(settings, Path(args.data_dir) if args.data_dir else None)


def cmd_keys_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print the keyring (public keys and validity windows)."""
    node = Node(settings)
    for key in node.keyring.keys:
        until = key.valid_until.isoformat() if key.valid_until else "(current)"
        print(f"{key.association} {key.key_id} from {key.valid_from.isoformat()} until {until}")
    node.close()
    return 0


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Replace the signing key; entries signed before stay verifiable."""
    if settings.signing_key and settings.signing_key != "file":
        print("alliance: error: the signing key is in a token (ALLIANCE_SIGNING_KEY): rotate "
              "with `alliance keys token rotate --uri pkcs11:...`", file=sys.stderr)
        return 2
    record = rotate_key(settings, now=now())
    print(f"new signing key {record.key_id} valid from {record.valid_from.isoformat()}")
    return 0


def cmd_tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    """Issue a staff token; it is printed once and stored only as a hash."""
    node = Node(settings)
    token_id, token = node.tokens.issue(label=args.label, role=Role(args.role), now=now())
    print(f"token id {token_id} role {args.role} for {args.label}", file=sys.stderr)
    print(token)
    node.close()
    return 0


def cmd_tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    """List tokens (ids, labels and roles; never secrets)."""
    node = Node(settings)
    for token_id, label, role, created, revoked in node.tokens.list():
        state = f"revoked {revoked}" if revoked else "active"
        print(f"{token_id} {role:12} {label} created {created} {state}")
    node.close()
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a token by id."""
    node = Node(settings)
    ok = node.tokens.revoke(args.token_id, now=now())
    node.close()
    if not ok:
        print(f"no active token {args.token_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.token_id}")
    return 0


def cmd_ledger_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Verify every signature and hash link, and the own ledger's length against every
    record of it; name the first bad entry or the missing seqs."""
    node = Node(settings)
    association = args.association or node.association
    try:
        count = node.verify_ledger(association)
    except VerificationError as e:
        _failed(e)
        return 1
    finally:
        node.close()
    checked = (", signed checkpoints and every record of its length"
               if association == node.association else "")
    print(f"ledger {association}: {count} entries verified (signatures and chain{checked})")
    return 0


def _failed(e: VerificationError) -> None:
    print(f"FAILED: {e}", file=sys.stderr)
    if isinstance(e, LedgerBehind):
        print(f"  {e.recovery}", file=sys.stderr)


def cmd_ledger_recover(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch this node's own entries back from export directories (of any peer, or of this
    node): each verifies itself under the node's key windows and must continue its ledger."""
    from federation_api.audit.export import exported_ledger

    node = Node(settings)
    try:
        before = node.own_ledger.head()
        for directory in args.sources:
            wires = exported_ledger(Path(directory), node.association)
            result = node.recover_own(wires, origin=Source.EXPORT, where=directory)
            print(f"{directory}: {len(wires)} entries of {node.association}, {result.stored} "
                  f"stored, {result.duplicates} already held")
            for reason in result.refused:
                print(f"  refused: {reason}", file=sys.stderr)
        head = node.own_ledger.head()
        behind = node.own_ledger.behind(thorough=True)
    finally:
        node.close()
    if behind is not None:
        _failed(behind)
        return 1
    print(f"ledger {node.association}: seq {before} -> {head}; the ledger is at least as long "
          f"as every record of it, so the node may seal again")
    return 0


def cmd_projections_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild every projection from the ledger; print the digest."""
    node = Node(settings)
    node.projector.rebuild(node.ledger)
    print(node.projector.digest())
    node.close()
    return 0


def cmd_projections_digest(args: argparse.Namespace, settings: Settings) -> int:
    """Print a hash of every projection's content (per table with --tables)."""
    node = Node(settings)
    if args.tables:
        for table, digest in sorted(node.projector.table_digests().items()):
            print(f"{table} {digest}")
    print(node.projector.digest())
    node.close()
    return 0


def cmd_roster_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the roster as JSON or CSV to a file or stdout."""
    from federation_api.web.csv_files import roster_csv
    from federation_api.web.rosters import select_roster

    node = Node(settings)
    status = RosterStatus(args.status) if args.status else None
    found = select_roster(node.projector, args.association or node.association, status, today())
    node.close()
    rows = [msgspec.to_builtins(r) for r in found]
    text = json.dumps(rows, indent=2) + "\n" if args.format == "json" else roster_csv(found)
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {len(rows)} rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_nats_config(args: argparse.Namespace, _: Settings) -> int:
    """Generate the hub and leaf configs, fresh nkey seeds and TLS certificates."""
    from federation_api.replication import nats_config
    from federation_api.replication.nats_keys import UserSeeds
    from federation_api.replication.nats_tls import CertificateAuthority

    associations = tuple(a.strip().upper() for a in args.associations.split(",") if a.strip())
    hosts = tuple(h.strip() for h in args.hub_hosts.split(",") if h.strip())
    try:
        topology = nats_config.Topology(
            associations=associations, listen_host=args.listen_host,
            hub=nats_config.hub_servers(hosts, client_port=args.hub_port,
                                        leaf_port=args.hub_leaf_port,
                                        cluster_port=args.hub_cluster_port),
            store_root=Path(args.store_root), config_dir=Path(args.config_dir))
        if bool(args.ca_cert) != bool(args.ca_key):
            raise ValueError("--ca-cert and --ca-key go together")
        ca = (CertificateAuthority.load(Path(args.ca_cert), Path(args.ca_key)) if args.ca_cert
              else CertificateAuthority.new())
    except (ValueError, OSError) as e:
        print(f"nats-config: {e}", file=sys.stderr)
        return 2
    written = nats_config.write(Path(args.out), topology, UserSeeds.new(associations), ca,
                                write_ca_key=not args.ca_cert)
    for path in written:
        print(f"wrote {path}" + (" (mode 0600)" if path.stat().st_mode & 0o077 == 0 else ""))
    print(f"next: copy the directory to {topology.config_dir} on each server (each server "
          f"needs only its own config, key and seed), start hub-1..3, run `alliance "
          f"nats-mirrors`, start each leaf, then each node with --nats-url "
          f"tls://127.0.0.1:4222 --nats-nkey-seed {topology.config_dir}/secrets/node-<id>.nk "
          f"--nats-ca {topology.config_dir}/tls/ca.pem --nats-domain <id> --hub-domain hub")
    return 0


def cmd_nats_mirrors(args: argparse.Namespace, _: Settings) -> int:
    """Create the hub mirror of every association's stream (Alliance ops, user hub_admin)."""
    import asyncio

    from federation_api.replication.nats_mirrors import ensure_mirrors

    associations = [a.strip().upper() for a in args.associations.split(",") if a.strip()]
    from federation_api.replication.nats_connection import NatsConnection

    hub_admin = NatsConnection(args.hub_url, nkey_seed=Path(args.nkey_seed) if args.nkey_seed
                               else None, ca_file=Path(args.ca) if args.ca else None)
    try:
        hub_admin.check()
    except ValueError as e:
        print(f"nats-mirrors: {e}", file=sys.stderr)
        return 2
    created = asyncio.run(ensure_mirrors(hub_admin, associations))
    print(f"created {', '.join(created) or 'nothing (all mirrors exist)'}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write an export directory for auditors."""
    from federation_api.audit.export import export

    node = Node(settings)
    try:
        files = export(node, Path(args.out))
    except VerificationError as e:
        _failed(e)
        return 1
    finally:
        node.close()
    print(f"exported {len(files)} files to {args.out}")
    return 0


def cmd_audit(args: argparse.Namespace, _: Settings) -> int:
    """Audit an export directory or a node; exit 1 on any finding."""
    from federation_api.cli.audit import run_audit

    return run_audit(args)
