"""Voting on a phone: Debian's Chromium (390×844) logs in with an owner card, votes on every
motion of an open meeting, confirms, signs with WebCrypto Ed25519 and gets the receipts.

The page's canonical JSON and election order are checked against the Python reference; the
ballots the browser made are checked in the database (hash, signature, choice, counted).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_owner_login import owner_cards  # noqa: F401  (fixture)
from test_vote import (
    CHOICE,
    ELECTION,
    YES_NO,
    VoteMeeting,
    ballot_statement,
    grant_proxy,
    vote_meeting,
)

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey, PublicKey
from crypto.statements import verify_statement
from voting.models import Ballot, Card, CountedBallot
from voting.services.ballots import ballot_challenge, ballot_nonce_key, cast_ballot
from voting.services.cards import IssuedCard
from voting.services.meetings import close_meeting

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))
PHONE_WIDTH = 390


def log_in(page: Any, live_server: str, card: IssuedCard) -> None:
    """The card login with the QR link, as on tests/web/test_owner_phone.py."""
    assert card.qr_url is not None
    page.goto(f"{live_server}/card#{card.qr_url.split('#', 1)[1]}")
    page.wait_for_selector("#card-recognised:not([hidden])")
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    page.wait_for_url(f"{live_server}/owner")


def open_meeting_page(page: Any, live_server: str, meeting_id: int, lang: str = "") -> None:
    page.goto(f"{live_server}/vote/{meeting_id}{lang}")
    page.wait_for_selector("#vote-next:not([hidden])")


def no_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width} px wide at {page.url}"


def choose(page: Any, motion_id: int, label: str) -> None:
    page.locator(f"#motion-{motion_id} label.choice", has_text=label).click()


def unlock_and_submit(page: Any, backup_code: str) -> None:
    page.fill("#vote-backup-code", backup_code.lower().replace("-", " "))
    page.click("#vote-submit")


@pytest.fixture
def voting(store: Session, seeded: Any, owner_cards: list[IssuedCard]) -> VoteMeeting:  # noqa: F811
    return vote_meeting(store, seeded.area)


def test_vote_phone_scripts_match_the_python_reference(
    page: Any,
    live_server: str,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    log_in(page, live_server, owner_cards[0])
    open_meeting_page(page, live_server, voting.meeting.id)
    cases: list[Any] = [
        {"b": ["Candidate 1", "候选人"], "a": {"y": None, "x": "业主"}, "n": -(2**53 - 1)},
        {"\u20ac": "1", "\r": "2", "\ufb33": "3", "1": "4", "\U0001f600": "5", "\u0080": [6]},
        {"s": '\u0000\b\t\n\f\r\u001f\u007f\u2028/<>&"\\', "t": True, "f": False, "e": []},
    ]
    for case in cases:
        text = page.evaluate("(v) => VoteBallot.canonicalJSON(v)", case)
        assert text.encode("utf-8") == canonical_bytes(case)
    for bad in ("1.5", "2 ** 53", "'\\ud800'", "undefined"):
        assert page.evaluate(
            f"() => {{ try {{ VoteBallot.canonicalJSON({bad}); return false; }}"
            " catch (e) { return true; } }"
        ), bad
    labels = ["候选人乙", "\U0001f600", "\uff5e", "Candidate 2", "候选人乙", "Candidate 10"]
    order = page.evaluate("(l) => VoteBallot.electionChoice(l)", labels)
    assert order == sorted(set(labels))  # code points, as the server requires
    challenge = {
        "platform": "voting.example",
        "area": "NHXY",
        "meeting": voting.meeting.id,
        "roll": voting.meeting.roll_sha256,
        "voter": "h-x",
        "credential": "0" * 64,
        "time": "2026-11-25T09:30:00Z",
        "expires": "2026-11-25T09:45:00Z",
        "nonces": {str(voting.yes_no.id): "0" * 32},
        "proxy": None,
    }
    page_fields = {name: challenge[name] for name in ("platform", "area", "roll", "voter")}
    page_fields.update(meeting=voting.meeting.id, credential="0" * 64)
    built = page.evaluate(
        "([p, c, m]) => VoteBallot.ballotStatement(p, c, m, 'yes')",
        [page_fields, challenge, voting.yes_no.id],
    )
    assert built == ballot_statement(challenge, voting.yes_no.id, "yes")
    tampering: list[tuple[str, Any]] = [
        ("platform", "vote.example.org"),
        ("area", "OTHER"),
        ("voter", "h-y"),
        ("credential", "1" * 64),
        ("roll", "1" * 64),
        ("proxy", "1" * 64),
        ("meeting", voting.meeting.id + 1),
        ("meeting", str(voting.meeting.id)),
        ("time", "2026-11-25 09:30:00"),
    ]
    for name, value in tampering:
        tampered = {**challenge, name: value}
        refused = page.evaluate(
            """([p, c, m]) => { try { VoteBallot.ballotStatement(p, c, m, 'yes'); return null; }
                catch (e) { return e.reason; } }""",
            [page_fields, tampered, voting.yes_no.id],
        )
        assert refused == "mismatch", name
    missing = page.evaluate(
        """([p, c, m]) => { try { VoteBallot.ballotStatement(p, c, m, 'yes'); return null; }
            catch (e) { return e.reason; } }""",
        [page_fields, challenge, voting.choice.id],
    )
    assert missing == "no-nonce"


def test_vote_phone_owner_votes_on_every_motion_and_gets_receipts(
    page: Any,
    live_server: str,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang = owner_cards[0]
    assert wang.backup_code is not None
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url + (request.post_data or "")))
    log_in(page, live_server, wang)
    page.click("a[href='/vote']")
    page.wait_for_url(f"{live_server}/vote")
    no_overflow(page)
    page.click(f"a[href='/vote/{voting.meeting.id}']")
    page.wait_for_selector("#vote-next:not([hidden])")
    no_overflow(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "vote-choose.png"), full_page=True)
    choose(page, voting.yes_no.id, "同意")
    choose(page, voting.choice.id, "Contractor B")
    choose(page, voting.election.id, "Candidate 3")
    choose(page, voting.election.id, "Candidate 1")
    choose(page, voting.election.id, "Candidate 2")  # a third is refused: two seats
    assert "最多" in page.inner_text(f"#motion-{voting.election.id} .field-message")
    assert not page.is_checked(f"#motion-{voting.election.id} input[value='Candidate 2']")
    page.click("#vote-next")
    page.wait_for_selector("#vote-confirm:not([hidden])")
    confirm = page.inner_text("#vote-confirm")
    assert "请确认您的选择" in confirm
    assert "同意" in confirm and "Contractor B" in confirm
    assert "Candidate 1、Candidate 3" in confirm
    assert wang.number in confirm
    no_overflow(page)
    page.screenshot(path=str(SHOTS / "vote-confirm.png"), full_page=True)
    unlock_and_submit(page, wang.backup_code)
    page.wait_for_selector("#vote-receipts:not([hidden])")
    no_overflow(page)
    page.screenshot(path=str(SHOTS / "vote-receipts.png"), full_page=True)
    links = page.eval_on_selector_all("#receipt-list a.hash", "(as) => as.map((a) => a.text)")
    assert len(links) == 3
    assert "已记录" in page.inner_text("#receipt-list")

    # The ballots in the database are the browser's, signed by the card, and count.
    store.rollback()
    card = store.get(Card, wang.card_id)
    assert card is not None
    ballots = {b.ballot_hash: b for b in store.scalars(select(Ballot))}
    assert set(ballots) == set(links)
    expected = {
        voting.yes_no.id: '"yes"',
        voting.choice.id: '"Contractor B"',
        voting.election.id: '["Candidate 1","Candidate 3"]',
    }
    for ballot in ballots.values():
        verify_statement(
            PublicKey.from_hex(card.public_key),
            ballot.statement,
            ballot.signature,
            expected_type="ballot",
        )
        assert ballot.choice == expected[ballot.motion_id]
        assert ballot.holder_id == card.holder_id and ballot.card_id == card.id
    counted = store.scalars(select(CountedBallot.ballot_id)).all()
    assert sorted(counted) == sorted(b.id for b in ballots.values())
    # Neither the seed nor the backup code went anywhere.
    seed_text = wang.qr_url.rsplit(".", 1)[1] if wang.qr_url else "x"
    code = wang.backup_code.replace("-", "")
    assert not any(seed_text in sent or code in sent.upper() for sent in requests)

    # Back on the meeting: every motion is marked, the receipts are listed.
    page.click("#vote-receipts a.button")
    page.wait_for_selector("#my-ballots")
    assert page.locator(".badge-voted", has_text="已投票").count() == 3
    assert page.is_hidden("#vote-next") or page.locator("#vote-next").count() == 0
    mine = page.eval_on_selector_all("#my-ballots a.hash", "(as) => as.map((a) => a.text)")
    assert sorted(mine) == sorted(links)
    no_overflow(page)

    # The public receipt page, on the phone.
    page.click(f"#my-ballots a.hash >> text={links[0]}")
    page.wait_for_url(f"{live_server}/receipts/{links[0]}")
    assert links[0] in page.inner_text("#receipt-hash")
    assert page.locator("svg.qr-code").count() == 1
    assert page.get_attribute("#proof", "data-log-index") == str(ballots[links[0]].log_seq)
    no_overflow(page)
    page.screenshot(path=str(SHOTS / "vote-receipt.png"), full_page=True)


def test_vote_phone_english_switch(
    page: Any,
    live_server: str,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    log_in(page, live_server, owner_cards[0])
    open_meeting_page(page, live_server, voting.meeting.id)
    assert "同意" in page.inner_text("main")
    page.click("a.lang-switch[hreflang='en']")
    page.wait_for_selector("#vote-next:not([hidden])")
    assert page.url == f"{live_server}/vote/{voting.meeting.id}"
    text = page.inner_text("main")
    assert "In favour" in text and "Against" in text and "Abstain" in text
    assert "Next: check my choices" in text
    for spec in (YES_NO, CHOICE, ELECTION):
        assert spec.title in text
    no_overflow(page)


def test_vote_phone_wrong_backup_code_signs_nothing(
    page: Any,
    live_server: str,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang, other = owner_cards[0], owner_cards[1]
    assert other.backup_code is not None and wang.backup_code is not None
    log_in(page, live_server, wang)
    open_meeting_page(page, live_server, voting.meeting.id, "?lang=en")
    page.click("#vote-next")
    assert "at least one motion" in page.inner_text("#form-message")
    choose(page, voting.yes_no.id, "Against")
    page.click("#vote-next")
    page.wait_for_selector("#vote-confirm:not([hidden])")
    assert "No vote now" in page.inner_text("#confirm-list")  # the motions left out
    unlock_and_submit(page, other.backup_code)
    page.wait_for_selector("#vote-message.notice-error")
    assert "does not belong to the card" in page.inner_text("#vote-message")
    page.fill("#vote-backup-code", "short")
    page.click("#vote-submit")
    page.wait_for_function(
        "document.getElementById('vote-message').textContent.includes('20 letters')"
    )
    store.rollback()
    assert store.scalars(select(Ballot)).all() == []
    # Back to change, then the right code.
    page.click("#vote-back")
    choose(page, voting.yes_no.id, "Abstain")
    page.click("#vote-next")
    assert "Abstain" in page.inner_text("#confirm-list")
    unlock_and_submit(page, wang.backup_code)
    page.wait_for_selector("#vote-receipts:not([hidden])")
    store.rollback()
    assert [b.choice for b in store.scalars(select(Ballot))] == ['"abstain"']


def test_vote_phone_shows_the_api_message_when_voting_has_closed(
    page: Any,
    live_server: str,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang = owner_cards[0]
    assert wang.backup_code is not None
    log_in(page, live_server, wang)
    open_meeting_page(page, live_server, voting.meeting.id, "?lang=en")
    choose(page, voting.yes_no.id, "In favour")
    page.click("#vote-next")
    close_meeting(store, voting.meeting, now=voting.meeting.window_closes_at)
    unlock_and_submit(page, wang.backup_code)
    page.wait_for_selector("#vote-message.notice-error")
    assert "Voting is not open for this meeting." in page.inner_text("#vote-message")
    store.rollback()
    assert store.scalars(select(Ballot)).all() == []


def _cast_directly(store: Session, app: Any, card: IssuedCard, voting: VoteMeeting) -> str:
    """A ballot cast earlier (from another device): the owner's own, on the yes/no motion."""
    row = store.get(Card, card.card_id)
    assert row is not None and card.seed is not None
    platform, key = app.config["VOTING_PLATFORM_ID"], ballot_nonce_key(app.config["SECRET_KEY"])
    challenge = ballot_challenge(store, row, voting.meeting, platform=platform, key=key)
    data = canonical_bytes(challenge.statement(voting.yes_no.id, "yes"))
    receipt = cast_ballot(
        store, data, CardKey(card.seed).sign(data), card_id=row.id, platform=platform, key=key
    )
    return receipt.ballot_hash


def test_vote_phone_change_my_vote(
    page: Any,
    app: Any,
    live_server: str,
    store: Session,
    seeded: Any,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    changing = vote_meeting(store, seeded.area, allow_vote_change=True)
    wang = owner_cards[0]
    assert wang.backup_code is not None
    first = _cast_directly(store, app, wang, changing)
    log_in(page, live_server, wang)
    open_meeting_page(page, live_server, changing.meeting.id)
    motion = f"#motion-{changing.yes_no.id}"
    assert "已投票" in page.inner_text(motion)
    assert page.is_hidden(f"#choices-{changing.yes_no.id}")
    page.click(f"{motion} button.change-vote")
    choose(page, changing.yes_no.id, "反对")
    page.click("#vote-next")
    assert "反对" in page.inner_text("#confirm-list")
    unlock_and_submit(page, wang.backup_code)
    page.wait_for_selector("#vote-receipts:not([hidden])")
    (second,) = page.eval_on_selector_all("#receipt-list a.hash", "(as) => as.map((a) => a.text)")
    store.rollback()
    counted = store.scalars(select(CountedBallot)).all()
    assert len(counted) == 1
    assert counted[0].ballot.ballot_hash == second != first
    assert counted[0].ballot.choice == json.dumps("no")


def test_vote_phone_scan_the_card_qr_code(
    page: Any,
    live_server: str,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    """Where the browser has a QR detector and a camera (stubbed here: headless Chromium on
    Linux has neither), the card's QR code unlocks the key instead of the backup code."""
    wang = owner_cards[0]
    page.add_init_script(
        """
        window.__cardLink = null;
        window.BarcodeDetector = class {
            constructor() {}
            async detect() { return window.__cardLink ? [{ rawValue: window.__cardLink }] : []; }
        };
        navigator.mediaDevices.getUserMedia = async () => {
            const canvas = document.createElement("canvas");
            canvas.width = 4; canvas.height = 4;
            canvas.getContext("2d").fillRect(0, 0, 4, 4);
            return canvas.captureStream(5);
        };
        """
    )
    log_in(page, live_server, wang)
    open_meeting_page(page, live_server, voting.meeting.id, "?lang=en")
    choose(page, voting.yes_no.id, "In favour")
    page.click("#vote-next")
    page.click("#scan-start")
    page.wait_for_selector("#scan-video:not([hidden])")
    assert wang.qr_url is not None
    page.evaluate("(url) => { window.__cardLink = url; }", wang.qr_url)
    page.wait_for_selector("#card-ready:not([hidden])")
    assert page.is_hidden("#card-unlock")
    page.click("#vote-submit")
    page.wait_for_selector("#vote-receipts:not([hidden])")
    store.rollback()
    assert [b.choice for b in store.scalars(select(Ballot))] == ['"yes"']


def test_vote_phone_proxy_votes_for_an_owner(
    page: Any,
    live_server: str,
    store: Session,
    voting: VoteMeeting,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    wang, li = owner_cards[0], owner_cards[1]
    assert wang.backup_code is not None
    granted = grant_proxy(store, voting.meeting, li, wang, {voting.yes_no.id: "no"})
    log_in(page, live_server, wang)
    open_meeting_page(page, live_server, voting.meeting.id)
    choose(page, voting.yes_no.id, "同意")  # his own vote
    proxy_election = f"p{granted.id}-{voting.election.id}"
    page.locator(f"#motion-{proxy_election} label.choice", has_text="Candidate 2").click()
    assert page.is_checked(f"#motion-p{granted.id}-{voting.yes_no.id} input[value='no']")
    page.click("#vote-next")
    confirm = page.inner_text("#confirm-list")
    assert "我本人的表决" in confirm and "代理业主 李* 表决" in confirm
    assert "反对" in confirm and "Candidate 2" in confirm
    no_overflow(page)
    unlock_and_submit(page, wang.backup_code)
    page.wait_for_selector("#vote-receipts:not([hidden])")
    assert page.locator("#receipt-list a.hash").count() == 3
    no_overflow(page)
    store.rollback()
    ballots = store.scalars(select(Ballot).order_by(Ballot.id)).all()
    li_holder = store.get(Card, li.card_id).holder_id  # type: ignore[union-attr]
    by_motion = {(b.holder_id == li_holder, b.motion_id): b for b in ballots}
    assert by_motion[(True, voting.yes_no.id)].choice == '"no"'
    assert by_motion[(True, voting.election.id)].choice == '["Candidate 2"]'
    assert by_motion[(False, voting.yes_no.id)].choice == '"yes"'
    for ballot in ballots:
        assert ballot.card_id == wang.card_id
        assert (ballot.proxy_id == granted.id) == (ballot.holder_id == li_holder)
        statement = json.loads(ballot.statement)
        assert statement.get("proxy") == (
            granted.statement_hash if ballot.holder_id == li_holder else None
        )
