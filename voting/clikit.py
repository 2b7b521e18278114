"""Shared helpers for the `voting` command line.

Every user error exits with status 2 and one message on stderr, so that scripts can tell a
bad input (2) from a failed check (1) and from success (0).
"""

from __future__ import annotations

from typing import IO, Any

import click


class CommandError(click.ClickException):
    """A bad input or refused action: message on stderr, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
