"""A registry over the in-memory lifecycle store, at a fixed moment."""

from __future__ import annotations

import pytest

from partners.service import Registry
from sandbox.clock import FrozenClock
from tests.partners.lifecycle.world import NOW, InMemoryLifecycleStore


@pytest.fixture
def store() -> InMemoryLifecycleStore:
    return InMemoryLifecycleStore()


@pytest.fixture
def clock(clock: FrozenClock) -> FrozenClock:
    """The shared clock at a fixed moment."""
    clock.set(NOW)
    return clock


@pytest.fixture
def registry(store: InMemoryLifecycleStore, clock: FrozenClock) -> Registry:
    registry = Registry(store, clock)
    registry.ensure_default_plans()
    return registry
