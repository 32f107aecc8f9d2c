"""The accounts package's errors: one root, specific subclasses that carry the field and rule.

Each class names its `code` (the JSON error code) and, in its docstring, the HTTP status the
edge should answer with; the mapping itself stays in the one place that maps errors to HTTP.
Messages are written for the person at the form. The sign-in refusals are deliberately
generic: they never say whether an account exists, is locked or is disabled.
"""

from __future__ import annotations

from federation_api.errors import EdgeError


class AccountError(EdgeError):
    """Root of the accounts errors."""

    code = "account_error"

    def __init__(self, message: str, *, field: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class InvalidAccountInput(AccountError):
    """A form value breaks a rule (422): bad email, empty name, unknown role."""

    code = "invalid_input"


class PasswordRejected(InvalidAccountInput):
    """The new password breaks the password policy (422); `rule` names which rule."""

    code = "password_rejected"


class EmailTaken(AccountError):
    """Staff tried to create or invite an account whose email is in use (409). Only staff see
    this; the public sign-in and reset forms never reveal it."""

    code = "email_taken"


class SignInRefused(AccountError):
    """Email, password or code not accepted (401), for whatever reason: unknown account,
    wrong password, locked, disabled. One message for all of them, on purpose."""

    code = "sign_in_refused"

    def __init__(self, message: str = "", *, field: str = "", rule: str = "") -> None:
        super().__init__(message or GENERIC_REFUSAL, field=field, rule=rule or "sign_in")


GENERIC_REFUSAL = ("The email address or password is not right, or the account is paused for "
                   "a few minutes after too many attempts. Check them and try again, or reset "
                   "your password.")


class SecondFactorRefused(SignInRefused):
    """The authenticator or recovery code was not accepted (401)."""

    code = "second_factor_refused"


class TooManyAttempts(AccountError):
    """This client address has made too many sign-in or reset attempts (429)."""

    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many attempts from this address; try again in "
                         f"{max(1, round(retry_after))} s", field="client",
                         rule="rate_limit.sign_in")
        self.retry_after = retry_after


class LinkInvalid(AccountError):
    """An emailed link is unknown, used, expired or for another purpose (410): the page says
    so plainly and offers to send a new one."""

    code = "link_invalid"


class SessionInvalid(AccountError):
    """No live session, or not at the stage the action needs (401: sign in again)."""

    code = "session_invalid"


class CsrfRefused(AccountError):
    """A form post without the session's CSRF token (403)."""

    code = "csrf_refused"


class Forbidden(AccountError):
    """The signed-in account lacks the role the action needs (403)."""

    code = "forbidden"


class AccountNotFound(AccountError):
    """No account with that id in this association (404; staff pages only)."""

    code = "not_found"


class LastCoordinator(AccountError):
    """The change would leave the association without an active coordinator (409)."""

    code = "last_coordinator"
