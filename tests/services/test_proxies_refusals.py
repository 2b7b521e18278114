"""Proxy authorisations that must be refused with nothing stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from ballotkit import (
    CLOSES,
    NONCE_KEY,
    OPENS,
    PLATFORM,
    VOTING,
    VotingSetup,
    open_meeting_setup,
    sign,
)
from proxykit import authorise, card_of, proxy_statement, submit
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from voting.models import Card, CardStatus, LogEntry, Meeting, Proxy
from voting.services.meetings import close_meeting, create_meeting
from voting.services.proxies import ProxyRefused, authorise_proxy, proxy_challenge, withdraw_proxy


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db, proxy_cap=2)


def _stored(db: Session) -> tuple[int, int]:
    db.rollback()
    proxies = db.scalar(select(func.count()).select_from(Proxy)) or 0
    entries = db.scalar(select(func.count()).select_from(LogEntry)) or 0
    return proxies, entries


def _refused(
    db: Session,
    setup: VotingSetup,
    edit: Callable[[dict[str, JSONValue]], Any],
    *,
    signer: str | None = None,
    now: dt.datetime = VOTING,
    issued_at: dt.datetime = VOTING,
) -> ProxyRefused:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    statement = proxy_statement(db, setup, wang, li.holder_ref, now=issued_at)
    edit(statement)
    before = _stored(db)
    with pytest.raises(ProxyRefused) as refused:
        submit(db, wang, statement, signer=card_of(setup, signer) if signer else None, now=now)
    assert _stored(db) == before
    return refused.value


def _set(name: str, value: JSONValue) -> Callable[[dict[str, JSONValue]], None]:
    def edit(statement: dict[str, JSONValue]) -> None:
        statement[name] = value

    return edit


def _keep(_statement: dict[str, JSONValue]) -> None:
    return None


CHANGED_MEMBERS: list[tuple[str, JSONValue, int, str]] = [
    ("platform", "other.example.org", 400, "platform"),
    ("area", "OTHER", 400, "area"),
    ("roll", "0" * 64, 400, "roll"),
    ("credential", "0" * 64, 403, "credential"),
    ("nonce", "0" * 32, 400, "unknown_nonce"),
    ("meeting", 99999, 400, "unknown_nonce"),  # the nonce binds the meeting
    ("proxy", "HNOSUCHREF", 404, "unknown_proxy"),
    ("type", "ballot", 400, "malformed"),
    ("instructions", {"1": "yes", "x": "no"}, 400, "malformed"),
]


def test_proxies_refuses_a_changed_member(db: Session, setup: VotingSetup) -> None:
    for name, value, status, reason in CHANGED_MEMBERS:
        refusal = _refused(db, setup, _set(name, value))
        assert (refusal.status, refusal.reason) == (status, reason), name


def test_proxies_refuses_a_forged_signature(db: Session, setup: VotingSetup) -> None:
    refusal = _refused(db, setup, _keep, signer="陈静")
    assert (refusal.status, refusal.reason) == (401, "bad_signature")


def test_proxies_refuses_the_owner_as_proxy(db: Session, setup: VotingSetup) -> None:
    owner = card_of(setup, "王伟").holder_ref
    refusal = _refused(db, setup, _set("proxy", owner))
    assert (refusal.status, refusal.reason) == (400, "malformed")


def test_proxies_refuses_another_owner(db: Session, setup: VotingSetup) -> None:
    chen = card_of(setup, "陈静").holder_ref
    refusal = _refused(db, setup, _set("owner", chen))
    assert (refusal.status, refusal.reason) == (403, "owner")


def test_proxies_refuses_an_expired_nonce(db: Session, setup: VotingSetup) -> None:
    refusal = _refused(db, setup, _keep, now=VOTING + dt.timedelta(minutes=16))
    assert (refusal.status, refusal.reason) == (410, "expired")


def test_proxies_refuses_a_time_in_the_future(db: Session, setup: VotingSetup) -> None:
    refusal = _refused(db, setup, _keep, now=VOTING - dt.timedelta(seconds=1))
    assert (refusal.status, refusal.reason) == (400, "malformed")


def test_proxies_refuses_after_the_window(db: Session, setup: VotingSetup) -> None:
    last = CLOSES - dt.timedelta(minutes=1)
    refusal = _refused(db, setup, _keep, now=CLOSES, issued_at=last)
    assert (refusal.status, refusal.reason) == (409, "closed")


@pytest.mark.parametrize(
    ("instructions", "reason"),
    [
        ({"yes_no": "maybe"}, "instruction"),
        ({"election": ["Candidate 2", "Candidate 1"]}, "instruction"),
        ({"other": "yes"}, "instruction"),
    ],
)
def test_proxies_refuses_instructions_that_cannot_be_followed(
    db: Session, setup: VotingSetup, instructions: dict[str, JSONValue], reason: str
) -> None:
    ids = {"yes_no": setup.yes_no.id, "election": setup.election.id, "other": 99999}
    wanted = {str(ids[name]): choice for name, choice in instructions.items()}
    refusal = _refused(db, setup, _set("instructions", wanted))
    assert (refusal.status, refusal.reason) == (400, reason)


def test_proxies_refuses_instruction_outside_the_owners_scope(
    db: Session, setup: VotingSetup
) -> None:
    # Zhao owns in building 10 only; the choice motion concerns building 1.
    zhao, li = card_of(setup, "赵磊"), card_of(setup, "李娜")
    statement = proxy_statement(db, setup, zhao, li.holder_ref, {setup.choice.id: "Contractor A"})
    with pytest.raises(ProxyRefused) as refused:
        submit(db, zhao, statement)
    assert refused.value.reason == "instruction"
    assert "not one the owner may vote on" in str(refused.value)


def test_proxies_refuses_a_replayed_statement(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    statement = proxy_statement(db, setup, wang, li.holder_ref)
    submit(db, wang, statement)
    withdraw_proxy(db, setup.meeting.id, card_id=wang.card_id, now=VOTING)
    before = _stored(db)
    with pytest.raises(ProxyRefused) as refused:
        submit(db, wang, statement)
    assert (refused.value.status, refused.value.reason) == (409, "replayed")
    assert _stored(db) == before


def test_proxies_refuses_a_revoked_card(db: Session, setup: VotingSetup) -> None:
    wang = card_of(setup, "王伟")

    def revoke(_statement: dict[str, JSONValue]) -> None:
        db.execute(update(Card).where(Card.id == wang.card_id).values(status=CardStatus.revoked))
        db.commit()

    refusal = _refused(db, setup, revoke)
    assert (refusal.status, refusal.reason) == (403, "revoked")


def test_proxies_refuses_a_locked_card(db: Session, setup: VotingSetup) -> None:
    wang = card_of(setup, "王伟")

    def lock(_statement: dict[str, JSONValue]) -> None:
        db.execute(update(Card).where(Card.id == wang.card_id).values(locked_at=VOTING))
        db.commit()

    refusal = _refused(db, setup, lock)
    assert (refusal.status, refusal.reason) == (423, "locked")


def test_proxies_refuses_bad_bytes(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    statement = proxy_statement(db, setup, wang, li.holder_ref)
    data, signature = sign(wang, statement)
    spaced = data.replace(b",", b", ", 1)
    cases: list[tuple[bytes, bytes, str]] = [
        (b"", signature, "malformed"),
        (spaced, signature, "malformed"),  # not canonical
        (b"x" * (64 * 1024 + 1), signature, "malformed"),
        (data, signature[:63], "malformed"),
        (canonical_bytes({"type": "proxy"}), signature, "malformed"),
    ]
    for raw, sig, reason in cases:
        with pytest.raises(ProxyRefused) as refused:
            authorise_proxy(
                db, raw, sig, card_id=wang.card_id, platform=PLATFORM, key=NONCE_KEY, now=VOTING
            )
        assert (refused.value.status, refused.value.reason) == (400, reason)
    # Another server's nonce key.
    with pytest.raises(ProxyRefused) as refused:
        authorise_proxy(
            db, data, signature, card_id=wang.card_id, platform=PLATFORM, key=b"k" * 32, now=VOTING
        )
    assert refused.value.reason == "unknown_nonce"
    assert _stored(db)[0] == 0


def test_proxies_challenge_refusals(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    card = setup.card_row(db, wang)

    def challenge(meeting: Meeting, now: dt.datetime = VOTING) -> ProxyRefused:
        with pytest.raises(ProxyRefused) as refused:
            proxy_challenge(db, card, meeting, platform=PLATFORM, key=NONCE_KEY, now=now)
        return refused.value

    draft = create_meeting(db, setup.area, "Draft", now=OPENS)
    assert challenge(draft).reason == "not_open"
    assert challenge(setup.meeting, CLOSES).reason == "closed"
    authorise(db, setup, wang, li.holder_ref)
    assert challenge(setup.meeting).reason == "already_authorised"
    close_meeting(db, setup.meeting, now=CLOSES)
    db.refresh(setup.meeting)
    assert challenge(setup.meeting, CLOSES).reason == "not_open"


def test_proxies_refused_for_a_closed_meeting(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    statement = proxy_statement(
        db, setup, wang, li.holder_ref, now=CLOSES - dt.timedelta(minutes=1)
    )
    close_meeting(db, setup.meeting, now=CLOSES)
    with pytest.raises(ProxyRefused) as refused:
        submit(db, wang, statement, now=CLOSES)
    assert (refused.value.status, refused.value.reason) == (409, "not_open")
    with pytest.raises(ProxyRefused) as refused:
        withdraw_proxy(db, setup.meeting.id, card_id=wang.card_id, now=CLOSES)
    assert refused.value.reason == "not_open"
