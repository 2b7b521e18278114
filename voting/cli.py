"""The `voting` command; each sub-command lives in its own module under `voting.commands`."""

from __future__ import annotations

import click

from voting.commands import LazyGroup


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="owners-assembly-voting")
def main() -> None:
    """Owners' assembly voting platform (业主大会电子表决平台)."""


if __name__ == "__main__":
    main()
