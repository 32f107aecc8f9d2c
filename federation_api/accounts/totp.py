"""Time-based one-time passwords (RFC 6238) and recovery codes: pure functions, no storage.

Codes are 6 digits over 30-second steps with HMAC-SHA1, the settings every authenticator app
understands. A code is accepted for the current step and one step either side (a phone's
clock a little off, or a code typed as it changed), and only for a step later than the last
one this account used: a code seen over a shoulder or replayed from a log is refused, and so
is an older code of the window once a newer one was used.

Recovery codes stand in for a lost phone: ten codes of 80 random bits each, shown once,
stored as SHA-256 (80 bits cannot be guessed against a hash, so no stretching is needed and
checking one is an index probe), each usable once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of the current one
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case
_RECOVERY_CHARS = 16  # 16 x 5 bits = 80 bits


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (the size RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def step_of(now: dt.datetime) -> int:
    """The RFC 6238 time step of an instant."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of one step (for tests and for showing nothing else)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, *, now: dt.datetime,
                  after_step: int | None) -> int | None:
    """The step whose code `code` is, within the window and later than `after_step`; None if
    there is none. Every candidate is compared in constant time."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    current = step_of(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code) and found is None:
            found = step
    if found is None or (after_step is not None and found <= after_step):
        return None
    return found


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def qr_svg(uri: str, *, title: str = "QR code for your authenticator app") -> str:
    """The URI as an inline SVG QR code (no XML declaration, fit to embed in a page), named
    for screen readers (role img, with the title as its label)."""
    svg = str(segno.make(uri, error="m").svg_inline(scale=4, border=4, title=title,
                                                    dark="#000", light="#fff"))
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes(count: int = RECOVERY_CODES) -> tuple[str, ...]:
    """Fresh recovery codes, formatted `xxxx-xxxx-xxxx-xxxx`."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_CHARS))
        codes.append("-".join(raw[i:i + 4] for i in range(0, _RECOVERY_CHARS, 4)))
    return tuple(codes)


def normalise_recovery_code(text: str) -> str | None:
    """The code's 16 characters (case, spaces and dashes ignored), or None if it is not one."""
    raw = "".join(ch for ch in text.lower() if ch not in " -")
    if len(raw) != _RECOVERY_CHARS or any(ch not in _RECOVERY_ALPHABET for ch in raw):
        return None
    return raw


def recovery_code_hash(normalised: str) -> str:
    """How a recovery code is stored."""
    return hashlib.sha256(f"recovery:{normalised}".encode()).hexdigest()
