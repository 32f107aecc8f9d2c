"""Ed25519 keys as Multikey strings, and `did:web` identifiers as the URLs they resolve to.

A Multikey `publicKeyMultibase` is "z" (multibase base58btc) followed by the base58 of the
multicodec prefix 0xed 0x01 and the 32 raw key bytes, so it always starts "z6Mk". A DID
`did:web:<host>[%3A<port>][:<path>...]` resolves to `https://<host>[:<port>]/.well-known/
did.json`, or to `https://<host>/<path>/did.json` when it has path segments; the port's colon
is percent-encoded because a colon separates the segments.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ledger.errors import DidDocumentRefused, MalformedCredential

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # Bitcoin's
_DIGITS = {c: i for i, c in enumerate(_ALPHABET)}
_ED25519_PUBLIC = b"\xed\x01"  # multicodec ed25519-pub, as an unsigned varint
_ED25519_SECRET = b"\x80\x26"  # multicodec ed25519-priv (0x1300)
DID_WEB = "did:web:"
# A host name or an IPv4 address, lower case; did:web has no room for IPv6 literals' colons.
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


def base58btc_encode(data: bytes) -> str:
    """Base58 (Bitcoin alphabet); each leading zero byte becomes a leading "1"."""
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """The bytes of a base58btc string; MalformedCredential on a character outside it."""
    number = 0
    for char in text:
        digit = _DIGITS.get(char)
        if digit is None:
            raise MalformedCredential(f"{char!r} is not a base58btc character")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def encode_public_key(public_key: bytes) -> str:
    """The Multikey `publicKeyMultibase` of a raw 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return "z" + base58btc_encode(_ED25519_PUBLIC + public_key)


def decode_public_key(multibase: str) -> bytes:
    """The raw 32-byte key of an Ed25519 `publicKeyMultibase`, refusing any other kind."""
    return _decode(multibase, _ED25519_PUBLIC, "publicKeyMultibase")


def decode_secret_seed(multibase: str) -> bytes:
    """The 32-byte seed of an Ed25519 `secretKeyMultibase` (the form test vectors publish)."""
    return _decode(multibase, _ED25519_SECRET, "secretKeyMultibase")


def _decode(multibase: str, prefix: bytes, what: str) -> bytes:
    if not isinstance(multibase, str) or not multibase.startswith("z"):
        raise MalformedCredential(f"{what} must be multibase base58btc (a leading 'z')")
    raw = base58btc_decode(multibase[1:])
    if len(raw) != 34 or raw[:2] != prefix:
        raise MalformedCredential(f"{what} is not an Ed25519 key (multicodec 0x"
                                  f"{prefix.hex()} and 32 bytes)")
    return raw[2:]


def did_web(host: str, port: int | None = None, path: tuple[str, ...] = ()) -> str:
    """The did:web naming `host` (and `port`, and path segments)."""
    host = host.lower()
    if not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name did:web can carry")
    if port is not None and not 0 < port < 65536:
        raise ValueError("port must be within 1..65535")
    if any(not _SEGMENT.match(segment) for segment in path):
        raise ValueError("did:web path segments are unreserved URL characters")
    authority = host if port is None else f"{host}%3A{port}"
    return DID_WEB + ":".join((authority, *path))


def split_did_url(did_url: str) -> tuple[str, str]:
    """(DID, fragment) of a DID URL such as a verification method id; fragment may be ""."""
    did, _, fragment = did_url.partition("#")
    return did, fragment


def did_web_url(did: str) -> str:
    """The https URL where the DID document of `did` is served."""
    host, port, path = parse_did_web(did)
    authority = host if port is None else f"{host}:{port}"
    if path:
        return f"https://{authority}/{'/'.join(path)}/did.json"
    return f"https://{authority}/.well-known/did.json"


def parse_did_web(did: str) -> tuple[str, int | None, tuple[str, ...]]:
    """(host, port, path segments) of a did:web, refusing anything that is not one exactly."""
    if not isinstance(did, str) or not did.startswith(DID_WEB) or any(
            c in did for c in "#?/"):
        raise DidDocumentRefused(f"{did!r} is not a did:web identifier")
    authority, *path = did[len(DID_WEB):].split(":")
    host, _, port_text = unquote(authority).partition(":")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DidDocumentRefused(f"{did!r} names no valid port")
        port = int(port_text)
    if not _HOST.match(host) or any(not _SEGMENT.match(segment) for segment in path):
        raise DidDocumentRefused(f"{did!r} names no host (and path) did:web can carry")
    # One DID, one spelling: a DID written with other escapes or upper case is not ours.
    if did_web(host, port, tuple(path)) != did:
        raise DidDocumentRefused(f"{did!r} is not in canonical did:web form")
    return host, port, tuple(path)

