"""The demo's meetings: one closed and published, with a real record, and one open now.

The published meeting is played through the same use cases as a real one, at past times:
notice, opening (roll snapshot), several hundred ballots signed with the demo cards' keys,
proxies signed by owners and used by their proxies, paper ballots entered twice by two
committee admins (one superseded by the same owner's electronic ballot), the close (tally
and signed checkpoint) and the publication. So observers, the result pages and `voting
verify` have a genuine election record to work on. The open meeting lets owners vote from
their phones with the demo cards straight away.

Each meeting is recognised by its title, so seeding twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from crypto.cardcode import parse_qr_fragment
from crypto.keys import CardKey
from voting.domain.procedure import MotionSpec, ResultDetail, RulesOfProcedure
from voting.domain.tally import MotionKind
from voting.models import Card, Channel, Meeting, PropertyArea, User
from voting.services.ballots import ballot_challenge, cast_ballot
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
    publish_meeting,
    set_rules,
)
from voting.services.paper import enter_paper
from voting.services.proxies import authorise_proxy, proxy_challenge

PUBLISHED_TITLE = "2026年第一次业主大会会议（续聘物业、1号楼电梯更新）"
OPEN_TITLE = "2026年第二次业主大会会议（公共收益使用）"

#: How many owners vote electronically on the whole-area motion of the published meeting.
ELECTRONIC_VOTERS = 720
PROXIES = 6
PAPER_VOTERS = 8

RENEWAL = MotionSpec(
    matter=4,
    kind=MotionKind.YES_NO,
    title="续聘南湖物业服务有限公司",
    text="续聘南湖物业服务有限公司为本小区物业服务企业，服务期三年，收费标准不变。",
)
LIFT = MotionSpec(
    matter=6,
    kind=MotionKind.YES_NO,
    title="使用专项维修资金更新1号楼电梯",
    text="使用1号楼专项维修资金约人民币86万元，更新1号楼全部4部电梯。",
    scope=frozenset({"1号楼"}),
)
INCOME = MotionSpec(
    matter=9,
    kind=MotionKind.CHOICE,
    title="2027年公共收益的使用方式",
    text="小区公共停车位及广告位2027年收益约人民币32万元，请选择其使用方式。",
    options=("补充专项维修资金", "小区绿化改造", "按专有部分面积分配给业主"),
)


@dataclass(frozen=True)
class DemoVoter:
    number: str
    holder_ref: str
    houses: tuple[str, ...]
    key: CardKey


@dataclass(frozen=True)
class DemoMeetings:
    published: Meeting
    open: Meeting
    seeded: bool
    ballots: int


def demo_voters(cards: Sequence[dict[str, Any]]) -> list[DemoVoter]:
    """The demo cards with their keys, from the links listed in demo-cards.json."""
    voters = []
    for entry in cards:
        number, seed = parse_qr_fragment(entry["link"].split("#", 1)[1])
        voters.append(DemoVoter(number, entry["holder_ref"], tuple(entry["houses"]), CardKey(seed)))
    return voters


def _existing(session: Session, area: PropertyArea, title: str) -> Meeting | None:
    return session.scalar(
        select(Meeting).where(Meeting.property_area_id == area.id, Meeting.title == title)
    )


def _card(session: Session, number: str) -> Card:
    card = session.scalar(select(Card).where(Card.number == number))
    assert card is not None, number
    return card


def _sign(key: CardKey, statement: dict[str, JSONValue]) -> tuple[bytes, bytes]:
    data = canonical_bytes(statement)
    return data, key.sign(data)


@dataclass
class _Casting:
    session: Session
    meeting: Meeting
    platform: str
    nonce_key: bytes
    clock: Callable[[], dt.datetime]
    count: int = 0

    def vote(
        self,
        voter: DemoVoter,
        choices: dict[int, JSONValue],
        *,
        owner: DemoVoter | None = None,
        proxy: str | None = None,
    ) -> None:
        """Cast `voter`'s ballots (for `owner` when voting by proxy) at the next clock tick."""
        card = _card(self.session, voter.number)
        represented = None if owner is None else _card(self.session, owner.number).holder
        now = self.clock()
        challenge = ballot_challenge(
            self.session,
            card,
            self.meeting,
            voter=represented,
            platform=self.platform,
            key=self.nonce_key,
            now=now,
        )
        for motion_id, choice in choices.items():
            if motion_id not in challenge.nonces:
                continue  # out of the voter's scope
            statement = challenge.statement(motion_id, choice)
            if proxy is not None:
                statement["proxy"] = proxy
            data, signature = _sign(voter.key, statement)
            cast_ballot(
                self.session,
                data,
                signature,
                card_id=card.id,
                platform=self.platform,
                key=self.nonce_key,
                channel=Channel.web,
                now=now,
            )
            self.count += 1


def _ticker(start: dt.datetime, step: dt.timedelta) -> Callable[[], dt.datetime]:
    moment = [start]

    def tick() -> dt.datetime:
        moment[0] += step
        return moment[0]

    return tick


def _in_building(voter: DemoVoter, building: str) -> bool:
    return any(house.startswith(f"{building} ") for house in voter.houses)


def _published(
    session: Session,
    area: PropertyArea,
    voters: list[DemoVoter],
    admins: list[User],
    *,
    platform: str,
    nonce_key: bytes,
    close_hook: Callable[[Session, Meeting, dt.datetime], None],
    base: dt.datetime,
) -> tuple[Meeting, int]:
    opens = base - dt.timedelta(days=25)
    closes = base - dt.timedelta(days=18)
    meeting = create_meeting(session, area, PUBLISHED_TITLE, now=base - dt.timedelta(days=45))
    renewal = add_motion(session, meeting, RENEWAL, now=base - dt.timedelta(days=45))
    lift = add_motion(session, meeting, LIFT, now=base - dt.timedelta(days=45))
    post_notice(session, meeting, opens, closes, now=base - dt.timedelta(days=40))
    open_meeting(session, meeting, now=opens)
    casting = _Casting(
        session, meeting, platform, nonce_key, _ticker(opens, dt.timedelta(minutes=7))
    )
    # Developer-held units vote too (one person); everyone else in card order.
    people = list(voters)
    electronic = people[:ELECTRONIC_VOTERS]
    for index, voter in enumerate(electronic):
        renewal_choice = "no" if index % 9 == 0 else ("abstain" if index % 23 == 0 else "yes")
        lift_choice = "no" if index % 5 == 0 else "yes"
        casting.vote(voter, {renewal.id: renewal_choice, lift.id: lift_choice})
    # Proxies: an owner authorises a neighbour; the neighbour votes for them, once as told.
    rest = people[ELECTRONIC_VOTERS:]
    owners, holders = rest[:PROXIES], electronic[:PROXIES]
    for owner, holder in zip(owners, holders, strict=True):
        now = casting.clock()
        card = _card(session, owner.number)
        challenge = proxy_challenge(
            session, card, meeting, platform=platform, key=nonce_key, now=now
        )
        data, signature = _sign(
            owner.key, challenge.statement(holder.holder_ref, {renewal.id: "yes"})
        )
        authorisation = authorise_proxy(
            session,
            data,
            signature,
            card_id=card.id,
            platform=platform,
            key=nonce_key,
            now=now,
        )
        casting.vote(
            holder,
            {renewal.id: "yes", lift.id: "yes"},
            owner=owner,
            proxy=authorisation.statement_hash,
        )
    # Paper: entered by both committee admins; the last sheet's owner also votes online,
    # so that sheet is recorded as superseded.
    paper = rest[PROXIES : PROXIES + PAPER_VOTERS]
    for index, voter in enumerate(paper):
        choices: dict[str, JSONValue] = {str(renewal.id): "yes" if index % 3 else "no"}
        if _in_building(voter, "1号楼"):
            choices[str(lift.id)] = "yes"
        image = hashlib.sha256(f"demo paper ballot {voter.number}".encode()).hexdigest()
        for admin in admins[:2]:
            enter_paper(
                session, meeting, voter.holder_ref, choices, image, admin.id, casting.clock()
            )
    casting.vote(paper[-1], {renewal.id: "yes", lift.id: "yes"})
    close_hook(session, meeting, closes)
    publish_meeting(session, meeting, now=closes + dt.timedelta(days=1))
    return meeting, casting.count


def seed_demo_meetings(
    session: Session,
    area: PropertyArea,
    cards: Sequence[dict[str, Any]],
    *,
    platform: str,
    nonce_key: bytes,
    close_hook: Callable[[Session, Meeting, dt.datetime], None] | None = None,
    now: dt.datetime | None = None,
) -> DemoMeetings:
    """Seed the published and the open demo meeting unless they exist.

    `close_hook(session, meeting, at)` closes a meeting (the command passes one that also
    signs the closing checkpoint); by default `close_meeting`.
    """
    base = (now or dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    published = _existing(session, area, PUBLISHED_TITLE)
    opened = _existing(session, area, OPEN_TITLE)
    if published is not None and opened is not None:
        return DemoMeetings(published, opened, seeded=False, ballots=0)
    hook = close_hook or (lambda s, m, at: close_meeting(s, m, now=at) and None)
    admins = list(
        session.scalars(
            select(User)
            .where(User.property_area_id == area.id, User.role == "committee_admin")
            .order_by(User.id)
        )
    )
    if len(admins) < 2:
        raise ValueError("the demo needs two committee admins to enter paper ballots")
    set_rules(
        session,
        area,
        RulesOfProcedure(
            notice_days=15,
            allow_vote_change=True,
            proxy_cap=2,
            parking_counts=True,
            result_detail=ResultDetail.per_unit,
        ),
        now=base - dt.timedelta(days=46),
    )
    voters = demo_voters(cards)
    count = 0
    if published is None:
        published, count = _published(
            session,
            area,
            voters,
            admins,
            platform=platform,
            nonce_key=nonce_key,
            close_hook=hook,
            base=base,
        )
    if opened is None:
        opened = create_meeting(session, area, OPEN_TITLE, now=base - dt.timedelta(days=17))
        add_motion(session, opened, INCOME, now=base - dt.timedelta(days=17))
        add_motion(session, opened, RENEWAL, now=base - dt.timedelta(days=17))
        post_notice(
            session,
            opened,
            base - dt.timedelta(hours=1),
            base + dt.timedelta(days=14),
            now=base - dt.timedelta(days=16),
        )
        open_meeting(session, opened, now=base)
    return DemoMeetings(published, opened, seeded=True, ballots=count)
