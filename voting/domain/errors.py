"""Errors raised by the pure domain rules.

A tally that silently drops a bad ballot or unit gives a wrong result that looks right, so
every rejected input raises one of these, carrying what an adapter needs to name the
offending row (the position in the input sequence and the identifiers involved).
"""

from __future__ import annotations

__all__ = [
    "DomainError",
    "DuplicateBallotError",
    "DuplicateUnitError",
    "EmptyScopeError",
    "HolderOutOfScopeError",
    "InvalidAreaError",
    "TallyError",
    "UnknownBuildingError",
    "UnknownChoiceError",
    "UnknownHolderError",
]


class DomainError(ValueError):
    """Base class of every domain rule violation."""


class TallyError(DomainError):
    """An input the tally refuses; `index` is the position of the offending unit or ballot."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class InvalidAreaError(TallyError):
    """A unit's area is not a positive integer number of hundredths of a square metre."""

    def __init__(self, unit_id: str, area_centi: object, *, index: int) -> None:
        super().__init__(
            f"unit {unit_id!r} has area {area_centi!r}; it must be a positive int "
            "of hundredths of a square metre",
            index=index,
        )
        self.unit_id = unit_id


class DuplicateUnitError(TallyError):
    """The same unit appears twice in the roll, which would count its area twice."""

    def __init__(self, unit_id: str, *, index: int, first_index: int) -> None:
        super().__init__(
            f"unit {unit_id!r} appears twice (positions {first_index} and {index})",
            index=index,
        )
        self.unit_id = unit_id
        self.first_index = first_index


class UnknownBuildingError(TallyError):
    """The motion's scope names a building that has no unit in the roll."""

    def __init__(self, building: str) -> None:
        super().__init__(f"building {building!r} in the scope has no unit in the roll")
        self.building = building


class EmptyScopeError(TallyError):
    """No unit is in scope, so there is nobody to decide and no total to compare with."""

    def __init__(self) -> None:
        super().__init__("no unit is in the motion's scope")


class UnknownHolderError(TallyError):
    """A ballot names a holder that holds no unit at all."""

    def __init__(self, holder_id: str, *, index: int) -> None:
        super().__init__(f"ballot from unknown holder {holder_id!r}", index=index)
        self.holder_id = holder_id


class HolderOutOfScopeError(TallyError):
    """A ballot names a holder whose units are all outside the motion's scope."""

    def __init__(self, holder_id: str, *, index: int) -> None:
        super().__init__(f"holder {holder_id!r} has no unit in the motion's scope", index=index)
        self.holder_id = holder_id


class DuplicateBallotError(TallyError):
    """A second ballot from the same person (one holder, or the developer under any id)."""

    def __init__(self, holder_id: str, *, index: int, first_index: int) -> None:
        super().__init__(
            f"second ballot from holder {holder_id!r} "
            f"(positions {first_index} and {index}; one person, one ballot)",
            index=index,
        )
        self.holder_id = holder_id
        self.first_index = first_index


class UnknownChoiceError(TallyError):
    """A ballot's choice is not one the motion offers."""

    def __init__(self, choice: object, *, index: int, expected: tuple[str, ...]) -> None:
        super().__init__(
            f"unknown choice {choice!r}; expected one of {', '.join(expected)}",
            index=index,
        )
        self.choice = choice
        self.expected = expected
