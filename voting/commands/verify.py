"""`voting verify RECORD [--log-key HEX]`: check an election record offline.

Imports only `crypto`, `voting.domain`, the standard library and click, so an observer can
run it on a laptop without the platform's web stack or database (tested by looking at
`sys.modules`). RECORD is a folder or a zip file written by `voting export`.

Exit status: 0 when every check passes (a summary is printed), 1 when a check fails (each
failure is named), 2 when RECORD is missing or unreadable or an option is malformed.
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path
from typing import IO, Any

import click

from voting.domain.verify import first_lines, verify_record
from voting.domain.verify_sigs import signature_checker

#: Failures printed per check before "... and N more".
SHOWN_PER_CHECK = 20


class UsageProblem(click.ClickException):
    """A missing or unreadable record or a malformed option: exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def read_record(path: Path) -> dict[str, bytes]:
    """The record's files by name; a subfolder or other odd entry is kept as a name ending
    in "/" so the verifier reports it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageProblem(f"{path}: no such folder or zip file") from None
    except OSError as exc:
        raise UsageProblem(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        if stat.S_ISDIR(info.st_mode):
            return _read_folder(path)
        if stat.S_ISREG(info.st_mode) and zipfile.is_zipfile(path):
            return _read_zip(path)
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
        raise UsageProblem(f"{path}: cannot be read: {exc}") from None
    raise UsageProblem(f"{path}: not a folder nor a zip file")


def _read_folder(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            files[entry.name] = Path(entry.path).read_bytes()
        else:
            files[f"{entry.name}/"] = b""
    return files


def _read_zip(path: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            if name in files:
                files[f"{name} (a second copy)"] = b""
                continue
            files[name] = b"" if info.is_dir() else archive.read(info)
    return files


def _log_key(text: str | None) -> bytes | None:
    if text is None:
        return None
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise UsageProblem("--log-key must be the log's public key: 64 hexadecimal digits")
    return bytes.fromhex(value)


@click.command("verify")
@click.argument("record", type=click.Path(path_type=Path))
@click.option(
    "--log-key",
    "log_key",
    metavar="HEX",
    default=None,
    help="The log's Ed25519 public key (64 hex digits), from a source you trust; "
    "without it the key in the record is used.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the signature checks (default: every core).",
)
def verify_command(record: Path, log_key: str | None, jobs: int | None) -> None:
    """Check the election record RECORD (a folder or zip file from `voting export`).

    Exits 0 when every check passes, 1 naming each failed check, 2 when RECORD is missing or
    unreadable.
    """
    key = _log_key(log_key)
    started = time.perf_counter()
    files = read_record(record)
    with signature_checker(jobs) as checker:
        workers = 1 if checker.executor is None else jobs or os.cpu_count() or 1
        report = verify_record(files, log_key=key, checker=checker)
    elapsed = time.perf_counter() - started
    for line in report.summary:
        click.echo(line)
    rate = report.signatures / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"signatures: {report.signatures} checked; verified in {elapsed:.2f} s "
        f"({rate:,.0f} signatures/s, {workers} process(es))"
    )
    if report.ok:
        click.echo(f"OK: the election record {record} passed every check.")
        return
    shown, left = first_lines(report.failures, SHOWN_PER_CHECK)
    for failure in shown:
        click.echo(f"FAILED [{failure.check}] {failure.message}", err=True)
    if left:
        click.echo(f"... and {left} more failure(s)", err=True)
    click.echo(
        f"FAILED: {len(report.failures)} problem(s) in {', '.join(report.failed_checks())}.",
        err=True,
    )
    raise SystemExit(1)
