"""A generated Alliance history for the audit benchmark: an export directory, cached on disk.

`alliance export` writes what an auditor reads: the registry, each ledger's wire bytes, each
ledger's signed checkpoint, the node's projection digest. This builds the same directory for
an Alliance of N associations without running N nodes: the registry is founded and signed by a
governance key (as `local_alliance` does), each association's ledger is built from real domain
events (imported endorsements, renewals, lapses, applications started and withdrawn) through
the real codec, commitments and Ed25519 signer, one association per process on every core;
each checkpoint is signed by its association and cosigned by a quorum of the others under
their ledger keys (`alliance-witness/<ID>`), and the digest comes from a projector fed the wire
bytes (the node's path, not the audit's).

Generation is slow (a signature per entry) and not what the benchmark measures, so the
directory is kept under the system temp directory, keyed by the parameters, and reused.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.workload import FAMILY, GIVEN, LEVELS
from domain.application import Application
from domain.endorsement import Endorsement
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.local_alliance import admit
from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import entry_hash
from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    SignedEntry,
    decode_canonical,
    encode,
    encode_body,
    encode_signed,
    event_type_of,
    public_and_private,
    schema_version,
)
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from ledger.transparency.checkpoints import Checkpoint, add_cosignature
from ledger.transparency.cosigners import origin_of, witness_name
from ledger.transparency.merkle import MerkleTree, leaf_hash
from ledger.transparency.notes import sign_note
from ledger.trust.registry import Action, Genesis
from ledger.trust.registry_files import RegistryDir
from projections.projector import REBUILD_BATCH, Projector

GENERATOR_VERSION = 1  # bump when the generated history changes, to invalidate caches
STATES = ("AK", "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IA", "ID", "IL", "IN", "KS", "KY",
          "MA", "MD", "ME", "MI", "MN", "MO", "NC", "NE", "NJ", "NM", "NY", "OH", "OK", "OR",
          "PA", "TX", "UT", "VA", "WA", "WI", "WV", "WY")
FOUNDED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_EPOCH = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
COSIGNED_AT = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp())


def cache_dir(entries: int, associations: int) -> Path:
    """Where the history for these parameters is kept between runs."""
    return (Path(tempfile.gettempdir()) / "alliance-audit-bench"
            / f"v{GENERATOR_VERSION}-e{entries}-a{associations}")


def history(entries: int, associations: int, *, workers: int | None = None,
            log: Any = print) -> Path:
    """The export directory of a generated history (built once, then reused)."""
    if not 1 <= associations <= len(STATES):
        raise ValueError(f"associations must be in 1..{len(STATES)}")
    if entries < associations:
        raise ValueError("at least one entry per association")
    root = cache_dir(entries, associations)
    if (root / "complete").exists():
        return root / "export"
    if root.exists():
        shutil.rmtree(root)  # a run interrupted while generating
    root.mkdir(parents=True)
    log(f"generating {entries:,} entries over {associations} associations in {root} "
        f"(once; reused by later runs)")
    _generate(root, entries, STATES[:associations], workers or os.cpu_count() or 1, log)
    (root / "complete").write_text("ok\n")
    return root / "export"


def _generate(root: Path, entries: int, ids: Sequence[str], workers: int, log: Any) -> None:
    export = root / "export"
    keys = root / "keys"
    keys.mkdir()
    signers = {a: Signer.generate() for a in ids}
    for association, signer in signers.items():
        signer.save(keys / f"{association}.key")
    governance = Signer.generate()
    registry = RegistryDir(export / "registry")
    registry.create(Genesis(alliance="bench", governance_keys=(governance.public_key,),
                            threshold=1, created_at=FOUNDED))
    for association, signer in signers.items():
        admit(registry, governance, Action.ADMIT, issued_at=FOUNDED, association=association,
              name=f"{association} infant mental health association",
              public_key=signer.public_key, effective_at=FOUNDED)
    quorum = registry.state().witness_quorum
    (export / "ledgers").mkdir()
    (export / "checkpoints").mkdir()
    counts = [entries // len(ids) + (1 if i < entries % len(ids) else 0)
              for i in range(len(ids))]
    jobs = [(a, n, keys / f"{a}.key", export / "ledgers" / f"{a}.bin")
            for a, n in zip(ids, counts, strict=True)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, (association, size, root_hash) in enumerate(pool.map(_ledger, jobs), 1):
            note = sign_note(Checkpoint(origin=origin_of(association), size=size,
                                        root_hash=root_hash).body(),
                             origin_of(association), signers[association])
            peers = [w for w in ids if w != association]
            for offset in range(min(quorum, len(peers))):
                witness = peers[(ids.index(association) + offset) % len(peers)]
                note = add_cosignature(note, witness_name(witness), signers[witness],
                                       COSIGNED_AT)
            (export / "checkpoints" / f"{association}.note").write_bytes(note)
            log(f"  {association}: {size:,} entries signed ({done}/{len(ids)})")
    log("  projecting the node's digest")
    (export / "digest.txt").write_text(node_digest(export, root / "node-projections.sqlite")
                                       + "\n")


def node_digest(export: Path, database: Path) -> str:
    """The digest a node holding these ledgers would have: wire bytes through
    `Projector.apply_wires`, one ledger at a time."""
    projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{database}")))
    try:
        with projector.bulk():
            for path in sorted((export / "ledgers").glob("*.bin")):
                wires = decode_canonical(path.read_bytes(), list[bytes])
                projector.apply_wires(wires, batch_size=REBUILD_BATCH)
        return projector.digest()
    finally:
        projector.db.close()
        database.unlink(missing_ok=True)


# -- one association's ledger (runs in a worker process) ---------------------------------------


def _ledger(job: tuple[str, int, Path, Path]) -> tuple[str, int, bytes]:
    association, count, key_path, out = job
    signer = Signer.load(key_path)
    commitments = CommitmentKey.generate()
    tree = MerkleTree()
    wires: list[bytes] = []
    prev_hash = GENESIS_HASH
    for seq, event in enumerate(domain_events(association, count), start=1):
        aggregate_id = str(event.originator_id)
        version = int(event.originator_version)
        public, private = public_and_private(event)
        body = EntryBody(
            association=association, seq=seq, prev_hash=prev_hash, recorded_at=event.timestamp,
            event_type=event_type_of(type(event)), schema_version=schema_version(type(event)),
            aggregate_id=aggregate_id, aggregate_version=version, payload=public,
            commitment=(commitments.commit(aggregate_id, version, private)
                        if private is not None else b""),
            key_id=signer.key_id)
        body_bytes = encode_body(body)
        prev_hash = entry_hash(body_bytes)
        wire = encode_signed(SignedEntry(body=body_bytes, signature=signer.sign(body_bytes)))
        wires.append(wire)
        tree.append(leaf_hash(wire))
    out.write_bytes(encode(wires))
    return association, len(wires), tree.root()


def domain_events(association: str, count: int) -> list[Any]:
    """`count` events of one association in time order: endorsements imported from paper,
    then renewals (four in five) and lapses (one in five), and applications that were started
    and withdrawn (one per eight people)."""
    policy = AssociationPolicy()
    people = count // 2 + 1
    timed: list[Any] = []
    for i in range(people):
        level, designation = LEVELS[i % len(LEVELS)]
        endorsement = Endorsement.record_existing(
            endorsement_id=new_endorsement_id(association, f"bench:{association}:{i}"),
            association=association, person_id=f"{association}-P-{i:07d}",
            family_name=FAMILY[i % 10], given_name=GIVEN[(i // 10) % 10], level=level,
            designation=designation, granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
            valid_through=dt.date(2025, 12, 31), legacy_reference=f"paper-{i:07d}",
            now=_EPOCH + dt.timedelta(seconds=i))
        if i % 5 == 4:
            endorsement.lapse(on=dt.date(2026, 6, 30), policy=policy,
                              now=_EPOCH + dt.timedelta(days=540, seconds=i))
        else:
            endorsement.renew(_renewal_evidence(association, i), renewed_on=dt.date(2025, 12, 1),
                              policy=policy, now=_EPOCH + dt.timedelta(days=320, seconds=i))
        timed.extend(endorsement.collect_events())
        if i % 8 == 0:
            application = Application.start(
                application_id=uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{association}:app:{i}"),
                association=association, person_id=f"{association}-A-{i:07d}",
                family_name=FAMILY[(i + 3) % 10], given_name=GIVEN[(i + 7) % 10],
                level=Level.IFS, designation=None, started_on=dt.date(2026, 2, 1),
                now=_EPOCH + dt.timedelta(days=400, seconds=i))
            application.withdraw(withdrawn_on=dt.date(2026, 3, 1), reason="moved away",
                                 now=_EPOCH + dt.timedelta(days=430, seconds=i))
            timed.extend(application.collect_events())
        if len(timed) >= 3 * count:
            break
    timed.sort(key=lambda e: e.timestamp)
    events = timed[:count]
    if len(events) < count:
        raise RuntimeError("generated too few events")
    return events


def _renewal_evidence(association: str, i: int) -> RenewalEvidence:
    # Meets every level's continuing requirements for the 2025 cycle.
    return RenewalEvidence(
        trainings=(Training(title=f"Infant mental health conference, track {i % 7}",
                            hours=16 + i % 4, completed_on=dt.date(2025, 4, 2 + i % 20),
                            rsc_topic=True),),
        rsc=(RscHours(provider_id=f"{association}-P-{(i * 7919) % 100_000:07d}",
                      hours=12 + i % 5, started_on=dt.date(2025, 1, 15),
                      ended_on=dt.date(2025, 10, 15)),),
        memberships=(Membership(association=association, valid_through=dt.date(2026, 12, 31)),),
        provides_rsc=i % 3 == 0)
