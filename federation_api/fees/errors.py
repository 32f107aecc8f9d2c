"""Why a fee schedule or a payment could not be saved, or a provider callback was refused."""

from __future__ import annotations

from federation_api.errors import EdgeError


class FeeError(EdgeError):
    """The root of the fees' errors."""


class InvalidFees(FeeError):
    """A form's fields did not parse; `errors` names each field and the rule."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors))


class FeesNotSet(FeeError):
    """The association has not set a fee schedule yet, so nothing can be charged."""

    def __init__(self) -> None:
        super().__init__("the association has not set its fees yet")


class NoProvider(FeeError):
    """The node has no payment provider configured: payments are made by cheque."""

    def __init__(self) -> None:
        super().__init__("this node takes no online payments: pay the association by cheque")


class PaymentClosed(FeeError):
    """The payment is paid (or refunded) already: nothing more is taken for it."""

    def __init__(self, payment_id: str, state: str) -> None:
        self.payment_id = payment_id
        super().__init__(f"payment {payment_id} is {state} already")


class CallbackRefused(FeeError):
    """A provider callback failed a check (signature, age, reference, amount, currency).

    The reason is for the node's log and the provider's answer; it never names the secret."""
