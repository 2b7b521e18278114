"""`voting meetings list [--area CODE]`: the meetings, one per line, tab-separated:
id, area code, state, title. Unknown area: exit 2."""

from __future__ import annotations

import click

from voting.clikit import app_session


@click.group("meetings")
def meetings_group() -> None:
    """Owners' assembly meetings (业主大会会议)."""


@meetings_group.command("list")
@click.option("--area", "area_code", default=None, help="Only this property area's meetings.")
def list_command(area_code: str | None) -> None:
    """List meetings: id, area code, state, title (tab-separated)."""
    from sqlalchemy import select

    from voting.commands.roll import _area_context
    from voting.models import Meeting, PropertyArea

    query = (
        select(Meeting.id, PropertyArea.code, Meeting.state, Meeting.title)
        .join(PropertyArea, Meeting.property_area_id == PropertyArea.id)
        .order_by(PropertyArea.code, Meeting.id)
    )
    if area_code is not None:
        with _area_context(area_code) as (_app, session, area):
            rows = session.execute(query.where(Meeting.property_area_id == area.id)).all()
    else:
        with app_session() as (_app, session):
            rows = session.execute(query).all()
    for meeting_id, code, state, title in rows:
        clean = " ".join(str(title).split())  # one line, no tabs
        click.echo(f"{meeting_id}\t{code}\t{state.value}\t{clean}")
