"""The composition root of one association node: stores, writer, projections, service.

Like cosmicpython's bootstrap, this is where the node is wired: every other module receives
what it needs; only this one decides which store, key and table each part gets. Where the
files live and how a data directory is made is `federation_api.node.setup`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.secret_box import SecretBox
from federation_api.accounts.sessions import SessionPolicy
from federation_api.accounts.tokens import TokenStore
from federation_api.clock import now
from federation_api.credentials.identity import IssuerIdentity
from federation_api.credentials.issuer import CredentialIssuer
from federation_api.credentials.list_watch import ListWatch
from federation_api.credentials.list_watch_pass import ListWatchPass
from federation_api.credentials.publisher import StatusListPublisher
from federation_api.credentials.served_lists import ServedLists
from federation_api.documents.service import Documents
from federation_api.fees.payments import Payments
from federation_api.fees.provider import provider_from
from federation_api.fees.store import FeeStore
from federation_api.mail.outbox import Outbox
from federation_api.mail.sender import OutboxSender
from federation_api.migrations.runner import prepare_for_node
from federation_api.node.idempotency import IdempotencyStore
from federation_api.node.mail_relay import outbox_sender
from federation_api.node.own_ledger import OwnLedger
from federation_api.node.reciprocity import ProjectedReplica, TransferReactor
from federation_api.node.restore_mark import RESTORE_RECOVERY, RestoreMarkFile, still_waiting
from federation_api.node.setup import NodeConfig, NodeError, NodePaths
from federation_api.node.signing_key import node_signer
from federation_api.notifications.change_feed import ChangeFeed
from federation_api.notifications.notifier import Notifier
from federation_api.notifications.subscriptions import SubscriptionStore
from federation_api.notifications.webhooks import WebhookStore
from federation_api.people.store import PeopleStore
from federation_api.ratings.requests import RatingRequests
from federation_api.ratings.store import RatingStore
from federation_api.settings import Settings
from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import verify_chain
from ledger.chain.own_length import LengthRecord, PeerCheck, SealGate, Source
from ledger.chain.store import LedgerStore
from ledger.chain.writer import LedgerWriter
from ledger.codec import decode_json
from ledger.errors import ChainBroken, KeyFileError, LedgerBehind
from ledger.ingest import Ingestor, Recovery
from ledger.service import AssociationService
from ledger.storage.database import Database
from ledger.storage.event_store import PrivateEventStore
from ledger.transparency.log import LedgerLog
from ledger.transparency.witness import Witness
from ledger.trust.keyring import Keyring
from ledger.trust.registry import RegistryState
from ledger.trust.registry_files import RegistryDir
from projections.projector import Projector


class Node:
    """A running association node: everything the API and the CLI act on.

    With `await_peers` (`alliance serve` with NATS) the node seals nothing, not even events a
    crash left unsealed, until the replicator has asked its peers and the hub for its own
    ledger beyond its head (`finish_peer_check`): a node that lost entries, or was restored
    from a backup, must first get back what others hold (DESIGN invariant 8). A node restored
    by `alliance restore` carries a durable mark (`restore_mark.py`) and seals nothing, with
    NATS or without, until every source asked has answered and it holds what they hold."""

    def __init__(self, settings: Settings, *, await_peers: bool = False) -> None:
        paths = NodePaths(settings.data_dir)
        if not paths.config.exists():
            raise NodeError(f"no node in {settings.data_dir}: run `alliance init` first")
        self.settings = settings
        self.paths = paths
        self.config = decode_json(paths.config.read_bytes(), NodeConfig)
        self.association = self.config.association
        self.signer = node_signer(settings, paths.signing_key)  # key file or PKCS#11 token
        # With an Alliance registry, it alone says which key may sign for whom and when;
        # a node that has none yet (single-node use) trusts its own key history.
        self.registry_dir = RegistryDir(paths.registry)
        self.registry: RegistryState | None = (
            self.registry_dir.state() if self.registry_dir.exists() else None)
        self.keyring = (self.registry.keyring if self.registry is not None
                        else Keyring.load(paths.keyring))
        current = self.keyring.current(self.association)
        if current is None or current.key_id != self.signer.key_id:
            raise KeyFileError("the signing key is not the association's current key in the "
                               "keyring or registry")
        url = paths.database_url(settings)
        self.database_url = url
        # Migrations own the tables: SQLite files migrate themselves, a PostgreSQL schema
        # behind this release stops the node here, naming `alliance migrate`.
        prepare_for_node(url)
        self.ledger = LedgerStore(Database(url.with_file("ledger.sqlite"), migrated=True))
        self.events = PrivateEventStore(env=url.eventsourcing_env(create_table=False))
        # Closed while the own ledger is shorter than a record of it: the writer seals
        # nothing and no checkpoint is signed until its entries are back.
        self.gate = SealGate()
        self.log = LedgerLog(self.ledger, self.ledger.db, registry=lambda: self.registry,
                             gate=self.gate)
        self.ingestor = Ingestor(self.ledger, self.ledger.db, self.keyring,
                                 own_association=self.association, log=self.log)
        # This node witnesses every peer's checkpoints with its own ledger key.
        self.witness = Witness(self.log, self.ledger.db, own=self.association,
                               signer=self.signer, registry=lambda: self.registry)
        self.projector = Projector(Database(url.with_file("projections.sqlite"), migrated=True),
                                   strict_associations=frozenset({self.association}))
        node_db = Database(url.with_file("node.sqlite"), migrated=True)
        self._databases = (self.ledger.db, self.projector.db, node_db)
        self.tokens = TokenStore(node_db)
        self.idempotency = IdempotencyStore(node_db)
        # Staff accounts (issue 11) share the node database with the tokens and the mail
        # outbox, so an account change, its email and its audit entry commit together.
        self.outbox = Outbox(node_db)
        self.accounts = Accounts.open(
            node_db, association=self.association, association_name=self.config.name,
            public_url=settings.public_url or f"http://{_host(settings.host)}:{settings.port}",
            outbox=self.outbox, box=SecretBox.load_or_create(paths.root / "keys" /
                                                             "accounts.key"),
            tokens=self.tokens,
            session_policy=SessionPolicy(
                idle=dt.timedelta(minutes=settings.session_idle_minutes),
                absolute=dt.timedelta(hours=max(settings.session_hours,
                                                settings.session_idle_minutes / 60))))
        # Started and stopped by the app's lifespan (`alliance serve`); None without a relay.
        self.mail_sender: OutboxSender | None = outbox_sender(settings, self.outbox)
        # Employer notifications: subscriptions, webhooks, and the notifier that
        # follows the projected ledgers; the app's WebhookDispatcher runs it and delivers.
        self.subscriptions = SubscriptionStore(node_db)
        self.webhooks = WebhookStore(node_db)
        # Person records (issue 11): private, in the node database with the audit log and the
        # outbox, so a record's change and who made it commit together.
        self.people = PeopleStore(node_db)
        self.documents = Documents.on_disk(node_db, paths.root / "documents",
                                           max_bytes=settings.document_max_bytes)
        # Reference ratings (issue 12): requests, drafts, ratings and waivers, private, in
        # the node database with the outbox, so a request and its email commit together.
        self.ratings = RatingRequests(
            RatingStore(node_db), outbox=self.outbox, association_name=self.config.name,
            public_url=settings.public_url or f"http://{_host(settings.host)}:{settings.port}")
        # Fees and payments (issue 12): private node tables, never on the ledger.
        self.fees = FeeStore(node_db)
        self.payments = Payments(self.fees, provider_from(settings))
        self.changes = ChangeFeed(node_db)
        self.notifier = Notifier(node_db, self.projector, self.ledger)
        self.writer = LedgerWriter(association=self.association, recorder=self.events.recorder,
                                   mapper=self.events.mapper, store=self.ledger,
                                   signer=self.signer,
                                   commitments=CommitmentKey.load(paths.commitment_key),
                                   gate=self.gate)
        self._project_lock = threading.RLock()  # reacting commits, and committing projects
        # Portable credentials: issued in the transaction of the command that earns them, by a
        # node that has a public URL (its did:web must name a host verifiers can reach).
        self.issuer_identity = (IssuerIdentity.of(
            association=self.association, name=self.config.name,
            public_url=settings.public_url) if settings.public_url else None)
        self.credential_issuer = (CredentialIssuer(identity=self.issuer_identity,
                                                   signer=self.signer, events=self.events)
                                  if self.issuer_identity is not None else None)
        self.service = AssociationService(association=self.association, events=self.events,
                                          writer=self.writer, lookup=self.projector,
                                          policy=self.config.policy,
                                          on_committed=self._committed,
                                          companions=self.credential_issuer)
        self.served_lists = ServedLists(node_db)
        self.status_lists = (StatusListPublisher(issuer=self.credential_issuer,
                                                 service=self.service, reader=self.projector,
                                                 served=self.served_lists, clock=now)
                             if self.credential_issuer is not None else None)
        self.commit_listeners: list[Callable[[], None]] = (
            [self.status_lists.wake] if self.status_lists is not None else [])
        # Peers' lists as their origins serve them, against the replicated ledgers.
        self.list_watch = ListWatch(node_db, self.projector, lambda: self.keyring)
        # ... run by the replicator's anti-entropy pass for every peer with status lists.
        self.list_watch_pass = ListWatchPass(self, self.peers)
        # Called after peer entries are projected (e.g. the webhook dispatcher's wake).
        self.ingest_listeners: list[Callable[[], None]] = []
        self.replica = ProjectedReplica(self.projector, self.ledger)
        self.reactor = TransferReactor(self.association, self.ledger, self.service)
        self.own_ledger = OwnLedger(association=self.association, store=self.ledger,
                                    log=self.log, writer=self.writer, ingestor=self.ingestor,
                                    projector=self.projector, gate=self.gate)
        if await_peers:
            self.gate.hold(self.association, self.own_ledger.head(),
                           "not yet compared with what its peers and the hub hold")
        self.restore_mark = RestoreMarkFile(paths.root)
        self.restored = self.restore_mark.load()
        self.writer.set_unbacked(self.restore_mark.unbacked_ranges())
        if self.restored is not None:
            head = self.own_ledger.head()
            self.gate.hold(self.association, head,
                           str(still_waiting(None, head, with_nats=await_peers)),
                           recovery=RESTORE_RECOVERY)
        # Recover whatever a crash left half-done: seal stored events, then project them;
        # unless the ledger lost entries, when sealing would fork it.
        self.own_ledger.check()
        if self.gate.reason is None:
            self.writer.catch_up()
        self.project()

    def _committed(self) -> None:
        self.project()
        for listener in self.commit_listeners:
            listener()

    def after_ingest(self) -> None:
        """Peer entries arrived: project them, then react (record transfers out)."""
        self.project()
        with self._project_lock:
            self.reactor.react(now())
        for listener in self.ingest_listeners:
            listener()

    def project(self) -> int:
        """Bring the projections up to the ledger."""
        with self._project_lock:
            projected: int = self.projector.catch_up(self.ledger)
            return projected

    def peers(self) -> list[str]:
        """Every association the registry admitted (their history stays readable after they
        withdraw); without a registry, only this one."""
        if self.registry is None:
            return [self.association]
        return [a.association for a in self.registry.associations]

    def forked_associations(self) -> dict[str, int]:
        """Associations flagged for a fork, unresolved: conflicting entries (replica ingest),
        conflicting checkpoints (witnessing) or a signed status list their ledger does not
        record (the list watch), with how many pieces of evidence each."""
        forked = dict(self.ingestor.forked())
        for association, count in self.witness.forked().items():
            forked[association] = forked.get(association, 0) + count
        for association, count in self.list_watch.forked().items():
            forked[association] = forked.get(association, 0) + count
        return forked

    def verify_ledger(self, association: str | None = None) -> int:
        """Verify every signature and link of a ledger; raises at the first bad entry. The
        own ledger must also give the root of every checkpoint the node signed, and be at
        least as long as every record of it (LedgerBehind names the missing seqs)."""
        association = association or self.association
        count = verify_chain(self.ledger.wires(association), self.keyring)
        if association == self.association:
            changed = self.log.signed_root_mismatch(association)
            if changed is not None:
                raise ChainBroken(changed, association=association)
            behind = self.own_ledger.behind(thorough=True)
            if behind is not None:
                raise behind
        return count

    def recover_own(self, wires: list[bytes], *, origin: Source, where: str) -> Recovery:
        """Store this node's own entries fetched back from a peer, a stream or an export
        (each verifies itself), then seal what was waiting if the ledger is whole again."""
        result = self.own_ledger.recover(wires, origin=origin, where=where, now=now())
        self._resume_if_open()
        return result

    def finish_peer_check(self, remote: list[LengthRecord], check: PeerCheck | None = None
                          ) -> LedgerBehind | None:
        """The replicator asked peers and the hub (those reachable): judge with what they
        hold, end the start-up hold (a restored node's only once `check` shows it caught
        up), and seal what was waiting if the ledger is whole."""
        self.own_ledger.note_remote(remote)
        if self.restored is None:
            self.gate.release()
        behind = self.own_ledger.check()
        if self.restored is not None:  # the hold stays until the mark is cleared, never lapses
            self._judge_restore(check, behind)
        self._resume_if_open()
        return behind

    def _judge_restore(self, check: PeerCheck | None, behind: LedgerBehind | None) -> None:
        head = self.own_ledger.head()
        waiting = (still_waiting(check, head) if behind is None else
                   f"restored from a backup and still behind: {behind}")
        if waiting is not None:
            self.gate.hold(self.association, head, waiting, recovery=RESTORE_RECOVERY)
            return
        assert check is not None and self.restored is not None  # else still waiting
        asked = ", ".join(r.where for r in check.answered) or "no source"
        self.restore_mark.clear(self.restored, how="caught up", head=head,
                                detail=f"every source asked answered ({asked})",
                                unbacked=self.writer.unbacked_range(), now=now())
        self.restored = None
        self.writer.set_unbacked(self.restore_mark.unbacked_ranges())
        self.gate.release()

    def _resume_if_open(self) -> None:
        if self.gate.reason is None and self.writer.catch_up():
            self._committed()  # publish and notify what was sealed
        else:
            self.project()

    def close(self) -> None:
        """Release database connections."""
        if self.status_lists is not None:
            self.status_lists.stop()
        self.events.close()
        for db in self._databases:
            db.close()


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
