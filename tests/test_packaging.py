"""The wheel carries everything the app needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_packaging_wheel_ships_templates_translations_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "voting/web/templates/base.html" in names
    assert any(n.startswith("voting/web/static/") for n in names)
    assert "voting/translations/zh_CN/LC_MESSAGES/messages.mo" in names
    assert "voting/translations/en/LC_MESSAGES/messages.mo" in names
    assert "migrations/env.py" in names
    assert "migrations/script.py.mako" in names
    assert any(n.startswith("migrations/versions/0001_") for n in names)
    for package in ("crypto/__init__.py", "kiosk/__init__.py", "voting/domain/__init__.py"):
        assert package in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "voting = voting.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
