"""The `voting` command.

Each sub-command lives in its own module under `voting.commands`; this module only
assembles the group.
"""

from __future__ import annotations

import click

from voting.commands import register_all


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="owners-assembly-voting")
def main() -> None:
    """Owners' assembly voting platform (业主大会电子表决平台)."""


register_all(main)
