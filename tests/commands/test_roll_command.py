"""`voting roll import / versions / show`: exit codes, messages, nothing written on refusal."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from voting.cli import main
from voting.models import Base, Holder, PropertyArea
from voting.services.tenancy import AreaPath, ensure_property_area

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "rolls"
SAMPLE = SAMPLES / "sample_zh.csv"
PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-004", "望京街道"),
    community=("110105-004-012", "南湖西园社区"),
    area=("NHXY", "南湖西园小区"),
)
NAMES = ("王伟", "李娜", "陈静", "赵磊", "北京南湖置业有限公司")
ID_NUMBERS = ("11010519491231002X", "110105198001010016", "91110105MA01ABCD2X")


@pytest.fixture
def area(db: Session) -> PropertyArea:
    return ensure_property_area(db, PATH)


@pytest.fixture
def run(database_url: str, instance_path: Path, area: PropertyArea) -> Any:
    def invoke(*args: str, input: str | None = None) -> Result:
        env = {"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(instance_path)}
        return CliRunner().invoke(main, list(args), env=env, input=input)

    return invoke


def counts(db: Session) -> dict[str, int]:
    """Row counts of every table, read in a transaction of its own (on SQLite an open
    transaction holds the write lock, so it must not outlive the reading)."""
    db.rollback()
    try:
        return {
            name: db.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in Base.metadata.tables
        }
    finally:
        db.rollback()


def write_rows(path: Path, change: dict[tuple[int, int], str] | None = None) -> Path:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = [list(r) for r in csv.reader(handle)]
    for (line, column), value in (change or {}).items():
        rows[line - 1][column] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_roll_command_import_with_yes_exits_0(run: Any, db: Session) -> None:
    result = run("roll", "import", str(SAMPLE), "--area", "NHXY", "--yes")
    assert result.exit_code == 0, result.output
    assert "Current roll of NHXY 南湖西园小区: none" in result.stdout
    assert "Units: 11 added, 0 removed, 0 changed; holders: 6 added" in result.stdout
    assert "Imported roll version 1: 11 units, headcount 6, total area 889.80 m²" in result.stdout
    assert result.stderr == ""
    assert counts(db)["roll_versions"] == 1
    for number in ID_NUMBERS:
        assert number not in result.output
    assert "王伟" not in result.output  # names are masked in the difference


def test_roll_command_prompt_answered_yes_and_no(run: Any, db: Session) -> None:
    declined = run("roll", "import", str(SAMPLE), "--area", "NHXY", input="n\n")
    assert declined.exit_code == 0
    assert "Apply this roll as version 1? [y/N]" in declined.stdout
    assert "Nothing was imported." in declined.stdout
    assert counts(db)["roll_versions"] == 0
    accepted = run("roll", "import", str(SAMPLE), "--area", "NHXY", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Imported roll version 1" in accepted.stdout


def test_roll_command_no_answer_exits_2(run: Any, db: Session) -> None:
    result = run("roll", "import", str(SAMPLE), "--area", "NHXY", input="")
    assert result.exit_code == 2
    assert "error: not confirmed: nothing was imported" in result.stderr
    assert counts(db)["roll_versions"] == 0


def test_roll_command_dry_run_writes_nothing(run: Any, db: Session) -> None:
    before = counts(db)
    result = run("roll", "import", str(SAMPLE), "--area", "NHXY", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: version 1 was not imported." in result.stdout
    assert counts(db) == before


def test_roll_command_bad_file_exits_2_with_every_error(
    run: Any, db: Session, tmp_path: Path
) -> None:
    bad = write_rows(
        tmp_path / "bad.csv", {(2, 2): "-1", (3, 1): "1-101", (5, 4): "出租", (6, 7): "X 1"}
    )
    before = counts(db)
    result = run("roll", "import", str(bad), "--area", "NHXY", "--yes")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == [
        "line 2: area '-1' is negative; it must be greater than zero",
        "line 5: unknown status 出租: use 已售 (sold), 未售 (unsold) or 已售未交付 (undelivered)",
        "line 6: ID number ending X 1: contains spaces",
        "error: 3 error(s) in bad.csv: nothing was imported",
    ]
    assert result.stdout == ""
    assert counts(db) == before


def test_roll_command_error_list_is_capped(run: Any, db: Session, tmp_path: Path) -> None:
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()
    rows += [f"9号楼,{i},-1,测绘,未售,,,,,否,," for i in range(250)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run("roll", "import", str(path), "--area", "NHXY", "--dry-run")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 202
    assert lines[-2] == "... and 50 more errors"
    assert lines[-1] == "error: 250 error(s) in many.csv: nothing was imported"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "error: 1 error(s) in roll.csv: nothing was imported"),
        ("姓名,年龄\n张三,30\n".encode(), "line 1: missing required column(s): building"),
        (b"PK\x03\x04garbage", "cannot read the XLSX workbook"),
    ],
)
def test_roll_command_unreadable_file_exits_2(
    run: Any, db: Session, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "roll.csv"
    path.write_bytes(content)
    result = run("roll", "import", str(path), "--area", "NHXY", "--yes")
    assert result.exit_code == 2
    assert message in result.stderr
    assert counts(db)["roll_versions"] == 0


def test_roll_command_unknown_area_exits_2(run: Any) -> None:
    for args in (
        ("roll", "import", str(SAMPLE), "--area", "NOPE", "--yes"),
        ("roll", "versions", "--area", "NOPE"),
        ("roll", "show", "--area", "NOPE"),
    ):
        result = run(*args)
        assert result.exit_code == 2
        assert result.stderr == "error: no property area with code 'NOPE'\n"


def test_roll_command_missing_file_exits_2(run: Any) -> None:
    result = run("roll", "import", "/nonexistent/roll.csv", "--area", "NHXY")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_roll_command_unchanged_reimport_exits_2(run: Any, db: Session) -> None:
    assert run("roll", "import", str(SAMPLE), "--area", "NHXY", "--yes").exit_code == 0
    before = counts(db)
    result = run("roll", "import", str(SAMPLE), "--area", "NHXY", "--yes")
    assert result.exit_code == 2
    assert "error: the roll is unchanged: nothing was imported" in result.stderr
    dry = run("roll", "import", str(SAMPLE), "--area", "NHXY", "--dry-run")
    assert dry.exit_code == 0 and "The roll is unchanged." in dry.stdout
    assert counts(db) == before


def test_roll_command_reimport_shows_difference(run: Any, db: Session, tmp_path: Path) -> None:
    assert run("roll", "import", str(SAMPLE), "--area", "NHXY", "--yes").exit_code == 0
    changed = write_rows(tmp_path / "v2.csv", {(2, 2): "90.00", (10, 9): "否"})
    result = run("roll", "import", str(changed), "--area", "NHXY", "--yes")
    assert result.exit_code == 0, result.output
    assert "Current roll of NHXY 南湖西园小区: version 1" in result.stdout
    assert "Units: 0 added, 0 removed, 2 changed" in result.stdout
    assert "~ 1号楼 1-101: area 89.50 → 90.00" in result.stdout
    assert "~ 地下车库 B1-001: parking yes → no" in result.stdout
    assert "Apply this roll" not in result.stdout
    assert "Imported roll version 2" in result.stdout


def test_roll_command_versions_and_show(run: Any, db: Session, tmp_path: Path) -> None:
    empty = run("roll", "versions", "--area", "NHXY")
    assert empty.exit_code == 0 and "has no roll yet" in empty.stdout
    no_roll = run("roll", "show", "--area", "NHXY")
    assert no_roll.exit_code == 2 and "error: area NHXY has no roll yet" in no_roll.stderr
    run("roll", "import", str(SAMPLE), "--area", "NHXY", "--yes")
    run(
        "roll",
        "import",
        str(write_rows(tmp_path / "v2.csv", {(2, 2): "90"})),
        "--area",
        "NHXY",
        "--yes",
    )
    versions = run("roll", "versions", "--area", "NHXY")
    assert versions.exit_code == 0
    lines = versions.stdout.splitlines()
    assert lines[1].startswith("2\t") and "v2.csv" in lines[1]
    assert lines[2].startswith("1\t") and "sample_zh.csv" in lines[2]
    shown = run("roll", "show", "--area", "NHXY", "--version", "1")
    assert shown.exit_code == 0
    out = shown.stdout
    assert "1号楼\t1-101\t89.50\tregistry\tsold\tno\tH" in out
    assert "地下车库\tB1-001\t12.50\tregistry\tsold\tyes\tH" in out
    db.rollback()
    refs = set(db.scalars(select(Holder.ref)))
    db.rollback()
    assert all(line.split("\t")[-1] in refs for line in out.splitlines()[3:])
    for secret in (*NAMES, *ID_NUMBERS, "张强", "陈明"):
        assert secret not in out
    current = run("roll", "show", "--area", "NHXY")
    assert "roll version 2" in current.stdout and "1-101\t90.00" in current.stdout
    missing = run("roll", "show", "--area", "NHXY", "--version", "7")
    assert missing.exit_code == 2 and "has no roll version 7" in missing.stderr


def test_roll_command_large_file_shows_progress(run: Any, tmp_path: Path) -> None:
    lines = ["楼栋,房号,建筑面积,面积来源,状态"]
    lines += [f"1号楼,{i},88.00,测绘,未售" for i in range(6000)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = run("roll", "import", str(path), "--area", "NHXY", "--yes")
    assert result.exit_code == 0, result.output
    assert "Checking rows" in result.stderr and "Writing entries" in result.stderr
    assert "6000 units, headcount 1" in result.stdout
