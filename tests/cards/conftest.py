"""Fixtures for the owner-card adapters: a throw-away SoftHSM2 token for chip cards.

The token lives in a temporary directory of its own, named by a softhsm2.conf that
``SOFTHSM2_CONF`` points to, so the tests never touch the machine's real tokens. SoftHSM2 is
required, not optional: without it the chip tests fail and say how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TOKEN_LABEL = "test-card"
USER_PIN = "123456"
SO_PIN = "12345678"

_SETUP_HINT = "SoftHSM2 is not installed: run `bash scripts/softhsm-setup.sh` (needs root)"


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    user_pin: str
    so_pin: str
    version: tuple[int, ...]
    config: Path


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """A freshly initialised SoftHSM2 token ``test-card`` (user PIN 123456), for this session."""
    from voting.cards.chip import SOFTHSM2_MODULE

    util = shutil.which("softhsm2-util")
    if util is None or not os.path.isfile(SOFTHSM2_MODULE):
        pytest.fail(_SETUP_HINT, pytrace=False)
    version_text = subprocess.run(
        [util, "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version_text)
    if match is None:
        pytest.fail(f"cannot parse `softhsm2-util --version` output: {version_text!r}")
    version = tuple(int(part) for part in match.groups() if part is not None)

    root = tmp_path_factory.mktemp("softhsm")
    tokens = root / "tokens"
    tokens.mkdir()
    config = root / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(config))
        subprocess.run(
            [
                util,
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        yield SoftHsm(SOFTHSM2_MODULE, TOKEN_LABEL, USER_PIN, SO_PIN, version, config)
