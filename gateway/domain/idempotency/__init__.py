"""Idempotency: stored responses that a repeated `Idempotency-Key` replays."""
