"""Meetings with ballots, closed and tallied, and the observer's recount of their results
with `voting tally` (importable from every test folder: `from resultskit import ...`).

    setup = voted_meeting(db)                  # ballots of every holder kind, closed
    other = second_meeting(db, setup, parking_counts=False)   # same motions, open
    stored = stored_result(db, setup.yes_no)   # the decoded MotionResult
    printed = recount(db, setup.meeting, setup.yes_no, tmp_path)              # yes/no
    printed = recount(db, setup.meeting, setup.choice, tmp_path, "Contractor A")  # one option

`recount` writes the meeting's roll snapshot and the motion's counted ballots (electronic,
and paper where no electronic ballot supersedes it) to the two CSV files `voting tally`
reads, runs the command through click's CliRunner and returns the JSON it printed. The
command recounts yes/no motions; an option of a choice motion or a candidate of an election
is recounted as a yes/no motion in which a ballot for that option is "yes", one for another
option "no", and an abstention "abstain": the yes figures are then the option's figures and
"passed" says whether the option alone met the rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ballotkit import (
    CHOICE,
    CLOSES,
    ELECTION,
    ISSUER_SEED,
    OPENS,
    SAMPLE,
    T0,
    VOTING,
    YES_NO,
    VotingSetup,
    cast,
    open_meeting_setup,
)
from click.testing import CliRunner
from proxykit import card_of
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.keys import CardKey
from voting.commands.tally import tally_command
from voting.domain.area import format_area
from voting.domain.procedure import MeetingState, MotionSpec, ResultDetail, RulesOfProcedure
from voting.domain.tally import ABSTAIN, Choice, MotionKind, Rule, rule_for_matter
from voting.models import (
    Building,
    Holder,
    Meeting,
    Motion,
    MotionResult,
    PropertyArea,
    RollEntry,
    Unit,
)
from voting.services.ballots import counted_ballots
from voting.services.cards import issue_cards
from voting.services.meetings import (
    add_motion,
    annul_meeting,
    close_meeting,
    create_meeting,
    get_rules,
    motion_spec,
    open_meeting,
    post_notice,
    publish_meeting,
    set_rules,
)
from voting.services.paper import counted_paper
from voting.services.roll import current_version, import_roll

WANG, LI, CHEN = "王伟", "李娜", "陈静"
COMPANY, DEVELOPER, ZHAO = "北京望京商贸有限公司", "北京南湖置业有限公司", "赵磊"
NAMES = (WANG, LI, CHEN, COMPANY, DEVELOPER, ZHAO)

# Who votes what in `voted_meeting` (the lift motion is for building 1 only).
YES_NO_VOTES = {WANG: "yes", LI: "yes", CHEN: "no", COMPANY: "abstain", DEVELOPER: "yes"}
CHOICE_VOTES = {WANG: "Contractor A", LI: "Contractor A", CHEN: "Contractor B"}
ELECTION_VOTES: dict[str, Any] = {
    WANG: ["Candidate 1", "Candidate 3"],
    LI: ["Candidate 1"],
    COMPANY: ["Candidate 1", "Candidate 2"],
    DEVELOPER: ["Candidate 2", "Candidate 3"],
    ZHAO: "abstain",
}


def vote_all(db: Session, setup: VotingSetup, *, at: dt.datetime = VOTING) -> None:
    """Cast the ballots above (each holder with their own card)."""
    for motion, votes in (
        (setup.yes_no, YES_NO_VOTES),
        (setup.choice, CHOICE_VOTES),
        (setup.election, ELECTION_VOTES),
    ):
        for name, choice in votes.items():
            cast(db, setup, card_of(setup, name), motion, choice, now=at)


def voted_meeting(db: Session, **options: Any) -> VotingSetup:
    """ballotkit's meeting with the ballots above, closed at CLOSES (so tallied)."""
    setup = open_meeting_setup(db, **options)
    vote_all(db, setup)
    close_meeting(db, setup.meeting, now=CLOSES)
    db.refresh(setup.meeting)
    return setup


def second_meeting(
    db: Session,
    setup: VotingSetup,
    *,
    parking_counts: bool = True,
    result_detail: ResultDetail = ResultDetail.per_unit,
) -> VotingSetup:
    """Another meeting of the area with the same motions and window, noticed under rules
    with `parking_counts` and `result_detail`, open at OPENS."""
    rules = RulesOfProcedure(
        notice_days=15,
        allow_vote_change=False,
        proxy_cap=2,
        parking_counts=parking_counts,
        result_detail=result_detail,
    )
    set_rules(db, setup.area, rules, now=T0)
    meeting = create_meeting(db, setup.area, "2026年第二次业主大会会议", now=T0)
    motions = [
        add_motion(db, meeting, motion_spec(motion))
        for motion in (setup.yes_no, setup.choice, setup.election)
    ]
    post_notice(db, meeting, OPENS, CLOSES, now=T0)
    open_meeting(db, meeting, now=OPENS)
    db.refresh(meeting)
    return VotingSetup(setup.area, meeting, *motions, setup.cards)


def stored_result(db: Session, motion: Motion) -> dict[str, Any]:
    row = db.get(MotionResult, motion.id)
    assert row is not None, f"motion {motion.id} has no stored result"
    value: dict[str, Any] = json.loads(row.result)
    return value


def counted_choices(db: Session, motion: Motion) -> list[tuple[str, Choice]]:
    """The motion's counted ballots: electronic ones, then paper ones not superseded."""
    electronic = counted_ballots(db, motion)
    seen = {ref for ref, _c in electronic}
    return electronic + [(r, c) for r, c in counted_paper(db, motion) if r not in seen]


def _as_yes_no(motion: Motion, choice: Choice, option: str | None) -> str:
    if option is None:
        assert isinstance(choice, str)
        return choice
    if motion.kind is MotionKind.ELECTION:
        if not isinstance(choice, frozenset) or not choice:
            return ABSTAIN
        return "yes" if option in choice else "no"
    if choice == ABSTAIN:
        return ABSTAIN
    return "yes" if choice == option else "no"


def write_csv(
    db: Session, meeting: Meeting, motion: Motion, folder: Path, option: str | None = None
) -> tuple[Path, Path]:
    """REGISTRY.csv (the snapshot: unit_id, building, area_m2, owner_id = holder ref; no
    names) and BALLOTS.csv (owner_id, choice) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    registry, ballots = folder / "REGISTRY.csv", folder / "BALLOTS.csv"
    query = (
        select(Building.name, Unit.number, RollEntry.area_centi, Holder.ref)
        .select_from(RollEntry)
        .join(Unit, RollEntry.unit_id == Unit.id)
        .join(Building, Unit.building_id == Building.id)
        .join(Holder, RollEntry.holder_id == Holder.id)
        .where(RollEntry.roll_version_id == meeting.roll_version_id)
    )
    if not meeting.rules_parking_counts:
        query = query.where(RollEntry.is_parking.is_(False))
    with registry.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_id", "building", "area_m2", "owner_id"])
        for building, number, area, ref in db.execute(query):
            writer.writerow([f"{building}/{number}", building, format_area(area), ref])
    with ballots.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["owner_id", "choice"])
        for ref, choice in counted_choices(db, motion):
            writer.writerow([ref, _as_yes_no(motion, choice, option)])
    return registry, ballots


def recount(
    db: Session, meeting: Meeting, motion: Motion, folder: Path, option: str | None = None
) -> dict[str, Any]:
    """What `voting tally` prints for the motion (or for one of its options)."""
    where = folder / f"motion-{motion.id}-{option or 'all'}"
    registry, ballots = write_csv(db, meeting, motion, where, option)
    rule = "major" if rule_for_matter(motion.matter) is Rule.SPECIAL else "ordinary"
    arguments = ["--registry", str(registry), "--ballots", str(ballots), "--rule", rule]
    if motion.scope is not None:
        arguments += ["--buildings", ",".join(sorted(motion.scope))]
    outcome = CliRunner().invoke(tally_command, arguments)
    assert outcome.exit_code == 0, outcome.output
    printed: dict[str, Any] = json.loads(outcome.output)
    return printed


def area_text(pair: dict[str, Any]) -> str:
    return format_area(pair["area_centi"])


def option_count(stored: dict[str, Any], option: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in stored["counts"] if c["option"] == option)
    return found


def same_participation(stored: dict[str, Any], printed: dict[str, Any]) -> None:
    """Totals, participation and the quorum agree between the result and the recount."""
    assert printed["total_area"] == area_text(stored["totals"])
    assert printed["total_headcount"] == stored["totals"]["headcount"]
    assert printed["participating_area"] == area_text(stored["participation"])
    assert printed["participating_headcount"] == stored["participation"]["headcount"]
    assert printed["quorum_met"] == stored["quorum_met"]


# --- meetings in every state, for the web tests ---------------------------------------


def ensure_sample_roll(db: Session, area: PropertyArea) -> None:
    """Import the sample roll unless the area's current roll already has units (the web
    fixture's version 2 has none; `owner_cards` imports the sample roll)."""
    version = current_version(db, area)
    has_units = version is not None and db.scalar(
        select(func.count()).select_from(RollEntry).where(RollEntry.roll_version_id == version.id)
    )
    if not has_units:
        base = None if version is None else version.number
        import_roll(db, area, "roll.csv", SAMPLE.read_bytes(), "key", expected_base_version=base)


def staged_meeting(
    db: Session,
    area: PropertyArea,
    state: MeetingState,
    *,
    title: str = "2026年第一次业主大会会议",
    result_detail: ResultDetail = ResultDetail.per_unit,
    late: bool = False,
    specs: tuple[MotionSpec, ...] = (YES_NO, CHOICE, ELECTION),
    vote: bool = False,
) -> VotingSetup:
    """A meeting of `area` with ballotkit's three motions, taken to `state` with the fixed
    times (notice T0, window [OPENS, CLOSES), published an hour after the close or, with
    `late`, five days after; annulled after publication). `specs` are the motions (a
    VotingSetup with fewer than three has the first in every slot). With `vote`, cards are
    issued to the holders without one and the three motions get `vote_all`'s ballots."""
    ensure_sample_roll(db, area)
    rules = RulesOfProcedure(
        notice_days=15,
        allow_vote_change=False,
        proxy_cap=2,
        parking_counts=True,
        result_detail=result_detail,
    )
    if get_rules(db, area) != rules:
        set_rules(db, area, rules, now=T0 - dt.timedelta(days=1))
    meeting = create_meeting(db, area, title, now=T0 - dt.timedelta(days=1))
    motions = [add_motion(db, meeting, spec) for spec in specs]
    motions += [motions[0]] * (3 - len(motions))
    setup = VotingSetup(area, meeting, motions[0], motions[1], motions[2], [])
    if state is MeetingState.draft:
        return setup
    post_notice(db, meeting, OPENS, CLOSES, now=T0)
    if state is not MeetingState.noticed:
        open_meeting(db, meeting, now=OPENS)
        if vote:
            issuer = CardKey(ISSUER_SEED)
            setup.cards = issue_cards(
                db, area, issuer, base_url="https://vote.example", now=T0 - dt.timedelta(days=2)
            )
            vote_all(db, setup)
    if state in (MeetingState.closed, MeetingState.published, MeetingState.annulled):
        close_meeting(db, meeting, now=CLOSES)
    if state in (MeetingState.published, MeetingState.annulled):
        publish_meeting(db, meeting, PUBLISHED_LATE if late else PUBLISHED)
    if state is MeetingState.annulled:
        annul_meeting(db, meeting, "程序违法：未通知居委会", None, PUBLISHED + dt.timedelta(days=9))
    db.refresh(meeting)
    return setup


PUBLISHED = CLOSES + dt.timedelta(hours=1)
PUBLISHED_LATE = CLOSES + dt.timedelta(days=5)
