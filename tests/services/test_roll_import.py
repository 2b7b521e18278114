"""Importing the owner roll against a real database: messy files, all or nothing, versions.

Every refused file must leave the database exactly as it was: compared as a dump of every
table before and after.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import LargeBinary, String, Text, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from voting.domain.roll import id_hash
from voting.models import Base, Holder, HolderKind, PropertyArea, RollEntry, RollUpload, RollVersion
from voting.services import NotFound, ServiceError
from voting.services.roll import (
    RollRejected,
    apply_roll_upload,
    check_roll_file,
    current_version,
    discard_roll_upload,
    expire_roll_uploads,
    get_version,
    import_roll,
    list_versions,
    preview_roll_upload,
    stage_roll_upload,
    verify_version,
    version_entries,
)
from voting.services.tenancy import AreaPath, ensure_property_area

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "rolls"
SAMPLE = SAMPLES / "sample_zh.csv"
KEY = "service-test-id-hash-key"
PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-004", "望京街道"),
    community=("110105-004-012", "南湖西园社区"),
    area=("NHXY", "南湖西园小区"),
)
OTHER = AreaPath(PATH.district, PATH.street, PATH.community, ("TEST2", "另一小区"))
# The ID numbers of the sample file (made up, with valid check digits).
SAMPLE_IDS = (
    "11010519491231002X",
    "110105198001010016",
    "110105199203150038",
    "11010519750608004X",
    "91110105MA02EFGH3Y",
    "91110105MA01ABCD2X",
)
SAMPLE_AREA_CENTI = 8950 + 12005 + 8950 + 12005 + 4 * 7533 + 1250 + 1300 + 14388


# --- helpers ----------------------------------------------------------------------------


def sample_rows() -> list[list[str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        return [list(row) for row in csv.reader(handle)]


def to_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def to_xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def edited(**changes: str) -> list[list[str]]:
    """The sample rows with cells changed: key "<line>_<column index>"."""
    rows = sample_rows()
    for key, value in changes.items():
        line, column = (int(part) for part in key.lstrip("L").split("_"))
        rows[line - 1][column] = value
    return rows


def dump(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for an exact before/after comparison."""
    session.expire_all()
    result = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table)).all()
        result[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return result


@pytest.fixture
def area(db: Session) -> PropertyArea:
    return ensure_property_area(db, PATH)


def do_import(
    db: Session, area: PropertyArea, content: bytes, name: str = "roll.csv", **kwargs: Any
) -> RollVersion:
    current = current_version(db, area)
    kwargs.setdefault("expected_base_version", current.number if current else None)
    return import_roll(db, area, name, content, KEY, **kwargs)


def holder_of(db: Session, version: RollVersion, building: str, unit: str) -> Holder:
    for entry in version_entries(db, version):
        if (entry.building, entry.unit) == (building, unit):
            return db.scalars(select(Holder).where(Holder.ref == entry.holder_ref)).one()
    raise AssertionError(f"no unit {building} {unit}")


# --- a good import ----------------------------------------------------------------------


def test_roll_import_sample_creates_version_one(db: Session, area: PropertyArea) -> None:
    content = SAMPLE.read_bytes()
    preview = check_roll_file(db, area, "sample_zh.csv", content, KEY)
    assert preview.ok and preview.has_changes and preview.base_version is None
    assert (preview.unit_count, preview.headcount) == (11, 6)
    version = do_import(db, area, content, "sample_zh.csv")
    assert version.number == 1 and version.source_name == "sample_zh.csv"
    assert (version.unit_count, version.headcount) == (11, 6)
    assert version.total_area_centi == SAMPLE_AREA_CENTI
    assert len(version.source_sha256) == 64 and verify_version(db, version)
    assert db.scalar(select(func.count()).select_from(RollEntry)) == 11
    assert db.scalar(select(func.count()).select_from(Holder)) == 6


def test_roll_import_multi_unit_buyer_counts_once(db: Session, area: PropertyArea) -> None:
    version = do_import(db, area, SAMPLE.read_bytes())
    wang = {holder_of(db, version, b, u).id for b, u in
            (("1号楼", "1-101"), ("1号楼", "1-102"), ("地下车库", "B1-001"))}  # fmt: skip
    assert len(wang) == 1
    holder = db.get(Holder, wang.pop())
    assert holder is not None and holder.kind is HolderKind.person
    assert holder.id_hash == id_hash(KEY, SAMPLE_IDS[0]) and holder.id_last4 == "002X"


def test_roll_import_developer_units_are_one_holder(db: Session, area: PropertyArea) -> None:
    version = do_import(db, area, SAMPLE.read_bytes())
    entries = version_entries(db, version)
    developer = {e.holder_ref for e in entries if e.status != "sold"}
    assert len(developer) == 1
    holder = db.scalars(select(Holder).where(Holder.ref == developer.pop())).one()
    assert holder.kind is HolderKind.developer and holder.name == "北京南湖置业有限公司"
    assert holder.id_last4 == "CD2X"
    assert sum(1 for e in entries if e.holder_kind == "developer") == 4


def test_roll_import_keeps_co_owners_guardian_parking(db: Session, area: PropertyArea) -> None:
    entries = {
        (e.building, e.unit): e
        for e in version_entries(db, do_import(db, area, SAMPLE.read_bytes()))
    }
    assert entries[("1号楼", "1-201")].co_owners == "张强"
    assert entries[("1号楼", "1-202")].guardian == "陈明"
    assert entries[("1号楼", "1-202")].area_source == "contract"
    assert entries[("地下车库", "B1-001")].is_parking
    assert not entries[("1号楼", "1-101")].is_parking


def test_roll_import_holder_refs_are_pseudonymous(db: Session, area: PropertyArea) -> None:
    do_import(db, area, SAMPLE.read_bytes())
    refs = db.scalars(select(Holder.ref)).all()
    assert len(set(refs)) == 6
    assert all(len(r) == 9 and r[0] == "H" and r[1:].isalnum() and r[1:].isupper() for r in refs)


@pytest.mark.parametrize(
    "variant",
    ["utf8-bom", "gb18030", "tab", "semicolon", "xlsx", "english"],
)
def test_roll_import_accepts_file_variants(db: Session, area: PropertyArea, variant: str) -> None:
    rows = sample_rows()
    name = "roll.csv"
    if variant == "utf8-bom":
        content = to_csv(rows).encode("utf-8-sig")
    elif variant == "gb18030":
        content = to_csv(rows).encode("gb18030")
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")
    elif variant == "tab":
        content = to_csv(rows, "\t").encode()
    elif variant == "semicolon":
        content = to_csv(rows, ";").encode()
    elif variant == "xlsx":
        content, name = to_xlsx(rows), "roll.xlsx"
    else:
        content = (SAMPLES / "sample_en.csv").read_bytes()
    version = do_import(db, area, content, name)
    if variant == "english":
        assert (version.unit_count, version.headcount) == (5, 3)
    else:
        assert (version.unit_count, version.headcount) == (11, 6)
        assert version.total_area_centi == SAMPLE_AREA_CENTI


def test_roll_import_xlsx_numeric_cells(db: Session, area: PropertyArea) -> None:
    rows: list[list[Any]] = [list(r) for r in sample_rows()]
    rows[1][2] = 89.5  # a number cell: 89.50 m²
    rows[2][2] = 120  # an integer cell
    rows[1][1] = "1-101"
    rows[3][8] = 13900139000  # phone typed as a number
    version = do_import(db, area, to_xlsx(rows), "roll.xlsx")
    entries = {(e.building, e.unit): e.area_centi for e in version_entries(db, version)}
    assert entries[("1号楼", "1-101")] == 8950
    assert entries[("1号楼", "1-102")] == 12000


def test_roll_import_xlsx_float_artefact_is_refused(db: Session, area: PropertyArea) -> None:
    rows: list[list[Any]] = [list(r) for r in sample_rows()]
    rows[1][2] = 89.4 + 0.2  # 89.60000000000001: refused, not silently rounded
    preview = check_roll_file(db, area, "roll.xlsx", to_xlsx(rows), KEY)
    assert [(e.line, e.code) for e in preview.errors] == [(2, "bad_area")]
    assert "more than two decimal places" in str(preview.errors[0])


# --- refused files: clear errors, nothing written -----------------------------------


def _truncated_xlsx() -> bytes:
    content = to_xlsx([list(r) for r in sample_rows()])
    return content[: len(content) // 2]


BAD_FILES: dict[str, tuple[str, bytes, str]] = {
    "empty": ("roll.csv", b"", "the file is empty"),
    "blank": ("roll.csv", b"\r\n  \r\n", "the file is empty"),
    "header-only": (
        "roll.csv",
        to_csv(sample_rows()[:1]).encode(),
        "line 1: the file has a header but no unit rows",
    ),
    "missing-column": (
        "roll.csv",
        to_csv([[c for i, c in enumerate(r) if i != 3] for r in sample_rows()]).encode(),
        "line 1: missing required column(s): area_source",
    ),
    "bad-area": (
        "roll.csv",
        to_csv(edited(L3_2="-120.05")).encode(),
        "line 3: area '-120.05' is negative",
    ),
    "three-decimals": (
        "roll.csv",
        to_csv(edited(L2_2="89.505")).encode(),
        "line 2: area '89.505' has more than two decimal places",
    ),
    "nan-area": (
        "roll.csv",
        to_csv(edited(L2_2="NaN")).encode(),
        "line 2: area 'NaN' is not a finite number",
    ),
    "text-area": (
        "roll.csv",
        to_csv(edited(L2_2="约90")).encode(),
        "line 2: area '约90' is not a number",
    ),
    "duplicate-unit": (
        "roll.csv",
        to_csv(edited(L3_1="1-101")).encode(),
        "line 3: unit 1号楼 1-101 is listed twice (first on line 2)",
    ),
    "two-holders": (
        "roll.csv",
        to_csv(edited(L4_1="1-101")).encode(),
        "line 4: unit 1号楼 1-101 is also listed on line 2",
    ),
    "unknown-source": (
        "roll.csv",
        to_csv(edited(L2_3="估算")).encode(),
        "line 2: unknown area source 估算",
    ),
    "unknown-status": (
        "roll.csv",
        to_csv(edited(L2_4="出租")).encode(),
        "line 2: unknown status 出租",
    ),
    "unknown-kind": (
        "roll.csv",
        to_csv(edited(L2_5="外国人")).encode(),
        "line 2: unknown holder kind 外国人",
    ),
    "missing-name": (
        "roll.csv",
        to_csv(edited(L4_6="")).encode(),
        "line 4: the holder name is missing on a sold unit",
    ),
    "missing-id": (
        "roll.csv",
        to_csv(edited(L4_7="")).encode(),
        "line 4: the ID number is missing on a sold unit",
    ),
    "bad-id": (
        "roll.csv",
        to_csv(edited(L4_7="110105198001010017")).encode(),
        "line 4: ID number ending 0017: fails the check digit",
    ),
    "id-two-names": (
        "roll.csv",
        to_csv(edited(L3_6="王小伟")).encode(),
        "line 3: ID number ending 002X is given for 王小伟 here but for 王伟 on line 2",
    ),
    "bad-phone": (
        "roll.csv",
        to_csv(edited(L2_8="1380013800")).encode(),
        "line 2: phone number 1380013800: a mobile number has 11 digits",
    ),
    "truncated-xlsx": ("roll.xlsx", _truncated_xlsx(), "cannot read the XLSX workbook"),
    "zip-not-xlsx": ("roll.xlsx", b"PK\x03\x04" + b"\x00" * 64, "cannot read the XLSX workbook"),
    "legacy-xls": (
        "roll.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        "old Excel .xls files",
    ),
    "png": ("roll.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "cannot decode the file"),
    "undecodable": ("roll.csv", "楼栋,房号".encode() + b"\xff\xff\x80", "cannot decode the file"),
    "nul-bytes": ("roll.csv", b"a,b\x00,c\n", "the file is not a CSV text file"),
    "not-a-roll": (
        "roll.csv",
        "姓名,年龄\n张三,30\n".encode(),
        "missing required column(s): building, unit",
    ),
    "bad-quoting": ("roll.csv", b'building,unit\n"1,2\n', "malformed CSV"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_roll_import_bad_file_changes_nothing(db: Session, area: PropertyArea, case: str) -> None:
    filename, content, expected = BAD_FILES[case]
    before = dump(db)
    preview = check_roll_file(db, area, filename, content, KEY)
    assert not preview.ok and not preview.has_changes
    assert any(expected in str(error) for error in preview.errors), [str(e) for e in preview.errors]
    with pytest.raises(RollRejected) as refused:
        import_roll(db, area, filename, content, KEY, expected_base_version=None)
    assert "nothing was imported" in str(refused.value)
    assert refused.value.errors == preview.errors
    staged, upload_id = stage_roll_upload(db, area, filename, content, KEY)
    assert upload_id is None and staged.errors == preview.errors
    assert dump(db) == before


def test_roll_import_bad_file_over_existing_roll_changes_nothing(
    db: Session, area: PropertyArea
) -> None:
    do_import(db, area, SAMPLE.read_bytes())
    before = dump(db)
    content = to_csv(edited(L2_2="0", L3_1="1-101", L5_4="?")).encode()
    with pytest.raises(RollRejected) as refused:
        do_import(db, area, content)
    assert [(e.line, e.code) for e in refused.value.errors] == [
        (2, "bad_area"),
        (5, "unknown_status"),
    ]
    assert dump(db) == before


def test_roll_import_reports_every_bad_row(db: Session, area: PropertyArea) -> None:
    rows = sample_rows()
    rows += [
        ["9号楼", f"{i}", "-1", "测绘", "已售", "", "", "", "", "", "", ""] for i in range(300)
    ]
    preview = check_roll_file(db, area, "roll.csv", to_csv(rows).encode(), KEY)
    # Each bad row has three problems (area, name, ID number): all of them are listed.
    assert len(preview.errors) == 900
    assert {e.line for e in preview.errors} == set(range(13, 313))


# --- re-imports ----------------------------------------------------------------------


def test_roll_import_identical_reimport_is_refused(db: Session, area: PropertyArea) -> None:
    do_import(db, area, SAMPLE.read_bytes())
    before = dump(db)
    rows = sample_rows()
    preview = check_roll_file(db, area, "again.xlsx", to_xlsx([list(r) for r in rows]), KEY)
    assert preview.ok and not preview.has_changes and preview.base_version == 1
    with pytest.raises(ServiceError, match="the roll is unchanged"):
        do_import(db, area, SAMPLE.read_bytes())
    assert dump(db) == before


def test_roll_import_reimport_diff_is_correct(db: Session, area: PropertyArea) -> None:
    first = do_import(db, area, SAMPLE.read_bytes())
    li_na = holder_of(db, first, "1号楼", "1-201")
    rows = edited(L2_2="90.00", L6_9="是", L4_8="13700137000")
    del rows[10]  # 地下车库 B1-002 (developer)
    rows[4][6:8] = ["孙丽", "110105198811200057"]  # 1号楼 1-202 sold to someone new
    rows.append(["11号楼", "1-101", "66.60", "测绘", "已售", "个人", "李娜", "110105198001010016",
                 "13700137000", "否", "", ""])  # fmt: skip
    content = to_csv(rows).encode()
    preview = check_roll_file(db, area, "v2.csv", content, KEY)
    diff = preview.diff
    assert diff is not None and preview.base_version == 1 and preview.next_version == 2
    assert [(c.building, c.unit) for c in diff.units_added] == [("11号楼", "1-101")]
    assert [(c.building, c.unit) for c in diff.units_removed] == [("地下车库", "B1-002")]
    assert [(c.building, c.unit, c.fields) for c in diff.units_changed] == [
        ("1号楼", "1-101", ("area",)),
        ("1号楼", "1-202", ("holder",)),
        ("2号楼", "1-101", ("parking",)),
    ]
    assert [c.new.name for c in diff.holders_added if c.new] == ["孙丽"]
    assert [c.old.name for c in diff.holders_removed if c.old] == ["陈静"]
    assert [(c.old.ref, c.fields) for c in diff.holders_changed if c.old] == [
        (li_na.ref, ("phone",))
    ]
    assert diff.counts() == {
        "units_added": 1,
        "units_removed": 1,
        "units_changed": 3,
        "holders_added": 1,
        "holders_removed": 1,
        "holders_changed": 1,
    }
    second = do_import(db, area, content, "v2.csv")
    assert second.number == 2 and (second.unit_count, second.headcount) == (11, 6)
    assert verify_version(db, first) and verify_version(db, second)
    # Li Na keeps her ref and now holds two units; the first version is untouched.
    assert holder_of(db, second, "11号楼", "1-101").ref == li_na.ref
    assert {e.unit for e in version_entries(db, first)} >= {"B1-002"}
    assert len(version_entries(db, first)) == 11
    assert get_version(db, area, 1).content_sha256 == first.content_sha256
    assert [v.number for v in list_versions(db, area)] == [2, 1]
    # Re-checking the same file against version 2 finds nothing to do.
    assert not check_roll_file(db, area, "v2.csv", content, KEY).has_changes


def test_roll_import_stale_base_version_is_refused(db: Session, area: PropertyArea) -> None:
    do_import(db, area, SAMPLE.read_bytes())
    content = to_csv(edited(L2_2="91.00")).encode()
    before = dump(db)
    with pytest.raises(ServiceError, match="the roll has changed since the file was checked"):
        import_roll(db, area, "v2.csv", content, KEY, expected_base_version=None)
    assert dump(db) == before
    assert import_roll(db, area, "v2.csv", content, KEY, expected_base_version=1).number == 2


def test_roll_import_areas_are_separate(db: Session, area: PropertyArea) -> None:
    other = ensure_property_area(db, OTHER)
    do_import(db, area, SAMPLE.read_bytes())
    version = do_import(db, other, SAMPLE.read_bytes())
    assert version.number == 1
    assert db.scalar(select(func.count()).select_from(Holder)) == 12
    with pytest.raises(NotFound):
        get_version(db, other, 2)


def test_roll_import_progress_reports_phases(db: Session, area: PropertyArea) -> None:
    calls: list[tuple[str, int, int]] = []
    import_roll(
        db, area, "roll.csv", SAMPLE.read_bytes(), KEY,
        expected_base_version=None, progress=lambda *a: calls.append(a),
    )  # fmt: skip
    assert ("check", 11, 11) in calls and ("write", 11, 11) in calls


# --- privacy -----------------------------------------------------------------------------


def _text_values(session: Session) -> list[str]:
    values: list[str] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | LargeBinary)]
        for row in session.execute(select(*columns)) if columns else ():
            for value in row:
                if isinstance(value, bytes):
                    values.append(value.decode("latin-1"))
                elif value is not None:
                    values.append(str(value))
    return values


def test_roll_import_id_numbers_are_not_stored(
    db: Session, area: PropertyArea, database_url: str, instance_path: Path
) -> None:
    content = SAMPLE.read_bytes()
    _preview, upload_id = stage_roll_upload(db, area, "roll.csv", content, KEY)
    assert upload_id is not None
    do_import(db, area, to_csv(edited(L2_2="91.11")).encode())
    db.commit()
    values = _text_values(db)
    assert values
    for number in SAMPLE_IDS:
        assert not any(number in v or number.lower() in v for v in values), number
    # Also not in the bytes of the database files or the instance folder.
    files = [p for p in instance_path.rglob("*") if p.is_file()]
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        db_file = Path(str(url.database))
        files += [p for p in db_file.parent.glob(db_file.name + "*")]
    for path in files:
        data = path.read_bytes()
        for number in SAMPLE_IDS:
            assert number.encode() not in data, (path, number)


# --- uploads awaiting confirmation -----------------------------------------------------


def test_roll_import_upload_confirm_applies_and_deletes(db: Session, area: PropertyArea) -> None:
    content = SAMPLE.read_bytes()
    preview, upload_id = stage_roll_upload(db, area, "sample.csv", content, KEY, user_id=None)
    assert upload_id is not None and preview.has_changes
    upload = db.get(RollUpload, upload_id)
    assert upload is not None and content not in upload.content and upload.summary
    assert SAMPLE_IDS[0] not in upload.summary
    stored, again, base_version = preview_roll_upload(db, area, upload_id, KEY)
    assert stored.id == upload_id and base_version is None and again.diff == preview.diff
    version = apply_roll_upload(db, area, upload_id, KEY)
    assert version.number == 1 and version.source_name == "sample.csv"
    assert db.scalar(select(func.count()).select_from(RollUpload)) == 0


def test_roll_import_upload_refused_when_roll_moved_on(db: Session, area: PropertyArea) -> None:
    _, upload_id = stage_roll_upload(db, area, "a.csv", SAMPLE.read_bytes(), KEY)
    assert upload_id is not None
    do_import(db, area, to_csv(edited(L2_2="91.00")).encode())
    before = dump(db)
    with pytest.raises(ServiceError, match="the roll has changed"):
        apply_roll_upload(db, area, upload_id, KEY)
    assert dump(db) == before


def test_roll_import_upload_discard_and_expiry(db: Session, area: PropertyArea) -> None:
    _, first = stage_roll_upload(db, area, "a.csv", SAMPLE.read_bytes(), KEY)
    _, second = stage_roll_upload(db, area, "b.csv", SAMPLE.read_bytes(), KEY)
    assert first is not None and second is not None
    discard_roll_upload(db, area, first)
    with pytest.raises(NotFound):
        preview_roll_upload(db, area, first, KEY)
    other = ensure_property_area(db, OTHER)
    with pytest.raises(NotFound):
        apply_roll_upload(db, other, second, KEY)
    upload = db.get(RollUpload, second)
    assert upload is not None
    upload.created_at = upload.created_at - dt.timedelta(hours=25)
    db.commit()
    with pytest.raises(NotFound):
        apply_roll_upload(db, area, second, KEY)
    assert expire_roll_uploads(db) == 1
    assert db.scalar(select(func.count()).select_from(RollUpload)) == 0


def test_roll_import_upload_of_unchanged_roll_is_not_stored(
    db: Session, area: PropertyArea
) -> None:
    do_import(db, area, SAMPLE.read_bytes())
    preview, upload_id = stage_roll_upload(db, area, "same.csv", SAMPLE.read_bytes(), KEY)
    assert preview.ok and not preview.has_changes and upload_id is None
    assert db.scalar(select(func.count()).select_from(RollUpload)) == 0
