"""Renewal reminders and lapse notices (issue 12), queued in the mail outbox exactly once
each by the daily run, from the roster and the person records (docs/reminders.md)."""
