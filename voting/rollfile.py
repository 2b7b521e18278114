"""Reading an uploaded roll file (CSV or XLSX bytes) into numbered rows of text.

An edge adapter: it knows file formats and encodings, nothing of the roll's rules, which
live in `voting.domain.roll`. Line numbers are those a spreadsheet program shows (the
header is usually line 1), so that an error message points at the right row.

- XLSX: recognised by its ZIP signature; the first sheet is read (openpyxl, read-only,
  cached formula values). Numeric cells become decimal text through
  `Decimal(str(value))`, so 89.5 reads as "89.5" and a float artefact such as
  89.50000000001 keeps its extra decimals and is refused as an area rather than rounded.
- CSV: UTF-8 with a BOM, else strict UTF-8, else strict GB18030 (as Chinese spreadsheet
  programs save "CSV"), else UTF-16 with a BOM (Excel's "Unicode text"); the delimiter is
  the one of comma, TAB and semicolon that occurs most in the first line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal, InvalidOperation
from typing import Any

from voting.domain.roll import RollError

__all__ = ["RollFileError", "read_roll_file"]

Rows = list[tuple[int, list[str]]]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls


class RollFileError(Exception):
    """The file cannot be read as a table at all; `error` says why."""

    def __init__(self, error: RollError) -> None:
        super().__init__(str(error))
        self.error = error


def _fail(code: str, line: int | None = None, **params: object) -> RollFileError:
    return RollFileError(RollError(line, code, params))


def read_roll_file(filename: str, content: bytes) -> Rows:
    """The rows of a roll file as (line number, cells); raises RollFileError."""
    if not content.strip():
        raise _fail("empty_file")
    if content.startswith(_ZIP_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(content)
    if content.startswith(_OLE_MAGIC):
        raise _fail("xls_unsupported")
    return _read_csv(_decode(content))


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise _fail("not_text")
        return text
    raise _fail("cannot_decode")


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str) -> Rows:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: Rows = []
    line = 1
    try:
        for cells in reader:
            rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _fail("bad_csv", line, reason=str(exc)) from exc
    return rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if not number.is_finite():
            return str(value)
        if number == number.to_integral_value():
            return str(int(number))
        return format(number, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(content: bytes) -> Rows:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, XML and value errors
        raise _fail("bad_xlsx", reason=_reason(exc)) from exc
    try:
        if not workbook.worksheets:
            raise _fail("empty_file")
        sheet = workbook.worksheets[0]
        rows: Rows = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            rows.append((line, cells))
        return rows
    except RollFileError:
        raise
    except Exception as exc:
        raise _fail("bad_xlsx", reason=_reason(exc)) from exc
    finally:
        workbook.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile | EOFError):
        return "the file is truncated or not a ZIP archive"
    if isinstance(exc, KeyError):
        return "a part of the workbook is missing"
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__
