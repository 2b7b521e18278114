"""`voting demo`: seed the demo property area and serve it on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from voting import demo
from voting.clikit import app_session


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--seed-only", is_flag=True, help="Seed the database and exit.")
def demo_command(host: str, port: int, seed_only: bool) -> None:
    """Create (or reuse) the demo property area and serve the platform."""
    from voting.migrate import upgrade
    from voting.services.ballots import ballot_nonce_key
    from voting.services.cards import load_issuer
    from voting.services.demo import seed_demo, seed_demo_cards
    from voting.services.demo_meetings import seed_demo_meetings
    from voting.services.logtree import load_log_signer
    from voting.services.meetings import close_meeting

    with app_session() as (app, session):
        upgrade(app.config["VOTING_DATABASE_URL"])
        summary = seed_demo(session, app.config["VOTING_ID_HASH_KEY"])
        version = summary.version
        state = "imported" if summary.imported else "unchanged"
        click.echo(f"Database: {app.config['VOTING_DATABASE_URL']}")
        click.echo(
            f"Demo area {summary.area.code} {summary.area.name}: roll version {version.number} "
            f"({state}), {version.unit_count} units, headcount {version.headcount}, "
            f"total area {version.total_area_centi // 100}.{version.total_area_centi % 100:02d} m²"
        )
        cards = seed_demo_cards(
            session,
            summary.area,
            load_issuer(app),
            Path(app.instance_path),
            f"http://127.0.0.1:{port}",
            issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=90),
        )
        click.echo(
            f"Owner cards: {cards.issued} issued now, {len(cards.cards)} listed with their "
            f"links, PINs and PUKs in {cards.path} (demo only: keep it private)"
        )
        if cards.cards:
            example = cards.cards[0]
            click.echo(f"  Example card {example['card_number']}: {example['link']}")
            click.echo(f"  PIN {example['pin']}")
        signer = load_log_signer(app)

        def close(session: Any, meeting: Any, at: dt.datetime) -> None:
            close_meeting(session, meeting, now=at, signer=signer)

        meetings = seed_demo_meetings(
            session,
            summary.area,
            cards.cards,
            platform=app.config["VOTING_PLATFORM_ID"],
            nonce_key=ballot_nonce_key(app.config["SECRET_KEY"]),
            close_hook=close,
        )
        click.echo(
            f"Meetings: #{meetings.published.id} {meetings.published.title} "
            f"({meetings.published.state.value}"
            + (f", {meetings.ballots} ballots seeded" if meetings.seeded else "")
            + f"); #{meetings.open.id} {meetings.open.title} ({meetings.open.state.value})"
        )
    click.echo(f"Staff accounts (password {demo.DEMO_PASSWORD}):")
    for user in demo.DEMO_USERS:
        click.echo(f"  {user.username:<10} {user.role.value:<20} {user.display_name}")
    if seed_only:
        return
    from werkzeug.serving import run_simple

    click.echo(f"Serving on http://{host}:{port}/  (Ctrl+C to stop)")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
