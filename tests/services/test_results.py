"""Results recorded at the close: stored canonically, hashed into the log before the close
entry, accepted by the offline verifier; turnout while voting runs never shows a choice; the
breakdown per building; the per-unit list; paper ballots superseded and voters set aside."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from ballotkit import (
    CLOSES,
    NONCE_KEY,
    OPENS,
    PLATFORM,
    T0,
    VOTING,
    YES_NO,
    cast,
    open_meeting_setup,
)
from exportkit import make_record, messages, verify
from paperkit import HASH_A, staff
from proxykit import card_of
from resultskit import (
    CHEN,
    COMPANY,
    DEVELOPER,
    LI,
    WANG,
    ZHAO,
    option_count,
    second_meeting,
    stored_result,
    vote_all,
    voted_meeting,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from voting.demo import DEMO_PATH
from voting.domain.procedure import ResultDetail
from voting.models import Ballot, LogEntry, MotionResult, RollVersion
from voting.services import NotFound
from voting.services.ballots import ballot_challenge
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
)
from voting.services.paper import enter_paper
from voting.services.results import (
    NOT_COUNTED,
    ResultsRefused,
    ballot_input_sha256,
    results,
    turnout,
)
from voting.services.tenancy import ensure_property_area


def _log(db: Session) -> list[tuple[str, dict[str, object]]]:
    rows = db.scalars(select(LogEntry).order_by(LogEntry.seq))
    return [(row.kind, json.loads(row.entry)["data"]) for row in rows]


def test_results_stored_canonically_and_logged_before_the_close(db: Session) -> None:
    setup = voted_meeting(db)
    entries = _log(db)
    kinds = [kind for kind, _data in entries]
    assert kinds[-4:] == ["tally", "tally", "tally", "meeting.close"]
    for motion, (_kind, data) in zip(
        (setup.yes_no, setup.choice, setup.election), entries[-4:-1], strict=True
    ):
        row = db.get(MotionResult, motion.id)
        assert row is not None and row.meeting_id == setup.meeting.id
        assert row.tallied_at == CLOSES
        assert canonical_bytes(json.loads(row.result)) == row.result
        assert row.result_sha256 == hashlib.sha256(row.result).hexdigest()
        assert data == {
            "meeting": setup.meeting.id,
            "motion": motion.id,
            "result_sha256": row.result_sha256,
        }
        stored = stored_result(db, motion)
        assert stored["format"] == "voting-motion-result/1"
        assert stored["inputs"]["roll_sha256"] == setup.meeting.roll_sha256
        hashes = db.scalars(select(Ballot.ballot_hash).where(Ballot.motion_id == motion.id))
        assert stored["inputs"]["ballots_sha256"] == ballot_input_sha256(hashes, [])
        assert stored["tallied_at"] == "2026-12-23T02:00:00Z"


def test_results_accepted_by_the_offline_verifier(db: Session) -> None:
    made = make_record(db)  # exportkit: proxies, changed votes, paper, a revoked card
    report = verify(made.files)
    assert not report.failures, messages(report)
    published = json.loads(made.files["results.json"])
    assert len(published["results"] if isinstance(published, dict) else published) == 3


def test_results_turnout_never_shows_a_choice(db: Session) -> None:
    setup = open_meeting_setup(db)
    vote_all(db, setup)
    figures = turnout(db, setup.meeting)
    text = json.dumps(figures, ensure_ascii=False)
    for word in ("Contractor", "Candidate", '"yes"', '"no"', "abstain", '"counts"', "outcome"):
        assert word not in text
    yes_no, choice, election = figures["motions"]
    assert yes_no["participation"] == {"area_centi": 88980 - 14388, "headcount": 5}
    assert yes_no["totals"] == {"area_centi": 88980, "headcount": 6}
    assert yes_no["quorum_needed"] == {"area_centi": 59320, "headcount": 4}
    assert yes_no["quorum_met"] is True
    assert choice["scope"] == ["1号楼"] and choice["participation"]["headcount"] == 3
    assert election["participation"]["headcount"] == 5
    assert figures["state"] == "open"


def test_results_turnout_counts_paper_once_and_needs_a_snapshot(db: Session) -> None:
    setup = open_meeting_setup(db)
    zhao = card_of(setup, ZHAO)
    for user in staff(db, setup.area, 2):
        enter_paper(
            db, setup.meeting, zhao.holder_ref, {setup.yes_no.id: "no"}, HASH_A, user.id, VOTING
        )
    cast(db, setup, zhao, setup.yes_no, "yes")
    yes_no = turnout(db, setup.meeting)["motions"][0]
    assert yes_no["participation"] == {"area_centi": 14388, "headcount": 1}
    setup.meeting.roll_version_id = None  # as before voting opens (not committed)
    with pytest.raises(ResultsRefused):
        turnout(db, setup.meeting)
    db.rollback()


def test_results_paper_superseded_by_the_electronic_ballot(db: Session) -> None:
    setup = open_meeting_setup(db)
    zhao, li = card_of(setup, ZHAO), card_of(setup, LI)
    for user in staff(db, setup.area, 2):
        enter_paper(
            db, setup.meeting, zhao.holder_ref, {setup.yes_no.id: "no"}, HASH_A, user.id, VOTING
        )
    for user in staff(db, setup.area, 2):
        enter_paper(
            db,
            setup.meeting,
            li.holder_ref,
            {setup.yes_no.id: "abstain"},
            hashlib.sha256(b"li").hexdigest(),
            user.id,
            VOTING,
        )
    cast(db, setup, zhao, setup.yes_no, "yes")
    close_meeting(db, setup.meeting, now=CLOSES)
    stored = stored_result(db, setup.yes_no)
    assert stored["ballots"] == {"electronic": 1, "paper": 1, "set_aside": 0}
    assert option_count(stored, "yes") == {"option": "yes", "area_centi": 14388, "headcount": 1}
    assert option_count(stored, "no")["headcount"] == 0
    assert option_count(stored, "abstain") == {
        "option": "abstain",
        "area_centi": 8950,
        "headcount": 1,
    }
    receipt_hash = db.scalar(select(Ballot.ballot_hash))
    assert stored["inputs"]["ballots_sha256"] == ballot_input_sha256(
        [receipt_hash or ""], [(li.holder_ref, "abstain")]
    )
    units = results(db, setup.meeting)["motions"][0]["units"]
    assert {(u["number"], u["channel"]) for u in units} == {
        ("2-1501", "electronic"),
        ("1-201", "paper"),
    }


def test_results_per_building_breakdown(db: Session) -> None:
    setup = voted_meeting(db)
    found = results(db, setup.meeting)
    yes_no = found["motions"][0]
    buildings = {row["building"]: row for row in yes_no["buildings"]}
    order = [row["building"] for row in yes_no["buildings"]]
    assert order == ["1号楼", "2号楼", "10号楼", "地下车库"]

    def count(building: str, option: str) -> tuple[int, int]:
        entry = next(c for c in buildings[building]["counts"] if c["option"] == option)
        return entry["area_centi"], entry["headcount"]

    assert buildings["1号楼"]["totals"] == {"area_centi": 41910, "headcount": 3}
    assert count("1号楼", "yes") == (8950 + 12005 + 8950, 2)  # 王伟's two flats, 李娜
    assert count("1号楼", "no") == (12005, 1)  # 陈静
    # 王伟 and the developer also hold parking spaces: they count again in that building.
    assert count("地下车库", "yes") == (1250 + 1300, 2)
    assert count("2号楼", "abstain") == (7533, 1) and count("2号楼", "yes") == (3 * 7533, 1)
    assert buildings["10号楼"]["participation"] == {"area_centi": 0, "headcount": 0}
    heads = sum(row["totals"]["headcount"] for row in yes_no["buildings"])
    assert heads == 8 > found["motions"][0]["result"]["totals"]["headcount"] == 6
    area = sum(row["totals"]["area_centi"] for row in yes_no["buildings"])
    assert area == yes_no["result"]["totals"]["area_centi"]
    election = {row["building"]: row for row in found["motions"][2]["buildings"]}
    first = next(c for c in election["1号楼"]["counts"] if c["option"] == "Candidate 1")
    assert (first["area_centi"], first["headcount"]) == (8950 + 12005 + 8950, 2)


def test_results_per_unit_list_shows_houses_never_names(db: Session) -> None:
    setup = voted_meeting(db)
    found = results(db, setup.meeting)
    assert found["result_detail"] == "per_unit" and found["state"] == "closed"
    units = found["motions"][0]["units"]
    assert {(u["building"], u["number"]): u["choice"] for u in units} == {
        ("1号楼", "1-101"): "yes",
        ("1号楼", "1-102"): "yes",
        ("1号楼", "1-201"): "yes",
        ("1号楼", "1-202"): "no",
        ("2号楼", "1-101"): "abstain",
        ("2号楼", "1-102"): "yes",
        ("2号楼", "1-201"): "yes",
        ("2号楼", "1-202"): "yes",
        ("地下车库", "B1-001"): "yes",
        ("地下车库", "B1-002"): "yes",
    }
    election = found["motions"][2]["units"]
    assert election[0]["choice"] == ["Candidate 1", "Candidate 3"]
    text = json.dumps(found, ensure_ascii=False)
    for name in (WANG, LI, CHEN, COMPANY, DEVELOPER, ZHAO):
        assert name not in text
    for issued in setup.cards:
        assert issued.holder_ref not in text


def test_results_totals_only_has_no_unit_list(db: Session) -> None:
    setup = voted_meeting(db, result_detail=ResultDetail.totals)
    found = results(db, setup.meeting)
    assert found["result_detail"] == "totals"
    assert all("units" not in motion for motion in found["motions"])


def test_results_refused_before_the_close(db: Session) -> None:
    setup = open_meeting_setup(db)
    with pytest.raises(ResultsRefused, match="has not closed"):
        results(db, setup.meeting)


def test_results_parking_only_voter_has_no_vote(db: Session) -> None:
    """Where parking does not count, a parking space alone gives no vote: no nonce is
    issued for it, and the space is in no total."""
    roll = (Path(__file__).parents[1] / "data" / "rolls" / "sample_zh.csv").read_bytes()
    roll += "地下车库,B1-003,12.00,不动产登记,已售,个人,孙丽,110105198807070026,,是,,\n".encode()
    first = open_meeting_setup(db, roll=roll)
    setup = second_meeting(db, first, parking_counts=False)
    sun = card_of(setup, "孙丽")
    challenge = ballot_challenge(
        db, setup.card_row(db, sun), setup.meeting, platform=PLATFORM, key=NONCE_KEY, now=VOTING
    )
    assert challenge.nonces == {}
    cast(db, setup, card_of(setup, WANG), setup.yes_no, "no")
    close_meeting(db, setup.meeting, now=CLOSES)
    stored = stored_result(db, setup.yes_no)
    assert stored["ballots"] == {"electronic": 1, "paper": 0, "set_aside": 0}
    assert option_count(stored, "yes")["headcount"] == 0
    assert stored["totals"]["headcount"] == 6  # 孙丽's parking space does not count


def test_results_empty_snapshot_recorded_as_not_counted(db: Session) -> None:
    """A snapshot with no unit cannot be counted: the close still happens and records why."""
    area = ensure_property_area(db, DEMO_PATH)
    db.add(
        RollVersion(
            property_area_id=area.id,
            number=1,
            source_name="empty.csv",
            source_sha256="0" * 64,
            content_sha256="1" * 64,
            unit_count=0,
            headcount=0,
            total_area_centi=0,
        )
    )
    db.commit()
    meeting = create_meeting(db, area, "空名册会议", now=T0)
    motion = add_motion(db, meeting, YES_NO)
    post_notice(db, meeting, OPENS, CLOSES, now=T0)
    open_meeting(db, meeting, now=OPENS)
    assert turnout(db, meeting)["motions"][0]["error"] == "no unit is in the motion's scope"
    close_meeting(db, meeting, now=CLOSES)
    stored = stored_result(db, motion)
    assert stored["outcome"] == NOT_COUNTED and stored["error"]
    assert stored["totals"] is None and stored["counts"] is None
    assert _log(db)[-1][0] == "meeting.close"


def test_results_missing_when_nothing_was_recorded(db: Session) -> None:
    setup = voted_meeting(db)
    for row in db.scalars(select(MotionResult)):
        db.delete(row)
    db.flush()
    with pytest.raises(NotFound):
        results(db, setup.meeting)
    db.rollback()
