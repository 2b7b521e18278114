"""`voting roll`: import the owner roll from a file, list and print its versions.

`voting roll import FILE --area CODE` checks the file, prints every error (exit 2, nothing
imported) or the difference from the current version, asks before applying it (unless
`--yes`) and imports it as the next version, all or nothing. `--dry-run` only reports.
Printed rolls show house numbers, areas, status and holder refs: never names or ID numbers.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from voting.clikit import CommandError, app_session
from voting.domain.area import format_area
from voting.domain.roll import HolderChange, HolderState, RollDiff, UnitChange, UnitState

# How many errors and difference lines are printed before "... and N more".
ERROR_LIMIT = 200
DETAIL_LIMIT = 20
# Files with fewer data rows than this get no progress bar.
PROGRESS_MIN_ROWS = 5000


@click.group("roll")
def roll_group() -> None:
    """The owner roll (业主名册): import a new version, list and print versions."""


@contextlib.contextmanager
def _area_context(code: str) -> Iterator[tuple[Any, Any, Any]]:
    """(app, session, area) inside an app context; a bad config or area exits 2."""
    from voting.services import NotFound
    from voting.services.tenancy import area_by_code

    with app_session() as (app, session):
        try:
            area = area_by_code(session, code)
        except NotFound as exc:
            raise CommandError(str(exc)) from exc
        yield app, session, area


class _Bars:
    """One click progress bar per phase, on stderr, for large files only."""

    def __init__(self) -> None:
        self._bars: dict[str, tuple[Any, int]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        bar, shown = self._bars.get(phase, (None, 0))
        if bar is None:
            label = {"check": "Checking rows", "write": "Writing entries"}.get(phase, phase)
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        self._bars[phase] = (bar, done)
        if done >= total:
            self._finish(phase)

    def _finish(self, phase: str) -> None:
        bar, _shown = self._bars.pop(phase)
        bar.__exit__(None, None, None)

    def close(self) -> None:
        for phase in list(self._bars):
            self._finish(phase)


def _print_errors(errors: tuple[Any, ...]) -> None:
    for error in errors[:ERROR_LIMIT]:
        click.echo(str(error), err=True)
    if len(errors) > ERROR_LIMIT:
        click.echo(f"... and {len(errors) - ERROR_LIMIT} more errors", err=True)


def _mask(name: str) -> str:
    """A name shown in a difference: first character, the rest masked (王** for 王小明)."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def _holder_text(identity: str, state: HolderState | None) -> str:
    if state is None:
        return identity
    if state.ref is not None:
        return state.ref
    last4 = f" …{state.id_last4}" if state.id_last4 else ""
    return f"new {state.kind} {_mask(state.name)}{last4}"


def _unit_text(state: UnitState, holders: Mapping[str, HolderState]) -> str:
    parking = " parking" if state.is_parking else ""
    holder = _holder_text(state.holder, holders.get(state.holder))
    return (
        f"{format_area(state.area_centi)} m² {state.area_source} {state.status}{parking} {holder}"
    )


_FIELD_VALUE = {
    "area": lambda s: format_area(s.area_centi),
    "area_source": lambda s: s.area_source,
    "status": lambda s: s.status,
    "parking": lambda s: "yes" if s.is_parking else "no",
    "co_owners": lambda s: "(set)" if s.co_owners else "(none)",
    "guardian": lambda s: "(set)" if s.guardian else "(none)",
}


def _change_text(change: UnitChange, holders: Mapping[str, HolderState]) -> str:
    old, new = change.old, change.new
    assert old is not None and new is not None
    parts = []
    for name in change.fields:
        if name == "holder":
            before = _holder_text(old.holder, holders.get(old.holder))
            after = _holder_text(new.holder, holders.get(new.holder))
            parts.append(f"holder {before} → {after}")
        else:
            parts.append(f"{name} {_FIELD_VALUE[name](old)} → {_FIELD_VALUE[name](new)}")
    return "; ".join(parts)


def _details(title: str, lines: list[str]) -> None:
    if not lines:
        return
    click.echo(f"{title}:")
    for line in lines[:DETAIL_LIMIT]:
        click.echo(f"  {line}")
    if len(lines) > DETAIL_LIMIT:
        click.echo(f"  ... and {len(lines) - DETAIL_LIMIT} more")


def _holder_change_text(change: HolderChange) -> str:
    old, new = change.old, change.new
    assert old is not None and new is not None
    return f"{old.ref}: " + ", ".join(change.fields)


def print_diff(diff: RollDiff, holders: Mapping[str, HolderState]) -> None:
    counts = diff.counts()
    click.echo(
        "Units: {units_added} added, {units_removed} removed, {units_changed} changed; "
        "holders: {holders_added} added, {holders_removed} removed, "
        "{holders_changed} changed".format(**counts)
    )
    _details(
        "Units added",
        [
            f"+ {c.building} {c.unit}: {_unit_text(c.new, holders)}"
            for c in diff.units_added
            if c.new
        ],
    )
    _details(
        "Units removed",
        [
            f"- {c.building} {c.unit}: {_unit_text(c.old, holders)}"
            for c in diff.units_removed
            if c.old
        ],
    )
    _details(
        "Units changed",
        [f"~ {c.building} {c.unit}: {_change_text(c, holders)}" for c in diff.units_changed],
    )
    _details("Holders added", [f"+ {_holder_text(c.key, c.new)}" for c in diff.holders_added])
    _details("Holders removed", [f"- {_holder_text(c.key, c.old)}" for c in diff.holders_removed])
    _details("Holders changed", [f"~ {_holder_change_text(c)}" for c in diff.holders_changed])


def _summary_line(units: int, headcount: int, area_centi: int) -> str:
    return f"{units} units, headcount {headcount}, total area {format_area(area_centi)} m²"


@roll_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--area", "area_code", required=True, help="Code of the property area.")
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--dry-run", is_flag=True, help="Only check the file and show the difference.")
def import_command(file: Path, area_code: str, yes: bool, dry_run: bool) -> None:
    """Check a roll file (CSV or XLSX) and import it as the area's next roll version."""
    from voting.services import ServiceError
    from voting.services.roll import RollRejected, check_roll_file, import_roll

    content = file.read_bytes()
    bars = _Bars()
    with _area_context(area_code) as (app, session, area):
        key = app.config["VOTING_ID_HASH_KEY"]
        try:
            preview = check_roll_file(session, area, file.name, content, key, progress=bars)
        finally:
            bars.close()
        # End the read transaction: nothing should stay open while the user reads the
        # difference and answers.
        session.rollback()
        if preview.errors:
            _print_errors(preview.errors)
            raise CommandError(
                f"{len(preview.errors)} error(s) in {file.name}: nothing was imported"
            )
        base = f"version {preview.base_version}" if preview.base_version else "none"
        click.echo(f"File: {file.name} ({preview.data_rows} rows, SHA-256 {preview.sha256})")
        click.echo(f"Current roll of {area.code} {area.name}: {base}")
        click.echo(
            "New roll: "
            + _summary_line(preview.unit_count, preview.headcount, preview.total_area_centi)
        )
        if preview.ignored_columns:
            click.echo("Ignored columns: " + ", ".join(preview.ignored_columns))
        assert preview.diff is not None
        print_diff(preview.diff, preview.holders)
        if not preview.has_changes:
            if dry_run:
                click.echo("The roll is unchanged.")
                return
            raise CommandError("the roll is unchanged: nothing was imported")
        if dry_run:
            click.echo(f"Dry run: version {preview.next_version} was not imported.")
            return
        if not yes:
            try:
                confirmed = click.confirm(
                    f"Apply this roll as version {preview.next_version}?", default=False
                )
            except click.Abort as exc:
                raise CommandError(
                    "not confirmed: nothing was imported (use --yes to apply without asking)"
                ) from exc
            if not confirmed:
                click.echo("Nothing was imported.")
                return
        try:
            version = import_roll(
                session,
                area,
                file.name,
                content,
                key,
                expected_base_version=preview.base_version,
                progress=bars,
            )
        except RollRejected as exc:
            _print_errors(exc.errors)
            raise CommandError(str(exc)) from exc
        except ServiceError as exc:
            raise CommandError(f"{exc}; nothing was imported") from exc
        finally:
            bars.close()
        click.echo(
            f"Imported roll version {version.number}: "
            + _summary_line(version.unit_count, version.headcount, version.total_area_centi)
        )
        click.echo(f"Content SHA-256: {version.content_sha256}")


@roll_group.command("versions")
@click.option("--area", "area_code", required=True, help="Code of the property area.")
def versions_command(area_code: str) -> None:
    """List the area's roll versions, newest first."""
    from voting.services.roll import list_versions

    with _area_context(area_code) as (_app, session, area):
        versions = list_versions(session, area)
        if not versions:
            click.echo(f"Area {area.code} has no roll yet.")
            return
        click.echo("version\tcreated (UTC)\tunits\theadcount\ttotal area m²\tfile\tcontent SHA-256")
        for v in versions:
            created = v.created_at.strftime("%Y-%m-%d %H:%M:%S")
            click.echo(
                f"{v.number}\t{created}\t{v.unit_count}\t{v.headcount}\t"
                f"{format_area(v.total_area_centi)}\t{v.source_name}\t{v.content_sha256}"
            )


@roll_group.command("show")
@click.option("--area", "area_code", required=True, help="Code of the property area.")
@click.option("--version", "number", type=click.IntRange(min=1), help="Default: the current.")
def show_command(area_code: str, number: int | None) -> None:
    """Print one roll version: house numbers, areas, status and holder refs (no names)."""
    from voting.services import NotFound
    from voting.services.roll import current_version, get_version, version_entries

    with _area_context(area_code) as (_app, session, area):
        if number is None:
            version = current_version(session, area)
            if version is None:
                raise CommandError(f"area {area.code} has no roll yet")
        else:
            try:
                version = get_version(session, area, number)
            except NotFound as exc:
                raise CommandError(str(exc)) from exc
        click.echo(
            f"# {area.code} roll version {version.number}: "
            + _summary_line(version.unit_count, version.headcount, version.total_area_centi)
        )
        click.echo(f"# content SHA-256 {version.content_sha256}")
        click.echo("building\tunit\tarea_m2\tarea_source\tstatus\tparking\tholder_ref")
        for e in version_entries(session, version):
            parking = "yes" if e.is_parking else "no"
            click.echo(
                f"{e.building}\t{e.unit}\t{format_area(e.area_centi)}\t{e.area_source}\t"
                f"{e.status}\t{parking}\t{e.holder_ref}"
            )
