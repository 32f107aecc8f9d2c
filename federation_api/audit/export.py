"""`alliance export`: an export directory of a node, for auditors (the only module of the
audit that knows `Node`).

The directory holds the registry (genesis and entries; or, on a node that never joined an
Alliance, its keyring), every ledger's wire bytes (`ledgers/<ID>.bin`), the latest signed (and
cosigned) checkpoint of each ledger (`checkpoints/<ID>.note`), the latest one its witnesses'
quorum cosigned when there is one (`checkpoints/<ID>.witnessed.note`), and the node's
projection digest (`digest.txt`). `exported_ledger` reads one ledger back (for `alliance ledger
recover --from DIR`); `federation_api.audit.run` audits the whole directory.
"""

from __future__ import annotations

from pathlib import Path

from federation_api.clock import now
from federation_api.node.root import Node
from ledger.codec import decode_canonical, encode, encode_json
from ledger.errors import CheckpointError, LedgerBehind, LedgerError, VerificationError
from ledger.trust.registry_files import RegistryDir


def export(node: Node, out: Path) -> list[Path]:
    """Write an export directory of a node (registry, ledgers, checkpoints, digest)."""
    out.mkdir(parents=True, exist_ok=False)
    written: list[Path] = []
    if node.registry_dir.exists():
        target = RegistryDir(out / "registry")
        target.root.mkdir()
        (target.genesis_path).write_bytes(node.registry_dir.genesis_path.read_bytes())
        (target.entries_path).write_bytes(node.registry_dir.entries_path.read_bytes())
        written += [target.genesis_path, target.entries_path]
    else:
        (out / "keyring.json").write_bytes(encode_json(node.keyring))
        written.append(out / "keyring.json")
    _sign_own_checkpoint(node)
    (out / "ledgers").mkdir()
    (out / "checkpoints").mkdir()
    for association in node.ledger.associations():
        path = out / "ledgers" / f"{association}.bin"
        path.write_bytes(encode(list(node.ledger.wires(association))))
        written.append(path)
        for suffix, note in ((".note", node.log.latest_checkpoint(association)),
                             (".witnessed.note",
                              node.log.latest_witnessed_checkpoint(association))):
            if note is not None:
                (out / "checkpoints" / f"{association}{suffix}").write_bytes(note)
                written.append(out / "checkpoints" / f"{association}{suffix}")
    (out / "digest.txt").write_text(node.projector.digest() + "\n")
    written.append(out / "digest.txt")
    return written


def _sign_own_checkpoint(node: Node) -> None:
    """A fresh checkpoint of the own ledger for the export. Refused while the ledger is
    behind (LedgerBehind names the missing seqs); when the store no longer gives the roots
    it signed, the refusal names the first bad entry and why, as `ledger verify` does."""
    try:
        node.log.sign_checkpoint(node.association, node.signer, now())
    except CheckpointError as refused:
        try:
            node.verify_ledger()
        except LedgerBehind:
            raise
        except VerificationError as found:
            raise type(found)(f"{found.reason} (so no checkpoint can be signed for the export: "
                              f"{refused.reason})", association=found.association,
                              seq=found.seq) from refused
        raise


def exported_ledger(root: Path, association: str) -> list[bytes]:
    """The wire bytes of one association's ledger in an export directory (unverified: each
    entry verifies itself wherever it goes)."""
    path = root / "ledgers" / f"{association}.bin"
    if not path.exists():
        raise LedgerError(f"{root} holds no ledger of {association} (no {path.name})")
    return list(decode_canonical(path.read_bytes(), list[bytes]))
