"""The owner's voting pages and the public receipts over HTTP: who sees what, the ballot
form's fields, the voted state, the owner's own ballots, and receipts by hash.

Helpers used by the browser tests too:

    vote_meeting(store, area, ...) -> VoteMeeting     an open meeting around the real clock
    cast_by_api(client, card, motion_id, choice)      challenge, sign, post → the response
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import pytest
from ballotkit import CHOICE, ELECTION
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_owner_login import b64, card_login, owner_cards  # noqa: F401  (fixture)

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.domain.procedure import MotionSpec, ResultDetail, RulesOfProcedure
from voting.domain.tally import MotionKind
from voting.models import Ballot, Card, Meeting, Motion, PropertyArea, Proxy, utcnow
from voting.services.cards import IssuedCard
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
    set_rules,
)

JSON = "application/json"
HASH_LINK = re.compile(r'href="/receipts/([0-9a-f]{64})"')

YES_NO = MotionSpec(
    matter=4,
    kind=MotionKind.YES_NO,
    title="Renew the property service contract",
    text="Renew the contract with the current company for three years.\nFee unchanged.",
)


@dataclass
class VoteMeeting:
    meeting: Meeting
    yes_no: Motion
    choice: Motion
    election: Motion


def set_area_rules(store: Session, area: PropertyArea, allow_vote_change: bool, at: Any) -> None:
    rules = RulesOfProcedure(
        notice_days=15,
        allow_vote_change=allow_vote_change,
        proxy_cap=2,
        parking_counts=True,
        result_detail=ResultDetail.per_unit,
    )
    set_rules(store, area, rules, now=at)


def vote_meeting(
    store: Session,
    area: PropertyArea,
    *,
    allow_vote_change: bool = False,
    title: str = "2026年第一次业主大会会议",
    opened: bool = True,
) -> VoteMeeting:
    """A meeting with the three kinds of motion whose window holds the real clock (so that
    the live server's own clock works): noticed 16 days ago, opened an hour ago (or, with
    `opened=False`, noticed now and opening in 15 days)."""
    now = utcnow().replace(microsecond=0)
    notice = now - dt.timedelta(days=16) if opened else now
    set_area_rules(store, area, allow_vote_change, notice - dt.timedelta(minutes=1))
    meeting = create_meeting(store, area, title, now=notice - dt.timedelta(minutes=1))
    motions = [add_motion(store, meeting, spec) for spec in (YES_NO, CHOICE, ELECTION)]
    opens = now - dt.timedelta(hours=1) if opened else now + dt.timedelta(days=15)
    post_notice(store, meeting, opens, opens + dt.timedelta(days=7), now=notice)
    if opened:
        open_meeting(store, meeting, now=opens)
    store.refresh(meeting)
    return VoteMeeting(meeting, *motions)


def ballot_statement(challenge: dict[str, Any], motion_id: int, choice: Any) -> dict[str, Any]:
    fields = ("platform", "area", "meeting", "roll", "voter", "credential", "time")
    statement = {name: challenge[name] for name in fields}
    statement.update(
        type="ballot", motion=motion_id, choice=choice, nonce=challenge["nonces"][str(motion_id)]
    )
    return statement


def cast_by_api(client: Any, card: IssuedCard, meeting_id: int, motion_id: int, choice: Any) -> Any:
    """Cast a ballot as the phone does (the client must be logged in with `card`)."""
    reply = client.post(f"/api/v1/meetings/{meeting_id}/challenge", json={})
    assert reply.status_code == 200, reply.get_json()
    data = canonical_bytes(ballot_statement(reply.get_json(), motion_id, choice))
    assert card.seed is not None
    signature = CardKey(card.seed).sign(data)
    return client.post(
        "/api/v1/ballots", json={"statement": b64(data), "signature": b64(signature)}
    )


@pytest.fixture
def voting(store: Session, seeded: Any, owner_cards: list[IssuedCard]) -> VoteMeeting:  # noqa: F811
    return vote_meeting(store, seeded.area)


def _page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return str(response.get_data(as_text=True))


# --- who may see the pages ---------------------------------------------------------------


def test_vote_pages_send_visitors_without_a_card_to_the_card_login(
    client: Any, voting: VoteMeeting, login: Any
) -> None:
    for path in ("/vote", f"/vote/{voting.meeting.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/card"
    assert login(client, "committee_admin").status_code == 302
    response = client.get(f"/vote/{voting.meeting.id}")
    assert response.status_code == 302 and response.headers["Location"] == "/card"


def test_vote_meeting_of_another_area_or_a_draft_is_not_found(
    client: Any,
    store: Session,
    seeded: Any,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    draft = create_meeting(store, seeded.area, "草稿会议")
    elsewhere = create_meeting(store, seeded.other, "别的小区")
    assert card_login(client, owner_cards[0]).status_code == 200
    for meeting_id in (draft.id, elsewhere.id, 999_999):
        assert client.get(f"/vote/{meeting_id}").status_code == 404
    assert client.get("/vote/abc").status_code == 404
    html = _page(client, "/vote?lang=en")
    assert "草稿会议" not in html and "别的小区" not in html


# --- the list of meetings ----------------------------------------------------------------


def test_vote_index_lists_open_and_not_yet_open_meetings(
    client: Any,
    store: Session,
    seeded: Any,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    later = vote_meeting(store, seeded.area, title="2027年第一次业主大会会议", opened=False)
    assert card_login(client, owner_cards[0]).status_code == 200
    html = _page(client, "/vote?lang=en")
    assert f'href="/vote/{voting.meeting.id}"' in html
    assert f'href="/vote/{later.meeting.id}"' in html
    assert html.index("2026年第一次业主大会会议") < html.index("2027年第一次业主大会会议")
    assert "Open for voting" in html and "Not yet open" in html
    opens = later.meeting.window_opens_at
    assert opens is not None
    shown = opens.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert f"Voting has not opened yet. Voting period: {shown}" in html
    # The owner's page links here.
    assert 'href="/vote"' in _page(client, "/owner")


def test_vote_index_in_chinese_by_default(
    client: Any,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    assert card_login(client, owner_cards[0]).status_code == 200
    client.get("/language/zh_CN?next=/")
    html = _page(client, "/vote")
    assert '<html lang="zh-CN">' in html
    assert "我的会议" in html and "正在投票" in html
    html = _page(client, f"/vote/{voting.meeting.id}")
    for text in ("同意", "反对", "弃权", "请确认您的选择", "表决事项 1", "签名并提交"):
        assert text in html, text


# --- the ballot form -----------------------------------------------------------------------


def test_vote_meeting_page_shows_each_motion_and_the_fields_to_sign(
    client: Any,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang = owner_cards[0]
    assert card_login(client, wang).status_code == 200
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    for spec in (YES_NO, CHOICE, ELECTION):
        assert spec.title in html
    assert "Renew the contract with the current company for three years.\nFee unchanged." in html
    assert "Hiring or dismissing the property service company" in html  # matter (4)
    assert "three quarters" in html  # matter (7): special majority
    for label in ("In favour", "Against", "Abstain", "Contractor A", "Contractor B"):
        assert f">{label}</span>" in html
    assert f'type="checkbox" name="choice-{voting.election.id}" value="Candidate 3"' in html
    assert "Choose up to 2 candidates, or abstain." in html
    assert "Please confirm your choices" in html
    row = store.get(Card, wang.card_id)
    assert row is not None
    expected = {
        "data-platform": "voting.example",
        "data-area": "NHXY",
        "data-meeting": str(voting.meeting.id),
        "data-roll": voting.meeting.roll_sha256,
        "data-voter": row.holder.ref,
        "data-credential": hashlib.sha256(row.certificate).hexdigest(),
        "data-card-number": wang.number,
        "data-card-key": row.public_key,
        "data-challenge-url": f"/api/v1/meetings/{voting.meeting.id}/challenge",
        "data-ballots-url": "/api/v1/ballots",
        "data-receipt-base": "/receipts/",
    }
    for name, value in expected.items():
        assert f'{name}="{value}"' in html, name
    assert 'src="/static/js/vote.js"' in html
    assert "You have not cast a ballot at this meeting yet." in html


def test_vote_meeting_page_shows_only_motions_in_the_owners_scope(
    client: Any,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    company = next(card for card in owner_cards if card.holder_name == "北京望京商贸有限公司")
    assert card_login(client, company).status_code == 200
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert YES_NO.title in html and ELECTION.title in html
    assert CHOICE.title not in html  # building 1 only; the company's unit is in building 2


def test_vote_meeting_not_yet_open_shows_the_motions_without_a_form(
    client: Any,
    store: Session,
    seeded: Any,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    later = vote_meeting(store, seeded.area, opened=False)
    assert card_login(client, owner_cards[0]).status_code == 200
    html = _page(client, f"/vote/{later.meeting.id}?lang=en")
    assert "Voting has not opened yet." in html
    assert YES_NO.title in html and "Contractor B" in html
    assert "vote.js" not in html and 'type="radio"' not in html
    assert "data-challenge-url" not in html


def test_vote_meeting_after_close_shows_no_form(
    client: Any,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang = owner_cards[0]
    assert card_login(client, wang).status_code == 200
    reply = cast_by_api(client, wang, voting.meeting.id, voting.yes_no.id, "yes")
    assert reply.status_code == 201
    close_meeting(store, voting.meeting, now=voting.meeting.window_closes_at)
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "Voting has ended" in html
    assert 'type="radio"' not in html and "vote.js" not in html
    assert reply.get_json()["ballot_hash"] in html  # the receipts stay available
    html = _page(client, "/vote?lang=en")
    assert "Past meetings" in html


# --- voted state and the owner's ballots ---------------------------------------------------


def test_vote_meeting_page_marks_voted_motions_and_lists_own_ballots(
    client: Any,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang, li = owner_cards[0], owner_cards[1]
    assert card_login(client, wang).status_code == 200
    reply = cast_by_api(client, wang, voting.meeting.id, voting.yes_no.id, "no")
    assert reply.status_code == 201, reply.get_json()
    mine = reply.get_json()["ballot_hash"]
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "Voted</span>" in html
    assert "The rules of procedure do not allow changing it." in html
    assert f'name="choice-{voting.yes_no.id}"' not in html  # no second ballot
    assert f'name="choice-{voting.choice.id}"' in html  # the others are still open
    assert HASH_LINK.findall(html) == [mine]
    assert "Change my vote" not in html
    # Another owner sees neither the mark nor the ballot.
    other = client.application.test_client()
    assert card_login(other, li).status_code == 200
    reply = cast_by_api(other, li, voting.meeting.id, voting.election.id, ["Candidate 2"])
    assert reply.status_code == 201
    theirs = reply.get_json()["ballot_hash"]
    html = _page(other, f"/vote/{voting.meeting.id}?lang=en")
    assert HASH_LINK.findall(html) == [theirs]
    assert mine not in html


def test_vote_change_path_where_the_rules_allow_it(
    client: Any,
    store: Session,
    seeded: Any,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    changing = vote_meeting(store, seeded.area, allow_vote_change=True)
    wang = owner_cards[0]
    assert card_login(client, wang).status_code == 200
    first = cast_by_api(client, wang, changing.meeting.id, changing.yes_no.id, "yes")
    assert first.status_code == 201
    html = _page(client, f"/vote/{changing.meeting.id}?lang=en")
    assert "Change my vote" in html
    assert f'id="choices-{changing.yes_no.id}" hidden' in html
    assert "only your latest ballot counts" in html
    second = cast_by_api(client, wang, changing.meeting.id, changing.yes_no.id, "no")
    assert second.status_code == 201
    html = _page(client, f"/vote/{changing.meeting.id}?lang=en")
    assert HASH_LINK.findall(html) == [
        first.get_json()["ballot_hash"],
        second.get_json()["ballot_hash"],
    ]
    assert "Replaced by a later ballot" in html
    receipt = _page(client, f"/receipts/{first.get_json()['ballot_hash']}?lang=en")
    assert "does not count now" in receipt
    assert '<dd id="receipt-counted">No</dd>' in receipt


# --- receipts ----------------------------------------------------------------------------------


def test_vote_receipt_page_is_public_and_shows_the_ballot(
    client: Any,
    app: Any,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang = owner_cards[0]
    assert card_login(client, wang).status_code == 200
    reply = cast_by_api(client, wang, voting.meeting.id, voting.choice.id, "Contractor B")
    assert reply.status_code == 201
    body = reply.get_json()
    store.rollback()  # a fresh transaction sees what the requests committed
    ballot = store.scalar(select(Ballot).where(Ballot.ballot_hash == body["ballot_hash"]))
    assert ballot is not None
    anonymous = app.test_client()
    html = _page(anonymous, f"/receipts/{ballot.ballot_hash}?lang=en")
    assert ballot.ballot_hash in html
    assert "2026年第一次业主大会会议" in html
    assert f"2. {CHOICE.title}" in html
    cast = ballot.cast_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert cast.strftime("%Y-%m-%d %H:%M:%S") in html
    assert f'<dd id="receipt-log-index">{ballot.log_seq}</dd>' in html
    assert '<dd id="receipt-counted">Yes</dd>' in html
    assert "This ballot is recorded and counts." in html
    assert (
        f'<div id="proof" class="receipt-proof" data-area="NHXY" '
        f'data-log-index="{ballot.log_seq}" data-ballot-hash="{ballot.ballot_hash}"'
    ) in html
    assert '<svg viewBox="' in html and 'class="qr-code"' in html
    assert f"http://localhost/receipts/{ballot.ballot_hash}" in html
    # Never the choice, the voter or the name.
    assert "Contractor B" not in html and "王" not in html and ballot.holder.ref not in html
    assert body["receipt_url"] == f"/receipts/{ballot.ballot_hash}"


def test_vote_receipt_unknown_or_malformed_hash(client: Any, seeded: Any) -> None:
    unknown = client.get("/receipts/" + "ab" * 32 + "?lang=en")
    assert unknown.status_code == 404
    assert "No ballot with this hash has been recorded." in unknown.get_data(as_text=True)
    for bad in ("abc", "zz" * 32, "ab" * 33, "<script>"):
        response = client.get(f"/receipts/{bad}?lang=en")
        assert response.status_code == 400, bad
        html = response.get_data(as_text=True)
        assert "A ballot hash is 64 characters" in html
        assert "<script>" not in html
    upper = client.get("/receipts/" + "AB" * 32)
    assert upper.status_code == 302 and upper.headers["Location"] == "/receipts/" + "ab" * 32


def test_vote_receipt_lookup_form(client: Any, seeded: Any) -> None:
    html = _page(client, "/receipts?lang=en")
    assert 'name="hash"' in html and "Look up a receipt" in html
    response = client.get("/receipts", query_string={"hash": "  " + "CD" * 32 + "\n"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/receipts/" + "cd" * 32
    response = client.get("/receipts", query_string={"hash": "not a hash", "lang": "en"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "A ballot hash is 64 characters" in html and 'value="not a hash"' in html


# --- voting as a proxy -----------------------------------------------------------------------


def grant_proxy(
    store: Session,
    meeting: Meeting,
    owner: IssuedCard,
    proxy: IssuedCard,
    instructions: dict[int, Any] | None = None,
) -> Proxy:
    """An authorisation in force, as the proxies feature stores it; only the columns that
    the ballot checks and these pages read matter here (the signed statement is a stand-in)."""
    statement = canonical_bytes({"type": "proxy", "owner": owner.holder_ref, "meeting": meeting.id})
    row = Proxy(
        property_area_id=meeting.property_area_id,
        meeting_id=meeting.id,
        owner_holder_id=store.get(Card, owner.card_id).holder_id,  # type: ignore[union-attr]
        proxy_holder_id=store.get(Card, proxy.card_id).holder_id,  # type: ignore[union-attr]
        owner_card_id=owner.card_id,
        statement=statement,
        signature=bytes(64),
        statement_hash=hashlib.sha256(statement).hexdigest(),
        instructions=None
        if instructions is None
        else canonical_bytes({str(k): v for k, v in instructions.items()}).decode(),
        log_seq=0,
    )
    store.add(row)
    store.commit()
    return row


def cast_as_proxy(
    client: Any, card: IssuedCard, owner_ref: str, meeting_id: int, motion_id: int, choice: Any
) -> Any:
    reply = client.post(f"/api/v1/meetings/{meeting_id}/challenge", json={"voter": owner_ref})
    assert reply.status_code == 200, reply.get_json()
    challenge = reply.get_json()
    statement = ballot_statement(challenge, motion_id, choice)
    statement["proxy"] = challenge["proxy"]
    data = canonical_bytes(statement)
    assert card.seed is not None
    signature = CardKey(card.seed).sign(data)
    return client.post(
        "/api/v1/ballots", json={"statement": b64(data), "signature": b64(signature)}
    )


def test_vote_meeting_page_lets_a_proxy_vote_for_the_owner(
    client: Any,
    app: Any,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang, li = owner_cards[0], owner_cards[1]
    granted = grant_proxy(store, voting.meeting, li, wang, {voting.yes_no.id: "no"})
    assert card_login(client, wang).status_code == 200
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "My vote" in html
    assert "As proxy for 李* (1号楼 1-201)" in html and "李娜" not in html
    key = f"p{granted.id}-{voting.yes_no.id}"
    assert f'id="motion-{key}"' in html
    assert f'data-voter="{li.holder_ref}" data-proxy="{granted.statement_hash}"' in html
    assert "The owner's instruction: Against" in html
    assert f'name="choice-{key}" value="no" data-label="Against" checked>' in html
    assert f'name="choice-{key}" value="yes" data-label="In favour" disabled>' in html
    reply = cast_as_proxy(client, wang, li.holder_ref, voting.meeting.id, voting.yes_no.id, "no")
    assert reply.status_code == 201, reply.get_json()
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "Your ballot for this owner counts." in html
    assert f'name="choice-{key}"' not in html
    assert "Cast as a proxy" in html and reply.get_json()["ballot_hash"] in html
    # The owner sees that their proxy voted, may still vote in person, and sees the ballot.
    owner = app.test_client()
    assert card_login(owner, li).status_code == 200
    html = _page(owner, f"/vote/{voting.meeting.id}?lang=en")
    assert "Your proxy has voted for you." in html
    assert f'name="choice-{voting.yes_no.id}"' in html
    assert "Cast by your proxy" in html and reply.get_json()["ballot_hash"] in html
    assert cast_by_api(owner, li, voting.meeting.id, voting.yes_no.id, "yes").status_code == 201
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "The owner has voted on this motion, so a proxy can no longer vote." in html


def test_vote_meeting_after_the_window_takes_no_ballots(
    client: Any,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Staff have not closed the meeting yet, but its window has ended."""
    closes = voting.meeting.window_closes_at
    assert closes is not None
    monkeypatch.setattr("voting.web.vote.now", lambda: closes + dt.timedelta(minutes=1))
    assert card_login(client, owner_cards[0]).status_code == 200
    html = _page(client, f"/vote/{voting.meeting.id}?lang=en")
    assert "The voting period ended at" in html and "Voting has ended" in html
    assert 'type="radio"' not in html and "vote.js" not in html
    html = _page(client, "/vote?lang=en")
    assert "Voting has ended" in html and "Open for voting" not in html
