"""Sub-commands of `voting`, one module each."""

from __future__ import annotations

import importlib

import click

# (module, attribute): each attribute is a click command or group.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("voting.commands.tally", "tally_command"),
)


def register_all(group: click.Group) -> None:
    for module_name, attribute in _COMMANDS:
        module = importlib.import_module(module_name)
        group.add_command(getattr(module, attribute))
