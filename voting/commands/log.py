"""`voting log`: check an area's log against everything derived from it; sign a checkpoint;
print the log's verifier key.

    voting log check --area CODE [--key VERIFIER]   exit 0 all holds, 1 a finding, 2 bad input
    voting log checkpoint --area CODE               sign a checkpoint of the whole log now
    voting log key                                  the verifier key observers should pin

`check` recomputes every leaf hash from the stored entry bytes and the tree from them, and
compares them with the stored leaf hashes and subtree nodes, with every checkpoint ever
signed (its signature and its root at its size), and with the ballots and proxies whose log
entries vouch for them. It names the first bad log index or checkpoint.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from voting.clikit import CommandError, app_session

if TYPE_CHECKING:
    from flask import Flask

    from crypto.checkpoint import NoteVerifier

#: Findings printed before the summary; the rest are counted.
SHOWN_FINDINGS = 50


@click.group("log")
def log_group() -> None:
    """The tamper-evident log of each property area (审计日志)."""


def _verifier(app: Flask, key_text: str | None) -> NoteVerifier | None:
    """The verifier key given, else the instance's log key (never created here)."""
    from crypto.checkpoint import NoteVerifier
    from crypto.errors import CryptoError
    from crypto.keys import load_seed_file

    if key_text is not None:
        try:
            return NoteVerifier.parse(key_text.strip())
        except CryptoError as exc:
            raise CommandError(f"--key: {exc}") from exc
    config = app.config
    path = config.get("VOTING_LOG_KEY_PATH") or os.path.join(app.instance_path, "log-key")
    if not os.path.exists(path):
        return None
    try:
        key = load_seed_file(path)
    except (OSError, CryptoError) as exc:
        raise CommandError(f"log key {path}: {exc}") from exc
    return NoteVerifier(str(config["VOTING_PLATFORM_ID"]), key.public_key)


@log_group.command("check")
@click.option("--area", "area_code", required=True, help="Property area code.")
@click.option(
    "--key",
    "key_text",
    default=None,
    help="Verifier key to check the checkpoints with (default: the instance's log key).",
)
def check_command(area_code: str, key_text: str | None) -> None:
    """Recompute the log of an area and compare it with all that is stored."""
    from voting.commands.roll import _area_context
    from voting.services.logcheck import check_log

    with _area_context(area_code) as (app, session, area):
        verifier = _verifier(app, key_text)
        name = verifier.name if verifier is not None else app.config["VOTING_PLATFORM_ID"]
        report = check_log(session, area, verifier, f"{name}/log/{area.code}")
        session.rollback()
    if verifier is None and report.checkpoints:
        raise CommandError(
            f"{report.checkpoints} checkpoint(s) but no log key to check their signatures: "
            "give --key"
        )
    summary = (
        f"{report.size} entries, root {report.root.hex()}, {report.checkpoints} checkpoint(s), "
        f"{report.nodes} stored node(s), {report.ballots} ballot(s), {report.proxies} proxy(ies)"
    )
    if report.ok:
        click.echo(f"log {report.area}: {summary}: all consistent")
        return
    for finding in report.findings[:SHOWN_FINDINGS]:
        click.echo(f"BAD {finding.text}")
    hidden = len(report.findings) - SHOWN_FINDINGS
    if hidden > 0:
        click.echo(f"… and {hidden} more finding(s)")
    first = []
    if report.first_bad_index is not None:
        first.append(f"first bad index {report.first_bad_index}")
    if report.first_bad_checkpoint is not None:
        first.append(f"first bad checkpoint of size {report.first_bad_checkpoint}")
    click.echo(f"log {report.area}: {summary}: FAILED, {', '.join(first)}")
    raise SystemExit(1)


@log_group.command("checkpoint")
@click.option("--area", "area_code", required=True, help="Property area code.")
def checkpoint_command(area_code: str) -> None:
    """Sign a checkpoint of the area's whole log now (or show the latest if the log has not
    grown since)."""
    from voting.commands.roll import _area_context
    from voting.models import utcnow
    from voting.services.logtree import load_log_signer, sign_checkpoint

    with _area_context(area_code) as (app, session, area):
        row = sign_checkpoint(session, area, load_log_signer(app), utcnow())
        click.echo(row.note.decode("utf-8"), nl=False)


@log_group.command("key")
def key_command() -> None:
    """Print the verifier key of the log's checkpoints (created on first use)."""
    from voting.services.logtree import load_log_signer

    with app_session() as (app, _session):
        click.echo(load_log_signer(app).verifier.encode())
