"""Shared helpers for the `voting` command line.

Every user error exits with status 2 and one message on stderr, so that scripts can tell a
bad input (2) from a failed check (1) and from success (0).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session


class CommandError(click.ClickException):
    """A bad input or refused action: message on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextlib.contextmanager
def app_session() -> Iterator[tuple[Flask, Session]]:
    """The configured app and a database session inside its app context.

    A configuration the app refuses (e.g. production without a secret key) exits 2.
    """
    from voting import create_app
    from voting.config import ConfigError
    from voting.database import db_session

    try:
        app = create_app()
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    with app.app_context():
        yield app, db_session()
