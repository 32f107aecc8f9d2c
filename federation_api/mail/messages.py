"""Turning an outbox row into an email message.

The Message-ID is derived from the outbox id (`<outbox id@sender domain>`), and the Date is
when the message was queued, so a message sent again after a crash is the same message to
every receiving system: mail stores and clients that deduplicate by Message-ID show it once.
`Auto-Submitted: auto-generated` (RFC 3834) keeps vacation responders from answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from federation_api.mail.errors import SmtpUrlInvalid
from federation_api.mail.outbox import OutboxMail, check_address


@dataclass(frozen=True)
class Sender:
    """The From of every message: ALLIANCE_MAIL_FROM, `Name <address>` or a bare address."""

    display_name: str
    address: str

    @classmethod
    def parse(cls, text: str) -> Sender:
        """Check ALLIANCE_MAIL_FROM; SmtpUrlInvalid if it is not one address."""
        if "\n" in text or "\r" in text:
            raise SmtpUrlInvalid("ALLIANCE_MAIL_FROM must be one line")
        name, address = parseaddr(text.strip())
        try:
            address = check_address(address, field="ALLIANCE_MAIL_FROM")
        except ValueError as e:
            raise SmtpUrlInvalid("ALLIANCE_MAIL_FROM must be an address such as "
                                 "'Alliance AK <noreply@example.org>'") from e
        return cls(display_name=name.strip(), address=address)

    @property
    def domain(self) -> str:
        """The address's domain (Message-IDs and the SMTP greeting use it)."""
        return self.address.rpartition("@")[2].lower()

    def header(self) -> Address:
        """The From header value."""
        local, _, domain = self.address.rpartition("@")
        return Address(display_name=self.display_name, username=local, domain=domain)


def message_id(mail_id: str, sender: Sender) -> str:
    """The Message-ID of an outbox message: the same on every attempt."""
    return f"<{mail_id}@{sender.domain}>"


def build_message(mail: OutboxMail, sender: Sender) -> EmailMessage:
    """The message to hand to the relay."""
    message = EmailMessage()
    message["From"] = sender.header()
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = message_id(mail.mail_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text_body)
    if mail.html_body is not None:
        message.add_alternative(mail.html_body, subtype="html")
    return message
