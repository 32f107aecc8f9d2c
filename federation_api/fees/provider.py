"""The payment-provider port, and the hosted-checkout adapter the node speaks to a provider.

A provider is outside the project: the node sends the payer to the provider's checkout page
and later hears back in a callback (a webhook). The port is two calls:

- `checkout_url(request)`: where to send the payer. The request (reference, amount, currency,
  where to come back to) is signed with the shared secret, so the provider can refuse a
  checkout whose amount someone edited in the address bar.
- `verify_callback(body, signature, now=...)`: the provider's word that a payment was made or
  failed, trusted only after its HMAC-SHA256 signature over "<timestamp>.<body>" checks (in
  constant time) and the timestamp is within `TOLERANCE_SECONDS`, so an old callback replayed
  later is refused. What the callback *says* (the reference, the amount, the currency) is
  then checked against the node's own payment record by `payments.Payments.apply_callback`:
  a genuine callback for a different amount is still refused.

`HostedCheckout` is the one adapter: a provider reached at ALLIANCE_PAYMENT_URL with the
secret of ALLIANCE_PAYMENT_SECRET. The tests run a small provider of this shape as a real
HTTP service on loopback (tests/integration/fake_payments.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlencode

import msgspec

from federation_api.fees.errors import CallbackRefused
from federation_api.settings import Settings

TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "Alliance-Payment-Signature"
MAX_CALLBACK_BYTES = 4096


@dataclass(frozen=True)
class CheckoutRequest:
    """What the payer is asked to pay, and where the provider sends them back."""

    reference: str  # the node's payment id
    amount_cents: int
    currency: str
    description: str
    return_url: str


class Callback(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body of a provider callback."""

    event_id: str
    reference: str
    provider_reference: str
    amount_cents: int
    currency: str
    outcome: Literal["paid", "failed"]


class PaymentProvider(Protocol):
    """Start a checkout; verify what the provider later says about it."""

    name: str

    def checkout_url(self, request: CheckoutRequest) -> str:
        """The provider's page the payer is sent to."""
        ...

    def verify_callback(self, body: bytes, signature: str, *, now: dt.datetime) -> Callback:
        """The callback, if its signature and age check; CallbackRefused otherwise."""
        ...


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header of `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signed_query(secret: bytes, fields: dict[str, str]) -> str:
    """The fields as a query string with their HMAC (sorted names, so both sides agree)."""
    canonical = urlencode(sorted(fields.items()))
    mac = hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()
    return f"{canonical}&signature={mac}"


def check_signature(secret: bytes, header: str, body: bytes, *, now: dt.datetime,
                    tolerance: int = TOLERANCE_SECONDS) -> None:
    """CallbackRefused unless `header` signs `body` with `secret` at a recent time."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, value)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        raise CallbackRefused("the callback's signature has no timestamp") from None
    if abs(int(now.timestamp()) - timestamp) > tolerance:
        raise CallbackRefused("the callback is too old (or from the future): replay refused")
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        raise CallbackRefused("the callback's signature does not match")


class HostedCheckout:
    """A provider with a hosted checkout page and signed callbacks."""

    name = "hosted"

    def __init__(self, base_url: str, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the payment provider's secret must have at least 16 bytes")
        self.base_url = base_url.rstrip("/")
        self._secret = secret

    def __repr__(self) -> str:
        return f"HostedCheckout({self.base_url!r})"  # never the secret

    def checkout_url(self, request: CheckoutRequest) -> str:
        """The checkout page with the signed request in its query."""
        return f"{self.base_url}/checkout?" + signed_query(self._secret, {
            "reference": request.reference, "amount_cents": str(request.amount_cents),
            "currency": request.currency, "description": request.description,
            "return_url": request.return_url})

    def verify_callback(self, body: bytes, signature: str, *, now: dt.datetime) -> Callback:
        """The decoded callback once its signature and age check."""
        if len(body) > MAX_CALLBACK_BYTES:
            raise CallbackRefused("the callback is too large")
        check_signature(self._secret, signature, body, now=now)
        try:
            return msgspec.json.decode(body, type=Callback)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise CallbackRefused(f"the callback's body is not a payment callback: {e}") from e


def provider_from(settings: Settings) -> PaymentProvider | None:
    """The provider ALLIANCE_PAYMENT_URL and ALLIANCE_PAYMENT_SECRET name, or None (cheques
    only) when neither is set; ValueError when only one is."""
    if settings.payment_url is None and settings.payment_secret is None:
        return None
    if settings.payment_url is None or settings.payment_secret is None:
        raise ValueError("set both ALLIANCE_PAYMENT_URL and ALLIANCE_PAYMENT_SECRET, or neither")
    return HostedCheckout(settings.payment_url, settings.payment_secret.encode())
