"""Fixtures of the consent tests."""

from __future__ import annotations

import pytest

from tests.gateway.domain.consent.world import World


@pytest.fixture
def world() -> World:
    return World()
