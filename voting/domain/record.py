"""The election record of one meeting (docs/PROTOCOL.md section 11): its files, their exact
bytes, and how each is read back.

`voting export` writes a record with the encoders here and `voting verify` reads it with the
decoders, so both agree on one format. Every file has exactly one accepted byte string for
its content: JSON files are canonical JSON (section 3), the roll is a CSV file that must be
exactly what `encode_roll` writes for its rows, lists are in a fixed order. A decoder
therefore refuses a changed space, a reordered entry or an escaped character even where the
value would read the same, and a changed byte is always reported as a changed file.

Pure: bytes in, values out. No I/O, no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import re
import string
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string
from typing import Any

from crypto.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    JSONObject,
    JSONValue,
    parse_canonical,
)
from crypto.canonical import canonical_bytes as dumps
from crypto.errors import CryptoError, NonCanonical
from crypto.statements import parse_time
from voting.domain.area import format_area, parse_area
from voting.domain.procedure import MeetingState, MotionSpec, ProcedureError, RulesOfProcedure
from voting.domain.roll import SnapshotEntry, snapshot_sha256
from voting.domain.tally import MotionKind

__all__ = [
    "ANCHOR",
    "BALLOTS",
    "CERTIFICATES",
    "CHECKPOINT",
    "CONTENT_FILES",
    "EXPORT_KIND",
    "FORMAT",
    "LEAVES",
    "LOG_KEY",
    "MANIFEST",
    "MEETING",
    "PAPER",
    "PROOFS",
    "PROXIES",
    "RECORD_FILES",
    "RESULTS",
    "REVOCATIONS",
    "ROLL",
    "BallotRecord",
    "CertificateRecord",
    "LeafRecord",
    "Manifest",
    "ManifestFile",
    "MeetingLog",
    "MeetingRecord",
    "MotionRecord",
    "PaperRecord",
    "Proofs",
    "ProxyRecord",
    "RecordError",
    "ResultRecord",
    "RevocationRecord",
    "RollUnit",
    "audit_ranges",
    "b64url_decode",
    "b64url_encode",
    "dumps",
    "loads",
    "motion_content_sha256",
    "roll_sha256",
]

FORMAT = "voting-election-record/1"
#: The log entry kind that anchors a record's manifest in the area's log.
EXPORT_KIND = "record.export"

MEETING = "meeting.json"
ROLL = "roll.csv"
CERTIFICATES = "certificates.json"
REVOCATIONS = "revocations.json"
BALLOTS = "ballots.json"
PROXIES = "proxies.json"
PAPER = "paper.json"
RESULTS = "results.json"
LEAVES = "leaves.json"
LOG_KEY = "log-key.txt"
MANIFEST = "manifest.json"
ANCHOR = "anchor.json"
CHECKPOINT = "checkpoint.txt"
PROOFS = "proofs.json"

#: The files the manifest lists (everything known before the record is anchored).
CONTENT_FILES = (
    BALLOTS,
    CERTIFICATES,
    LEAVES,
    LOG_KEY,
    MEETING,
    PAPER,
    PROXIES,
    RESULTS,
    REVOCATIONS,
    ROLL,
)
#: Every file of a record: the content, the manifest, and the three files that tie the
#: manifest to a signed checkpoint (they are written after the manifest is logged).
RECORD_FILES = (*CONTENT_FILES, MANIFEST, ANCHOR, CHECKPOINT, PROOFS)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_LOWER_HEX = re.compile(r"[0-9a-f]*")
_HEX_KEY = re.compile(r"[0-9a-f]{64}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RecordError(ValueError):
    """A file of the record is malformed; `file` names it, the message says where and why."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file
        self.detail = message


# --- canonical JSON, fast and strict ------------------------------------------------------


def _reject_number(text: str) -> Any:
    raise NonCanonical(f"number {text} is not an integer")


def _checked_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise NonCanonical(f"integer {text} is outside ±(2**53 - 1)")
    return value


def _depth_ok(value: object, depth: int = 0) -> bool:
    """No value nested deeper than crypto.canonical allows (section 3)."""
    if isinstance(value, dict):
        if value and depth + 1 > MAX_DEPTH:
            return False
        return all(
            _depth_ok(item, depth + 1) for item in value.values() if isinstance(item, dict | list)
        )
    if isinstance(value, list):
        if value and depth + 1 > MAX_DEPTH:
            return False
        return all(_depth_ok(item, depth + 1) for item in value if isinstance(item, dict | list))
    return True


def loads(data: bytes, *, shaped: bool = False) -> JSONObject:
    """Parse a JSON object, accepting only its exact canonical encoding (section 3.2).

    Same verdict as `crypto.canonical.parse_canonical`, several times faster on large files:
    the C JSON codec parses and re-encodes, and the bytes must come back unchanged. Python's
    encoder with sorted keys, no spaces and no ASCII escaping writes RFC 8785 text for every
    value whose keys contain no character above U+FFFF (their UTF-16 order differs from
    code point order); such input, and anything refused here, goes to `parse_canonical`,
    which accepts or names the fault.

    `shaped=True` skips the walk that bounds the nesting depth, for callers that check the
    type of every value they read (then no deeper value can get through them).
    """
    try:
        text = data.decode("utf-8")
        value = json.loads(
            text,
            parse_float=_reject_number,
            parse_int=_checked_int,
            parse_constant=_reject_number,
        )
        if (
            isinstance(value, dict)
            and json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True) == text
            and (text.isascii() or not _ASTRAL.search(text))
            and (shaped or _depth_ok(value))
        ):
            return value
    except (ValueError, RecursionError, TypeError):
        pass
    return parse_canonical(data)


# --- small strict encodings --------------------------------------------------------------


def b64url_encode(raw: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_B64_VALUE = {
    c: i
    for i, c in enumerate(string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_")
}
#: For a text of length 4k + r, the bits of the last character that encode no byte.
_UNUSED_BITS = {0: 0, 2: 0x0F, 3: 0x03}
_PADDING = {0: b"", 2: b"==", 3: b"="}


def b64url_decode(text: object) -> bytes:
    """Decode base64url without padding, accepting only the text `b64url_encode` writes
    (alphabet, length and unused bits checked, so each byte string has one text)."""
    if type(text) is not str or "+" in text or "/" in text or "=" in text:
        raise ValueError("not base64url without padding")
    rest = len(text) % 4
    try:
        if rest == 1 or (rest and _B64_VALUE[text[-1]] & _UNUSED_BITS[rest]):
            raise ValueError("not canonical base64url (length or unused bits)")
        standard = text.encode("ascii").translate(_URL_TO_STANDARD) + _PADDING[rest]
        return binascii.a2b_base64(standard, strict_mode=True)
    except (KeyError, UnicodeError, binascii.Error):
        raise ValueError("not base64url without padding") from None


def motion_content_sha256(spec: MotionSpec) -> str:
    """SHA-256 of a motion's canonical JSON, as the log's motion and notice entries carry it."""
    return hashlib.sha256(dumps(spec.to_dict())).hexdigest()


# --- reading helpers ---------------------------------------------------------------------


class _Reader:
    """Typed access to the members of a parsed JSON object, naming the file and the place."""

    def __init__(self, file: str, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise RecordError(file, f"{where} must be a JSON object")
        self.file = file
        self.value: dict[str, Any] = value
        self.where = where

    def error(self, message: str) -> RecordError:
        return RecordError(self.file, f"{self.where}: {message}")

    def members(self, *names: str, optional: Iterable[str] = ()) -> None:
        allowed = {*names, *optional}
        missing = sorted(set(names) - set(self.value))
        if missing:
            raise self.error(f"missing member(s) {', '.join(missing)}")
        extra = sorted(set(self.value) - allowed)
        if extra:
            raise self.error(f"unknown member(s) {', '.join(extra)}")

    def integer(self, name: str, minimum: int = 0) -> int:
        value = self.value[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(f"{name} must be an integer of at least {minimum}")
        return value

    def optional_integer(self, name: str, minimum: int = 0) -> int | None:
        return None if self.value[name] is None else self.integer(name, minimum)

    def flag(self, name: str) -> bool:
        value = self.value[name]
        if not isinstance(value, bool):
            raise self.error(f"{name} must be true or false")
        return value

    def text(self, name: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.value[name]
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise self.error(f"{name} is malformed")
        return value

    def time(self, name: str) -> str:
        value = self.value[name]
        try:
            parse_time(value)
        except CryptoError as exc:
            raise self.error(f"{name}: {exc}") from None
        assert isinstance(value, str)
        return value

    def optional_time(self, name: str) -> str | None:
        return None if self.value[name] is None else self.time(name)

    def binary(self, name: str) -> bytes:
        try:
            return b64url_decode(self.value[name])
        except ValueError as exc:
            raise self.error(f"{name} is {exc}") from None

    def items(self, name: str) -> list[Any]:
        value = self.value[name]
        if not isinstance(value, list):
            raise self.error(f"{name} must be a list")
        return value

    def child(self, name: str) -> _Reader:
        return _Reader(self.file, self.value[name], f"{self.where}.{name}")


def _load(file: str, data: bytes, *, shaped: bool = False) -> JSONObject:
    try:
        return loads(data, shaped=shaped)
    except CryptoError as exc:
        raise RecordError(file, f"not canonical JSON: {exc}") from None


def _ascending(file: str, what: str, keys: Sequence[Any]) -> None:
    """Entries must be in strictly ascending order of their key (no duplicates)."""
    for position in range(1, len(keys)):
        if not keys[position - 1] < keys[position]:
            raise RecordError(
                file,
                f"{what} {keys[position]!r} (entry {position + 1}) is out of order or "
                "repeated: entries are in ascending order",
            )


# --- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestFile:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every content file with its SHA-256; its own hash is logged by the export."""

    area: str
    meeting: int
    files: tuple[ManifestFile, ...]

    @classmethod
    def of(cls, area: str, meeting: int, files: Mapping[str, bytes]) -> Manifest:
        entries = tuple(
            ManifestFile(name, hashlib.sha256(files[name]).hexdigest(), len(files[name]))
            for name in sorted(files)
        )
        return cls(area, meeting, entries)

    def encode(self) -> bytes:
        return dumps(
            {
                "format": FORMAT,
                "area": self.area,
                "meeting": self.meeting,
                "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Manifest:
        top = _Reader(MANIFEST, _load(MANIFEST, data), "the manifest")
        top.members("format", "area", "meeting", "files")
        if top.value["format"] != FORMAT:
            raise top.error(f"format is {top.value['format']!r}, expected {FORMAT!r}")
        files = []
        for position, item in enumerate(top.items("files"), 1):
            entry = _Reader(MANIFEST, item, f"file entry {position}")
            entry.members("name", "sha256", "size")
            files.append(
                ManifestFile(
                    entry.text("name"), entry.text("sha256", _HEX64), entry.integer("size")
                )
            )
        _ascending(MANIFEST, "file", [f.name for f in files])
        return cls(top.text("area", _IDENTIFIER), top.integer("meeting", 1), tuple(files))


# --- meeting, rules and motions -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MotionRecord:
    id: int
    position: int
    spec: MotionSpec

    def to_dict(self) -> dict[str, JSONValue]:
        spec: dict[str, JSONValue] = self.spec.to_dict()
        return {"id": self.id, "position": self.position, **spec}


@dataclass(frozen=True, slots=True)
class MeetingLog:
    """Leaf indices of the meeting's own log entries (None: the step did not happen)."""

    notice: int
    open: int
    close: int | None
    publish: int | None
    annul: int | None
    #: Every motion.add, motion.update and motion.remove entry of the meeting, in log order.
    motions: tuple[int, ...]

    def indices(self) -> list[int]:
        steps = (self.notice, self.open, self.close, self.publish, self.annul)
        return [*(index for index in steps if index is not None), *self.motions]


@dataclass(frozen=True, slots=True)
class MeetingRecord:
    platform: str
    area: str
    log_origin: str
    id: int
    title: str
    state: MeetingState
    notice_posted_at: str
    window_opens_at: str
    window_closes_at: str
    opened_at: str
    closed_at: str | None
    published_at: str | None
    annulled_at: str | None
    roll_version: int
    roll_sha256: str
    rules: RulesOfProcedure
    motions: tuple[MotionRecord, ...]
    log: MeetingLog

    def motion(self, motion_id: int) -> MotionRecord | None:
        for motion in self.motions:
            if motion.id == motion_id:
                return motion
        return None

    def encode(self) -> bytes:
        log = self.log
        return dumps(
            {
                "platform": self.platform,
                "area": self.area,
                "log_origin": self.log_origin,
                "meeting": {
                    "id": self.id,
                    "title": self.title,
                    "state": self.state.value,
                    "notice_posted_at": self.notice_posted_at,
                    "window_opens_at": self.window_opens_at,
                    "window_closes_at": self.window_closes_at,
                    "opened_at": self.opened_at,
                    "closed_at": self.closed_at,
                    "published_at": self.published_at,
                    "annulled_at": self.annulled_at,
                    "roll_version": self.roll_version,
                    "roll_sha256": self.roll_sha256,
                },
                "rules": self.rules.to_dict(),
                "motions": [motion.to_dict() for motion in self.motions],
                "log": {
                    "notice": log.notice,
                    "open": log.open,
                    "close": log.close,
                    "publish": log.publish,
                    "annul": log.annul,
                    "motions": list(log.motions),
                },
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> MeetingRecord:
        top = _Reader(MEETING, _load(MEETING, data), "the record")
        top.members("platform", "area", "log_origin", "meeting", "rules", "motions", "log")
        meeting = top.child("meeting")
        meeting.members(
            "id",
            "title",
            "state",
            "notice_posted_at",
            "window_opens_at",
            "window_closes_at",
            "opened_at",
            "closed_at",
            "published_at",
            "annulled_at",
            "roll_version",
            "roll_sha256",
        )
        try:
            state = MeetingState(meeting.text("state"))
            rules = RulesOfProcedure.from_dict(top.child("rules").value)
        except (ValueError, ProcedureError) as exc:
            raise RecordError(MEETING, str(exc)) from None
        log = top.child("log")
        log.members("notice", "open", "close", "publish", "annul", "motions")
        motion_entries = []
        for position, item in enumerate(log.items("motions"), 1):
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise log.error(f"motion entry {position} is not a leaf index")
            motion_entries.append(item)
        _ascending(MEETING, "motion log entry", motion_entries)
        motions = tuple(
            _decode_motion(item, position) for position, item in enumerate(top.items("motions"), 1)
        )
        _ascending(MEETING, "motion position", [m.position for m in motions])
        return cls(
            platform=top.text("platform", _IDENTIFIER),
            area=top.text("area", _IDENTIFIER),
            log_origin=top.text("log_origin"),
            id=meeting.integer("id", 1),
            title=meeting.text("title"),
            state=state,
            notice_posted_at=meeting.time("notice_posted_at"),
            window_opens_at=meeting.time("window_opens_at"),
            window_closes_at=meeting.time("window_closes_at"),
            opened_at=meeting.time("opened_at"),
            closed_at=meeting.optional_time("closed_at"),
            published_at=meeting.optional_time("published_at"),
            annulled_at=meeting.optional_time("annulled_at"),
            roll_version=meeting.integer("roll_version", 1),
            roll_sha256=meeting.text("roll_sha256", _HEX64),
            rules=rules,
            motions=motions,
            log=MeetingLog(
                notice=log.integer("notice"),
                open=log.integer("open"),
                close=log.optional_integer("close"),
                publish=log.optional_integer("publish"),
                annul=log.optional_integer("annul"),
                motions=tuple(motion_entries),
            ),
        )


def _decode_motion(item: object, position: int) -> MotionRecord:
    motion = _Reader(MEETING, item, f"motion {position}")
    motion.members("id", "position", "matter", "kind", "title", "text", "options", "seats", "scope")
    options = motion.items("options")
    scope = motion.value["scope"]
    if not all(isinstance(option, str) for option in options):
        raise motion.error("options must be strings")
    if scope is not None and (
        not isinstance(scope, list)
        or not all(isinstance(name, str) for name in scope)
        or scope != sorted(set(scope))
    ):
        raise motion.error("scope must be null or an ascending list of distinct buildings")
    try:
        spec = MotionSpec(
            matter=motion.integer("matter", 1),
            kind=MotionKind(motion.text("kind")),
            title=motion.text("title"),
            text=motion.text("text"),
            options=tuple(options),
            seats=motion.integer("seats"),
            scope=frozenset(scope) if scope is not None else None,
        )
    except (ValueError, ProcedureError) as exc:
        raise motion.error(str(exc)) from None
    return MotionRecord(motion.integer("id", 1), motion.integer("position", 1), spec)


# --- the roll snapshot --------------------------------------------------------------------

ROLL_HEADER = (
    "building",
    "unit",
    "area",
    "area_source",
    "status",
    "parking",
    "holder",
    "developer",
)
AREA_SOURCES = ("registry", "survey", "contract")
STATUSES = ("sold", "unsold", "undelivered")
_FLAGS = {"1": True, "0": False}


@dataclass(frozen=True, slots=True)
class RollUnit:
    """One unit of the meeting's roll snapshot: house number, area, holder ref; no names."""

    building: str
    unit: str
    area_centi: int
    area_source: str
    status: str
    parking: bool
    holder: str
    developer: bool

    def snapshot_entry(self) -> SnapshotEntry:
        return SnapshotEntry(
            self.building,
            self.unit,
            self.area_centi,
            self.area_source,
            self.status,
            self.parking,
            self.holder,
        )


def roll_sha256(units: Iterable[RollUnit]) -> str:
    """The roll's content hash exactly as the roll import computes it (docs/ROLL.md)."""
    return snapshot_sha256(unit.snapshot_entry() for unit in units)


def encode_roll(units: Sequence[RollUnit]) -> bytes:
    """CSV (UTF-8, LF, minimal quoting): the header, then one row per unit sorted by
    building and house number in code point order, as the roll's canonical snapshot is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ROLL_HEADER)
    for u in sorted(units, key=lambda u: (u.building, u.unit)):
        writer.writerow(
            (
                u.building,
                u.unit,
                format_area(u.area_centi),
                u.area_source,
                u.status,
                "1" if u.parking else "0",
                u.holder,
                "1" if u.developer else "0",
            )
        )
    return buffer.getvalue().encode("utf-8")


def decode_roll(data: bytes) -> list[RollUnit]:
    """The units of roll.csv; refused unless the bytes are exactly `encode_roll` of them."""
    try:
        text = data.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RecordError(ROLL, f"not a UTF-8 CSV file: {exc}") from None
    if not rows or tuple(rows[0]) != ROLL_HEADER:
        raise RecordError(ROLL, f"the first line must be {','.join(ROLL_HEADER)}")
    units = [_roll_unit(row, line) for line, row in enumerate(rows[1:], 2)]
    keys = [(u.building, u.unit) for u in units]
    for position in range(1, len(keys)):
        if not keys[position - 1] < keys[position]:
            raise RecordError(
                ROLL,
                f"line {position + 2}: unit {keys[position][0]} {keys[position][1]} is out of "
                "order or repeated (units are sorted by building and house number)",
            )
    if encode_roll(units) != data:
        raise RecordError(ROLL, "the bytes are not the canonical CSV of the rows they contain")
    return units


def _roll_unit(row: list[str], line: int) -> RollUnit:
    def fail(message: str) -> RecordError:
        return RecordError(ROLL, f"line {line}: {message}")

    if len(row) != len(ROLL_HEADER):
        raise fail(f"has {len(row)} fields, expected {len(ROLL_HEADER)}")
    building, unit, area, source, status, parking, holder, developer = row
    for name, value in (("building", building), ("unit", unit)):
        if not value or value != value.strip() or _CONTROL.search(value):
            raise fail(f"{name} {value!r} is empty or has blanks or control characters")
    try:
        area_centi = parse_area(area)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if format_area(area_centi) != area:
        raise fail(f"area {area!r} is not written with exactly two decimals")
    if source not in AREA_SOURCES:
        raise fail(f"area_source {source!r} is not one of {', '.join(AREA_SOURCES)}")
    if status not in STATUSES:
        raise fail(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if parking not in _FLAGS or developer not in _FLAGS:
        raise fail("parking and developer are 1 or 0")
    if not _IDENTIFIER.fullmatch(holder):
        raise fail(f"holder {holder!r} is not a holder ref")
    return RollUnit(
        building, unit, area_centi, source, status, _FLAGS[parking], holder, _FLAGS[developer]
    )


# --- signed material ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A credential certificate exactly as issued, and the leaf of its "card.issue" entry."""

    data: bytes
    signature: bytes
    log_index: int


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    card: str
    time: str
    log_index: int


@dataclass(frozen=True, slots=True)
class BallotRecord:
    """A signed ballot, every version; `counted` is what the platform counted."""

    log_index: int
    statement: bytes
    signature: bytes
    counted: bool


@dataclass(frozen=True, slots=True)
class ProxyRecord:
    """A signed proxy authorisation and the leaf of its withdrawal, if withdrawn."""

    log_index: int
    statement: bytes
    signature: bytes
    withdrawn: int | None


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """A double entry of a paper sheet or its resolution, as logged: the leaf is the record.

    `kind` is the log entry's kind; the content is in the leaf itself.
    """

    log_index: int
    kind: str


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A motion's published result: the canonical JSON object the "tally" entry hashes."""

    motion: int
    log_index: int
    result: JSONObject

    @property
    def data(self) -> bytes:
        return dumps(self.result)


@dataclass(frozen=True, slots=True)
class LeafRecord:
    index: int
    entry: bytes


def encode_certificates(
    issuer_keys: Iterable[str], certificates: Iterable[CertificateRecord]
) -> bytes:
    return dumps(
        {
            "issuer_keys": sorted(set(issuer_keys)),
            "certificates": [
                {
                    "log_index": c.log_index,
                    "certificate": b64url_encode(c.data),
                    "signature": b64url_encode(c.signature),
                }
                for c in sorted(certificates, key=lambda c: c.log_index)
            ],
        }
    )


def decode_certificates(data: bytes) -> tuple[list[str], list[CertificateRecord]]:
    top = _Reader(CERTIFICATES, _load(CERTIFICATES, data), "the file")
    top.members("issuer_keys", "certificates")
    keys = top.items("issuer_keys")
    if not all(isinstance(key, str) and _HEX_KEY.fullmatch(key) for key in keys):
        raise top.error("issuer_keys must be public keys of 64 lowercase hex digits")
    _ascending(CERTIFICATES, "issuer key", keys)
    certificates = []
    for position, item in enumerate(top.items("certificates"), 1):
        entry = _Reader(CERTIFICATES, item, f"certificate {position}")
        entry.members("log_index", "certificate", "signature")
        certificates.append(
            CertificateRecord(
                entry.binary("certificate"), entry.binary("signature"), entry.integer("log_index")
            )
        )
    _ascending(CERTIFICATES, "certificate log index", [c.log_index for c in certificates])
    return keys, certificates


def encode_revocations(revocations: Iterable[RevocationRecord]) -> bytes:
    return dumps(
        {
            "revocations": [
                {"log_index": r.log_index, "card": r.card, "time": r.time}
                for r in sorted(revocations, key=lambda r: r.log_index)
            ]
        }
    )


def decode_revocations(data: bytes) -> list[RevocationRecord]:
    top = _Reader(REVOCATIONS, _load(REVOCATIONS, data), "the file")
    top.members("revocations")
    found = []
    for position, item in enumerate(top.items("revocations"), 1):
        entry = _Reader(REVOCATIONS, item, f"revocation {position}")
        entry.members("log_index", "card", "time")
        found.append(
            RevocationRecord(
                entry.text("card", _IDENTIFIER), entry.time("time"), entry.integer("log_index")
            )
        )
    _ascending(REVOCATIONS, "revocation log index", [r.log_index for r in found])
    return found


def encode_ballots(ballots: Iterable[BallotRecord]) -> bytes:
    return dumps(
        {
            "ballots": [
                {
                    "log_index": b.log_index,
                    "statement": b64url_encode(b.statement),
                    "signature": b64url_encode(b.signature),
                    "counted": b.counted,
                }
                for b in sorted(ballots, key=lambda b: b.log_index)
            ]
        }
    )


def _fast_json(data: bytes) -> Any:
    """json.loads with the canonical subset's number rules; None when it is not JSON at all."""
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_float=_reject_number,
            parse_int=_checked_int,
            parse_constant=_reject_number,
        )
    except (ValueError, RecursionError):
        return None


def _not_canonical(file: str, data: bytes) -> RecordError:
    """The error for a file whose bytes are not the canonical form of its entries."""
    try:
        loads(data)
    except CryptoError as exc:
        return RecordError(file, f"not canonical JSON: {exc}")
    return RecordError(file, "the bytes are not the canonical JSON of the entries they hold")


def decode_ballots(data: bytes) -> list[BallotRecord]:
    """The ballots, in log order.

    A large record's hot path: each entry is checked member by member, and the file's
    canonical form is checked by rebuilding its text from the checked entries (every value is
    an integer, a boolean or base64url, which JSON writes without escapes) instead of
    re-encoding it.
    """
    value = _fast_json(data)
    if type(value) is not dict or value.keys() != {"ballots"} or type(value["ballots"]) is not list:
        _Reader(BALLOTS, _load(BALLOTS, data), "the file").members("ballots")
        raise _not_canonical(BALLOTS, data)
    found: list[BallotRecord] = []
    parts: list[str] = []
    expected = {"log_index", "statement", "signature", "counted"}
    previous = -1
    for position, item in enumerate(value["ballots"], 1):
        if type(item) is not dict or item.keys() != expected:
            _Reader(BALLOTS, item, f"ballot {position}").members(*expected)
            raise RecordError(BALLOTS, f"ballot {position} is malformed")
        index, counted = item["log_index"], item["counted"]
        statement, signature = item["statement"], item["signature"]
        if type(index) is not int or index < 0 or type(counted) is not bool:
            raise RecordError(BALLOTS, f"ballot {position}: log_index or counted is malformed")
        if index <= previous:
            raise RecordError(BALLOTS, f"ballot at log index {index} is out of order or repeated")
        previous = index
        try:
            found.append(
                BallotRecord(index, b64url_decode(statement), b64url_decode(signature), counted)
            )
        except ValueError as exc:
            raise RecordError(BALLOTS, f"ballot at log index {index}: {exc}") from None
        parts.append(
            f'{{"counted":{"true" if counted else "false"},"log_index":{index},'
            f'"signature":"{signature}","statement":"{statement}"}}'
        )
    if '{"ballots":[' + ",".join(parts) + "]}" != data.decode("utf-8"):
        raise _not_canonical(BALLOTS, data)
    return found


def encode_proxies(proxies: Iterable[ProxyRecord]) -> bytes:
    return dumps(
        {
            "proxies": [
                {
                    "log_index": p.log_index,
                    "statement": b64url_encode(p.statement),
                    "signature": b64url_encode(p.signature),
                    "withdrawn": p.withdrawn,
                }
                for p in sorted(proxies, key=lambda p: p.log_index)
            ]
        }
    )


def decode_proxies(data: bytes) -> list[ProxyRecord]:
    top = _Reader(PROXIES, _load(PROXIES, data), "the file")
    top.members("proxies")
    found = []
    for position, item in enumerate(top.items("proxies"), 1):
        entry = _Reader(PROXIES, item, f"proxy {position}")
        entry.members("log_index", "statement", "signature", "withdrawn")
        found.append(
            ProxyRecord(
                entry.integer("log_index"),
                entry.binary("statement"),
                entry.binary("signature"),
                entry.optional_integer("withdrawn"),
            )
        )
    _ascending(PROXIES, "proxy log index", [p.log_index for p in found])
    return found


def encode_paper(entries: Iterable[PaperRecord]) -> bytes:
    return dumps(
        {
            "paper": [
                {"log_index": p.log_index, "kind": p.kind}
                for p in sorted(entries, key=lambda p: p.log_index)
            ]
        }
    )


def decode_paper(data: bytes) -> list[PaperRecord]:
    top = _Reader(PAPER, _load(PAPER, data), "the file")
    top.members("paper")
    found = []
    for position, item in enumerate(top.items("paper"), 1):
        entry = _Reader(PAPER, item, f"paper entry {position}")
        entry.members("log_index", "kind")
        found.append(PaperRecord(entry.integer("log_index"), entry.text("kind")))
    _ascending(PAPER, "paper log index", [p.log_index for p in found])
    return found


def encode_results(results: Iterable[ResultRecord]) -> bytes:
    return dumps(
        {
            "results": [
                {"motion": r.motion, "log_index": r.log_index, "result": r.result}
                for r in sorted(results, key=lambda r: r.motion)
            ]
        }
    )


def decode_results(data: bytes) -> list[ResultRecord]:
    top = _Reader(RESULTS, _load(RESULTS, data), "the file")
    top.members("results")
    found = []
    for position, item in enumerate(top.items("results"), 1):
        entry = _Reader(RESULTS, item, f"result {position}")
        entry.members("motion", "log_index", "result")
        result = entry.value["result"]
        if not isinstance(result, dict):
            raise entry.error("result must be a JSON object")
        found.append(ResultRecord(entry.integer("motion", 1), entry.integer("log_index"), result))
    _ascending(RESULTS, "result motion", [r.motion for r in found])
    return found


def _entry_text(entry: bytes) -> str:
    """A log entry as the text it is (canonical JSON is UTF-8), to embed as a JSON string."""
    return entry.decode("utf-8")


def _entry_bytes(file: str, where: str, value: object) -> bytes:
    if type(value) is not str:
        raise RecordError(file, f"{where}: entry must be the entry's text")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(file, f"{where}: entry holds a lone surrogate") from None


def encode_leaves(leaves: Iterable[LeafRecord]) -> bytes:
    return dumps(
        {
            "leaves": [
                {"index": leaf.index, "entry": _entry_text(leaf.entry)}
                for leaf in sorted(leaves, key=lambda leaf: leaf.index)
            ]
        }
    )


def decode_leaves(data: bytes) -> list[LeafRecord]:
    """The log leaves, in index order; checked like `decode_ballots` (the entry text is
    written back with the C JSON string encoder, which escapes exactly as canonical JSON)."""
    value = _fast_json(data)
    if type(value) is not dict or value.keys() != {"leaves"} or type(value["leaves"]) is not list:
        _Reader(LEAVES, _load(LEAVES, data), "the file").members("leaves")
        raise _not_canonical(LEAVES, data)
    found: list[LeafRecord] = []
    parts: list[str] = []
    expected = {"index", "entry"}
    previous = -1
    for position, item in enumerate(value["leaves"], 1):
        if type(item) is not dict or item.keys() != expected:
            _Reader(LEAVES, item, f"leaf {position}").members(*expected)
            raise RecordError(LEAVES, f"leaf {position} is malformed")
        index, entry = item["index"], item["entry"]
        if type(index) is not int or index <= previous:
            raise RecordError(
                LEAVES, f"leaf {position}: index is malformed, out of order or repeated"
            )
        previous = index
        found.append(LeafRecord(index, _entry_bytes(LEAVES, f"leaf {index}", entry)))
        parts.append(f'{{"entry":{_encode_string(entry)},"index":{index}}}')
    if '{"leaves":[' + ",".join(parts) + "]}" != data.decode("utf-8"):
        raise _not_canonical(LEAVES, data)
    return found


def encode_anchor(leaf: LeafRecord) -> bytes:
    return dumps({"index": leaf.index, "entry": _entry_text(leaf.entry)})


def decode_anchor(data: bytes) -> LeafRecord:
    top = _Reader(ANCHOR, _load(ANCHOR, data), "the anchor")
    top.members("index", "entry")
    return LeafRecord(top.integer("index"), _entry_bytes(ANCHOR, "the anchor", top.value["entry"]))


def encode_log_key(verifier_key: str) -> bytes:
    return f"{verifier_key}\n".encode()


def decode_log_key(data: bytes) -> str:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise RecordError(LOG_KEY, "not ASCII text") from None
    if not text.endswith("\n") or text.count("\n") != 1 or _CONTROL.search(text[:-1]):
        raise RecordError(LOG_KEY, "must be one line: <name>+<key ID>+<key>")
    return text[:-1]


# --- inclusion proofs ---------------------------------------------------------------------


def _split(count: int) -> int:
    return 1 << ((count - 1).bit_length() - 1)


def audit_ranges(indices: Sequence[int], size: int) -> list[tuple[int, int]]:
    """Every range [start, end) whose hash is an element of the RFC 9162 audit path
    PATH(m, D[0:size]) of some leaf m in `indices` (sorted, distinct, below `size`).

    In the order of a depth-first, left-to-right walk from the root that names a node's
    left child (when needed) before visiting it and its right child after: that is, by start
    ascending, then end descending. Only the nodes above the given leaves are visited, so the
    cost is the size of the union of the paths, not the number of leaves times the depth.
    """
    found: list[tuple[int, int]] = []

    def visit(start: int, end: int, low: int, high: int) -> None:
        # indices[low:high] are the leaves in [start, end); there is at least one.
        if end - start == 1:
            return
        middle = start + _split(end - start)
        cut = bisect_left(indices, middle, low, high)
        if cut > low:
            if cut < high:
                found.append((start, middle))
            visit(start, middle, low, cut)
        else:
            found.append((start, middle))
        if cut < high:
            if cut > low:
                found.append((middle, end))
            visit(middle, end, cut, high)
        else:
            found.append((middle, end))

    if indices:
        if indices[0] < 0 or indices[-1] >= size:
            raise ValueError(f"leaf indices must lie in [0, {size})")
        visit(0, size, 0, len(indices))
    return found


@dataclass(frozen=True, slots=True)
class Proofs:
    """The audit paths of the record's leaves for one checkpoint size: the hash of every
    range of `audit_ranges(leaves, size)`, in that order, concatenated.

    Any leaf's RFC 9162 inclusion proof is read off these: the hashes of the ranges of its
    audit path, in path order (`voting.domain.verify_log.proof_of`).
    """

    size: int
    hashes: bytes

    def table(self, indices: Sequence[int]) -> dict[tuple[int, int], bytes]:
        """Range -> hash for these leaves (ValueError if the counts differ)."""
        ranges = audit_ranges(indices, self.size)
        if len(self.hashes) != 32 * len(ranges):
            raise ValueError(
                f"{PROOFS} holds {len(self.hashes) // 32} hashes; the record's leaves need "
                f"{len(ranges)}"
            )
        return {r: self.hashes[32 * i : 32 * i + 32] for i, r in enumerate(ranges)}

    @classmethod
    def of(cls, size: int, ranges: Sequence[tuple[int, int]], subtree: Any) -> Proofs:
        return cls(size, b"".join(subtree(start, end) for start, end in ranges))

    def encode(self) -> bytes:
        return dumps({"size": self.size, "hashes": self.hashes.hex()})

    @classmethod
    def decode(cls, data: bytes) -> Proofs:
        top = _Reader(PROOFS, _load(PROOFS, data), "the proofs")
        top.members("size", "hashes")
        text = top.value["hashes"]
        if type(text) is not str or len(text) % 64 or not _LOWER_HEX.fullmatch(text):
            raise RecordError(PROOFS, "hashes must be 32-byte hashes in lowercase hex")
        return cls(top.integer("size"), bytes.fromhex(text))
