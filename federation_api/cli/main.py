"""The `alliance` command line. Every command has --help; settings also come from ALLIANCE_*."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import msgspec

from domain.policy import (
    AssociationPolicy,
    FirstCycleHours,
    ReinstatementRule,
    RenewalCycle,
    RevocationReapply,
)
from federation_api.cli import employers as cli_employers
from federation_api.cli import proofs as cli_proofs
from federation_api.cli import registry as cli_registry
from federation_api.clock import now, today
from federation_api.node.root import Node, NodeError, init_node, rotate_key
from federation_api.node.tokens import Role
from federation_api.replication.replicator import Replicator
from federation_api.settings import Settings
from federation_api.web.routes.public import GENESIS_PATH
from federation_api.web.schemas import RosterStatus
from ledger.chain.own_length import Source
from ledger.errors import LedgerBehind, LedgerError, VerificationError

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=Path(args.data_dir))
    if getattr(args, "database_url", None):
        settings = replace(settings, database_url=args.database_url)
    if getattr(args, "listen", None):
        settings = settings.with_listen(args.listen)
    for flag in ("nats_url", "nats_domain", "hub_domain"):
        if getattr(args, flag, None):
            settings = replace(settings, **{flag: getattr(args, flag)})
    if getattr(args, "rate_limit", None):
        settings = replace(settings, rate_limits=replace(settings.rate_limits,
                                                         enabled=args.rate_limit == "on"))
    if getattr(args, "trusted_proxies", None):
        proxies = tuple(p.strip() for p in args.trusted_proxies.split(",") if p.strip())
        settings = replace(settings, rate_limits=replace(settings.rate_limits,
                                                         trusted_proxies=proxies))
    return settings


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

    from federation_api.web.app import create_app
    from federation_api.web.observability import configure_logging

    configure_logging()
    # With NATS, nothing is sealed before the peers and the hub were asked for this node's
    # own entries beyond its head (a node that lost entries gets them back first).
    node = Node(settings, await_peers=bool(settings.nats_url))
    behind = node.own_ledger.behind()
    if behind is not None:
        print(f"WARNING: {behind}\n  {behind.recovery}", file=sys.stderr, flush=True)
    app = create_app(node, replicator_for(node, settings))
    base = f"http://{url_host(settings.host)}:{settings.port}"
    digest = node.registry_dir.genesis().digest().hex() if node.registry_dir.exists() else None
    print_urls(node.association, base, genesis_digest=digest)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any loopback
    # peer; which proxies are trusted is ALLIANCE_TRUSTED_PROXIES's decision (rate_limits.py).
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                access_log=False, proxy_headers=False)
    node.close()
    return 0


def replicator_for(node: Node, settings: Settings) -> Replicator | None:
    """Replication when a NATS URL is configured (and a registry names the peers)."""
    if not settings.nats_url:
        return None
    return Replicator(node, settings.nats_url, peers=node.peers,
                      local_domain=settings.nats_domain, hub_domain=settings.hub_domain)


def url_host(host: str) -> str:
    """A listen host as it goes into a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def print_urls(association: str, base: str, *, example: tuple[str, str] | None = None,
               today: dt.date | None = None, genesis_digest: str | None = None) -> None:
    """Print every URL a node serves, in full. With `example` (an endorsement id and last
    name, and the date `today`) the per-endorsement URLs are filled in and work as printed;
    without one they are templates, and a line says which <PLACEHOLDERS> to replace."""
    if example is not None:
        query = urlencode({"endorsement_id": example[0], "last_name": example[1]})
        on = (today or dt.date.today()).isoformat()
    else:
        query, on = "endorsement_id=<ENDORSEMENT-ID>&last_name=<LAST-NAME>", "<YYYY-MM-DD>"
    print(f"node {association} serving at {base}/", flush=True)
    if example is None:
        print("  (URL templates: replace <ENDORSEMENT-ID>, <LAST-NAME> and <YYYY-MM-DD>)")
    lines = [("verification page", "/"), ("verification result", f"/verify?by=id&{query}"),
             ("coordinator roster", "/staff/login"), ("API docs (OpenAPI)", "/docs"),
             ("OpenAPI document", "/openapi.json"), ("public verification", f"/v1/verify?{query}"),
             ("status on a date", f"/v1/status?{query}&on={on}"),
             ("status proof (staff)", f"/v1/proofs/status?{query}&as_of={on}"),
             ("signed receipt", f"/v1/receipts?{query}"),
             ("printable receipt", f"/receipts/view?{query}")]
    if genesis_digest is not None:
        lines.append(("Alliance genesis", f"{GENESIS_PATH} (digest {genesis_digest}: compare "
                                          f"it with the one the Alliance publishes)"))
    lines += [("employer change feed", "/v1/changes?cursor=0 (employer token)"),
              ("health", "/healthz"), ("readiness", "/readyz"), ("metrics", "/metrics")]
    for label, path in lines:
        print(f"  {label:22} {base}{path}", flush=True)


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
    from federation_api.audit.run import exported_ledger

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
    """Generate hub and leaf configs (with fresh passwords) for a list of associations."""
    from federation_api.replication import nats_config

    associations = tuple(a.strip().upper() for a in args.associations.split(",") if a.strip())
    topology = nats_config.Topology(associations=associations, hub_host=args.hub_host,
                                    hub_port=args.hub_port, hub_leaf_port=args.hub_leaf_port,
                                    store_root=Path(args.store_root))
    for path in nats_config.write(Path(args.out), topology,
                                  nats_config.new_credentials(associations)):
        print(f"wrote {path} (mode 0600)")
    print("next: start the hub, run `alliance nats-mirrors` with the hub_admin password from "
          "credentials.json, start each leaf, then each node with --nats-url "
          "nats://node:<password>@<leaf>:4222 --nats-domain <id> --hub-domain hub")
    return 0


def cmd_nats_mirrors(args: argparse.Namespace, _: Settings) -> int:
    """Create the hub mirror of every association's stream (Alliance ops, user hub_admin)."""
    import asyncio

    from federation_api.replication.nats_mirrors import ensure_mirrors

    associations = [a.strip().upper() for a in args.associations.split(",") if a.strip()]
    created = asyncio.run(ensure_mirrors(args.hub_url, associations))
    print(f"created {', '.join(created) or 'nothing (all mirrors exist)'}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write an export directory for auditors."""
    from federation_api.audit.run import export

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


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="node data directory (env ALLIANCE_DATA_DIR)")
    common.add_argument("--database-url", help="sqlite:///file or postgresql://...?schema=... "
                                               "(env ALLIANCE_DATABASE_URL)")
    parser = argparse.ArgumentParser(prog="alliance", description="Alliance endorsement "
                                     "ledger node")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
            handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    p = add(sub, "init", cmd_init, "create a node: keys, policy, stores")
    p.add_argument("--association", required=True, help="association id, e.g. AK")
    p.add_argument("--name", required=True, help="association name")
    p.add_argument("--renewal-cycle", choices=[c.value for c in RenewalCycle],
                   default=RenewalCycle.FIXED_DATE.value)
    p.add_argument("--renewal-date", default="12-31", help="MM-DD for fixed-date cycles")
    p.add_argument("--grace-days", type=int, default=60)
    p.add_argument("--reinstatement", choices=[r.value for r in ReinstatementRule],
                   default=ReinstatementRule.CATCH_UP_HOURS.value)
    default = AssociationPolicy()
    p.add_argument("--first-cycle-months", type=int, default=default.first_cycle_min_months,
                   help="shortest first cycle after a grant, in months (0-24)")
    p.add_argument("--first-cycle-hours-from", choices=[h.value for h in FirstCycleHours],
                   default=default.first_cycle_hours_from.value,
                   help="from when hours count toward the first renewal")
    p.add_argument("--first-cycle-lookback-days", type=int,
                   default=default.first_cycle_lookback_days,
                   help="days before the grant, with --first-cycle-hours-from lookback")
    p.add_argument("--reapply-after-revocation", choices=[r.value for r in RevocationReapply],
                   default=default.reapply_after_revocation.value,
                   help="whether a person whose endorsement was revoked may be endorsed again")
    p.add_argument("--reapply-after-years", type=int, default=default.reapply_after_years,
                   help="years after a revocation, with --reapply-after-revocation after_years")

    p = add(sub, "serve", cmd_serve, "serve the HTTP API (and replicate, given --nats-url)")
    p.add_argument("--listen", help="host:port (env ALLIANCE_LISTEN), default 127.0.0.1:8080")
    p.add_argument("--nats-url", help="this node's nats-server (env ALLIANCE_NATS_URL)")
    p.add_argument("--nats-domain", help="JetStream domain of this node's server "
                                         "(env ALLIANCE_NATS_DOMAIN)")
    p.add_argument("--hub-domain", help="JetStream domain of the Alliance hub "
                                        "(env ALLIANCE_HUB_DOMAIN)")
    p.add_argument("--rate-limit", choices=("on", "off"),
                   help="per-client limits on the public paths (env ALLIANCE_RATE_LIMIT, "
                        "default on; ALLIANCE_RATE_LIMIT_* set the budgets)")
    p.add_argument("--trusted-proxies", metavar="ADDRESSES",
                   help="comma-separated proxy addresses or networks whose X-Forwarded-For "
                        "names the client (env ALLIANCE_TRUSTED_PROXIES)")

    # Not `add`: the demo takes no --database-url (its nodes keep SQLite files), and its
    # --data-dir means something else than a node's.
    demo = "three federated demo nodes (AK, MI, TX), seeded, served"
    p = sub.add_parser("demo", help=demo, description=demo)
    p.set_defaults(handler=cmd_demo)
    p.add_argument("--listen", help="host:port of the first node (AK; MI and TX take the next "
                                    "two ports), default 127.0.0.1:8080; port 0: any free ports")
    p.add_argument("--data-dir", help="keep the demo's data in this new or empty directory and "
                                      "leave it there on exit (default: a temporary directory, "
                                      "removed on exit)")

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_command",
                                                                      required=True)
    add(keys, "show", cmd_keys_show, "show the keyring")
    add(keys, "rotate", cmd_keys_rotate, "rotate the signing key")

    tokens = sub.add_parser("tokens", help="staff API tokens").add_subparsers(
        dest="tokens_command", required=True)
    p = add(tokens, "create", cmd_tokens_create, "issue a token (printed once)")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--label", required=True, help="who holds it")
    add(tokens, "list", cmd_tokens_list, "list tokens")
    p = add(tokens, "revoke", cmd_tokens_revoke, "revoke a token")
    p.add_argument("token_id")

    ledger = sub.add_parser("ledger", help="the signed ledger").add_subparsers(
        dest="ledger_command", required=True)
    p = add(ledger, "verify", cmd_ledger_verify, "verify signatures and the hash chain (and "
            "the own ledger's length against its checkpoints, tracking and stores)")
    p.add_argument("--association", help="which ledger (default: this node's)")
    p = add(ledger, "recover", cmd_ledger_recover, "get this node's lost entries back from "
            "`alliance export` directories of peers (they verify themselves)")
    p.add_argument("--from", dest="sources", action="append", required=True, metavar="DIR",
                   help="an export directory holding this association's ledger (repeatable)")

    projections = sub.add_parser("projections", help="read models").add_subparsers(
        dest="projections_command", required=True)
    add(projections, "rebuild", cmd_projections_rebuild, "rebuild from the ledger")
    p = add(projections, "digest", cmd_projections_digest, "hash of the projections' content")
    p.add_argument("--tables", action="store_true", help="also one digest per table")

    cli_registry.add_commands(sub, common, add)
    cli_proofs.add_commands(sub, common, add)
    cli_employers.add_commands(sub, common, add)

    p = add(sub, "nats-config", cmd_nats_config, "generate hub and leaf nats-server configs")
    p.add_argument("--associations", required=True, help="comma-separated ids, e.g. AK,MI,TX")
    p.add_argument("--out", default="ops/nats/generated", help="directory to write")
    p.add_argument("--hub-host", default="127.0.0.1", help="where leafs reach the hub")
    p.add_argument("--hub-port", type=int, default=4222)
    p.add_argument("--hub-leaf-port", type=int, default=7422)
    p.add_argument("--store-root", default="/var/lib/nats", help="JetStream store directory root")
    p = add(sub, "nats-mirrors", cmd_nats_mirrors, "create the hub mirrors (hub_admin)")
    p.add_argument("--hub-url", required=True, help="nats://hub_admin:PASSWORD@hub:4222")
    p.add_argument("--associations", required=True, help="comma-separated ids")

    p = add(sub, "export", cmd_export, "write an export directory for auditors")
    p.add_argument("--out", required=True, help="directory to create")
    p = add(sub, "audit", cmd_audit, "audit an export directory or a node (exit 1 on any "
            "finding)")
    p.add_argument("export", nargs="?", help="export directory (or --url)")
    p.add_argument("--url", help="audit a node over its auditor API (http://host:port)")
    p.add_argument("--token-file", help="file holding an auditor token (with --url)")
    p.add_argument("--genesis", help="the Alliance's genesis.json (every node serves it at "
                   "/v1/alliance/genesis.json; compare its digest with the one the Alliance "
                   "publishes): the audited registry must start from it. Without it the audit "
                   "fails (exit 2 with --url, the finding 'genesis: not pinned' otherwise)")
    p.add_argument("--trust-bundled-registry", action="store_true",
                   help="without --genesis, accept the registry (or keyring) that the export "
                        "or node brings; the report warns that the result then holds only "
                        "against keys its maker chose")
    p.add_argument("--progress", action="store_true",
                   help="progress bars on stderr even when it is not a terminal")
    p.add_argument("--require-witnessed", action="store_true",
                   help="a checkpoint below the registry's witness quorum is a finding "
                        "(default: a warning)")
    p.add_argument("--full-signatures", action="store_true",
                   help="re-verify every entry signature, on all cores")
    p.add_argument("--recorded-through", metavar="DATE",
                   help="replay only the entries recorded by the end of DATE (UTC, the "
                        "ledger's recorded-at time): the ledgers as they stood then")
    p.add_argument("--effective-on", metavar="DATE",
                   help="report each endorsement's standing on DATE by its own effective "
                        "dates (grant, renewal, lapse ...), as /v1/status?on=DATE answers")
    p.add_argument("--as-of", help=argparse.SUPPRESS)  # refused, naming the two above
    p.add_argument("--json", action="store_true", help="JSON report")

    roster = sub.add_parser("roster", help="rosters").add_subparsers(dest="roster_command",
                                                                    required=True)
    p = add(roster, "export", cmd_roster_export, "export the roster")
    p.add_argument("--format", choices=["json", "csv"], default="csv")
    p.add_argument("--status", choices=[s.value for s in RosterStatus],
                   help="only endorsements with this standing today (current, expired) or "
                        "recorded status (active = current and expired, lapsed ...)")
    p.add_argument("--association", help="default: this node's")
    p.add_argument("--output", help="file to write (default stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `alliance`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        result: int = args.handler(args, settings)
        return result
    except (LedgerError, NodeError, ValueError, OSError) as e:
        print(f"alliance: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
