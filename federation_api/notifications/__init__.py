"""Employer notifications: subscriptions, webhooks, the notifier and the change feed."""
