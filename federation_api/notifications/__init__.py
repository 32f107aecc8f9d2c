"""Employer notifications: `subscriptions`, `webhooks` (URLs, secrets, the delivery outbox),
`employer_tables` (their DDL), `notifier` (a ledger consumer that records changes),
`change_feed`, `transport` (HTTP that dials only checked addresses) and `dispatcher` (delivers
due webhooks with retries)."""
