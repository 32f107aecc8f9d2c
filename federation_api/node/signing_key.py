"""Which signer a node uses: its key file (the embedded default) or a key in a PKCS#11 token.

ALLIANCE_SIGNING_KEY unset (or `file`) means `keys/signing.key` in the data directory, as
`alliance init` writes it; a `pkcs11:` URI names a key in a token (`ledger.hsm_keys`). Either
way the node gets one `ledger.signing.Signer`, and `Node` still checks that its public key is
the association's current key in the keyring or registry before anything is signed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from federation_api.node.setup import NodeConfig, NodeError, NodePaths
from federation_api.settings import Settings
from ledger import hsm_keys
from ledger.codec import decode_json
from ledger.signing import Signer
from ledger.trust.keyring import KeyRecord, Keyring


def node_signer(settings: Settings, key_file: Path) -> Signer:
    """The node's signer, as ALLIANCE_SIGNING_KEY says."""
    where = settings.signing_key
    if where is None or where == "file":
        return Signer.load(key_file, settings.passphrase())
    if hsm_keys.is_pkcs11_uri(where):
        return hsm_keys.token_signer(where)
    raise NodeError("ALLIANCE_SIGNING_KEY must be `file` or a pkcs11: URI "
                    "(pkcs11:token=...;object=...?pin-source=file:...)")


def rotate_into_token(settings: Settings, uri: str, *, now: dt.datetime) -> KeyRecord:
    """Rotate to a new key generated in the token: the keyring gains its window from `now`,
    the old key's window closes there (entries signed before keep verifying). A key file that
    was current is archived beside it, as `alliance keys rotate` does."""
    paths = NodePaths(settings.data_dir)
    config = decode_json(paths.config.read_bytes(), NodeConfig)
    public_key = hsm_keys.generate(uri)
    if paths.signing_key.exists():
        old = Signer.load(paths.signing_key, settings.passphrase())
        archived = paths.signing_key.with_name(f"signing-{old.key_id[:16]}.key")
        paths.signing_key.rename(archived)
        archived.with_suffix(".pub").write_text(old.public_key.hex() + "\n")
        paths.signing_key.with_suffix(".pub").unlink(missing_ok=True)
    record = KeyRecord(association=config.association, public_key=public_key, valid_from=now)
    Keyring.load(paths.keyring).with_key(record).save(paths.keyring)
    return record
