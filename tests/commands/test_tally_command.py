"""`voting tally`: the recount command on CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voting.cli import main

REGISTRY_HEADER = "unit_id,building,area_m2,owner_id\n"
BALLOTS_HEADER = "owner_id,choice\n"

# Four owners, A holding two units; 1号楼 and 2号楼.
REGISTRY = REGISTRY_HEADER + (
    "101,1号楼,100.10,A\n"  # line 2
    "102,1号楼,50.05,A\n"  # line 3
    "201,2号楼,80,B\n"  # line 4
    "202,2号楼,70.5,C\n"  # line 5
    "203,2号楼,10.01,D\n"  # line 6
)
BALLOTS = BALLOTS_HEADER + "A,yes\nB,no\nC,abstain\n"


def recount(
    tmp_path: Path,
    registry: str | bytes = REGISTRY,
    ballots: str | bytes = BALLOTS,
    *options: str,
    rule: str = "ordinary",
) -> Result:
    """Write REGISTRY.csv and BALLOTS.csv, then run `voting tally` on them."""
    paths = []
    for name, content in (("REGISTRY.csv", registry), ("BALLOTS.csv", ballots)):
        path = tmp_path / name
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        paths.append(str(path))
    args = ["tally", "--registry", paths[0], "--ballots", paths[1], "--rule", rule, *options]
    return CliRunner().invoke(main, args)


def assert_refused(result: Result, where: str, message: str) -> None:
    """Exit status 2, nothing on stdout, one `error:` line naming the place and the fault."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert where in result.stderr
    assert message in result.stderr


def test_tally_command_success_prints_exact_json(tmp_path: Path) -> None:
    result = recount(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    summary = json.loads(result.stdout)
    assert summary == {
        "total_area": "310.66",
        "total_headcount": 4,
        "participating_area": "300.65",
        "participating_headcount": 3,
        "yes_area": "150.15",
        "yes_headcount": 1,
        "no_area": "80.00",
        "no_headcount": 1,
        "abstain_area": "70.50",
        "abstain_headcount": 1,
        "quorum_met": True,
        "passed": False,
    }
    assert list(summary) == [
        "total_area",
        "total_headcount",
        "participating_area",
        "participating_headcount",
        "yes_area",
        "yes_headcount",
        "no_area",
        "no_headcount",
        "abstain_area",
        "abstain_headcount",
        "quorum_met",
        "passed",
    ]


def test_tally_command_ordinary_passes_and_major_does_not(tmp_path: Path) -> None:
    ballots = BALLOTS_HEADER + "A,yes\nB,no\nC,yes\nD,yes\n"  # 230.66 of 310.66 m²: 74.2%
    ordinary = json.loads(recount(tmp_path, REGISTRY, ballots).stdout)
    major = json.loads(recount(tmp_path, REGISTRY, ballots, rule="major").stdout)
    assert ordinary["passed"] is True
    assert (major["quorum_met"], major["passed"]) == (True, False)
    assert major["yes_area"] == "230.66"


def test_tally_command_no_quorum_is_not_passed(tmp_path: Path) -> None:
    summary = json.loads(recount(tmp_path, REGISTRY, BALLOTS_HEADER + "A,yes\n").stdout)
    assert summary["participating_headcount"] == 1
    assert (summary["quorum_met"], summary["passed"]) == (False, False)


def test_tally_command_reads_bom_and_crlf(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    registry = bom + REGISTRY.replace("\n", "\r\n").encode()
    ballots = bom + BALLOTS.encode()
    result = recount(tmp_path, registry, ballots)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_area"] == "310.66"


def test_tally_command_columns_in_any_order_extra_ignored(tmp_path: Path) -> None:
    registry = (
        " owner_id , note, area_m2,building ,unit_id\n"
        "A,corner,100.10,1号楼,101\nA,,50.05,1号楼,102\nB,,80,2号楼,201\n"
        "C,,70.5,2号楼,202\nD,,10.01,2号楼,203\n"
    )
    ballots = "choice,owner_id,signed_at\nyes,A,x\nno,B,y\nabstain,C,z\n"
    result = recount(tmp_path, registry, ballots)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(recount(tmp_path).stdout)


def test_tally_command_buildings_scope(tmp_path: Path) -> None:
    result = recount(
        tmp_path, REGISTRY, BALLOTS_HEADER + "B,no\nC,yes\nD,yes\n", "--buildings", " 2号楼 "
    )
    summary = json.loads(result.stdout)
    assert (summary["total_area"], summary["total_headcount"]) == ("160.51", 3)
    assert (summary["yes_area"], summary["no_area"]) == ("80.51", "80.00")
    assert summary["passed"] is True  # A's 150.15 m² in 1号楼 is outside the scope


def test_tally_command_buildings_chinese_comma(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, BALLOTS, "--buildings", "1号楼， 2号楼")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_headcount"] == 4


def test_tally_command_blank_lines_keep_physical_numbers(tmp_path: Path) -> None:
    ballots = BALLOTS_HEADER + "A,yes\n\nB,no\n\nX17,yes\n"
    assert_refused(
        recount(tmp_path, REGISTRY, ballots), "BALLOTS.csv line 6", 'unknown owner "X17"'
    )


# --- refused inputs ------------------------------------------------------------------------


def test_tally_command_unknown_owner(tmp_path: Path) -> None:
    ballots = BALLOTS_HEADER + "A,yes\nB,no\nC,no\nD,no\n\nX17,yes\n"
    assert_refused(
        recount(tmp_path, REGISTRY, ballots), "BALLOTS.csv line 7", 'unknown owner "X17"'
    )


def test_tally_command_owner_with_no_unit_in_scope(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, BALLOTS_HEADER + "B,yes\nA,yes\n", "--buildings", "2号楼")
    assert_refused(result, "BALLOTS.csv line 3", 'owner "A" has no unit in scope')


def test_tally_command_duplicate_ballot(tmp_path: Path) -> None:
    ballots = BALLOTS_HEADER + "A,yes\nB,no\nA,no\n"
    result = recount(tmp_path, REGISTRY, ballots)
    assert_refused(
        result, "BALLOTS.csv line 4", 'duplicate ballot from owner "A" (first at line 2)'
    )


@pytest.mark.parametrize("choice", ["maybe", "YES", "", "同意"])
def test_tally_command_unknown_choice(tmp_path: Path, choice: str) -> None:
    ballots = BALLOTS_HEADER + f"A,yes\nB,{choice}\n"
    assert_refused(recount(tmp_path, REGISTRY, ballots), "BALLOTS.csv line 3", "unknown choice")


@pytest.mark.parametrize(
    ("area", "reason"),
    [
        ("-80", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("80.001", "more than two decimal places"),
        ("8e1", "exponent"),
        ("", "empty"),
        ("eighty", "not a number"),
    ],
)
def test_tally_command_bad_area(tmp_path: Path, area: str, reason: str) -> None:
    registry = REGISTRY.replace("201,2号楼,80,B", f"201,2号楼,{area},B")
    result = recount(tmp_path, registry)
    assert_refused(result, "REGISTRY.csv line 4", reason)
    assert "area_m2" in result.stderr


def test_tally_command_duplicate_unit(tmp_path: Path) -> None:
    registry = REGISTRY + "102,1号楼,50.05,E\n"
    result = recount(tmp_path, registry)
    assert_refused(result, "REGISTRY.csv line 7", 'duplicate unit "102" (first at line 3)')


def test_tally_command_unknown_building(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, BALLOTS, "--buildings", "1号楼,9号楼")
    assert_refused(result, "--buildings", 'unknown building "9号楼"')
    assert "REGISTRY.csv" in result.stderr


@pytest.mark.parametrize("buildings", ["", " , ，"])
def test_tally_command_empty_scope_option(tmp_path: Path, buildings: str) -> None:
    assert_refused(
        recount(tmp_path, REGISTRY, BALLOTS, "--buildings", buildings), "--buildings", "empty scope"
    )


def test_tally_command_registry_without_units(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY_HEADER, BALLOTS_HEADER)
    assert_refused(result, "REGISTRY.csv", "no unit in scope")


@pytest.mark.parametrize("column", ["unit_id", "building", "area_m2", "owner_id"])
def test_tally_command_registry_missing_column(tmp_path: Path, column: str) -> None:
    header = ",".join(c for c in ("unit_id", "building", "area_m2", "owner_id") if c != column)
    result = recount(tmp_path, header + "\nx,y,z\n")
    assert_refused(result, "REGISTRY.csv line 1", f'missing column "{column}"')


def test_tally_command_ballots_missing_column(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, "owner_id,vote\nA,yes\n")
    assert_refused(result, "BALLOTS.csv line 1", 'missing column "choice"')


def test_tally_command_duplicate_column(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, "owner_id,choice,choice\nA,yes,no\n")
    assert_refused(result, "BALLOTS.csv line 1", 'column "choice" appears twice')


def test_tally_command_short_row(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY + "204,2号楼\n")
    assert_refused(result, "REGISTRY.csv line 7", "has 2 fields")


def test_tally_command_empty_identifier(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY + "204,2号楼,10, \n")
    assert_refused(result, "REGISTRY.csv line 7", "must not be empty")


def test_tally_command_missing_file(tmp_path: Path) -> None:
    args = ["tally", "--registry", str(tmp_path / "NOPE.csv"), "--ballots", str(tmp_path / "B.csv")]
    result = CliRunner().invoke(main, [*args, "--rule", "ordinary"])
    assert_refused(result, "NOPE.csv", "cannot read file")


def test_tally_command_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "REGISTRY.csv").mkdir()
    ballots = tmp_path / "BALLOTS.csv"
    ballots.write_text(BALLOTS)
    args = ["tally", "--registry", str(tmp_path / "REGISTRY.csv"), "--ballots", str(ballots)]
    result = CliRunner().invoke(main, [*args, "--rule", "ordinary"])
    assert_refused(result, "REGISTRY.csv", "cannot read file")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n \r\n"])
def test_tally_command_empty_file(tmp_path: Path, content: bytes) -> None:
    assert_refused(recount(tmp_path, REGISTRY, content), "BALLOTS.csv", "file is empty")


def test_tally_command_invalid_utf8(tmp_path: Path) -> None:
    ballots = BALLOTS.encode() + b"\xd6\xd0,yes\n"  # GBK bytes, not UTF-8
    assert_refused(recount(tmp_path, REGISTRY, ballots), "BALLOTS.csv line 5", "not valid UTF-8")


def test_tally_command_invalid_utf8_after_bom(tmp_path: Path) -> None:
    registry = b"\xef\xbb\xbf" + REGISTRY.encode() + b"301,\xff,1,E\n"
    assert_refused(recount(tmp_path, registry), "REGISTRY.csv line 7", "not valid UTF-8")


def test_tally_command_bad_rule_is_a_usage_error(tmp_path: Path) -> None:
    result = recount(tmp_path, REGISTRY, BALLOTS, rule="simple")
    assert result.exit_code == 2
    assert "--rule" in result.stderr


def test_tally_command_quoted_line_breaks_keep_physical_numbers(tmp_path: Path) -> None:
    ballots = BALLOTS_HEADER + 'A,"yes"\n"B","no\n"\nX17,yes\n'
    assert_refused(
        recount(tmp_path, REGISTRY, ballots), "BALLOTS.csv line 5", 'unknown owner "X17"'
    )


def test_tally_command_blank_lines_before_header(tmp_path: Path) -> None:
    registry = "\n , \n" + REGISTRY + "204,2号楼,-1,E\n"
    assert_refused(recount(tmp_path, registry), "REGISTRY.csv line 9", "negative")
