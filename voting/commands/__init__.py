"""Sub-commands of `voting`, one module each, imported only when used.

Loading lazily keeps `voting tally` (a recount on plain files) free of the web stack and the
database layer, so it starts fast on an observer's laptop.
"""

from __future__ import annotations

import importlib

import click

# command name -> (module, attribute): each attribute is a click command or group.
COMMANDS: dict[str, tuple[str, str]] = {
    "cards": ("voting.commands.cards", "cards_group"),
    "demo": ("voting.commands.demo", "demo_command"),
    "export": ("voting.commands.export", "export_command"),
    "log": ("voting.commands.log", "log_group"),
    "meetings": ("voting.commands.meetings", "meetings_group"),
    "roll": ("voting.commands.roll", "roll_group"),
    "tally": ("voting.commands.tally", "tally_command"),
    "verify": ("voting.commands.verify", "verify_command"),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        return super().get_command(ctx, cmd_name)
