"""The `alliance` command line: the parser of the whole command tree, and `main`.

Every command has --help; settings also come from ALLIANCE_* (CLI flags override them). The
commands themselves live in `node_commands` and, by topic, in `registry`, `proofs`,
`employers` and `audit`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from domain.policy import (
    AssociationPolicy,
    FirstCycleHours,
    ReinstatementRule,
    RenewalCycle,
    RevocationReapply,
)
from federation_api.accounts.tokens import Role
from federation_api.cli import backup as cli_backup
from federation_api.cli import credentials as cli_credentials
from federation_api.cli import employers as cli_employers
from federation_api.cli import keys as cli_keys
from federation_api.cli import lapses as cli_lapses
from federation_api.cli import migrate as cli_migrate
from federation_api.cli import proofs as cli_proofs
from federation_api.cli import registry as cli_registry
from federation_api.cli import staff as cli_staff
from federation_api.cli.node_commands import (
    cmd_audit,
    cmd_demo,
    cmd_export,
    cmd_init,
    cmd_keys_rotate,
    cmd_keys_show,
    cmd_ledger_recover,
    cmd_ledger_verify,
    cmd_nats_config,
    cmd_nats_mirrors,
    cmd_projections_digest,
    cmd_projections_rebuild,
    cmd_roster_export,
    cmd_serve,
    cmd_tokens_create,
    cmd_tokens_list,
    cmd_tokens_revoke,
)
from federation_api.node.setup import NodeError
from federation_api.settings import Settings
from federation_api.web.schemas import RosterStatus
from ledger.errors import LedgerError

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
    if getattr(args, "nats_nkey_seed", None):
        settings = replace(settings, nats_nkey_seed=Path(args.nats_nkey_seed))
    if getattr(args, "nats_ca", None):
        settings = replace(settings, nats_ca=Path(args.nats_ca))
    if getattr(args, "rate_limit", None):
        settings = replace(settings, rate_limits=replace(settings.rate_limits,
                                                         enabled=args.rate_limit == "on"))
    if getattr(args, "tls_cert", None):
        settings = replace(settings, tls_cert=Path(args.tls_cert))
    if getattr(args, "tls_key", None):
        settings = replace(settings, tls_key=Path(args.tls_key))
    if getattr(args, "trusted_proxies", None):
        proxies = tuple(p.strip() for p in args.trusted_proxies.split(",") if p.strip())
        settings = replace(settings, rate_limits=replace(settings.rate_limits,
                                                         trusted_proxies=proxies))
    return settings


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
    p.add_argument("--nats-nkey-seed", help="this node's NATS nkey seed file, mode 0600 "
                                            "(env ALLIANCE_NATS_NKEY_SEED)")
    p.add_argument("--nats-ca", help="the CA certificate the NATS server's certificate must "
                                     "chain to (env ALLIANCE_NATS_CA)")
    p.add_argument("--rate-limit", choices=("on", "off"),
                   help="per-client limits on the public paths (env ALLIANCE_RATE_LIMIT, "
                        "default on; ALLIANCE_RATE_LIMIT_* set the budgets)")
    p.add_argument("--trusted-proxies", metavar="ADDRESSES",
                   help="comma-separated proxy addresses or networks whose X-Forwarded-For "
                        "names the client, and whose forwarded scheme and host count "
                        "(env ALLIANCE_TRUSTED_PROXIES)")
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate "
                   "chain (env ALLIANCE_TLS_CERT; with --tls-key)")
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's PEM private key, mode "
                   "0600 or 0640 (env ALLIANCE_TLS_KEY)")

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
    cli_keys.add_commands(keys, common, add)

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
    cli_lapses.add_commands(sub, common, add)
    cli_staff.add_commands(sub, common, add)
    cli_backup.add_commands(sub, common, add)
    cli_migrate.add_commands(sub, common, add)
    cli_credentials.add_commands(sub, common, add)

    p = add(sub, "nats-config", cmd_nats_config, "generate hub and leaf nats-server configs")
    p.add_argument("--associations", required=True, help="comma-separated ids, e.g. AK,MI,TX")
    p.add_argument("--out", default="ops/nats/generated", help="directory to write")
    p.add_argument("--hub-hosts", default="hub-1.alliance.example,hub-2.alliance.example,"
                   "hub-3.alliance.example",
                   help="the three hub servers' host names, comma-separated (hub-1..hub-3)")
    p.add_argument("--hub-port", type=int, default=4222, help="hub client port")
    p.add_argument("--hub-leaf-port", type=int, default=7422, help="hub leafnode port")
    p.add_argument("--hub-cluster-port", type=int, default=6222, help="hub route port")
    p.add_argument("--listen-host", default="0.0.0.0",  # noqa: S104 - servers, not a node
                   help="interface every generated server listens on")
    p.add_argument("--store-root", default="/var/lib/nats", help="JetStream store directory root")
    p.add_argument("--config-dir", default="/etc/alliance/nats",
                   help="where the servers will find the configs, secrets/ and tls/")
    p.add_argument("--ca-cert", help="issue the certificates from this CA (PEM) instead of a "
                   "fresh one")
    p.add_argument("--ca-key", help="the key of --ca-cert (PEM, unencrypted EC key)")
    p = add(sub, "nats-mirrors", cmd_nats_mirrors, "create the hub mirrors (hub_admin)")
    p.add_argument("--hub-url", required=True, help="tls://hub-1.alliance.example:4222")
    p.add_argument("--nkey-seed", help="hub_admin's nkey seed file (secrets/hub_admin.nk)")
    p.add_argument("--ca", help="the Alliance NATS CA certificate (tls/ca.pem)")
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
