"""`voting export --meeting ID OUT`: write a meeting's election record.

OUT is a new folder, or a zip file when it ends in ".zip". The record's manifest is logged in
the area's log and a checkpoint covering it is signed with the log key, so the record can be
checked offline with `voting verify OUT` (docs/PROTOCOL.md section 11).
"""

from __future__ import annotations

from pathlib import Path

import click

from voting.clikit import CommandError, app_session


@click.command("export")
@click.option("--meeting", "meeting_id", type=int, required=True, help="The meeting's id.")
@click.argument("out", type=click.Path(path_type=Path))
def export_command(meeting_id: int, out: Path) -> None:
    """Export the election record of a closed meeting to OUT (a folder, or OUT.zip).

    Exits 0 when written, 2 with a message when the meeting cannot be exported or OUT cannot
    be written (nothing is written then).
    """
    from voting.models import Meeting
    from voting.services import ServiceError
    from voting.services.export import export_record, write_record
    from voting.services.logtree import load_log_signer

    if out.exists() or out.is_symlink():
        raise CommandError(f"{out} already exists; choose a new name")
    if not out.parent.is_dir():
        raise CommandError(f"folder {out.parent} does not exist")
    with app_session() as (app, session):
        meeting = session.get(Meeting, meeting_id)
        if meeting is None:
            raise CommandError(f"there is no meeting {meeting_id}")
        try:
            signer = load_log_signer(app)
            exported = export_record(session, meeting, signer=signer)
            written = write_record(exported.files, out)
        except (ServiceError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
    click.echo(
        f"Exported the record of meeting {exported.meeting} (area {exported.area}) to "
        f"{written}: {exported.ballots} ballot(s), {exported.certificates} certificate(s); "
        f"anchored at log entry {exported.anchor_index}, checkpoint size "
        f"{exported.checkpoint_size}."
    )
    click.echo(f"Check it with: voting verify {written}")
