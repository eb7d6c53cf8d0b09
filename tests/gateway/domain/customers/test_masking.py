from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.customers.models import mask_account_number, mask_name, mask_national_id

ID_ALPHABET = string.ascii_letters + string.digits + "()-"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("900100000001", "•••• 0001"),
        ("9001000000030017", "•••• 0017"),
        ("6222 0212 3456 7890", "•••• 7890"),
        ("1234567", "••••"),  # too short to show four digits of it
        ("", "••••"),
    ],
)
def test_mask_account_number(number: str, masked: str) -> None:
    assert mask_account_number(number) == masked


@given(st.from_regex(r"[0-9]{8,30}", fullmatch=True))
def test_account_number_mask_shows_only_the_last_four_digits(number: str) -> None:
    masked = mask_account_number(number)
    assert masked == "•••• " + number[-4:]
    assert number not in masked


@given(st.text())
def test_account_number_mask_never_shows_more_than_four_digits(value: str) -> None:
    masked = mask_account_number(value)
    assert sum(char.isdigit() for char in masked) <= 4
    assert masked.startswith("••••")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("990000198804120011", "99************0011"),
        ("Z999001(3)", "Z******(3)"),
        ("900-00-0001", "9*******001"),
        ("X00DEMO471", "X******471"),
        ("A12345", "A***45"),
        ("A1234", "*****"),
    ],
)
def test_mask_national_id(value: str, masked: str) -> None:
    assert mask_national_id(value) == masked


@given(st.text(alphabet=ID_ALPHABET, max_size=40))
def test_national_id_mask_reveals_at_most_six_characters_and_never_half(value: str) -> None:
    masked = mask_national_id(value)
    assert len(masked) == len(value)
    revealed = [index for index, char in enumerate(masked) if char != "*"]
    assert len(revealed) <= min(6, len(value) // 2)
    assert all(masked[index] == value[index] for index in revealed)  # what is shown is the real prefix/suffix
    if value:
        assert masked != value


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Li Wei", "L*** W***"),
        ("Chan Tai Man", "C*** T*** M***"),
        ("  Anna   Schmidt ", "A*** S***"),
        ("李伟", "李***"),
        ("", "***"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@given(st.lists(st.text(alphabet=string.ascii_letters, min_size=2, max_size=12), min_size=1, max_size=4))
def test_name_mask_keeps_one_letter_per_word(words: list[str]) -> None:
    masked = mask_name(" ".join(words))
    assert masked.split() == [word[0] + "***" for word in words]
    assert not any(word in masked for word in words)
