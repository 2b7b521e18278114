"""Paper ballots entered twice (docs/PAPER.md): the pure rules of the double entry.

A paper sheet is one voter's paper ballot for one meeting. Two staff members enter it
independently, each with the SHA-256 of the scanned image of the sheet; it counts only when
the two entries agree exactly, or when a committee admin who made neither entry has chosen
one of them. These functions decide what an entry or a resolution does to a sheet, given
where the sheet stands; they read and write nothing. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voting.domain.errors import DomainError

__all__ = [
    "ENTRIES_PER_ROUND",
    "MAX_REASON_LENGTH",
    "Comparison",
    "Decision",
    "PaperError",
    "SheetStatus",
    "check_entry",
    "check_resolution",
    "compare_entries",
    "parse_image_sha256",
    "parse_reason",
]

#: Two independent entries make a round; a discard starts the next round.
ENTRIES_PER_ROUND = 2
MAX_REASON_LENGTH = 500

_HEX64 = re.compile(r"[0-9a-f]{64}")


class PaperError(DomainError):
    """A refused entry or resolution; `reason` is a stable code for the message shown."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SheetStatus(enum.StrEnum):
    pending = "pending"  # one entry of this round; waiting for a second staff member
    matched = "matched"  # two entries by different staff agree exactly: counts
    mismatch = "mismatch"  # the two entries differ: nothing counts until resolved
    resolved = "resolved"  # an admin who made neither entry chose one: counts
    discarded = "discarded"  # an admin discarded the round: two fresh entries are needed


#: Statuses whose accepted entry counts.
COUNTING = frozenset({SheetStatus.matched, SheetStatus.resolved})


class Decision(enum.StrEnum):
    first = "first"  # the first entry of the round is right
    second = "second"  # the second entry of the round is right
    discard = "discard"  # neither: both are set aside, the sheet is entered afresh


@dataclass(frozen=True, slots=True)
class Comparison:
    """How two entries of one sheet differ: the motions (ids, ascending) and the image."""

    motions: tuple[int, ...]
    image: bool

    @property
    def matches(self) -> bool:
        return not self.motions and not self.image


def parse_image_sha256(value: object) -> str:
    """The image's SHA-256 as 64 lowercase hex digits (surrounding blanks and upper case are
    accepted, anything else is refused)."""
    if not isinstance(value, str):
        raise PaperError("the image hash must be text", "image_hash")
    text = value.strip().lower()
    if not _HEX64.fullmatch(text):
        raise PaperError(
            "the image hash must be a SHA-256: exactly 64 hexadecimal digits", "image_hash"
        )
    return text


def parse_reason(value: object) -> str:
    """A resolution's written reason: required, at most MAX_REASON_LENGTH characters."""
    if not isinstance(value, str) or not value.strip():
        raise PaperError("a resolution needs a written reason", "reason")
    text = value.strip()
    if len(text) > MAX_REASON_LENGTH:
        raise PaperError(
            f"the reason must be at most {MAX_REASON_LENGTH} characters", "reason_length"
        )
    return text


def compare_entries(
    first_choices: Mapping[int, str],
    first_image: str,
    second_choices: Mapping[int, str],
    second_image: str,
) -> Comparison:
    """Compare two entries: choices as canonical JSON text by motion id; a motion missing
    from one entry and present in the other differs."""
    motions = sorted(
        motion
        for motion in set(first_choices) | set(second_choices)
        if first_choices.get(motion) != second_choices.get(motion)
    )
    return Comparison(motions=tuple(motions), image=first_image != second_image)


def check_entry(status: SheetStatus | None, enterers: Sequence[int], user_id: int) -> int:
    """The position (1 or 2) of a new entry in the sheet's current round, or PaperError.

    `status` is None for a sheet never entered; `enterers` are the user ids of the current
    round's entries, in order.
    """
    if status is None or status is SheetStatus.discarded:
        return 1
    if status is SheetStatus.pending:
        if user_id in enterers:
            raise PaperError("the second entry must be made by another staff member", "same_user")
        return len(enterers) + 1
    if status is SheetStatus.mismatch:
        raise PaperError(
            "the two entries of this sheet differ: it must be resolved before anything else",
            "unresolved",
        )
    raise PaperError(
        "this sheet has already been entered twice and counts; a third entry is refused",
        "complete",
    )


def check_resolution(
    status: SheetStatus | None, enterers: Sequence[int], user_id: int, decision: Decision
) -> None:
    """May `user_id` resolve the sheet's current round with `decision`?

    A mismatch may be resolved either way; a pending sheet (one entry, for instance under
    the wrong voter) may only be discarded. Never by someone who made an entry of the round.
    """
    if status is SheetStatus.mismatch:
        pass
    elif status is SheetStatus.pending:
        if decision is not Decision.discard:
            raise PaperError(
                "a sheet with a single entry can only be discarded", "nothing_to_choose"
            )
    else:
        raise PaperError(
            "only a sheet whose entries differ or are incomplete can be resolved", "state"
        )
    if user_id in enterers:
        raise PaperError(
            "a sheet must be resolved by a committee admin who made neither entry",
            "own_entry",
        )
