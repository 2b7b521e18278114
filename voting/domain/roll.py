"""Owner roll rules: reading a roll table, validating it, and comparing two rolls.

Pure: rows of text in (as an adapter read them from CSV or XLSX), plain dataclasses out.
See docs/ROLL.md for the file format these rules accept and RULES.md ("Who counts and how")
for why they are what they are:

- one row is one exclusive unit; (building, house number) appears once;
- the same ID number on several rows is one vote holder, so a buyer of several units counts
  once; the ID number is kept only as a keyed hash (HMAC-SHA-256) and its last 4 characters;
- every unsold or undelivered unit belongs to the developer, and all of them together are
  one holder;
- every bad row is reported (line and reason); a roll with any error is not imported at all.

Errors carry a message code and parameters (`RollError`): `MESSAGES` maps each code to an
English template with `%(name)s` placeholders, which the web layer also uses as the msgid
of its translation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from voting.domain.area import format_area, parse_area

__all__ = [
    "AREA_SOURCES",
    "COLUMNS",
    "DEFAULT_DEVELOPER_NAME",
    "DEVELOPER_KEY",
    "HOLDER_KINDS",
    "MESSAGES",
    "SNAPSHOT_FORMAT",
    "STATUSES",
    "Column",
    "HolderChange",
    "HolderState",
    "KnownHolder",
    "ParsedRoll",
    "RollDiff",
    "RollError",
    "RollHolder",
    "RollRow",
    "SnapshotEntry",
    "UnitChange",
    "UnitState",
    "canonical_snapshot",
    "check_id_number",
    "check_phone",
    "diff_rolls",
    "id_hash",
    "match_holders",
    "natural_key",
    "new_holder_ref",
    "normalise_header",
    "normalise_id_number",
    "parse_roll",
    "snapshot_sha256",
]

AREA_SOURCES = ("registry", "survey", "contract")
STATUSES = ("sold", "unsold", "undelivered")
HOLDER_KINDS = ("person", "entity", "developer")

# The holder key of the developer: all unsold and undelivered units are this one holder.
DEVELOPER_KEY = "developer"
DEFAULT_DEVELOPER_NAME = "建设单位"
SNAPSHOT_FORMAT = "voting-roll-snapshot/1"

# Column widths of the database schema (migration 0001), checked here so that a long value
# is a reported row error rather than a failed insert.
_MAX_BUILDING = 50
_MAX_UNIT = 50
_MAX_NAME = 100
_MAX_PHONE = 30
_MAX_CO_OWNERS = 200
_MAX_GUARDIAN = 100
_MAX_ID = 40

# How many leading non-empty rows are searched for the header (a title row may come first).
_HEADER_SEARCH_ROWS = 10


# --- messages -------------------------------------------------------------------------


def _l(message: str) -> str:
    """Mark a message for the UI catalogs (extracted like Flask-Babel's lazy_gettext).

    Returns it unchanged: this module stays pure; the web layer translates the English
    template with gettext and fills in the parameters.
    """
    return message


MESSAGES: dict[str, str] = {
    "empty_file": _l("the file is empty"),
    "no_units": _l("the file has a header but no unit rows"),
    "cannot_decode": _l(
        "cannot decode the file: save it as CSV in UTF-8 or GB18030, or as an XLSX workbook"
    ),
    "not_text": _l("the file is not a CSV text file or an XLSX workbook"),
    "xls_unsupported": _l("old Excel .xls files are not supported: save the sheet as .xlsx or CSV"),
    "bad_xlsx": _l("cannot read the XLSX workbook (damaged or not an XLSX file): %(reason)s"),
    "bad_csv": _l("malformed CSV: %(reason)s"),
    "missing_columns": _l("missing required column(s): %(columns)s"),
    "duplicate_column": _l("columns %(first)s and %(second)s both mean %(column)s"),
    "extra_cells": _l("the row has %(count)s cells but the header only %(header)s"),
    "empty_value": _l("%(column)s is empty"),
    "too_long": _l("%(column)s is longer than %(limit)s characters"),
    "control_chars": _l("%(column)s contains a tab, line break or other control character"),
    "bad_area": "%(reason)s",  # the reason comes from parse_area
    "unknown_area_source": _l(
        "unknown area source %(value)s: use 不动产登记 (registry), 测绘 (survey) or "
        "购房合同 (contract)"
    ),
    "unknown_status": _l(
        "unknown status %(value)s: use 已售 (sold), 未售 (unsold) or 已售未交付 (undelivered)"
    ),
    "unknown_holder_kind": _l(
        "unknown holder kind %(value)s: use 个人 (person), 单位 (entity) or 建设单位 (developer)"
    ),
    "unknown_parking": _l("unknown parking value %(value)s: use 是 or 否"),
    "kind_contradicts_status": _l(
        "status %(status)s means the developer holds the unit, but the holder kind is %(kind)s"
    ),
    "missing_holder_name": _l("the holder name is missing on a sold unit"),
    "missing_id_number": _l("the ID number is missing on a sold unit"),
    "bad_id_number": _l("ID number ending %(last4)s: %(reason)s"),
    "id_two_names": _l(
        "ID number ending %(last4)s is given for %(name)s here but for %(other)s on line "
        "%(first_line)s"
    ),
    "id_two_kinds": _l(
        "ID number ending %(last4)s is of holder kind %(kind)s here but %(other)s on line "
        "%(first_line)s"
    ),
    "developer_two_ids": _l(
        "the developer's ID number differs from line %(first_line)s: all unsold and "
        "undelivered units belong to one developer"
    ),
    "developer_two_names": _l(
        "the developer is named %(name)s here but %(other)s on line %(first_line)s: all "
        "unsold and undelivered units belong to one developer"
    ),
    "developer_id_on_owner": _l(
        "ID number ending %(last4)s is the developer's (line %(first_line)s): mark the "
        "row's holder kind 建设单位 or correct the number"
    ),
    "bad_phone": _l("phone number %(value)s: %(reason)s"),
    "duplicate_unit": _l(
        "unit %(building)s %(unit)s is listed twice (first on line %(first_line)s)"
    ),
    "unit_two_holders": _l(
        "unit %(building)s %(unit)s is also listed on line %(first_line)s with another "
        "holder: a unit has one vote holder (co-owners name one and list the others as "
        "co-owners)"
    ),
}

# Reasons used inside "bad_id_number" and "bad_phone" (also translated by the web layer).
ID_REASONS: dict[str, str] = {
    "spaces": _l("contains spaces"),
    "too_long": _l("is longer than 40 characters"),
    "checksum": _l("fails the check digit of an 18-digit mainland ID number"),
    "characters": _l("may contain only letters, digits, hyphens and parentheses"),
}
PHONE_REASONS: dict[str, str] = {
    "mobile_length": _l("a mobile number has 11 digits"),
    "characters": _l("may contain only digits, spaces, hyphens and a leading +"),
    "length": _l("a phone number has 7 to 20 digits"),
}


@dataclass(frozen=True)
class RollError:
    """One problem in a roll file: where (line, or None for the whole file) and why."""

    line: int | None
    code: str
    params: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def message(self) -> str:
        return MESSAGES[self.code] % dict(self.params)

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


# --- columns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A roll column: canonical English header, accepted aliases, whether it is required."""

    name: str
    aliases: tuple[str, ...]
    required: bool
    values: str


COLUMNS: tuple[Column, ...] = (
    Column("building", ("楼栋", "楼号", "楼栋号", "楼幢", "幢号"), True, "building name"),
    Column("unit", ("房号", "单元房号", "门牌号", "房间号", "house", "room"), True, "house number"),
    Column(
        "area_m2",
        (
            "建筑面积",
            "面积",
            "专有部分面积",
            "建筑面积(㎡)",
            "面积(平方米)",
            "建筑面积(平方米)",
            "area",
        ),
        True,
        "square metres, at most two decimals",
    ),
    Column("area_source", ("面积来源",), True, "registry / survey / contract"),
    Column("status", ("状态", "房屋状态", "销售状态"), True, "sold / unsold / undelivered"),
    Column(
        "holder_name",
        ("业主", "业主姓名", "姓名", "权利人", "业主名称", "name", "owner"),
        False,
        "required for sold units",
    ),
    Column(
        "id_number",
        ("证件号码", "身份证号", "身份证号码", "统一社会信用代码", "证件号", "id"),
        False,
        "required for sold units",
    ),
    Column("phone", ("手机", "手机号", "联系电话", "电话", "手机号码", "mobile"), False, ""),
    Column("holder_kind", ("业主类型", "权利人类型", "kind"), False, "person / entity / developer"),
    Column("parking", ("车位", "是否车位"), False, "yes / no"),
    Column("co_owners", ("共有人",), False, "names"),
    Column("guardian", ("监护人",), False, "name"),
    Column("holder_ref", ("业主编号",), False, "ignored on import (refs are assigned)"),
)


_HEADER_NOISE = re.compile(r"[\s_\-]+")


def normalise_header(text: str) -> str:
    """Header cells compare without case, width, spaces, underscores or hyphens."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())


_HEADER_LOOKUP: dict[str, str] = {}
for _column in COLUMNS:
    for _alias in (_column.name, *_column.aliases):
        _HEADER_LOOKUP[normalise_header(_alias)] = _column.name
_REQUIRED = tuple(c.name for c in COLUMNS if c.required)


def _vocabulary(pairs: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Accepted words (normalised like headers, and as written) to their value."""
    vocabulary = {word: value for value, words in pairs.items() for word in words}
    vocabulary.update((normalise_header(word), value) for word, value in list(vocabulary.items()))
    return vocabulary


_AREA_SOURCE_WORDS = _vocabulary(
    {
        "registry": ("registry", "registered", "不动产登记", "登记", "产权登记", "不动产登记簿"),
        "survey": ("survey", "surveyed", "测绘", "实测", "实测面积"),
        "contract": ("contract", "合同", "购房合同", "合同约定"),
    }
)
_STATUS_WORDS = _vocabulary(
    {
        "sold": ("sold", "已售", "已交付", "已售已交付"),
        "unsold": ("unsold", "未售", "待售"),
        "undelivered": ("undelivered", "已售未交付", "未交付"),
    }
)
_KIND_WORDS = _vocabulary(
    {
        "person": ("person", "个人", "自然人"),
        "entity": ("entity", "company", "单位", "法人", "企业"),
        "developer": ("developer", "建设单位", "开发商", "开发建设单位"),
    }
)
_PARKING_WORDS = _vocabulary(
    {
        "yes": ("是", "yes", "y", "1", "true", "车位"),
        "no": ("否", "no", "n", "0", "false", ""),
    }
)


# --- ID numbers and phones ------------------------------------------------------------

_MAINLAND_ID = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_OLD_ID = re.compile(r"[0-9]{15}", re.ASCII)
_CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", re.ASCII)
_OTHER_ID = re.compile(r"[A-Z0-9][A-Z0-9()\-]*", re.ASCII)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHT_SUM = sum(_ID_WEIGHTS)
_SPACE = re.compile(r"\s")
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_id_number(text: str) -> str:
    """The form that is hashed: Unicode NFKC (full-width to ASCII), stripped, upper case."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def _mainland_check_digit(body: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    total = sum(map(operator.mul, body.encode("ascii"), _ID_WEIGHTS)) - _ID_WEIGHT_SUM * 48
    return "10X98765432"[total % 11]


def _credit_code_valid(code: str) -> bool:
    if not _CREDIT_CODE.fullmatch(code):
        return False
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(code, _CREDIT_WEIGHTS, strict=False))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31] == code[17]


def check_id_number(normalised: str) -> str | None:
    """Why a normalised ID number is refused (a key of ID_REASONS), or None if accepted.

    18 digits (last may be X) is a mainland resident ID and must pass its GB 11643 check
    digit; 18 characters of the GB 32100 alphabet is a unified social credit code (checked
    for form only); 15 digits is an old ID; anything else (passport, Hong Kong / Macau /
    Taiwan permits) is letters, digits, hyphens and parentheses, at most 40 characters.
    """
    if _SPACE.search(normalised):
        return "spaces"
    if len(normalised) > _MAX_ID:
        return "too_long"
    if _MAINLAND_ID.fullmatch(normalised):
        # 18 digits is a mainland ID unless it is an all-digit credit code with a valid
        # GB 32100 check character.
        if _mainland_check_digit(normalised[:17]) == normalised[17] or _credit_code_valid(
            normalised
        ):
            return None
        return "checksum"
    if _CREDIT_CODE.fullmatch(normalised) or _OLD_ID.fullmatch(normalised):
        return None
    return None if _OTHER_ID.fullmatch(normalised) else "characters"


def id_hash(key: str, normalised: str) -> str:
    """Keyed hash of a normalised ID number: HMAC-SHA-256, hex."""
    return hmac.digest(key.encode(), normalised.encode(), "sha256").hex()


_PHONE_CHARS = re.compile(r"\+?[0-9][0-9 \-]*", re.ASCII)
_NOT_DIGIT = re.compile(r"[^0-9]", re.ASCII)


def check_phone(text: str) -> str | None:
    """Why a phone number is refused (a key of PHONE_REASONS), or None if accepted.

    Mobile: 11 digits starting with 1 (optionally +86 first). Landline: digits with hyphens
    or spaces, 7 to 20 digits (e.g. 010-84770000).
    """
    if not _PHONE_CHARS.fullmatch(text):
        return "characters"
    digits = _NOT_DIGIT.sub("", text)
    if text.startswith("+86") or text.startswith("+"):
        digits = digits[2:] if digits.startswith("86") else digits
    if digits.startswith("1") and len(digits) != 11:
        return "mobile_length"
    if not 7 <= len(digits) <= 20:
        return "length"
    return None


# --- parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollRow:
    """One valid unit row."""

    line: int
    building: str
    unit: str
    area_centi: int
    area_source: str
    status: str
    is_parking: bool
    holder_key: str
    co_owners: str | None
    guardian: str | None


@dataclass(frozen=True)
class RollHolder:
    """One vote holder of the file: the ID number survives only as hash and last 4."""

    key: str
    kind: str
    name: str
    id_hash: str | None
    id_last4: str | None
    phone: str | None
    first_line: int


@dataclass(frozen=True)
class ParsedRoll:
    rows: tuple[RollRow, ...]
    holders: Mapping[str, RollHolder]
    errors: tuple[RollError, ...]
    data_rows: int
    ignored_columns: tuple[str, ...] = ()

    @property
    def total_area_centi(self) -> int:
        return sum(row.area_centi for row in self.rows)


def _find_header(rows: Sequence[tuple[int, Sequence[str]]]) -> int | None:
    """Index of the header row: the first of the leading rows that names a required column."""
    for index, (_line, cells) in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        names = {_HEADER_LOOKUP.get(normalise_header(c)) for c in cells}
        if sum(1 for name in _REQUIRED if name in names) >= 2:
            return index
    return 0 if rows else None


def _map_header(
    line: int, cells: Sequence[str], errors: list[RollError]
) -> tuple[dict[str, int], tuple[str, ...]]:
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        name = _HEADER_LOOKUP.get(normalise_header(cell))
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if name in positions:
            first = cells[positions[name]].strip()
            errors.append(
                RollError(
                    line,
                    "duplicate_column",
                    {"first": first, "second": cell.strip(), "column": name},
                )
            )
            continue
        positions[name] = index
    missing = [name for name in _REQUIRED if name not in positions]
    if missing:
        errors.append(RollError(line, "missing_columns", {"columns": ", ".join(missing)}))
    return positions, tuple(ignored)


def _clean(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII) and stripped."""
    return (text if text.isascii() else unicodedata.normalize("NFKC", text)).strip()


def _same_name(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a).casefold() == re.sub(r"\s+", "", b).casefold()


@dataclass
class _Seen:
    """What the parser remembers while reading rows."""

    units: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    holders: dict[str, RollHolder] = field(default_factory=dict)
    developer: RollHolder | None = None
    developer_name_line: int | None = None
    developer_id_line: int | None = None


class _RowReader:
    """Validates one row at a time, appending to `errors` and remembering holders."""

    def __init__(self, positions: Mapping[str, int], width: int, id_hash_key: str) -> None:
        self.positions = positions
        self.width = width
        self._key = id_hash_key.encode()
        self.seen = _Seen()
        self.errors: list[RollError] = []
        self.rows: list[RollRow] = []

    def _error(self, line: int, code: str, **params: object) -> None:
        self.errors.append(RollError(line, code, params))

    def _text(
        self, line: int, row: Mapping[str, str], name: str, limit: int, *, required: bool = False
    ) -> str | None:
        value = row.get(name, "")
        if not value:
            if required:
                self._error(line, "empty_value", column=name)
            return None
        if _CONTROL.search(value):
            self._error(line, "control_chars", column=name)
            return None
        if len(value) > limit:
            self._error(line, "too_long", column=name, limit=limit)
            return None
        return value

    def _word(
        self, line: int, row: Mapping[str, str], name: str, words: Mapping[str, str], code: str
    ) -> str | None:
        raw = row.get(name, "")
        if not raw and name in _REQUIRED:
            self._error(line, "empty_value", column=name)
            return None
        value = words.get(raw)
        if value is None:
            value = words.get(normalise_header(raw))
        if value is None and raw:
            self._error(line, code, value=raw)
        return value

    def read(self, line: int, cells: Sequence[str]) -> None:
        errors_before = len(self.errors)
        width = len(cells)
        row = {name: _clean(cells[i]) for name, i in self.positions.items() if i < width}
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            self._error(line, "extra_cells", count=len(cells), header=self.width)
        building = self._text(line, row, "building", _MAX_BUILDING, required=True)
        unit = self._text(line, row, "unit", _MAX_UNIT, required=True)
        area = self._area(line, row)
        source = self._word(line, row, "area_source", _AREA_SOURCE_WORDS, "unknown_area_source")
        status = self._word(line, row, "status", _STATUS_WORDS, "unknown_status")
        parking = self._word(line, row, "parking", _PARKING_WORDS, "unknown_parking")
        co_owners = self._text(line, row, "co_owners", _MAX_CO_OWNERS)
        guardian = self._text(line, row, "guardian", _MAX_GUARDIAN)
        holder_key = self._holder(line, row, status)
        if len(self.errors) > errors_before:
            return
        assert building and unit and area and source and status and holder_key
        if self._unit_seen(line, building, unit, holder_key):
            return
        self.rows.append(
            RollRow(
                line=line,
                building=building,
                unit=unit,
                area_centi=area,
                area_source=source,
                status=status,
                is_parking=parking == "yes",
                holder_key=holder_key,
                co_owners=co_owners,
                guardian=guardian,
            )
        )

    def _area(self, line: int, row: Mapping[str, str]) -> int | None:
        raw = row.get("area_m2", "")
        if not raw:
            self._error(line, "empty_value", column="area_m2")
            return None
        try:
            return parse_area(raw)
        except ValueError as exc:
            self._error(line, "bad_area", reason=str(exc))
            return None

    def _unit_seen(self, line: int, building: str, unit: str, holder_key: str) -> bool:
        first = self.seen.units.get((building, unit))
        if first is None:
            self.seen.units[(building, unit)] = (line, holder_key)
            return False
        first_line, first_holder = first
        code = "duplicate_unit" if first_holder == holder_key else "unit_two_holders"
        self._error(line, code, building=building, unit=unit, first_line=first_line)
        return True

    def _holder(self, line: int, row: Mapping[str, str], status: str | None) -> str | None:
        kind = self._word(line, row, "holder_kind", _KIND_WORDS, "unknown_holder_kind")
        if row.get("holder_kind", "") and kind is None:
            return None
        developer_status = status in ("unsold", "undelivered")
        if developer_status and kind not in (None, "developer"):
            self._error(line, "kind_contradicts_status", status=status, kind=kind)
            return None
        if developer_status or kind == "developer":
            return self._developer(line, row)
        # With an unknown status (already reported) nothing more is required of the row.
        required = status is not None
        name = self._text(line, row, "holder_name", _MAX_NAME)
        if required and not row.get("holder_name", ""):
            self._error(line, "missing_holder_name")
        ids = self._id(line, row, required=required)
        phone_ok, phone = self._phone(line, row)
        if name is None or ids is None or not phone_ok:
            return None
        hashed, last4 = ids
        holder = RollHolder(hashed, kind or "person", name, hashed, last4, phone, line)
        first = self.seen.holders.get(hashed)
        if first is None:
            self.seen.holders[hashed] = holder
            return hashed
        if not _same_name(first.name, name):
            self._error(
                line,
                "id_two_names",
                last4=last4,
                name=name,
                other=first.name,
                first_line=first.first_line,
            )
            return None
        if first.kind != holder.kind:
            self._error(
                line,
                "id_two_kinds",
                last4=last4,
                kind=holder.kind,
                other=first.kind,
                first_line=first.first_line,
            )
            return None
        if first.phone is None and phone is not None:
            self.seen.holders[hashed] = replace(first, phone=phone)
        return hashed

    def _id(self, line: int, row: Mapping[str, str], *, required: bool) -> tuple[str, str] | None:
        raw = row.get("id_number", "")
        if not raw:
            if required:
                self._error(line, "missing_id_number")
            return None
        normalised = normalise_id_number(raw)
        reason = check_id_number(normalised)
        if reason is not None:
            self._error(line, "bad_id_number", last4=normalised[-4:], reason=ID_REASONS[reason])
            return None
        return hmac.digest(self._key, normalised.encode(), "sha256").hex(), normalised[-4:]

    def _phone(self, line: int, row: Mapping[str, str]) -> tuple[bool, str | None]:
        """(accepted, phone number or None if blank); a refused number is reported."""
        value = row.get("phone", "")
        if not value:
            return True, None
        reason = check_phone(value) if len(value) <= _MAX_PHONE else "length"
        if reason is not None:
            self._error(line, "bad_phone", value=value, reason=PHONE_REASONS[reason])
            return False, None
        return True, value

    def _developer(self, line: int, row: Mapping[str, str]) -> str | None:
        raw_name = row.get("holder_name", "")
        name = self._text(line, row, "holder_name", _MAX_NAME)
        ids = self._id(line, row, required=False) if row.get("id_number", "") else None
        phone_ok, phone = self._phone(line, row)
        if (raw_name and name is None) or (row.get("id_number", "") and ids is None):
            return None
        if not phone_ok:
            return None
        seen = self.seen
        current = seen.developer or RollHolder(
            DEVELOPER_KEY, "developer", DEFAULT_DEVELOPER_NAME, None, None, None, line
        )
        if name is not None:
            if seen.developer_name_line is None:
                current = replace(current, name=name)
                seen.developer_name_line = line
            elif not _same_name(current.name, name):
                self._error(
                    line,
                    "developer_two_names",
                    name=name,
                    other=current.name,
                    first_line=seen.developer_name_line,
                )
                return None
        if ids is not None:
            if seen.developer_id_line is None:
                current = replace(current, id_hash=ids[0], id_last4=ids[1])
                seen.developer_id_line = line
            elif current.id_hash != ids[0]:
                self._error(line, "developer_two_ids", first_line=seen.developer_id_line)
                return None
        if phone and current.phone is None:
            current = replace(current, phone=phone)
        seen.developer = current
        return DEVELOPER_KEY

    def finish(self) -> None:
        developer = self.seen.developer
        if developer is None or developer.id_hash is None:
            return
        owner = self.seen.holders.get(developer.id_hash)
        if owner is not None:
            self._error(
                owner.first_line,
                "developer_id_on_owner",
                last4=developer.id_last4,
                first_line=self.seen.developer_id_line,
            )


def parse_roll(
    rows: Iterable[tuple[int, Sequence[str]]],
    id_hash_key: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> ParsedRoll:
    """Validate a roll table given as (line number, cells) pairs, header row included.

    Blank rows are skipped. The header is the first of the leading rows that names at
    least two required columns (so a title row above it is allowed). Every problem is
    collected; `rows` holds the valid rows only, and the roll is usable only if `errors`
    is empty. `progress(n)` is called with the number of data rows read so far, every
    1,000 rows.
    """
    table = [(line, cells) for line, cells in rows if any(c.strip() for c in cells)]
    if not table:
        return ParsedRoll((), {}, (RollError(None, "empty_file"),), 0)
    header_index = _find_header(table)
    assert header_index is not None
    header_line, header = table[header_index]
    header_errors: list[RollError] = []
    positions, ignored = _map_header(header_line, header, header_errors)
    data = table[header_index + 1 :]
    if header_errors:
        return ParsedRoll((), {}, tuple(header_errors), len(data), ignored)
    if not data:
        return ParsedRoll((), {}, (RollError(header_line, "no_units"),), 0, ignored)
    reader = _RowReader(positions, len(header), id_hash_key)
    for count, (line, cells) in enumerate(data, start=1):
        reader.read(line, cells)
        if progress is not None and count % 1000 == 0:
            progress(count)
    reader.finish()
    if progress is not None:
        progress(len(data))
    holders: dict[str, RollHolder] = dict(reader.seen.holders)
    if reader.seen.developer is not None:
        holders[DEVELOPER_KEY] = reader.seen.developer
    errors = sorted(reader.errors, key=lambda e: e.line or 0)
    return ParsedRoll(tuple(reader.rows), holders, tuple(errors), len(data), ignored)


# --- holders across versions --------------------------------------------------------


@dataclass(frozen=True)
class KnownHolder:
    """A holder already stored for the property area."""

    id: int
    ref: str
    kind: str
    name: str
    id_hash: str | None
    id_last4: str | None
    phone: str | None


def match_holders(
    holders: Mapping[str, RollHolder], known: Iterable[KnownHolder]
) -> dict[str, KnownHolder | None]:
    """Which stored holder each holder of the file is (None: a new holder).

    A holder is the same as a stored one with the same ID hash; the developer, if its ID
    number is not given or not known, is the stored developer. So a holder keeps its
    pseudonymous ref across versions.
    """
    by_hash: dict[str, KnownHolder] = {}
    developers: list[KnownHolder] = []
    for holder in known:
        if holder.id_hash is not None:
            by_hash[holder.id_hash] = holder
        if holder.kind == "developer":
            developers.append(holder)
    matched: dict[str, KnownHolder | None] = {}
    used: set[int] = set()
    for key, entry in holders.items():
        found = by_hash.get(entry.id_hash) if entry.id_hash is not None else None
        matched[key] = found
        if found is not None:
            used.add(found.id)
    if DEVELOPER_KEY in holders and matched.get(DEVELOPER_KEY) is None:
        free = sorted((h for h in developers if h.id not in used), key=lambda h: h.id)
        if free and (holders[DEVELOPER_KEY].id_hash is None or free[0].id_hash is None):
            matched[DEVELOPER_KEY] = free[0]
    return matched


def new_holder_ref(taken: set[str], random_bytes: Callable[[int], bytes]) -> str:
    """A fresh pseudonymous ref ("H" + 8 base32 characters) not in `taken` (then added)."""
    while True:
        ref = "H" + base64.b32encode(random_bytes(5)).decode("ascii")
        if ref not in taken:
            taken.add(ref)
            return ref


# --- differences ----------------------------------------------------------------------


@dataclass(frozen=True)
class UnitState:
    """What a roll says about one unit; `holder` is the holder's identity key."""

    area_centi: int
    area_source: str
    status: str
    is_parking: bool
    holder: str
    co_owners: str | None = None
    guardian: str | None = None


@dataclass(frozen=True)
class HolderState:
    """What is shown of a holder: ref (None until a new holder is stored), never its ID."""

    ref: str | None
    kind: str
    name: str
    id_last4: str | None
    phone: str | None


@dataclass(frozen=True)
class UnitChange:
    building: str
    unit: str
    old: UnitState | None
    new: UnitState | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class HolderChange:
    key: str
    old: HolderState | None
    new: HolderState | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RollDiff:
    units_added: tuple[UnitChange, ...]
    units_removed: tuple[UnitChange, ...]
    units_changed: tuple[UnitChange, ...]
    holders_added: tuple[HolderChange, ...]
    holders_removed: tuple[HolderChange, ...]
    holders_changed: tuple[HolderChange, ...]

    @property
    def has_changes(self) -> bool:
        return any(
            (
                self.units_added,
                self.units_removed,
                self.units_changed,
                self.holders_added,
                self.holders_removed,
                self.holders_changed,
            )
        )

    def counts(self) -> dict[str, int]:
        return {
            "units_added": len(self.units_added),
            "units_removed": len(self.units_removed),
            "units_changed": len(self.units_changed),
            "holders_added": len(self.holders_added),
            "holders_removed": len(self.holders_removed),
            "holders_changed": len(self.holders_changed),
        }


_UNIT_FIELDS = (
    ("area", "area_centi"),
    ("area_source", "area_source"),
    ("status", "status"),
    ("holder", "holder"),
    ("parking", "is_parking"),
    ("co_owners", "co_owners"),
    ("guardian", "guardian"),
)
_HOLDER_FIELDS = ("kind", "name", "id_last4", "phone")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting "2号楼" before "10号楼"."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"([0-9]+)", text, flags=re.ASCII)
        if part
    )


_NaturalKey = tuple[tuple[int, int | str], ...]


def _sorted_units(changes: list[UnitChange]) -> tuple[UnitChange, ...]:
    keys: dict[str, _NaturalKey] = {}

    def key(text: str) -> _NaturalKey:
        found = keys.get(text)
        if found is None:
            found = keys[text] = natural_key(text)
        return found

    return tuple(sorted(changes, key=lambda c: (key(c.building), key(c.unit))))


def diff_rolls(
    old_units: Mapping[tuple[str, str], UnitState],
    new_units: Mapping[tuple[str, str], UnitState],
    old_holders: Mapping[str, HolderState],
    new_holders: Mapping[str, HolderState],
) -> RollDiff:
    """Units and holders added, removed and changed from the old roll to the new one.

    Units are keyed by (building, house number); holders by an identity key that is the
    same in both rolls for the same holder (the caller matched them, see match_holders).
    `old_holders` are the holders of the old roll's units only.
    """
    added = [
        UnitChange(b, u, None, s) for (b, u), s in new_units.items() if (b, u) not in old_units
    ]
    removed = [
        UnitChange(b, u, s, None) for (b, u), s in old_units.items() if (b, u) not in new_units
    ]
    changed: list[UnitChange] = []
    for key, new in new_units.items():
        old = old_units.get(key)
        if old is None or old == new:
            continue
        fields = tuple(
            label for label, attr in _UNIT_FIELDS if getattr(old, attr) != getattr(new, attr)
        )
        changed.append(UnitChange(key[0], key[1], old, new, fields))
    holders_added = [
        HolderChange(k, None, h) for k, h in new_holders.items() if k not in old_holders
    ]
    holders_removed = [
        HolderChange(k, h, None) for k, h in old_holders.items() if k not in new_holders
    ]
    holders_changed: list[HolderChange] = []
    for holder_key, new_holder in new_holders.items():
        old_holder = old_holders.get(holder_key)
        if old_holder is None:
            continue
        fields = tuple(
            f for f in _HOLDER_FIELDS if getattr(old_holder, f) != getattr(new_holder, f)
        )
        if fields:
            holders_changed.append(HolderChange(holder_key, old_holder, new_holder, fields))

    def by_holder(change: HolderChange) -> tuple[str, str]:
        state = change.new or change.old
        assert state is not None
        return (state.ref or "~", change.key)

    return RollDiff(
        _sorted_units(added),
        _sorted_units(removed),
        _sorted_units(changed),
        tuple(sorted(holders_added, key=by_holder)),
        tuple(sorted(holders_removed, key=by_holder)),
        tuple(sorted(holders_changed, key=by_holder)),
    )


# --- the published snapshot -----------------------------------------------------------


@dataclass(frozen=True)
class SnapshotEntry:
    """One unit as published: no names, no ID numbers."""

    building: str
    unit: str
    area_centi: int
    area_source: str
    status: str
    is_parking: bool
    holder_ref: str


def canonical_snapshot(entries: Iterable[SnapshotEntry]) -> bytes:
    """The canonical serialisation of a roll version (see docs/ROLL.md).

    UTF-8 text: the line "voting-roll-snapshot/1", then one line per unit sorted by
    (building, house number) in Unicode code point order, fields separated by one TAB:
    building, house number, area with two decimals ("89.50"), area source, status,
    parking ("1" or "0"), holder ref. Every line ends with LF.
    """
    lines = [SNAPSHOT_FORMAT]
    for e in sorted(entries, key=lambda e: (e.building, e.unit)):
        parking = "1" if e.is_parking else "0"
        lines.append(
            "\t".join(
                (
                    e.building,
                    e.unit,
                    format_area(e.area_centi),
                    e.area_source,
                    e.status,
                    parking,
                    e.holder_ref,
                )
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def snapshot_sha256(entries: Iterable[SnapshotEntry]) -> str:
    return hashlib.sha256(canonical_snapshot(entries)).hexdigest()
