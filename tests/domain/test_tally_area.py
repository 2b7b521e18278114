"""Parsing and formatting exact areas (integer hundredths of a square metre)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voting.domain.area import format_area, parse_area


@pytest.mark.parametrize(
    ("text", "centi"),
    [
        ("87", 8700),
        ("87.5", 8750),
        ("87.50", 8750),
        ("87.05", 8705),
        ("0.01", 1),
        (" 120.3 ", 12030),
        ("007.10", 710),
        ("123456789012.99", 12345678901299),
    ],
)
def test_tally_area_parse_accepts_plain_decimals(text: str, centi: int) -> None:
    assert parse_area(text) == centi


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-3", "negative"),
        ("-0.5", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("NaN", "not a finite number"),
        ("nan", "not a finite number"),
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("1e3", "exponent"),
        ("1.5E-2", "exponent"),
        ("87.123", "more than two decimal places"),
        ("1.000", "more than two decimal places"),
        (".5", "digits on both sides"),
        ("5.", "digits on both sides"),
        ("+5", "sign"),
        ("abc", "not a number"),
        ("1,5", "not a number"),
        ("1_000", "not a number"),
        ("١٢", "not a number"),
        ("0x10", "not a number"),
    ],
)
def test_tally_area_parse_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_area(text)


@pytest.mark.parametrize(
    ("centi", "text"),
    [(8705, "87.05"), (1, "0.01"), (0, "0.00"), (100, "1.00"), (-250, "-2.50"), (12, "0.12")],
)
def test_tally_area_format_has_two_decimals(centi: int, text: str) -> None:
    assert format_area(centi) == text


@pytest.mark.parametrize("text", ["0.01", "1.10", "87.05", "99999.99"])
def test_tally_area_round_trip(text: str) -> None:
    assert format_area(parse_area(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**15))
def test_tally_area_round_trip_property(centi: int) -> None:
    assert parse_area(format_area(centi)) == centi


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2))
def test_tally_area_parse_agrees_with_decimal(value: Decimal) -> None:
    text = str(value)
    if "E" in text.upper():  # Decimal may print an exponent, which parse_area refuses
        return
    assert parse_area(text) == int(value * 100)
