"""`alliance keys token ...`: the node's signing key in a PKCS#11 token (HSM, SoftHSM2).

`generate` makes a new key in the token, `import` copies the node's key file into it (the key
stays the association's current key, so nothing in the registry changes), `show` prints a
token key's public key and id (what the governance key holders need to admit or rotate it),
and `rotate` makes a new token key the node's current one from now. The key is named by a
PKCS#11 URI (`--uri`, default ALLIANCE_SIGNING_KEY); see ledger/hsm_keys.py and ops/keys.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from federation_api.clock import now
from federation_api.node.setup import NodePaths
from federation_api.node.signing_key import rotate_into_token
from federation_api.settings import Settings
from ledger import hsm_keys
from ledger.signing import Signer, key_id_of


def _uri(args: argparse.Namespace, settings: Settings) -> str:
    uri = args.uri or settings.signing_key
    if not hsm_keys.is_pkcs11_uri(uri):
        raise ValueError("name the token key with --uri pkcs11:... (or ALLIANCE_SIGNING_KEY)")
    return str(uri)


def _print_key(public_key: bytes) -> None:
    print(f"public key {public_key.hex()}")
    print(f"key id {key_id_of(public_key)}")


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    """Generate an Ed25519 key in the token (not extractable); print its public key."""
    public_key = hsm_keys.generate(_uri(args, settings))
    _print_key(public_key)
    print("the private key cannot leave the token; register the public key (registry "
          "admit or rotate-key) before the node signs with it", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the node's key file into the token; with --remove-key-file, delete the file."""
    paths = NodePaths(settings.data_dir)
    signer = Signer.load(paths.signing_key, settings.passphrase())
    uri = _uri(args, settings)
    _print_key(hsm_keys.import_key(uri, signer))
    if args.remove_key_file:
        paths.signing_key.unlink()
        print(f"removed {paths.signing_key.name}; backups of it still hold the key",
              file=sys.stderr)
    print("next: set ALLIANCE_SIGNING_KEY to the URI and restart the node", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print a token key's public key and key id."""
    _print_key(hsm_keys.public_key(_uri(args, settings)))
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Make a new token key the node's current signing key from now."""
    record = rotate_into_token(settings, _uri(args, settings), now=now())
    _print_key(record.public_key)
    print(f"valid from {record.valid_from.isoformat()}; set ALLIANCE_SIGNING_KEY to the URI, "
          f"restart, and have the registry rotate the key (registry rotate-key)",
          file=sys.stderr)
    return 0


def add_commands(keys: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser,
                 add: Callable[..., argparse.ArgumentParser]) -> None:
    """Register `keys token ...` under the `keys` command."""
    token = keys.add_parser("token", help="the signing key in a PKCS#11 token")
    sub: Any = token.add_subparsers(dest="token_command", required=True)
    uri_help = ("pkcs11:token=LABEL;object=KEY?pin-source=file:PINFILE[&module-path=SO] "
                "(default ALLIANCE_SIGNING_KEY)")
    for name, handler, help_ in (
            ("generate", cmd_generate, "generate a key in the token, print its public key"),
            ("import", cmd_import, "copy the node's key file into the token"),
            ("show", cmd_show, "print a token key's public key and key id"),
            ("rotate", cmd_rotate, "make a new token key the node's current key from now")):
        p = add(sub, name, handler, help_)
        p.add_argument("--uri", help=uri_help)
        if name == "import":
            p.add_argument("--remove-key-file", action="store_true",
                           help="delete keys/signing.key once the token signs as it did")
