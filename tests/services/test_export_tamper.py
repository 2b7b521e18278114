"""Tampering with an exported election record: every change fails `verify`, naming what.

The record (tests/exportkit.py) is made once per test process and copied for each test;
signatures are checked inline.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from exportkit import SIGNER, make_record, messages, rewrite, verify

from crypto.canonical import canonical_bytes
from crypto.checkpoint import parse_checkpoint_body, sign_checkpoint
from crypto.keys import CardKey
from voting.domain import record as rec

_RECORD: dict[str, bytes] = {}


@pytest.fixture
def files(request: pytest.FixtureRequest) -> dict[str, bytes]:
    if not _RECORD:
        _RECORD.update(make_record(request.getfixturevalue("db")).files)
    return dict(_RECORD)


def _json(data: bytes) -> Any:
    return json.loads(data)


def _edit_json(files: dict[str, bytes], name: str, edit: Any) -> dict[str, bytes]:
    """Decode a JSON file, let `edit` change the value, encode it canonically again."""

    def change(data: bytes) -> bytes:
        value = _json(data)
        edit(value)
        return canonical_bytes(value)

    return rewrite(files, name, change)


def _statement(item: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64decode(item["statement"] + "==")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_export_tamper_untouched_record_verifies(files: dict[str, bytes]) -> None:
    report = verify(files)
    assert report.ok, messages(report)
    assert report.signatures > 0


def _flip(data: bytes, position: int) -> bytes:
    """The data with the character at `position` replaced by another printable one."""
    replacement = b"0" if data[position : position + 1] != b"0" else b"1"
    return data[:position] + replacement + data[position + 1 :]


@pytest.mark.parametrize("name", rec.RECORD_FILES)
def test_export_tamper_one_character_of_any_file(files: dict[str, bytes], name: str) -> None:
    data = files[name]
    for step in range(9):
        position = min(len(data) - 1, step * len(data) // 8)
        report = verify(rewrite(files, name, lambda d, p=position: _flip(d, p)))
        assert not report.ok, f"{name} changed at byte {position} passed"
        assert name in messages(report), (name, position, messages(report))


def test_export_tamper_swapped_choice_fails_its_signature_and_leaf(
    files: dict[str, bytes],
) -> None:
    ballots = _json(files[rec.BALLOTS])["ballots"]
    target = next(b for b in ballots if b'"choice":"yes"' in _statement(b))

    def swap(value: Any) -> None:
        for item in value["ballots"]:
            if item["log_index"] == target["log_index"]:
                statement = _statement(item).replace(b'"choice":"yes"', b'"choice":"no"')
                item["statement"] = _b64url(statement)

    report = verify(_edit_json(files, rec.BALLOTS, swap))
    text = messages(report)
    what = f"ballot at log index {target['log_index']}"
    assert f"[ballots] {what}" in text and "signature does not verify" in text
    assert "records ballot" in text  # the log leaf holds the original ballot's hash
    assert "[files] ballots.json has been changed" in text


def test_export_tamper_dropped_ballot_is_named(files: dict[str, bytes]) -> None:
    dropped: list[int] = []

    def drop(value: Any) -> None:
        dropped.append(value["ballots"].pop(0)["log_index"])

    report = verify(_edit_json(files, rec.BALLOTS, drop))
    text = messages(report)
    assert f"log entry {dropped[0]} is not used by the record" in text
    assert "ballots.json has been changed" in text


def test_export_tamper_dropped_ballot_with_its_leaf_and_proofs_fails_the_anchor(
    files: dict[str, bytes],
) -> None:
    """A consistent removal (ballot, leaf and audit paths) still breaks the manifest."""
    ballots = _json(files[rec.BALLOTS])["ballots"]
    gone = ballots[0]["log_index"]
    files = _edit_json(files, rec.BALLOTS, lambda v: v["ballots"].pop(0))
    files = _edit_json(
        files,
        rec.LEAVES,
        lambda v: v["leaves"].remove(next(leaf for leaf in v["leaves"] if leaf["index"] == gone)),
    )
    proofs = rec.Proofs.decode(files[rec.PROOFS])
    anchor = rec.decode_anchor(files[rec.ANCHOR])
    before = sorted(
        {leaf.index for leaf in rec.decode_leaves(_RECORD[rec.LEAVES])} | {anchor.index}
    )
    kept = [index for index in before if index != gone]
    known = proofs.table(before)
    known[(gone, gone + 1)] = _leaf_hash_of(_RECORD, gone)
    files[rec.PROOFS] = rec.Proofs.of(
        proofs.size, rec.audit_ranges(kept, proofs.size), lambda a, b: known[(a, b)]
    ).encode()
    report = verify(files)
    text = messages(report)
    assert "[log]" not in text  # the remaining leaves are still proven
    assert "ballots.json has been changed" in text and "leaves.json has been changed" in text


def _leaf_hash_of(files: dict[str, bytes], index: int) -> bytes:
    from crypto.merkle import leaf_hash

    leaves = {leaf.index: leaf.entry for leaf in rec.decode_leaves(files[rec.LEAVES])}
    return leaf_hash(leaves[index])


def test_export_tamper_duplicated_ballot_is_refused(files: dict[str, bytes]) -> None:
    report = verify(
        _edit_json(files, rec.BALLOTS, lambda v: v["ballots"].insert(1, v["ballots"][0]))
    )
    assert "ballots.json: ballot at log index" in messages(report)
    assert "out of order or repeated" in messages(report)


@pytest.mark.parametrize(
    ("name", "member"),
    [
        (rec.BALLOTS, "ballots"),
        (rec.LEAVES, "leaves"),
        (rec.CERTIFICATES, "certificates"),
        (rec.PAPER, "paper"),
    ],
)
def test_export_tamper_reordered_entries_are_refused(
    files: dict[str, bytes], name: str, member: str
) -> None:
    def reorder(value: Any) -> None:
        items = value[member]
        items[0], items[1] = items[1], items[0]

    report = verify(_edit_json(files, name, reorder))
    assert f"{name}:" in messages(report) and "out of order" in messages(report)


def test_export_tamper_reordered_roll_is_refused(files: dict[str, bytes]) -> None:
    def reorder(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[1], lines[2] = lines[2], lines[1]
        return b"\n".join(lines)

    report = verify(rewrite(files, rec.ROLL, reorder))
    assert "roll.csv: line 3" in messages(report) and "out of order" in messages(report)


def test_export_tamper_replaced_signature_is_named(files: dict[str, bytes]) -> None:
    ballots = _json(files[rec.BALLOTS])["ballots"]

    def replace(value: Any) -> None:
        value["ballots"][0]["signature"] = ballots[1]["signature"]

    report = verify(_edit_json(files, rec.BALLOTS, replace))
    text = messages(report)
    assert f"[ballots] ballot at log index {ballots[0]['log_index']}" in text
    assert "signature does not verify" in text and "records signature" in text


def test_export_tamper_certificate_signature_is_named(files: dict[str, bytes]) -> None:
    def replace(value: Any) -> None:
        certificates = value["certificates"]
        certificates[0]["signature"] = certificates[1]["signature"]

    report = verify(_edit_json(files, rec.CERTIFICATES, replace))
    assert "[certificates] certificate of card" in messages(report)
    assert "does not verify" in messages(report)


def test_export_tamper_changed_area_in_roll_is_named(files: dict[str, bytes]) -> None:
    report = verify(rewrite(files, rec.ROLL, lambda d: d.replace(b",89.50,", b",98.50,", 1)))
    text = messages(report)
    assert "[roll] roll.csv hashes to" in text and "the roll has been changed" in text
    assert "[files] roll.csv has been changed" in text


def test_export_tamper_developer_flag_is_named(files: dict[str, bytes]) -> None:
    def unflag(data: bytes) -> bytes:
        lines = data.split(b"\n")
        for number, line in enumerate(lines):
            if b",unsold," in line:
                lines[number] = line[:-1] + b"0"
                break
        return b"\n".join(lines)

    report = verify(rewrite(files, rec.ROLL, unflag))
    assert "is unsold but not marked as the developer's" in messages(report)


def test_export_tamper_counted_flag_is_named(files: dict[str, bytes]) -> None:
    def flip(value: Any) -> None:
        value["ballots"][0]["counted"] = not value["ballots"][0]["counted"]

    report = verify(_edit_json(files, rec.BALLOTS, flip))
    assert "[counting] ballot at log index" in messages(report)


def test_export_tamper_changed_leaf_is_not_in_the_log(files: dict[str, bytes]) -> None:
    def change(value: Any) -> None:
        leaf = value["leaves"][0]
        entry = base64.urlsafe_b64decode(leaf["entry"] + "==")
        leaf["entry"] = _b64url(entry.replace(b"NHXY", b"NHXZ"))

    report = verify(_edit_json(files, rec.LEAVES, change))
    assert "checked with proofs.json" in messages(report)
    assert "not in the log under the checkpoint" in messages(report)


def test_export_tamper_consistent_manifest_fails_the_anchor(files: dict[str, bytes]) -> None:
    """Whoever changes a file and fixes the manifest still cannot change the logged hash."""
    changed = _edit_json(files, rec.MEETING, lambda v: v["meeting"].update(title="另一个会议"))
    content = {name: changed[name] for name in rec.CONTENT_FILES}
    changed[rec.MANIFEST] = rec.Manifest.of(
        "NHXY", _json(files[rec.MEETING])["meeting"]["id"], content
    ).encode()
    report = verify(changed)
    assert "[checkpoint] anchor.json" in messages(report)
    assert "does not record this manifest" in messages(report)
    assert "[files]" not in messages(report)


def test_export_tamper_checkpoint_of_another_key_is_refused(files: dict[str, bytes]) -> None:
    """A record re-signed with another log key passes only without --log-key."""
    other = CardKey(bytes(range(0x60, 0x80)))
    note = files[rec.CHECKPOINT]
    body = parse_checkpoint_body(note.split(b"\n\n")[0] + b"\n")
    forged = dict(files)
    forged[rec.CHECKPOINT] = sign_checkpoint(
        body.origin, body.size, body.root_hash, SIGNER.platform, other
    )
    report = verify(forged)
    assert "[checkpoint] checkpoint.txt" in messages(report)
    assert "[checkpoint] log-key.txt holds another key" not in messages(report)
    assert verify(forged, log_key=other.public_key.raw).failures
    assert "log-key.txt holds another key than the given one" in messages(
        verify(forged, log_key=other.public_key.raw)
    )


def test_export_tamper_extra_and_missing_files_are_named(files: dict[str, bytes]) -> None:
    extra = dict(files, **{"notes.txt": b"hello"})
    assert "notes.txt is not a file of an election record" in messages(verify(extra))
    missing = {name: data for name, data in files.items() if name != rec.PROXIES}
    assert "proxies.json is missing" in messages(verify(missing))


def test_export_tamper_broken_log_key_file_is_named(files: dict[str, bytes]) -> None:
    """The embedded key is checked even when --log-key is given."""
    broken = dict(files)
    broken[rec.LOG_KEY] = f"{SIGNER.platform}+".encode()
    assert "[checkpoint] log-key.txt" in messages(verify(broken))
    assert "[checkpoint] log-key.txt" in messages(verify(broken, log_key=None))


def test_export_tamper_published_result_is_named(files: dict[str, bytes]) -> None:
    def change(value: Any) -> None:
        result = value["results"][0]["result"]
        result["counts"][0]["headcount"] += 1
        result["outcome"] = "passed"

    report = verify(_edit_json(files, rec.RESULTS, change))
    text = messages(report)
    assert "[results] result of motion" in text
    assert "published outcome is 'passed', the recount gives 'no_quorum'" in text
    assert "published counts is" in text and "records result_sha256" in text


def test_export_tamper_dropped_result_is_named(files: dict[str, bytes]) -> None:
    report = verify(_edit_json(files, rec.RESULTS, lambda v: v["results"].pop(0)))
    assert ": no published result" in messages(report)
    assert "is not used by the record" in messages(report)
