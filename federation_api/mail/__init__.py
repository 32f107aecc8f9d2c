"""Email: the outbox table written in the same transaction as the action that causes a
message, a real SMTP client configured by ALLIANCE_SMTP_URL, and the sender that delivers the
outbox in the background (`outbox`, `smtp`, `messages`, `sender`)."""
