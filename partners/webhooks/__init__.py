"""Webhooks from the outbox: subscriptions, Standard Webhooks signing, backoff, the SSRF guard (ADR 0010)."""
