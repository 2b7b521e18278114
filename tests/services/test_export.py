"""Exporting a meeting's election record: what it holds (and never holds), how it is
anchored in the log, and writing it as a folder or zip."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
from ballotkit import CLOSES, open_meeting_setup
from exportkit import EXPORTED_AT, SIGNER, closed_meeting, make_record, messages, verify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.domain import record as rec
from voting.models import Ballot, Holder, LogEntry
from voting.services.export import ExportRefused, export_record, write_record
from voting.services.meetings import annul_meeting, close_meeting

NAMES = ("王伟", "李娜", "陈静", "赵磊", "北京南湖置业有限公司", "北京望京商贸有限公司")
ID_NUMBERS = ("11010519491231002X", "110105198001010016", "91110105MA01ABCD2X", "1002X")


def test_export_record_verifies_and_holds_every_item(db: Session) -> None:
    made = make_record(db)
    files = made.files
    report = verify(files)
    assert report.ok, messages(report)
    assert sorted(files) == sorted(rec.RECORD_FILES)
    ballots = rec.decode_ballots(files[rec.BALLOTS])
    stored = db.scalar(select(func.count()).select_from(Ballot)) or 0
    assert len(ballots) == stored == 7  # every version, counted or not
    assert sum(b.counted for b in ballots) == 5  # all but 王伟's first yes and the proxy's
    assert len(rec.decode_proxies(files[rec.PROXIES])) == 1
    assert len(rec.decode_revocations(files[rec.REVOCATIONS])) == 1
    assert len(rec.decode_paper(files[rec.PAPER])) == 5
    keys, certificates = rec.decode_certificates(files[rec.CERTIFICATES])
    assert len(certificates) == 3 and keys  # 王伟, 李娜, 陈静: cards with a ballot or proxy
    units = rec.decode_roll(files[rec.ROLL])
    assert len(units) == 11
    assert {u.building for u in units} == {"1号楼", "2号楼", "10号楼", "地下车库"}
    assert sum(u.developer for u in units) == 4  # the unsold and undelivered units
    assert rec.roll_sha256(units) == made.setup.meeting.roll_sha256


def test_export_record_holds_no_names_and_no_id_numbers(db: Session) -> None:
    files = make_record(db).files
    text = "\n".join(data.decode("utf-8", "replace") for data in files.values())
    for secret in (*NAMES, *ID_NUMBERS):
        assert secret not in text
    for entry in rec.decode_leaves(files[rec.LEAVES]):
        for secret in (*NAMES, *ID_NUMBERS):
            assert secret not in entry.entry.decode()
    holders = {h.ref for h in db.scalars(select(Holder))}
    assert {u.holder for u in rec.decode_roll(files[rec.ROLL])} <= holders


def test_export_record_anchors_the_manifest_under_a_new_checkpoint(db: Session) -> None:
    made = make_record(db)
    files = made.files
    anchor = rec.decode_anchor(files[rec.ANCHOR])
    logged = db.scalar(select(LogEntry).where(LogEntry.seq == anchor.index))
    assert logged is not None and logged.kind == rec.EXPORT_KIND and logged.entry == anchor.entry
    data = json.loads(anchor.entry)["data"]
    assert data == {
        "meeting": made.setup.meeting.id,
        "manifest_sha256": __import__("hashlib").sha256(files[rec.MANIFEST]).hexdigest(),
    }
    assert made.exported.checkpoint_size == anchor.index + 1
    assert files[rec.CHECKPOINT].startswith(b"vote.example.org/log/NHXY\n")
    assert (
        json.loads(anchor.entry)["time"]
        == "2026-12-23T04:00:00Z"
        == (EXPORTED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


def test_export_record_of_an_annulled_meeting_verifies(db: Session) -> None:
    setup = closed_meeting(db)
    annul_meeting(db, setup.meeting, "程序违法", None, CLOSES + dt.timedelta(hours=1))
    exported = export_record(db, setup.meeting, signer=SIGNER, now=EXPORTED_AT)
    report = verify(exported.files)
    assert report.ok, messages(report)
    assert any("annulled" in line for line in report.summary)


def test_export_record_of_a_meeting_without_ballots_verifies(db: Session) -> None:
    setup = open_meeting_setup(db)
    close_meeting(db, setup.meeting, now=CLOSES)
    exported = export_record(db, setup.meeting, signer=SIGNER, now=EXPORTED_AT)
    report = verify(exported.files)
    assert report.ok, messages(report)
    assert rec.decode_ballots(exported.files[rec.BALLOTS]) == []
    assert len(rec.decode_results(exported.files[rec.RESULTS])) == 3


def test_export_record_refuses_a_meeting_still_open(db: Session) -> None:
    setup = open_meeting_setup(db)
    before = db.scalar(select(func.count()).select_from(LogEntry))
    with pytest.raises(ExportRefused, match="is open"):
        export_record(db, setup.meeting, signer=SIGNER, now=EXPORTED_AT)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(LogEntry)) == before


def test_export_write_record_folder_and_zip(tmp_path: Path) -> None:
    files = {"b.json": b"{}", "a.txt": b"x\n"}
    folder = write_record(files, tmp_path / "record")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    archive = write_record(files, tmp_path / "record.zip")
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["a.txt", "b.json"]
        assert {name: opened.read(name) for name in opened.namelist()} == files
    again = write_record(files, tmp_path / "again.zip")
    assert again.read_bytes() == archive.read_bytes()  # one record, one zip file
    with pytest.raises(ExportRefused, match="already exists"):
        write_record(files, tmp_path / "record")
    with pytest.raises(ExportRefused, match="does not exist"):
        write_record(files, tmp_path / "nowhere" / "record")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.zip", "record", "record.zip"]
