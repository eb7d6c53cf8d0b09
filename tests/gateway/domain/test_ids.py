"""Ids name their type by prefix and keep the length each kind has always had."""

from __future__ import annotations

import re

from gateway.domain.environment import Environment
from gateway.domain.ids import new_id


def test_an_id_is_its_prefix_and_random_hex() -> None:
    assert re.fullmatch(r"ord_[0-9a-f]{20}", new_id("ord"))
    assert re.fullmatch(r"prt_[0-9a-f]{16}", new_id("prt", random_bytes=8))
    assert new_id("ord") != new_id("ord")


def test_client_ids_carry_their_environment() -> None:
    assert re.fullmatch(r"live_[0-9a-f]{24}", Environment.PRODUCTION.new_client_id())
    assert re.fullmatch(r"sbx_[0-9a-f]{24}", Environment.SANDBOX.new_client_id())
