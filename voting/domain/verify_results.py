"""The published result of a motion, rebuilt from an election record.

The platform stores one canonical JSON document per motion at the close and logs its SHA-256
in a "tally" entry (`voting.services.results.record_results`, which builds the document's
shared members with the functions here; docs/TALLY.md). Every member
of that document follows from what the record holds — the motion, the roll snapshot, the
counted electronic ballots, the counted paper ballots and the close time — through the one
tally engine, `voting.domain.tally.tally`. `result_document` rebuilds it here, so the
verifier can compare the published document member by member and name what differs.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crypto.canonical import JSONValue
from voting.domain.errors import TallyError
from voting.domain.procedure import MotionSpec
from voting.domain.tally import Ballot, Choice, TallyRequest, TallyResult, UnitShare, tally

__all__ = [
    "NOT_COUNTED",
    "RESULT_FORMAT",
    "CountedInput",
    "ballots_sha256",
    "choice_value",
    "decision",
    "participation",
    "quorum_needed",
    "result_document",
]

RESULT_FORMAT = "voting-motion-result/1"
NOT_COUNTED = "not_counted"


def choice_value(choice: Choice) -> JSONValue:
    """A choice as a JSON value: the option text, or an election's candidates in order."""
    if isinstance(choice, frozenset):
        return sorted(choice)
    return choice


def quorum_needed(total: int) -> int:
    """The least participation that is at least 2/3 of `total`: ⌈2·total/3⌉."""
    return -(-2 * total // 3)


def ballots_sha256(electronic_hashes: Iterable[str], paper: Iterable[tuple[str, Choice]]) -> str:
    """SHA-256 of canonical {"electronic": sorted ballot hashes, "paper": [[ref, choice]]
    sorted by ref}: what was counted."""
    document: dict[str, JSONValue] = {
        "electronic": sorted(electronic_hashes),
        "paper": [[ref, choice_value(choice)] for ref, choice in sorted(paper, key=_first)],
    }
    # Two ASCII keys, then lists of strings: the C encoder writes exactly the canonical
    # bytes here (section 3), and is much faster on a large meeting.
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first(pair: tuple[str, Choice]) -> str:
    return pair[0]


@dataclass(frozen=True, slots=True)
class CountedInput:
    """What counts on one motion: electronic ballots (ref, choice, ballot hash), and paper
    ballots (ref, choice) of voters without a counted electronic ballot on it."""

    electronic: Sequence[tuple[str, Choice, str]]
    paper: Sequence[tuple[str, Choice]]


def _pair(area: int, headcount: int) -> dict[str, JSONValue]:
    return {"area_centi": area, "headcount": headcount}


def participation(result: TallyResult) -> dict[str, JSONValue]:
    """Totals in scope, participation, the 2/3 quorum it needed, and whether it was met."""
    return {
        "totals": _pair(result.total_area_centi, result.total_headcount),
        "participation": _pair(result.participating_area_centi, result.participating_headcount),
        "quorum_needed": _pair(
            quorum_needed(result.total_area_centi), quorum_needed(result.total_headcount)
        ),
        "quorum_met": result.quorum_met,
    }


def decision(result: TallyResult | str) -> dict[str, JSONValue]:
    """Participation, counts and outcome; all null but the outcome when not counted."""
    if isinstance(result, str):
        return {
            "totals": None,
            "participation": None,
            "quorum_needed": None,
            "quorum_met": None,
            "counts": None,
            "outcome": NOT_COUNTED,
            "error": result,
            "winner": None,
            "approved": [],
            "elected": [],
            "tied_for_last_seat": [],
        }
    return participation(result) | {
        "counts": [
            {"option": c.option, "area_centi": c.area_centi, "headcount": c.headcount}
            for c in result.counts
        ],
        "outcome": result.outcome.value,
        "error": None,
        "winner": result.winner,
        "approved": list(result.approved),
        "elected": list(result.elected),
        "tied_for_last_seat": list(result.tied_for_last_seat),
    }


def result_document(
    *,
    meeting: int,
    motion: int,
    position: int,
    spec: MotionSpec,
    parking_counts: bool,
    units: Sequence[UnitShare],
    counted: CountedInput,
    roll_sha256: str,
    tallied_at: str,
) -> tuple[dict[str, JSONValue], TallyResult | str]:
    """The result document of a motion and the tally behind it (or why it was not counted).

    `units` are the units that count at the meeting (parking spaces left out when the rules
    of procedure say so). A ballot of a voter with no such unit in the motion's scope is set
    aside: counted in "ballots.set_aside", not tallied.
    """
    voters = {u.holder_id for u in units if spec.scope is None or u.building in spec.scope}
    electronic = [(ref, choice) for ref, choice, _hash in counted.electronic]
    aside = {ref for ref, _c in (*electronic, *counted.paper)} - voters
    pairs = [*electronic, *counted.paper]
    if aside:
        pairs = [pair for pair in pairs if pair[0] not in aside]
    pairs.sort(key=_first)
    ballots = list(map(Ballot, *zip(*pairs, strict=True))) if pairs else []
    result: TallyResult | str
    try:
        result = tally(TallyRequest(spec.tally_motion(), units, ballots, spec.scope))
    except TallyError as exc:
        result = str(exc)
    document: dict[str, JSONValue] = {
        "format": RESULT_FORMAT,
        "meeting": meeting,
        "motion": motion,
        "position": position,
        "matter": spec.matter,
        "kind": spec.kind.value,
        "rule": spec.rule.value,
        "options": list(spec.options),
        "seats": spec.seats,
        "scope": sorted(spec.scope) if spec.scope is not None else None,
        "parking_counts": parking_counts,
        **decision(result),
        "ballots": {
            "electronic": sum(1 for ref, _c in electronic if ref not in aside),
            "paper": sum(1 for ref, _c in counted.paper if ref not in aside),
            "set_aside": len(aside),
        },
        "inputs": {
            "roll_sha256": roll_sha256,
            "ballots_sha256": ballots_sha256(
                (h for _r, _c, h in counted.electronic), counted.paper
            ),
        },
        "tallied_at": tallied_at,
    }
    return document, result
