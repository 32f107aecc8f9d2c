"""Signing keys in a PKCS#11 token (an HSM, or SoftHSM2): a `KeyBackend` for the one `Signer`.

The node's Ed25519 signing key can live in a token instead of a key file: the token signs
(CKM_EDDSA, pure Ed25519 as RFC 8032 and the ledger's verifiers expect) and the private key
is created sensitive and not extractable, so it never exists in the node's memory or on its
disk. Everything else (entry sealing, checkpoints, receipts, the verifiers) is unchanged: this
module only hands `ledger.signing.Signer` something to call.

The key is named by an RFC 7512 PKCS#11 URI, the form p11-kit, OpenSSL and GnuTLS use:

    pkcs11:token=alliance;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/alliance/token.pin

`token` (the token's label) and `object` (the key's label) are required; `id` (hex, as
`%01%02`) narrows the choice further. `module-path` defaults to Debian's SoftHSM2 module.
The PIN comes only from `pin-source` (a file readable by the node alone, as a systemd
credential is): a `pin-value` in the URI is refused, because a URI ends up in unit files,
process listings and logs.

Threads: a PKCS#11 session is not thread-safe (a C_SignInit/C_Sign pair on one session must
not interleave with another thread's), and a token admits one login per application, so all
sessions of the process share one lock and each (module, token) pair has one logged-in session,
opened once and shared by every key of that token. `Signer.sign_many` therefore signs on the
calling thread for a token key: the lock would serialise its threads anyway. A session that
the token dropped (the token was reset or reconnected) is reopened once before the call fails.
"""

from __future__ import annotations

import hmac
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from ledger.errors import KeyFileError
from ledger.signing import Signer

# Debian's (and Ubuntu's) path of the SoftHSM2 module, used when the URI names none.
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
# DER of the object identifier id-Ed25519 (1.3.101.112, RFC 8410): CKA_EC_PARAMS of the key.
ED25519_PARAMS = bytes.fromhex("06032b6570")
_DER_OCTET_32 = b"\x04\x20"

_lock = threading.RLock()  # every call into any token of this process (see the docstring)
_sessions: dict[tuple[str, str], tuple[Any, str]] = {}  # (module, token) -> (session, PIN)


class TokenKeyError(KeyFileError):
    """The token, its PIN or the key named by a PKCS#11 URI cannot be used (says which)."""


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 URI naming one key in one token (see the module docstring)."""

    token: str
    label: str
    key_id: bytes | None
    module: str
    pin_file: Path

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse and check `uri`; a `TokenKeyError` names what is missing or refused."""
        if not uri.startswith("pkcs11:"):
            raise TokenKeyError("a PKCS#11 key is named by a URI starting with pkcs11:")
        path, _, query = uri[len("pkcs11:"):].partition("?")
        attributes: dict[str, str] = {}
        for part in filter(None, path.split(";")):
            name, sep, value = part.partition("=")
            if not sep:
                raise TokenKeyError(f"PKCS#11 URI attribute {name!r} has no value")
            attributes[name] = unquote(value)
        options = dict(parse_qsl(query, keep_blank_values=True))
        if "pin-value" in options:
            raise TokenKeyError("pin-value in a PKCS#11 URI is refused (the URI is not "
                                "secret): put the PIN in a file and name it with pin-source")
        for required in ("token", "object"):
            if not attributes.get(required):
                raise TokenKeyError(f"the PKCS#11 URI needs {required}=...")
        source = options.get("pin-source", "")
        if not source:
            raise TokenKeyError("the PKCS#11 URI needs pin-source=file:<PIN file>")
        pin_file = Path(source.removeprefix("file:") if source.startswith("file:") else source)
        return cls(token=attributes["token"], label=attributes["object"], key_id=path_id(path),
                   module=options.get("module-path") or DEFAULT_MODULE, pin_file=pin_file)

    def pin(self) -> str:
        """The PIN from its file, refusing a file that others can read."""
        try:
            mode = self.pin_file.stat().st_mode
            text = self.pin_file.read_text()
        except OSError as e:
            raise TokenKeyError(f"cannot read the token PIN file {self.pin_file.name}: "
                                f"{e.strerror}") from e
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenKeyError(f"the token PIN file {self.pin_file.name} must not be "
                                f"readable by group or others (chmod 600)")
        pin = text.strip()
        if not pin:
            raise TokenKeyError(f"the token PIN file {self.pin_file.name} is empty")
        return pin

    def where(self) -> str:
        """The key as a message names it (no PIN, no paths)."""
        return f"key {self.label!r} in token {self.token!r}"


def path_id(path: str) -> bytes | None:
    """The `id` attribute of a URI's path as bytes (RFC 7512 writes it percent-encoded)."""
    for part in path.split(";"):
        name, _, value = part.partition("=")
        if name == "id" and value:
            return unquote(value, encoding="latin-1").encode("latin-1")
    return None


def is_pkcs11_uri(value: str | None) -> bool:
    """Whether a signing-key setting names a token key rather than the key file."""
    return bool(value) and str(value).startswith("pkcs11:")


class TokenKey:
    """A `KeyBackend`: one Ed25519 private key in a token, signing through its session."""

    concurrent = False  # the lock serialises every call: threads would only queue

    def __init__(self, uri: Pkcs11Uri) -> None:
        self.uri = uri
        with _lock:
            self._private = _find(uri, ObjectClass.PRIVATE_KEY)
            self._public_key = _public_key(uri)

    @property
    def public_key(self) -> bytes:
        """The raw public key, as the token's public key object holds it."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """Sign in the token (CKM_EDDSA over the message itself: pure Ed25519)."""
        with _lock:
            try:
                return bytes(self._private.sign(message, mechanism=Mechanism.EDDSA))
            except (p11.SessionClosed, p11.SessionHandleInvalid, p11.DeviceRemoved,
                    p11.UserNotLoggedIn):
                _sessions.pop((self.uri.module, self.uri.token), None)
                self._private = _find(self.uri, ObjectClass.PRIVATE_KEY)
                return bytes(self._private.sign(message, mechanism=Mechanism.EDDSA))
            except p11.PKCS11Error as e:
                raise TokenKeyError(f"the token refused to sign with {self.uri.where()}: "
                                    f"{type(e).__name__}") from e


def token_signer(uri: str) -> Signer:
    """The `Signer` of the key a PKCS#11 URI names; its signature is checked at once."""
    return Signer(TokenKey(Pkcs11Uri.parse(uri)))


def generate(uri: str) -> bytes:
    """Make a new Ed25519 key pair in the token under the URI's label (refusing a label in
    use); the private half sensitive and never extractable. Returns the raw public key."""
    parsed = Pkcs11Uri.parse(uri)
    with _lock:
        _refuse_existing(parsed)
        public, _ = _call(parsed, lambda s: s.generate_keypair(
            KeyType.EC_EDWARDS, store=True, label=parsed.label, id=parsed.key_id or b"",
            public_template={Attribute.EC_PARAMS: ED25519_PARAMS, Attribute.VERIFY: True},
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                              Attribute.PRIVATE: True, Attribute.SIGN: True}))
        return _raw_point(public[Attribute.EC_POINT], parsed)


def import_key(uri: str, signer: Signer) -> bytes:
    """Copy an in-memory key (the node's key file) into the token under the URI's label,
    sensitive and not extractable from then on. Returns the raw public key."""
    parsed = Pkcs11Uri.parse(uri)
    seed = signer.private_seed()
    common = {Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.TOKEN: True,
              Attribute.LABEL: parsed.label, Attribute.ID: parsed.key_id or b"",
              Attribute.EC_PARAMS: ED25519_PARAMS}
    with _lock:
        _refuse_existing(parsed)
        public = _call(parsed, lambda s: s.create_object({
            **common, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.VERIFY: True,
            Attribute.EC_POINT: _DER_OCTET_32 + signer.public_key}))
        try:
            _call(parsed, lambda s: s.create_object({
                **common, Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.VALUE: seed,
                Attribute.PRIVATE: True, Attribute.SIGN: True, Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False}))
        except TokenKeyError:
            public.destroy()  # no half-imported key left behind under the label
            raise
    # Whatever the token stored must sign as the file key did (checked by the Signer).
    if token_signer(uri).key_id != signer.key_id:
        raise TokenKeyError(f"{parsed.where()} does not hold the imported key")
    return signer.public_key


def public_key(uri: str) -> bytes:
    """The raw public key of the key a URI names."""
    parsed = Pkcs11Uri.parse(uri)
    with _lock:
        return _public_key(parsed)


def _session(uri: Pkcs11Uri) -> Any:
    key = (uri.module, uri.token)
    pin = uri.pin()
    if key in _sessions:
        session, logged_in_with = _sessions[key]
        # The shared login must not admit a caller whose own PIN the token would refuse.
        if not hmac.compare_digest(pin.encode(), logged_in_with.encode()):
            raise TokenKeyError(f"wrong PIN for token {uri.token!r} (from "
                                f"{uri.pin_file.name})")
        return session
    try:
        library = pkcs11.lib(uri.module)
    except p11.PKCS11Error as e:
        raise TokenKeyError(f"cannot load the PKCS#11 module {uri.module}") from e
    try:
        token = library.get_token(token_label=uri.token)
    except (p11.NoSuchToken, p11.MultipleTokensReturned) as e:
        raise TokenKeyError(f"no single token labelled {uri.token!r} in the PKCS#11 module"
                            ) from e
    try:
        session = token.open(user_pin=pin, rw=True)
    except p11.PinIncorrect as e:
        raise TokenKeyError(f"wrong PIN for token {uri.token!r} (from "
                            f"{uri.pin_file.name})") from e
    except p11.PinLocked as e:
        raise TokenKeyError(f"the PIN of token {uri.token!r} is locked after too many wrong "
                            f"tries: the security officer must unlock it") from e
    except p11.PKCS11Error as e:
        raise TokenKeyError(f"cannot log in to token {uri.token!r}: {type(e).__name__}") from e
    _sessions[key] = (session, pin)
    return session


def _call(uri: Pkcs11Uri, action: Any) -> Any:
    try:
        return action(_session(uri))
    except TokenKeyError:
        raise
    except p11.PKCS11Error as e:
        raise TokenKeyError(f"the token refused the operation on {uri.where()}: "
                            f"{type(e).__name__}") from e


def _find(uri: Pkcs11Uri, kind: ObjectClass) -> Any:
    query: dict[Any, Any] = {"object_class": kind, "label": uri.label}
    if uri.key_id:
        query["id"] = uri.key_id
    try:
        return _session(uri).get_key(key_type=KeyType.EC_EDWARDS, **query)
    except p11.NoSuchKey as e:
        half = "private" if kind is ObjectClass.PRIVATE_KEY else "public"
        raise TokenKeyError(f"no Ed25519 {half} {uri.where()}") from e
    except p11.MultipleObjectsReturned as e:
        raise TokenKeyError(f"several objects match {uri.where()}: add id=... to the URI"
                            ) from e
    except p11.PKCS11Error as e:
        raise TokenKeyError(f"cannot find {uri.where()}: {type(e).__name__}") from e


def _refuse_existing(uri: Pkcs11Uri) -> None:
    session = _session(uri)
    if any(True for _ in session.get_objects({Attribute.LABEL: uri.label})):
        raise TokenKeyError(f"token {uri.token!r} holds an object labelled {uri.label!r} "
                            f"already: choose another object= label")


def _public_key(uri: Pkcs11Uri) -> bytes:
    return _raw_point(_find(uri, ObjectClass.PUBLIC_KEY)[Attribute.EC_POINT], uri)


def _raw_point(point: bytes, uri: Pkcs11Uri) -> bytes:
    # PKCS#11 3.0 says CKA_EC_POINT of an Edwards key is the DER OCTET STRING of the 32 bytes;
    # some tokens return the bare 32 bytes. Anything else is not an Ed25519 key.
    point = bytes(point)
    if len(point) == 34 and point.startswith(_DER_OCTET_32):
        return point[2:]
    if len(point) == 32:
        return point
    raise TokenKeyError(f"{uri.where()} is not an Ed25519 key")
