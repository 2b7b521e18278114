"""`voting export --meeting ID OUT`: a folder or zip that `voting verify` accepts; refusals
exit 2 and write nothing (no file, no log entry)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from ballotkit import PLATFORM, open_meeting_setup
from click.testing import CliRunner, Result
from exportkit import closed_meeting
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.keys import load_seed_file
from voting.cli import main
from voting.domain import record as rec
from voting.models import LogEntry


@pytest.fixture
def run(database_url: str, instance_path: Path) -> Any:
    def invoke(*args: str) -> Result:
        env = {
            "VOTING_DATABASE_URL": database_url,
            "VOTING_INSTANCE_PATH": str(instance_path),
            "VOTING_PLATFORM_ID": PLATFORM,
        }
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def _log_size(db: Session) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(LogEntry)) or 0


def test_export_command_writes_a_folder_and_a_zip_that_verify(
    db: Session, run: Any, tmp_path: Path, instance_path: Path
) -> None:
    setup = closed_meeting(db)
    meeting = str(setup.meeting.id)
    result = run("export", "--meeting", meeting, str(tmp_path / "record"))
    assert result.exit_code == 0, result.output
    assert "Exported the record of meeting" in result.output
    assert sorted(p.name for p in (tmp_path / "record").iterdir()) == sorted(rec.RECORD_FILES)
    key = load_seed_file(instance_path / "log-key").public_key.hex()
    checked = run("verify", str(tmp_path / "record"), "--log-key", key, "--jobs", "1")
    assert checked.exit_code == 0, checked.output
    assert "OK: the election record" in checked.output
    result = run("export", "--meeting", meeting, str(tmp_path / "record.zip"))
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "record.zip") as archive:
        assert sorted(archive.namelist()) == sorted(rec.RECORD_FILES)
    checked = run("verify", str(tmp_path / "record.zip"), "--log-key", key)
    assert checked.exit_code == 0, checked.output
    # Two exports, two anchors: the second record's manifest is the same content, logged again.
    entries = db.scalars(select(LogEntry.kind).where(LogEntry.kind == rec.EXPORT_KIND)).all()
    assert len(entries) == 2


def test_export_command_refusals_exit_2_and_write_nothing(
    db: Session, run: Any, tmp_path: Path
) -> None:
    setup = open_meeting_setup(db)
    meeting = str(setup.meeting.id)
    before = _log_size(db)
    result = run("export", "--meeting", meeting, str(tmp_path / "open"))
    assert result.exit_code == 2 and "is open" in result.output
    assert not (tmp_path / "open").exists()
    result = run("export", "--meeting", "999", str(tmp_path / "none"))
    assert result.exit_code == 2 and "there is no meeting 999" in result.output
    (tmp_path / "taken").mkdir()
    result = run("export", "--meeting", meeting, str(tmp_path / "taken"))
    assert result.exit_code == 2 and "already exists" in result.output
    result = run("export", "--meeting", meeting, str(tmp_path / "missing" / "record"))
    assert result.exit_code == 2 and "does not exist" in result.output
    assert _log_size(db) == before
