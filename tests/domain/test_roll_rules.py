"""The owner roll rules on plain rows: no app, no database."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from voting.domain.roll import (
    COLUMNS,
    DEFAULT_DEVELOPER_NAME,
    DEVELOPER_KEY,
    HolderState,
    KnownHolder,
    ParsedRoll,
    RollHolder,
    SnapshotEntry,
    UnitState,
    canonical_snapshot,
    check_id_number,
    check_phone,
    diff_rolls,
    id_hash,
    match_holders,
    natural_key,
    new_holder_ref,
    normalise_id_number,
    parse_roll,
    snapshot_sha256,
)

KEY = "unit-test-id-hash-key"
HEADER = ["building", "unit", "area_m2", "area_source", "status", "holder_name", "id_number"]
# Made-up mainland ID numbers with valid GB 11643 check digits.
ID_A = "11010519491231002X"
ID_B = "110105198001010016"


def table(*rows: Sequence[str], header: Sequence[str] = HEADER) -> list[tuple[int, list[str]]]:
    return [(1, list(header))] + [(i, list(r)) for i, r in enumerate(rows, start=2)]


def sold(unit: str, area: str = "89.50", name: str = "王伟", id_number: str = ID_A) -> list[str]:
    return ["1号楼", unit, area, "不动产登记", "已售", name, id_number]


def unsold(unit: str, name: str = "", id_number: str = "") -> list[str]:
    return ["1号楼", unit, "100", "测绘", "未售", name, id_number]


def codes(parsed: ParsedRoll) -> list[tuple[int | None, str]]:
    return [(e.line, e.code) for e in parsed.errors]


def test_roll_rules_valid_table_gives_rows_holders_and_total() -> None:
    parsed = parse_roll(table(sold("101"), sold("102", "120.05", "李娜", ID_B)), KEY)
    assert parsed.errors == ()
    assert [(r.line, r.unit, r.area_centi) for r in parsed.rows] == [
        (2, "101", 8950),
        (3, "102", 12005),
    ]
    assert parsed.total_area_centi == 20955
    assert len(parsed.holders) == 2
    holder = parsed.holders[parsed.rows[0].holder_key]
    assert holder.id_hash == id_hash(KEY, ID_A) and holder.id_last4 == "002X"
    assert holder.kind == "person" and holder.name == "王伟"


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("楼栋", "building"),
        ("楼号", "building"),
        (" 楼栋号 ", "building"),
        ("单元房号", "unit"),
        ("门牌号", "unit"),
        ("建筑面积(㎡)", "area_m2"),
        ("建筑面积（㎡）", "area_m2"),
        ("面积（平方米）", "area_m2"),
        ("专有部分面积", "area_m2"),
        ("AREA_M2", "area_m2"),
        ("Area m2", "area_m2"),
        ("面积来源", "area_source"),
        ("房屋状态", "status"),
        ("权利人", "holder_name"),
        ("身份证号码", "id_number"),
        ("统一社会信用代码", "id_number"),
        ("联系电话", "phone"),
    ],
)
def test_roll_rules_header_aliases(header: str, canonical: str) -> None:
    names = {c.name: c for c in COLUMNS}
    assert canonical in names
    cells = ["building", "unit", "area_m2", "area_source", "status", "holder_name", "id_number"]
    phone = ["13800138000"]
    if canonical == "phone":
        cells.append(header)
    else:
        cells[cells.index(canonical)] = header
    row = [*sold("101"), *(phone if canonical == "phone" else [])]
    parsed = parse_roll(table(row, header=cells), KEY)
    assert parsed.errors == ()
    if canonical == "phone":
        assert parsed.holders[parsed.rows[0].holder_key].phone == "13800138000"


def test_roll_rules_chinese_values_map_to_canonical() -> None:
    header = ["楼栋", "房号", "建筑面积", "面积来源", "状态",
              "业主类型", "业主姓名", "证件号码", "车位"]  # fmt: skip
    rows = [
        ["2号楼", "1-101", "89.5", "登记", "已交付", "个人", "王伟", ID_A, "否"],
        ["2号楼", "1-102", "90", "实测", "已售", "单位", "某公司", "91110105MA01ABCD2X", "是"],
        ["2号楼", "1-103", "91.01", "购房合同", "已售未交付", "建设单位", "", "", "0"],
        ["2号楼", "1-104", "92", "contract", "unsold", "", "", "", "no"],
    ]
    parsed = parse_roll(table(*rows, header=header), KEY)
    assert parsed.errors == ()
    got = [(r.area_source, r.status, r.is_parking) for r in parsed.rows]
    assert got == [
        ("registry", "sold", False),
        ("survey", "sold", True),
        ("contract", "undelivered", False),
        ("contract", "unsold", False),
    ]
    kinds = sorted(h.kind for h in parsed.holders.values())
    assert kinds == ["developer", "entity", "person"]


def test_roll_rules_title_row_above_header_is_skipped() -> None:
    rows = [(1, ["南湖西园小区业主名册"]), (2, []), (3, HEADER), (4, sold("101"))]
    parsed = parse_roll(rows, KEY)
    assert parsed.errors == ()
    assert parsed.rows[0].line == 4


def test_roll_rules_missing_columns_are_named() -> None:
    parsed = parse_roll(table(["1号楼", "101"], header=["楼栋", "房号"]), KEY)
    assert codes(parsed) == [(1, "missing_columns")]
    assert "area_m2, area_source, status" in str(parsed.errors[0])
    assert parsed.rows == ()


def test_roll_rules_duplicate_column_is_an_error() -> None:
    parsed = parse_roll(table([*sold("101"), "90"], header=[*HEADER, "面积"]), KEY)
    assert codes(parsed) == [(1, "duplicate_column")]


def test_roll_rules_empty_table_and_header_only() -> None:
    assert codes(parse_roll([], KEY)) == [(None, "empty_file")]
    assert codes(parse_roll([(1, ["", " "]), (2, [])], KEY)) == [(None, "empty_file")]
    assert codes(parse_roll(table(), KEY)) == [(1, "no_units")]


@pytest.mark.parametrize(
    ("area", "fragment"),
    [
        ("-3", "negative"),
        ("0", "zero"),
        ("0.00", "zero"),
        ("89.505", "more than two decimal places"),
        ("NaN", "not a finite number"),
        ("八十", "not a number"),
        ("", "area_m2 is empty"),
        ("1e2", "exponent"),
    ],
)
def test_roll_rules_bad_area_is_reported(area: str, fragment: str) -> None:
    parsed = parse_roll(table(sold("101", area)), KEY)
    assert len(parsed.errors) == 1
    assert parsed.errors[0].line == 2
    assert fragment in str(parsed.errors[0])


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        (3, "估算", "unknown_area_source"),
        (4, "出租", "unknown_status"),
        (4, "", "empty_value"),
        (3, "", "empty_value"),
        (0, "", "empty_value"),
        (1, "", "empty_value"),
        (0, "1号楼\t2", "control_chars"),
        (1, "1" * 51, "too_long"),
        (5, "", "missing_holder_name"),
        (6, "", "missing_id_number"),
    ],
)
def test_roll_rules_bad_cell_is_reported(column: int, value: str, code: str) -> None:
    row = sold("101")
    row[column] = value
    parsed = parse_roll(table(row), KEY)
    assert codes(parsed) == [(2, code)]


def test_roll_rules_unknown_holder_kind_and_parking() -> None:
    header = [*HEADER, "业主类型", "车位"]
    parsed = parse_roll(
        table([*sold("101"), "外星人", "否"], [*sold("102"), "个人", "也许"], header=header), KEY
    )
    assert codes(parsed) == [(2, "unknown_holder_kind"), (3, "unknown_parking")]


def test_roll_rules_unknown_status_does_not_also_demand_holder() -> None:
    row = ["1号楼", "101", "90", "测绘", "卖了", "", ""]
    assert codes(parse_roll(table(row), KEY)) == [(2, "unknown_status")]


def test_roll_rules_all_errors_collected_in_line_order() -> None:
    rows = [sold("101", "-1"), sold("102"), ["1号楼", "103", "x", "?", "?", "", ""], sold("101")]
    parsed = parse_roll(table(*rows), KEY)
    lines = [e.line for e in parsed.errors]
    assert lines == sorted(lines)
    assert {e.line for e in parsed.errors} == {2, 4}
    assert {c for line, c in codes(parsed) if line == 4} == {
        "bad_area",
        "unknown_area_source",
        "unknown_status",
    }


def test_roll_rules_buyer_of_several_units_is_one_holder() -> None:
    parsed = parse_roll(
        table(sold("101"), sold("102"), sold("103", name="李娜", id_number=ID_B)), KEY
    )
    assert parsed.errors == ()
    assert len(parsed.holders) == 2
    assert parsed.rows[0].holder_key == parsed.rows[1].holder_key != parsed.rows[2].holder_key


def test_roll_rules_same_id_is_matched_after_normalisation() -> None:
    lower = ID_A.lower()
    full_width = ID_A.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    parsed = parse_roll(
        table(sold("101"), sold("102", id_number=f" {lower} "), sold("103", id_number=full_width)),
        KEY,
    )
    assert parsed.errors == ()
    assert len(parsed.holders) == 1
    assert normalise_id_number(full_width) == ID_A


def test_roll_rules_same_id_with_two_names_is_an_error() -> None:
    parsed = parse_roll(
        table(sold("101"), sold("102", name="王 伟"), sold("103", name="张三")), KEY
    )
    assert codes(parsed) == [(4, "id_two_names")]
    message = str(parsed.errors[0])
    assert "line 2" in message and "002X" in message and ID_A not in message


def test_roll_rules_same_id_with_two_kinds_is_an_error() -> None:
    header = [*HEADER, "业主类型"]
    parsed = parse_roll(table([*sold("101"), "个人"], [*sold("102"), "单位"], header=header), KEY)
    assert codes(parsed) == [(3, "id_two_kinds")]


def test_roll_rules_duplicate_unit_and_unit_with_two_holders() -> None:
    parsed = parse_roll(
        table(sold("101"), sold("101"), sold("102"), sold("102", name="李娜", id_number=ID_B)), KEY
    )
    assert codes(parsed) == [(3, "duplicate_unit"), (5, "unit_two_holders")]
    assert "first on line 2" in str(parsed.errors[0])
    assert "line 4" in str(parsed.errors[1])


def test_roll_rules_developer_units_are_one_holder_with_default_name() -> None:
    parsed = parse_roll(table(unsold("101"), unsold("102"), sold("103")), KEY)
    assert parsed.errors == ()
    developer = parsed.holders[DEVELOPER_KEY]
    assert developer.kind == "developer" and developer.name == DEFAULT_DEVELOPER_NAME
    assert developer.id_hash is None
    assert [r.holder_key for r in parsed.rows[:2]] == [DEVELOPER_KEY, DEVELOPER_KEY]


def test_roll_rules_developer_name_and_id_taken_from_any_row() -> None:
    code = "91110105MA01ABCD2X"
    parsed = parse_roll(
        table(unsold("101"), unsold("102", "南湖置业", code), unsold("103", "南湖置业")), KEY
    )
    assert parsed.errors == ()
    developer = parsed.holders[DEVELOPER_KEY]
    assert developer.name == "南湖置业" and developer.id_last4 == "CD2X"


def test_roll_rules_two_developers_are_refused() -> None:
    parsed = parse_roll(
        table(
            unsold("101", "南湖置业", "91110105MA01ABCD2X"),
            unsold("102", "北湖置业"),
            unsold("103", "南湖置业", "91110105MA02EFGH3Y"),
        ),
        KEY,
    )
    assert codes(parsed) == [(3, "developer_two_names"), (4, "developer_two_ids")]


def test_roll_rules_developer_id_on_an_owner_row_is_refused() -> None:
    parsed = parse_roll(table(sold("101"), unsold("102", "南湖置业", ID_A)), KEY)
    assert codes(parsed) == [(2, "developer_id_on_owner")]


def test_roll_rules_unsold_unit_with_person_kind_is_refused() -> None:
    header = [*HEADER, "业主类型"]
    parsed = parse_roll(table([*unsold("101"), "个人"], header=header), KEY)
    assert codes(parsed) == [(2, "kind_contradicts_status")]


def test_roll_rules_sold_unit_of_kind_developer_joins_the_developer() -> None:
    header = [*HEADER, "业主类型"]
    parsed = parse_roll(
        table([*unsold("101"), ""], [*sold("102", name="", id_number=""), "开发商"], header=header),
        KEY,
    )
    assert parsed.errors == ()
    assert {r.holder_key for r in parsed.rows} == {DEVELOPER_KEY}


@pytest.mark.parametrize(
    "number",
    [
        ID_A,
        ID_A.lower(),
        "110105491231002",  # 15-digit old ID
        "91110105MA01ABCD2X",  # credit code (form only)
        "E12345678",  # passport
        "H1234567801",  # Hong Kong / Macau permit
        "A123456(7)",  # Hong Kong ID card
        "X" * 40,
    ],
)
def test_roll_rules_id_number_accepted(number: str) -> None:
    assert check_id_number(normalise_id_number(number)) is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "checksum"),
        ("1101051949 12310021", "spaces"),
        ("X" * 41, "too_long"),
        ("E1234567*", "characters"),
        ("-E1234567", "characters"),
    ],
)
def test_roll_rules_id_number_refused(number: str, reason: str) -> None:
    assert check_id_number(normalise_id_number(number)) == reason


def test_roll_rules_bad_id_message_shows_last4_only() -> None:
    parsed = parse_roll(table(sold("101", id_number="110105194912310021")), KEY)
    assert codes(parsed) == [(2, "bad_id_number")]
    assert "0021" in str(parsed.errors[0]) and "110105194912310021" not in str(parsed.errors[0])


def test_roll_rules_parsed_roll_holds_no_id_number() -> None:
    parsed = parse_roll(table(sold("101"), sold("102", name="李娜", id_number=ID_B)), KEY)
    text = repr(parsed)
    assert ID_A not in text and ID_B not in text


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("13800138000", None),
        ("138-0013-8000", None),
        ("+86 138 0013 8000", None),
        ("010-84770000", None),
        ("84770000", None),
        ("1380013800", "mobile_length"),
        ("138001380001", "mobile_length"),
        ("84770", "length"),
        ("010-8477-000a", "characters"),
        ("tel:13800138000", "characters"),
    ],
)
def test_roll_rules_phone(phone: str, reason: str | None) -> None:
    assert check_phone(phone) == reason


def test_roll_rules_bad_phone_is_a_row_error() -> None:
    parsed = parse_roll(table([*sold("101"), "12345"], header=[*HEADER, "手机"]), KEY)
    assert codes(parsed) == [(2, "bad_phone")]


def test_roll_rules_extra_cells_beyond_header() -> None:
    parsed = parse_roll(table([*sold("101"), "", ""], [*sold("102"), "", "x"]), KEY)
    assert codes(parsed) == [(3, "extra_cells")]


def test_roll_rules_unknown_columns_are_ignored_and_listed() -> None:
    parsed = parse_roll(table([*sold("101"), "x"], header=[*HEADER, "备注"]), KEY)
    assert parsed.errors == () and parsed.ignored_columns == ("备注",)


def test_roll_rules_progress_is_reported() -> None:
    seen: list[int] = []
    rows = [sold(str(i), id_number=ID_A) for i in range(2500)]
    parse_roll(table(*rows), KEY, progress=seen.append)
    assert seen == [1000, 2000, 2500]


# --- holders across versions ----------------------------------------------------------


def _holder(key: str, kind: str = "person", id_hash_: str | None = None) -> RollHolder:
    return RollHolder(key, kind, "名", id_hash_, None, None, 2)


def test_roll_rules_match_holders_by_hash_then_developer() -> None:
    known = [
        KnownHolder(1, "HAAAAAAAA", "person", "王伟", "h1", "002X", None),
        KnownHolder(2, "HBBBBBBBB", "developer", "建设单位", None, None, None),
    ]
    holders = {
        "h1": _holder("h1", id_hash_="h1"),
        "h9": _holder("h9", id_hash_="h9"),
        DEVELOPER_KEY: _holder(DEVELOPER_KEY, "developer", "dev-hash"),
    }
    matched = match_holders(holders, known)
    assert matched["h1"] == known[0]
    assert matched["h9"] is None
    assert matched[DEVELOPER_KEY] == known[1]  # the stored developer had no ID number yet


def test_roll_rules_developer_with_another_id_is_a_new_holder() -> None:
    known = [KnownHolder(2, "HBBBBBBBB", "developer", "建设单位", "old", None, None)]
    holders = {DEVELOPER_KEY: _holder(DEVELOPER_KEY, "developer", "new")}
    assert match_holders(holders, known)[DEVELOPER_KEY] is None


def test_roll_rules_new_holder_ref_is_pseudonymous_and_unique() -> None:
    taken = {"HAAAAAAAA"}
    draws = iter([b"\x00" * 5, b"\x01" * 5, b"\x00" * 5, b"\xff" * 5])
    first = new_holder_ref(taken, lambda n: next(draws))
    second = new_holder_ref(taken, lambda n: next(draws))
    assert (first, second) == ("HAEAQCAIB", "H77777777")
    assert taken == {"HAAAAAAAA", first, second}


# --- differences ----------------------------------------------------------------------


def _state(area: int = 8950, holder: str = "#1", **changes: object) -> UnitState:
    values: dict[str, object] = {
        "area_centi": area,
        "area_source": "registry",
        "status": "sold",
        "is_parking": False,
        "holder": holder,
    }
    values.update(changes)
    return UnitState(**values)  # type: ignore[arg-type]


def test_roll_rules_diff_added_removed_changed() -> None:
    old = {("1号楼", "101"): _state(), ("1号楼", "102"): _state(), ("10号楼", "1"): _state()}
    new = {
        ("1号楼", "101"): _state(),
        ("1号楼", "102"): _state(9000, "#2", is_parking=True),
        ("2号楼", "1"): _state(),
    }
    holder = HolderState("HAAAAAAAA", "person", "王伟", "002X", None)
    diff = diff_rolls(
        old,
        new,
        {"#1": holder},
        {"#1": holder, "#2": HolderState("HBBBBBBBB", "person", "李娜", "0016", None)},
    )
    assert [(c.building, c.unit) for c in diff.units_added] == [("2号楼", "1")]
    assert [(c.building, c.unit) for c in diff.units_removed] == [("10号楼", "1")]
    assert [(c.unit, c.fields) for c in diff.units_changed] == [
        ("102", ("area", "holder", "parking"))
    ]
    assert [c.key for c in diff.holders_added] == ["#2"]
    assert diff.holders_removed == () and diff.holders_changed == ()
    assert diff.has_changes
    assert diff.counts()["units_changed"] == 1


def test_roll_rules_diff_holder_changes_and_no_changes() -> None:
    units = {("1号楼", "101"): _state()}
    before = {"#1": HolderState("HAAAAAAAA", "person", "王伟", "002X", None)}
    after = {"#1": HolderState("HAAAAAAAA", "person", "王伟", "002X", "13800138000")}
    diff = diff_rolls(units, units, before, after)
    assert [(c.key, c.fields) for c in diff.holders_changed] == [("#1", ("phone",))]
    assert not diff_rolls(units, units, before, before).has_changes


def test_roll_rules_natural_order() -> None:
    names = ["10号楼", "2号楼", "1号楼", "地下车库"]
    assert sorted(names, key=natural_key) == ["1号楼", "2号楼", "10号楼", "地下车库"]


def test_roll_rules_canonical_snapshot_is_documented_format() -> None:
    entries = [
        SnapshotEntry("2号楼", "101", 8950, "registry", "sold", False, "HAAAAAAAA"),
        SnapshotEntry("1号楼", "B1", 1250, "survey", "unsold", True, "HBBBBBBBB"),
    ]
    text = canonical_snapshot(entries).decode("utf-8")
    assert text == (
        "voting-roll-snapshot/1\n"
        "1号楼\tB1\t12.50\tsurvey\tunsold\t1\tHBBBBBBBB\n"
        "2号楼\t101\t89.50\tregistry\tsold\t0\tHAAAAAAAA\n"
    )
    assert snapshot_sha256(entries) == snapshot_sha256(list(reversed(entries)))
