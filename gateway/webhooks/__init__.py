"""Webhook delivery: the httpx sender and the worker loop that drains the outbox (ADR 0010)."""
