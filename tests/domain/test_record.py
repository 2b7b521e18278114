"""The election record's file formats (voting.domain.record): one accepted byte string per
content, strict decoders, and the fast canonical JSON reader agreeing with crypto's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import canonical_bytes, parse_canonical
from crypto.errors import CryptoError
from voting.domain import record as rec
from voting.domain.procedure import MeetingState, MotionSpec, RulesOfProcedure
from voting.domain.record import RecordError, RollUnit
from voting.domain.roll import SnapshotEntry, snapshot_sha256
from voting.domain.tally import MotionKind

# --- canonical JSON ----------------------------------------------------------------------

NOT_CANONICAL = [
    b'{"a": 1}',
    b' {"a":1}',
    b'{"a":1}\n',
    b'{"b":1,"a":2}',
    b'{"a":1,"a":1}',
    b'{"a":1.0}',
    b'{"a":1e2}',
    b'{"a":-0}',
    b'{"a":01}',
    b'{"a":9007199254740992}',
    b'{"a":-9007199254740992}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":"\xff"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\\ud800"}',
    b'{"a":"\\ud83d\\ude00"}',
    b'{"a":"\\u0041"}',
    b'{"a":"\\/"}',
    b'{"a":"\\u001F"}',
    b'{"a":"\\u000a"}',
    b'{"a":"\x01"}',
    b"\xef\xbb\xbf{}",
    b"[1]",
    b'"a"',
    b"",
    b'{"\xef\xbc\x81":1,"\xf0\x9f\x98\x80":2}',  # U+FF01 before U+1F600: code point order
    b'{"a":' + b"[" * 33 + b"]" * 33 + b"}",
]

CANONICAL = [
    b"{}",
    b'{"a":[1,"\xe4\xb8\x9a",{"b":null}],"c":true}',
    b'{"\xf0\x9f\x98\x80":2,"\xef\xbc\x81":1}',  # UTF-16 order: the surrogate pair first
    b'{"a":' + b"[" * 31 + b"]" * 31 + b"}",
    b'{"s":"\\u0000\\b\\t\\n\\f\\r\\u001f\x7f\xe2\x80\xa8/<>&"}',
    b'{"n":[-9007199254740991,0,9007199254740991]}',
]


@pytest.mark.parametrize("data", NOT_CANONICAL)
def test_record_loads_refuses_what_crypto_refuses(data: bytes) -> None:
    with pytest.raises(CryptoError):
        parse_canonical(data)
    with pytest.raises(CryptoError):
        rec.loads(data)


@pytest.mark.parametrize("data", CANONICAL)
def test_record_loads_accepts_what_crypto_accepts(data: bytes) -> None:
    assert rec.loads(data) == parse_canonical(data)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=4), _json, max_size=5), st.data())
def test_record_loads_agrees_with_crypto_on_any_value_and_any_change(
    value: dict[str, Any], data: Any
) -> None:
    try:
        encoded = canonical_bytes(value)
    except CryptoError:
        return  # lone surrogates cannot be encoded at all
    assert rec.loads(encoded) == parse_canonical(encoded) == value
    position = data.draw(st.integers(0, len(encoded)))
    insert = data.draw(st.sampled_from([b" ", b"0", b",", b'"', b"\\", b"\xff", b"1.5"]))
    changed = encoded[:position] + insert + encoded[position:]
    try:
        expected: Any = parse_canonical(changed)
    except CryptoError:
        expected = CryptoError
    try:
        found: Any = rec.loads(changed)
    except CryptoError:
        found = CryptoError
    assert found == expected


# --- base64url --------------------------------------------------------------------------


def test_record_b64url_round_trip_and_strictness() -> None:
    for raw in (b"", b"\x00", b"\xff\xfe", bytes(range(64))):
        assert rec.b64url_decode(rec.b64url_encode(raw)) == raw
    for bad in ("AB=", "A", "AB+", "AB/", "AB C", "AF", "AAB", None, 5):
        with pytest.raises(ValueError):
            rec.b64url_decode(bad)  # padding, alphabet, length, unused bits, type


# --- the roll -----------------------------------------------------------------------------

UNITS = [
    RollUnit("1号楼", "1-101", 8950, "registry", "sold", False, "H1", False),
    RollUnit("1号楼", "1-102", 12005, "survey", "sold", False, "H1", False),
    RollUnit("2号楼", "1-101", 7533, "contract", "unsold", False, "HD", True),
    RollUnit("地下车库", "B1-001", 1250, "registry", "sold", True, "H2", False),
    RollUnit('A, "B"', "1", 100, "registry", "sold", False, "H3", False),
]


def test_record_roll_round_trip_and_hash_matches_the_snapshot() -> None:
    data = rec.encode_roll(UNITS)
    units = rec.decode_roll(data)
    assert sorted(units, key=lambda u: (u.building, u.unit)) == units
    assert set(units) == set(UNITS)
    entries = [
        SnapshotEntry(
            u.building, u.unit, u.area_centi, u.area_source, u.status, u.parking, u.holder
        )
        for u in UNITS
    ]
    assert rec.roll_sha256(units) == snapshot_sha256(entries)
    assert b"developer" in data.split(b"\n")[0] and "陈" not in data.decode()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.replace(b"\n", b"\r\n"), "canonical CSV"),
        (lambda d: d.replace(b"89.50", b"89.5"), "two decimals"),
        (
            lambda d: d.replace(
                b"1\xe5\x8f\xb7\xe6\xa5\xbc,1-101", b'"1\xe5\x8f\xb7\xe6\xa5\xbc",1-101'
            ),
            "canonical CSV",
        ),
        (lambda d: d.replace(b"registry", b"Registry", 1), "area_source"),
        (lambda d: d.replace(b",H2,0", b",H2,2"), "1 or 0"),
        (lambda d: d.replace(b"building,", b"Building,"), "first line"),
        (
            lambda d: d + b"1\xe5\x8f\xb7\xe6\xa5\xbc,1-101,1.00,registry,sold,0,H9,0\n",
            "out of order",
        ),
    ],
)
def test_record_roll_refuses_any_other_form(edit: Any, message: str) -> None:
    data = rec.encode_roll(UNITS)
    changed = edit(data)
    assert changed != data
    with pytest.raises(RecordError, match=message):
        rec.decode_roll(changed)


# --- the other files ----------------------------------------------------------------------


def _meeting() -> rec.MeetingRecord:
    spec = MotionSpec(
        matter=7,
        kind=MotionKind.CHOICE,
        title="电梯",
        text="选择施工单位",
        options=("A", "B"),
        scope=frozenset({"1号楼"}),
    )
    return rec.MeetingRecord(
        platform="vote.example.org",
        area="NHXY",
        log_origin="vote.example.org/log/NHXY",
        id=3,
        title="第一次会议",
        state=MeetingState.published,
        notice_posted_at="2026-12-01T02:00:00Z",
        window_opens_at="2026-12-16T02:00:00Z",
        window_closes_at="2026-12-23T02:00:00Z",
        opened_at="2026-12-16T02:00:00Z",
        closed_at="2026-12-23T02:00:00Z",
        published_at="2026-12-23T03:00:00Z",
        annulled_at=None,
        roll_version=1,
        roll_sha256="ab" * 32,
        rules=RulesOfProcedure(proxy_cap=2),
        motions=(rec.MotionRecord(7, 1, spec),),
        log=rec.MeetingLog(4, 5, 9, 10, None, (1, 2)),
    )


def test_record_files_round_trip() -> None:
    meeting = _meeting()
    assert rec.MeetingRecord.decode(meeting.encode()) == meeting
    certificates = [rec.CertificateRecord(b"{}", b"s" * 64, 3)]
    assert rec.decode_certificates(rec.encode_certificates(["aa" * 32], certificates)) == (
        ["aa" * 32],
        certificates,
    )
    ballots = [rec.BallotRecord(7, b"{}", b"x" * 64, True), rec.BallotRecord(9, b"{}", b"y", False)]
    assert rec.decode_ballots(rec.encode_ballots(ballots)) == ballots
    proxies = [rec.ProxyRecord(6, b"{}", b"z" * 64, 8)]
    assert rec.decode_proxies(rec.encode_proxies(proxies)) == proxies
    revocations = [rec.RevocationRecord("NHXY-000001", "2026-12-16T03:00:00Z", 11)]
    assert rec.decode_revocations(rec.encode_revocations(revocations)) == revocations
    paper = [rec.PaperRecord(12, "paper.entry")]
    assert rec.decode_paper(rec.encode_paper(paper)) == paper
    results = [rec.ResultRecord(7, 13, {"outcome": "passed"})]
    assert rec.decode_results(rec.encode_results(results)) == results
    leaves = [rec.LeafRecord(1, b"{}"), rec.LeafRecord(2, b"[]")]
    assert rec.decode_leaves(rec.encode_leaves(leaves)) == leaves
    proofs = rec.Proofs(5, b"\x01" * 32 + b"\x02" * 32)
    assert rec.Proofs.decode(proofs.encode()) == proofs
    manifest = rec.Manifest.of("NHXY", 3, {"b.json": b"1", "a.json": b"22"})
    assert rec.Manifest.decode(manifest.encode()) == manifest
    assert [f.name for f in manifest.files] == ["a.json", "b.json"]
    assert rec.decode_log_key(rec.encode_log_key("p+01020304+AQ==")) == "p+01020304+AQ=="


def test_record_motion_content_hash_is_the_logged_one() -> None:
    spec = _meeting().motions[0].spec
    expected = json.dumps(spec.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert (
        rec.motion_content_sha256(spec)
        == __import__("hashlib").sha256(expected.encode()).hexdigest()
    )


@pytest.mark.parametrize(
    ("name", "decoder", "data", "message"),
    [
        (
            rec.BALLOTS,
            rec.decode_ballots,
            b'{"ballots":[{"counted":true,"log_index":1,"signature":"","statement":""},{"counted":true,"log_index":1,"signature":"","statement":""}]}',
            "out of order or repeated",
        ),
        (
            rec.BALLOTS,
            rec.decode_ballots,
            b'{"ballots":[{"counted":1,"log_index":1,"signature":"","statement":""}]}',
            "malformed",
        ),
        (
            rec.BALLOTS,
            rec.decode_ballots,
            b'{"ballots":[{"log_index":1,"signature":"","statement":""}]}',
            "missing member",
        ),
        (
            rec.BALLOTS,
            rec.decode_ballots,
            b'{"ballots":[{"counted":true,"log_index":1,"signature":"A=","statement":""}]}',
            "base64url",
        ),
        (
            rec.LEAVES,
            rec.decode_leaves,
            b'{"leaves":[{"entry":"","index":2},{"entry":"","index":1}]}',
            "out of order",
        ),
        (rec.PROOFS, rec.Proofs.decode, b'{"hashes":"00","size":4}', "32-byte hashes"),
        (rec.PROOFS, rec.Proofs.decode, b'{"hashes":"' + b"A" * 64 + b'","size":4}', "lowercase"),
        (
            rec.MANIFEST,
            rec.Manifest.decode,
            b'{"area":"A","files":[],"format":"other","meeting":1}',
            "format",
        ),
        (rec.LOG_KEY, rec.decode_log_key, b"a+b+c\n\n", "one line"),
        (rec.MEETING, rec.MeetingRecord.decode, b"{}", "missing member"),
    ],
)
def test_record_decoders_name_the_file_and_fault(
    name: str, decoder: Any, data: bytes, message: str
) -> None:
    with pytest.raises(RecordError, match=message) as raised:
        decoder(data)
    assert raised.value.file == name and str(raised.value).startswith(name)
