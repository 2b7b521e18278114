"""`voting meetings list [--area CODE]`: one meeting per line, tab-separated: id, area code,
state, title; an unknown area exits 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ballotkit import T0, open_meeting_setup
from click.testing import CliRunner
from logkit import new_area
from sqlalchemy.orm import Session

from voting.cli import main
from voting.services.meetings import create_meeting


@pytest.fixture
def run(database_url: str, instance_path: Path) -> Any:
    env = {"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(instance_path)}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_meetings_list(run: Any, db: Session) -> None:
    setup = open_meeting_setup(db)
    other = new_area(db, "ZZ01")
    draft = create_meeting(db, other, "Draft\tmeeting\nwith breaks", now=T0)
    second = create_meeting(db, setup.area, "第二次会议", now=T0)
    result = run("meetings", "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{setup.meeting.id}\tNHXY\topen\t{setup.meeting.title}",
        f"{second.id}\tNHXY\tdraft\t第二次会议",
        f"{draft.id}\tZZ01\tdraft\tDraft meeting with breaks",
    ]
    only = run("meetings", "list", "--area", "ZZ01")
    assert only.exit_code == 0
    assert only.output == f"{draft.id}\tZZ01\tdraft\tDraft meeting with breaks\n"


def test_meetings_list_unknown_area(run: Any, db: Session) -> None:
    result = run("meetings", "list", "--area", "NOPE")
    assert result.exit_code == 2
    assert "no property area" in result.output


def test_meetings_list_empty(run: Any, db: Session) -> None:
    new_area(db, "EMPTY1")
    db.commit()
    result = run("meetings", "list", "--area", "EMPTY1")
    assert result.exit_code == 0 and result.output == ""
