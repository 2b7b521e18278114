"""Exact unit areas as integer hundredths of a square metre.

The law weighs votes by area and compares fractions of totals ("以上", "过半数"); a float sum
can land on the wrong side of such a boundary. Areas are therefore parsed from their decimal
text straight into integer hundredths ("centi-square-metres") and never pass through a float.
"""

from __future__ import annotations

import re

__all__ = ["format_area", "parse_area"]

_FRACTION_ONLY = re.compile(r"[0-9]*\.[0-9]+", re.ASCII)
_NON_FINITE = frozenset({"nan", "inf", "infinity"})


def parse_area(text: str) -> int:
    """Return the area written in `text` (square metres) as integer hundredths.

    Accepts a plain positive decimal with at most two fractional digits ("87", "87.5",
    "87.05"), surrounded by optional whitespace. Anything else raises ValueError saying why,
    so that a wrong registry row is named rather than rounded or guessed.
    """
    stripped = text.strip()
    whole, point, fraction = stripped.partition(".")
    if (
        stripped.isascii()  # `isdecimal` alone would accept other scripts' digits
        and whole.isdecimal()
        and (fraction.isdecimal() and len(fraction) <= 2 if point else True)
    ):
        centi = int(whole + fraction.ljust(2, "0"))
        if centi == 0:
            raise ValueError(f"area {text!r} is zero; it must be greater than zero")
        return centi
    raise ValueError(_why_not_an_area(text, stripped))


def _why_not_an_area(text: str, stripped: str) -> str:
    """Explain why `stripped` is not an accepted area (only called on the error path)."""
    if not stripped:
        return "area is empty"
    unsigned = stripped.lstrip("+-")
    if unsigned.lower() in _NON_FINITE:
        return f"area {text!r} is not a finite number"
    if stripped.startswith("-"):
        return f"area {text!r} is negative; it must be greater than zero"
    if stripped.startswith("+"):
        return f"area {text!r} has a sign; write the plain number"
    if "e" in unsigned.lower() and _looks_numeric(unsigned.lower().replace("e", "", 1)):
        return f"area {text!r} uses an exponent; write a plain decimal"
    if _FRACTION_ONLY.fullmatch(unsigned) and not unsigned.startswith("."):
        return f"area {text!r} has more than two decimal places"
    if unsigned.startswith(".") or unsigned.endswith("."):
        return f"area {text!r} needs digits on both sides of the decimal point"
    return f"area {text!r} is not a number"


def _looks_numeric(text: str) -> bool:
    """True if `text` is digits with at most one point and an optional sign after it."""
    body = text.replace("-", "", 1).replace("+", "", 1).replace(".", "", 1)
    return body.isascii() and body.isdigit()


def format_area(hundredths: int) -> str:
    """Render integer hundredths of a square metre with exactly two decimals ("87.05")."""
    sign = "-" if hundredths < 0 else ""
    whole, fraction = divmod(abs(hundredths), 100)
    return f"{sign}{whole}.{fraction:02d}"
