"""`voting tally`: an observer's recount of a yes/no motion from two CSV files.

The recount runs the very engine the platform uses (`voting.domain.tally`), so a published
result can be checked on a laptop from the roll and the ballots alone. Every bad input is
refused with the file and the physical line that caused it; nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

import click

from voting.clikit import CommandError
from voting.domain.area import format_area, parse_area
from voting.domain.errors import (
    DuplicateBallotError,
    DuplicateUnitError,
    EmptyScopeError,
    HolderOutOfScopeError,
    TallyError,
    UnknownBuildingError,
    UnknownChoiceError,
    UnknownHolderError,
)
from voting.domain.tally import (
    ABSTAIN,
    NO,
    YES,
    Ballot,
    Motion,
    Rule,
    TallyRequest,
    TallyResult,
    UnitShare,
    tally,
)

REGISTRY_COLUMNS = ("unit_id", "building", "area_m2", "owner_id")
BALLOT_COLUMNS = ("owner_id", "choice")
RULES = {"ordinary": Rule.ORDINARY, "major": Rule.SPECIAL}
_SCOPE_SEPARATORS = re.compile("[,，]")


_BOM = b"\xef\xbb\xbf"


@dataclass
class _Source:
    """A CSV file being read; it can tell the physical line of any record it returned.

    The file is read in one streaming pass, parsed and picked in C (csv, filter,
    itemgetter). Line numbers are not tracked on that pass: when an error must name a
    line, the file is read again up to the faulty record (`line_of`).
    """

    path: str
    needed_fields: int = 0

    def error(self, message: str, line: int | None = None) -> CommandError:
        """An error naming this file and, when known, the line."""
        where = self.path if line is None else f"{self.path} line {line}"
        return CommandError(f"{where}: {message}")

    def error_at(self, index: int | None, message: str) -> CommandError:
        """An error about the record at `index` of `records()` (as passed to the domain)."""
        return self.error(message, None if index is None else self.line_of(index))

    def records(self, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The values of `columns` in each non-blank record after the header.

        The header is the first line that is not blank; its names are matched exactly
        after stripping whitespace, other columns are ignored and may come in any order.
        """
        header: list[str] = []
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.reader(handle)
                rows = filter(None, reader)  # a blank line is an empty row
                header = next((row for row in rows if _has_text(row)), [])
                if not header:
                    raise self.error("file is empty")
                pick = self._picker(header, columns, reader.line_num)
                return list(map(pick, rows))
        except OSError as error:
            raise self.error(f"cannot read file: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise self._not_utf8() from None
        except IndexError:
            raise self._short_row(len(header)) from None
        except csv.Error as error:
            raise self.error(f"malformed CSV: {error}", reader.line_num) from None

    def line_of(self, index: int) -> int:
        """The first physical line of record `index` (the header is not a record)."""
        return next(islice(self._numbered_rows(), index + 1, None))[0]

    def _numbered_rows(self) -> Iterator[tuple[int, list[str]]]:
        """The header and each record with its first physical line (error path)."""
        with open(self.path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            end = 0
            started = False
            for row in reader:
                start, end = end + 1, reader.line_num
                if row and (started or _has_text(row)):
                    started = True
                    yield start, row

    def _short_row(self, header_fields: int) -> CommandError:
        """The error for the first record lacking a needed column (error path)."""
        for line, row in islice(self._numbered_rows(), 1, None):
            if len(row) < self.needed_fields:
                return self.error(f"has {len(row)} fields, the header has {header_fields}", line)
        raise AssertionError("no short row found")

    def _not_utf8(self) -> CommandError:
        """The error naming the line of the first byte that is not UTF-8 (error path)."""
        data = Path(self.path).read_bytes()
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            start = error.start + (len(_BOM) if data.startswith(_BOM) else 0)
            line = data.count(b"\n", 0, start) + 1
            return self.error(f"not valid UTF-8 (byte {start + 1})", line)
        raise AssertionError("the file decodes")

    def _picker(
        self, header: list[str], columns: tuple[str, ...], line: int
    ) -> Callable[[list[str]], tuple[str, ...]]:
        """A function returning the values of `columns` from a row, in that order.

        `operator.itemgetter` does the picking in C; it needs at least two columns to
        return a tuple, which both files have.
        """
        names = [name.strip() for name in header]
        positions: list[int] = []
        for column in columns:
            if column not in names:
                raise self.error(f'missing column "{column}"', line)
            if names.count(column) > 1:
                raise self.error(f'column "{column}" appears twice', line)
            positions.append(names.index(column))
        self.needed_fields = max(positions) + 1
        first, second, *others = positions
        return itemgetter(first, second, *others)


def _has_text(row: list[str]) -> bool:
    return any(field.strip() for field in row)


def _stripped_columns(records: list[tuple[str, ...]], width: int) -> list[list[str]]:
    """The records as columns of stripped values (one C-level pass per column)."""
    if not records:
        return [[] for _ in range(width)]
    return [list(map(str.strip, column)) for column in zip(*records, strict=True)]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading creates a few objects per row and no reference cycles; the collector would
    only scan them again and again, which costs about a third of the time on large files.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@click.command("tally")
@click.option(
    "--registry",
    "registry_path",
    required=True,
    metavar="REGISTRY.csv",
    help="Units: unit_id,building,area_m2,owner_id (owner_id is the vote holder).",
)
@click.option(
    "--ballots",
    "ballots_path",
    required=True,
    metavar="BALLOTS.csv",
    help="One ballot per owner: owner_id,choice (yes, no or abstain).",
)
@click.option(
    "--rule",
    "rule_name",
    required=True,
    type=click.Choice(sorted(RULES)),
    help="ordinary: more than 1/2; major: at least 3/4 (Civil Code art. 278 (6)-(8)).",
)
@click.option(
    "--buildings",
    default=None,
    metavar='"1号楼,2号楼"',
    help="The motion's scope (comma-separated); all buildings if omitted.",
)
def tally_command(
    registry_path: str, ballots_path: str, rule_name: str, buildings: str | None
) -> None:
    """Recount a yes/no motion from REGISTRY.csv and BALLOTS.csv; print the result as JSON.

    Exits 0 with the JSON on stdout, or 2 with the offending file and line on stderr.
    """
    scope = _parse_scope(buildings)
    registry = _Source(registry_path)
    ballots = _Source(ballots_path)
    with _collector_paused():
        units = _read_units(registry)
        votes = _read_ballots(ballots)
        request = TallyRequest(Motion.yes_no(RULES[rule_name]), units, votes, scope)
        try:
            result = tally(request)
        except TallyError as error:
            raise _explain(error, registry, ballots) from None
    click.echo(json.dumps(summary(result), indent=2))


def _parse_scope(buildings: str | None) -> frozenset[str] | None:
    """Split --buildings on ASCII or Chinese commas; None means every building."""
    if buildings is None:
        return None
    names = frozenset(name.strip() for name in _SCOPE_SEPARATORS.split(buildings))
    names -= {""}
    if not names:
        raise CommandError("--buildings: empty scope: no building named")
    return names


def _read_units(registry: _Source) -> list[UnitShare]:
    """Parse the registry into units; the first bad area or empty identifier names its line."""
    unit_ids, buildings, area_texts, owners = _stripped_columns(
        registry.records(REGISTRY_COLUMNS), len(REGISTRY_COLUMNS)
    )
    faults: list[tuple[int, str]] = []
    blanks = [column.index("") for column in (unit_ids, buildings, owners) if "" in column]
    if blanks:
        faults.append((min(blanks), "unit_id, building and owner_id must not be empty"))
    parsed: dict[str, int] = {}  # many units share a floor plan: parse each text once
    for text in dict.fromkeys(area_texts):  # distinct texts in order of first appearance
        try:
            parsed[text] = parse_area(text)
        except ValueError as error:
            faults.append((area_texts.index(text), f"area_m2: {error}"))
            break
    if faults:
        index, message = min(faults)
        raise registry.error_at(index, message)
    areas = list(map(parsed.__getitem__, area_texts))
    return list(map(UnitShare, unit_ids, buildings, areas, owners))


def _read_ballots(ballots: _Source) -> list[Ballot]:
    """Parse the ballots; their validity is the tally's to judge."""
    owners, choices = _stripped_columns(ballots.records(BALLOT_COLUMNS), len(BALLOT_COLUMNS))
    return list(map(Ballot, owners, choices))


def _explain(error: TallyError, registry: _Source, ballots: _Source) -> CommandError:
    """Translate a domain error into the file, line and words of the CSV inputs."""
    match error:
        case UnknownHolderError():
            return ballots.error_at(error.index, f'unknown owner "{error.holder_id}"')
        case HolderOutOfScopeError():
            return ballots.error_at(error.index, f'owner "{error.holder_id}" has no unit in scope')
        case DuplicateBallotError():
            first = ballots.line_of(error.first_index)
            message = f'duplicate ballot from owner "{error.holder_id}" (first at line {first})'
            return ballots.error_at(error.index, message)
        case UnknownChoiceError():
            message = f'unknown choice "{error.choice}" (expected {YES}, {NO} or {ABSTAIN})'
            return ballots.error_at(error.index, message)
        case DuplicateUnitError():
            first = registry.line_of(error.first_index)
            return registry.error_at(
                error.index, f'duplicate unit "{error.unit_id}" (first at line {first})'
            )
        case UnknownBuildingError():
            return CommandError(
                f'--buildings: unknown building "{error.building}" (no unit in {registry.path})'
            )
        case EmptyScopeError():
            return registry.error("no unit in scope")
    return registry.error_at(error.index, str(error))


def summary(result: TallyResult) -> dict[str, str | int | bool]:
    """The JSON object printed by `voting tally`: areas as two-decimal strings."""
    yes, no, abstain = (result.count(option) for option in (YES, NO, ABSTAIN))
    return {
        "total_area": format_area(result.total_area_centi),
        "total_headcount": result.total_headcount,
        "participating_area": format_area(result.participating_area_centi),
        "participating_headcount": result.participating_headcount,
        "yes_area": format_area(yes.area_centi),
        "yes_headcount": yes.headcount,
        "no_area": format_area(no.area_centi),
        "no_headcount": no.headcount,
        "abstain_area": format_area(abstain.area_centi),
        "abstain_headcount": abstain.headcount,
        "quorum_met": result.quorum_met,
        "passed": result.passed,
    }
