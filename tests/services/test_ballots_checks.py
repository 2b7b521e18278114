"""Every check of `cast_ballot` refuses with its status, reason and message, and stores
nothing: no ballot, no counted pointer, no log entry (docs/PROTOCOL.md section 6.1)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest
from ballotkit import (
    CLOSES,
    ELECTION,
    NONCE_KEY,
    OPENS,
    PLATFORM,
    VOTING,
    YES_NO,
    VotingSetup,
    open_meeting_setup,
    sign,
    statement_for,
)
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from crypto.keys import CardKey
from crypto.statements import verify_statement
from voting.database import get_database
from voting.domain.ballot import parse_ballot
from voting.models import Ballot, Card, Channel, CountedBallot, LogEntry
from voting.services import ballots
from voting.services.ballots import (
    NONCE_LIFETIME,
    BallotRefused,
    Receipt,
    ballot_challenge,
    ballot_nonce_key,
    cast_ballot,
    voter_buildings,
)
from voting.services.cards import IssuedCard, lock_by_admin, revoke_card
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
)


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db)


def stored(db: Session) -> tuple[int, int, int]:
    """(ballots, counted ballots, log entries): a refused ballot changes none of them."""
    db.rollback()
    return tuple(  # type: ignore[return-value]
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (Ballot, CountedBallot, LogEntry)
    )


def submit(
    db: Session,
    issued: IssuedCard,
    data: bytes,
    signature: bytes,
    *,
    now: dt.datetime = VOTING,
    card_id: int | None = None,
) -> Receipt:
    return cast_ballot(
        db,
        data,
        signature,
        card_id=issued.card_id if card_id is None else card_id,
        platform=PLATFORM,
        key=NONCE_KEY,
        channel=Channel.web,
        now=now,
    )


def refused(
    db: Session, attempt: Callable[[], Any], status: int, reason: str, text: str
) -> BallotRefused:
    """Run `attempt`, expect the refusal, and check that nothing was stored."""
    before = stored(db)
    with pytest.raises(BallotRefused) as caught:
        attempt()
    assert (caught.value.status, caught.value.reason) == (status, reason), str(caught.value)
    assert text in str(caught.value)
    assert stored(db) == before
    return caught.value


def statement(
    db: Session, setup: VotingSetup, issued: IssuedCard, choice: JSONValue = "yes", **kw: Any
) -> dict[str, JSONValue]:
    return statement_for(db, setup, issued, setup.yes_no, choice, **kw)


def card_outside(db: Session, setup: VotingSetup, building: str) -> IssuedCard:
    """A card whose holder has no unit in `building`."""
    for issued in setup.cards:
        holder_id = setup.card_row(db, issued).holder_id
        if building not in voter_buildings(db, setup.meeting, holder_id):
            return issued
    raise AssertionError(f"every holder has a unit in {building}")


def forged_nonce(issued: IssuedCard, meeting: int, motion: int, time: dt.datetime) -> str:
    """A nonce exactly as the server would issue it (for motions it never issues one for)."""
    return ballots._new_nonce(NONCE_KEY, issued.number, meeting, motion, _time(time))


def _time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_ballots_checks_valid_ballot_is_accepted(db: Session, setup: VotingSetup) -> None:
    before = stored(db)
    data, signature = sign(setup.cards[0], statement(db, setup, setup.cards[0]))
    receipt = submit(db, setup.cards[0], data, signature)
    assert receipt.counted and stored(db) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_ballots_checks_forged_signature(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    flipped = signature[:5] + bytes([signature[5] ^ 1]) + signature[6:]
    refused(db, lambda: submit(db, issued, data, flipped), 401, "bad_signature", "does not verify")
    # Signed by another card's key, presented with the first card's session.
    assert setup.cards[1].seed is not None
    other = CardKey(setup.cards[1].seed).sign(data)
    refused(db, lambda: submit(db, issued, data, other), 401, "bad_signature", "does not verify")


def test_ballots_checks_another_voters_credential(db: Session, setup: VotingSetup) -> None:
    card_a, card_b = setup.cards[:2]
    theirs = statement(db, setup, card_b)
    mine = statement(db, setup, card_a)
    # Card A signs a statement naming card B's credential (and B as the voter).
    forged = dict(mine, credential=theirs["credential"], voter=theirs["voter"])
    data, signature = sign(card_a, forged)
    refused(db, lambda: submit(db, card_a, data, signature), 403, "credential", "another card")
    # B's own signed ballot presented in A's session.
    data, signature = sign(card_b, theirs)
    refused(db, lambda: submit(db, card_a, data, signature), 403, "credential", "another card")


def test_ballots_checks_voter_must_be_the_cards_holder(db: Session, setup: VotingSetup) -> None:
    card_a, card_b = setup.cards[:2]
    other_ref = statement(db, setup, card_b)["voter"]
    data, signature = sign(card_a, dict(statement(db, setup, card_a), voter=other_ref))
    refused(db, lambda: submit(db, card_a, data, signature), 403, "voter", "another voter")


@pytest.mark.parametrize("member", ["motion", "meeting"])
def test_ballots_checks_ballot_for_another_motion_or_meeting(
    db: Session, setup: VotingSetup, member: str
) -> None:
    issued = setup.cards[0]
    valid = statement(db, setup, issued)
    target = setup.election.id if member == "motion" else setup.meeting.id + 1
    data, signature = sign(issued, dict(valid, **{member: target}))
    refused(db, lambda: submit(db, issued, data, signature), 400, "unknown_nonce", "not issued")


def test_ballots_checks_ballot_of_another_meeting_replayed_here(
    db: Session, setup: VotingSetup
) -> None:
    """A ballot accepted in a second meeting, re-signed to name this meeting's motion."""
    issued = setup.cards[0]
    second = create_meeting(db, setup.area, "第二次会议", now=VOTING)
    motion = add_motion(db, second, dataclasses.replace(YES_NO, title="Another contract"))
    opens = VOTING + dt.timedelta(days=15)
    post_notice(db, second, opens, opens + dt.timedelta(days=7), VOTING)
    open_meeting(db, second, now=opens)
    at = opens + dt.timedelta(minutes=5)
    challenge = ballot_challenge(
        db, setup.card_row(db, issued), second, platform=PLATFORM, key=NONCE_KEY, now=at
    )
    theirs = challenge.statement(motion.id, "yes")
    data, signature = sign(issued, theirs)
    submit(db, issued, data, signature, now=at)
    here = dict(theirs, meeting=setup.meeting.id, motion=setup.yes_no.id)
    data, signature = sign(issued, here)
    refused(
        db, lambda: submit(db, issued, data, signature, now=at), 400, "unknown_nonce", "not issued"
    )


def test_ballots_checks_reused_nonce(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    valid = statement(db, setup, issued)
    data, signature = sign(issued, valid)
    submit(db, issued, data, signature)
    refused(db, lambda: submit(db, issued, data, signature), 409, "replayed", "already been used")
    # The same nonce with another choice, signed anew.
    again, signature = sign(issued, dict(valid, choice="no"))
    refused(db, lambda: submit(db, issued, again, signature), 409, "replayed", "already been used")


def test_ballots_checks_revoked_card(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    revoke_card(db, setup.card_row(db, issued), reason="lost", user_id=None, now=VOTING)
    refused(db, lambda: submit(db, issued, data, signature), 403, "revoked", "revoked")


def test_ballots_checks_locked_card(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    lock_by_admin(db, setup.card_row(db, issued), reason="reported lost", user_id=None, now=VOTING)
    refused(db, lambda: submit(db, issued, data, signature), 423, "locked", "locked")


def test_ballots_checks_unit_out_of_scope(db: Session, setup: VotingSetup) -> None:
    issued = card_outside(db, setup, "1号楼")
    challenge = ballot_challenge(
        db,
        setup.card_row(db, issued),
        setup.meeting,
        platform=PLATFORM,
        key=NONCE_KEY,
        now=VOTING,
    )
    assert setup.choice.id not in challenge.nonces  # never offered
    valid = challenge.statement(setup.yes_no.id, "yes")
    nonce = forged_nonce(issued, setup.meeting.id, setup.choice.id, VOTING)
    data, signature = sign(
        issued, dict(valid, motion=setup.choice.id, choice="Contractor A", nonce=nonce)
    )
    refused(db, lambda: submit(db, issued, data, signature), 403, "scope", "scope")


def test_ballots_checks_before_open(db: Session, setup: VotingSetup) -> None:
    """A meeting whose notice is posted but whose voting has not opened."""
    issued = setup.cards[0]
    noticed = create_meeting(db, setup.area, "第二次会议", now=VOTING)
    motion = add_motion(db, noticed, dataclasses.replace(ELECTION, title="Another election"))
    opens = VOTING + dt.timedelta(days=15)
    post_notice(db, noticed, opens, opens + dt.timedelta(days=7), VOTING)
    with pytest.raises(BallotRefused) as caught:
        ballot_challenge(
            db, setup.card_row(db, issued), noticed, platform=PLATFORM, key=NONCE_KEY, now=VOTING
        )
    assert (caught.value.status, caught.value.reason) == (409, "not_open")
    valid = statement(db, setup, issued, ["Candidate 1"])
    nonce = forged_nonce(issued, noticed.id, motion.id, VOTING)
    data, signature = sign(issued, dict(valid, meeting=noticed.id, motion=motion.id, nonce=nonce))
    refused(db, lambda: submit(db, issued, data, signature), 409, "not_open", "noticed, not open")


def test_ballots_checks_after_the_window_closes(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    late = CLOSES - dt.timedelta(minutes=1)
    data, signature = sign(issued, statement(db, setup, issued, now=late))
    refused(db, lambda: submit(db, issued, data, signature, now=CLOSES), 409, "closed", "has ended")
    with pytest.raises(BallotRefused) as caught:
        statement(db, setup, issued, now=CLOSES)
    assert (caught.value.status, caught.value.reason) == (409, "closed")


def test_ballots_checks_after_close_meeting(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    late = CLOSES - dt.timedelta(minutes=1)
    data, signature = sign(issued, statement(db, setup, issued, now=late))
    close_meeting(db, setup.meeting, now=CLOSES)
    refused(
        db,
        lambda: submit(db, issued, data, signature, now=CLOSES - dt.timedelta(seconds=30)),
        409,
        "not_open",
        "closed, not open",
    )


def test_ballots_checks_wrong_platform(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, dict(statement(db, setup, issued), platform="evil.example"))
    refused(db, lambda: submit(db, issued, data, signature), 400, "platform", "another platform")


def test_ballots_checks_wrong_roll_hash(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, dict(statement(db, setup, issued), roll="ab" * 32))
    refused(db, lambda: submit(db, issued, data, signature), 400, "roll", "another owner roll")


def test_ballots_checks_wrong_area(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, dict(statement(db, setup, issued), area="OTHER"))
    refused(db, lambda: submit(db, issued, data, signature), 400, "area", "another property area")


def test_ballots_checks_expired_nonce(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    later = VOTING + NONCE_LIFETIME + dt.timedelta(seconds=1)
    refused(db, lambda: submit(db, issued, data, signature, now=later), 410, "expired", "expired")
    # Exactly at the end of its lifetime it is still accepted.
    assert submit(db, issued, data, signature, now=VOTING + NONCE_LIFETIME).counted


def test_ballots_checks_time_in_the_future(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    before = VOTING - dt.timedelta(seconds=1)
    refused(db, lambda: submit(db, issued, data, signature, now=before), 400, "malformed", "future")


def test_ballots_checks_time_before_the_window(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    early = OPENS - dt.timedelta(minutes=1)
    valid = statement(db, setup, issued)
    nonce = forged_nonce(issued, setup.meeting.id, setup.yes_no.id, early)
    data, signature = sign(issued, dict(valid, time=_time(early), nonce=nonce))
    refused(db, lambda: submit(db, issued, data, signature), 410, "expired", "expired")


@pytest.mark.parametrize(
    ("change", "reason", "text"),
    [
        ({"meeting": "1"}, "malformed", "'meeting' must be a positive integer"),
        ({"motion": 0}, "malformed", "'motion' must be a positive integer"),
        ({"choice": 1}, "choice", "choice must be"),
        ({"choice": None}, "choice", "choice must be"),
        ({"nonce": "AB" * 16}, "malformed", "'nonce' is malformed"),
        ({"time": "2026-12-16 03:00:00"}, "malformed", "not of the form"),
        ({"extra": "x"}, "malformed", "unknown members: extra"),
        ({"type": "login"}, "malformed", "not a ballot"),
        ({"proxy": "zz"}, "malformed", "'proxy' is malformed"),
    ],
)
def test_ballots_checks_wrong_members(
    db: Session, setup: VotingSetup, change: dict[str, Any], reason: str, text: str
) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, dict(statement(db, setup, issued), **change))
    refused(db, lambda: submit(db, issued, data, signature), 400, reason, text)


@pytest.mark.parametrize("member", ["choice", "nonce", "credential", "time", "type"])
def test_ballots_checks_missing_member(db: Session, setup: VotingSetup, member: str) -> None:
    issued = setup.cards[0]
    valid = statement(db, setup, issued)
    del valid[member]
    data, signature = sign(issued, valid)
    text = "not a ballot" if member == "type" else f"members missing: {member}"
    refused(db, lambda: submit(db, issued, data, signature), 400, "malformed", text)


@pytest.mark.parametrize("form", ["spaces", "unsorted", "escaped", "trailing newline", "bom"])
def test_ballots_checks_non_canonical_bytes(db: Session, setup: VotingSetup, form: str) -> None:
    issued = setup.cards[0]
    valid = statement(db, setup, issued)
    data = canonical_bytes(valid)
    damaged = {
        "spaces": data.replace(b'":', b'": '),
        "unsorted": b"{" + b",".join(reversed(data[1:-1].split(b","))) + b"}",
        "escaped": data.replace(b'"ballot"', b'"b\\u0061llot"'),
        "trailing newline": data + b"\n",
        "bom": b"\xef\xbb\xbf" + data,
    }[form]
    assert issued.seed is not None
    signature = CardKey(issued.seed).sign(damaged)
    refused(db, lambda: submit(db, issued, damaged, signature), 400, "malformed", "malformed")


@pytest.mark.parametrize("size", [0, 63, 65])
def test_ballots_checks_signature_of_wrong_length(
    db: Session, setup: VotingSetup, size: int
) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    wrong = (signature * 2)[:size]
    refused(db, lambda: submit(db, issued, data, wrong), 400, "malformed", "64 bytes")


def test_ballots_checks_statement_too_large_or_empty(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    valid = statement(db, setup, issued, "yes")
    data, signature = sign(issued, dict(valid, choice="x" * 70_000))
    refused(db, lambda: submit(db, issued, data, signature), 400, "malformed", "too large")
    refused(db, lambda: submit(db, issued, b"", signature), 400, "malformed", "empty")


def test_ballots_checks_invalid_choice_for_the_motion(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    election = statement_for(db, setup, issued, setup.election, ["Candidate 1", "Candidate 9"])
    data, signature = sign(issued, election)
    refused(db, lambda: submit(db, issued, data, signature), 400, "choice", "not a candidate")
    too_many = statement_for(
        db, setup, issued, setup.election, ["Candidate 1", "Candidate 2", "Candidate 3"]
    )
    data, signature = sign(issued, too_many)
    refused(db, lambda: submit(db, issued, data, signature), 400, "choice", "seats")


def test_ballots_checks_no_such_card(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    refused(
        db,
        lambda: submit(db, issued, data, signature, card_id=10_000_000),
        403,
        "card",
        "no card",
    )


def test_ballots_checks_one_counted_ballot(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued, "yes"))
    submit(db, issued, data, signature)
    data, signature = sign(issued, statement(db, setup, issued, "no"))
    refused(
        db,
        lambda: submit(db, issued, data, signature),
        409,
        "already_voted",
        "already been cast",
    )


@pytest.mark.parametrize("action", ["lock", "revoke"])
def test_ballots_checks_card_changed_in_another_session(
    app: Any, db: Session, setup: VotingSetup, action: str
) -> None:
    """The card's state is read afresh in the ballot's transaction, not taken from what the
    session loaded before (as a request does when it checks the login)."""
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    before = stored(db)
    held = setup.card_row(db, issued)  # loaded and held, as the request's login check does
    assert held.locked_at is None
    change = lock_by_admin if action == "lock" else revoke_card
    with get_database(app).sessionmaker() as other:
        card = other.get(Card, issued.card_id)
        assert card is not None
        change(other, card, reason="reported lost", user_id=None, now=VOTING)
    with pytest.raises(BallotRefused) as caught:
        submit(db, issued, data, signature)
    expected = (423, "locked") if action == "lock" else (403, "revoked")
    assert (caught.value.status, caught.value.reason) == expected
    assert stored(db) == (before[0], before[1], before[2] + 1)  # only the card's log entry


def test_ballots_checks_certificate_must_match_the_card(db: Session, setup: VotingSetup) -> None:
    """A card row whose key no longer matches its certificate (a damaged record) refuses."""
    issued = setup.cards[0]
    data, signature = sign(issued, statement(db, setup, issued))
    db.execute(update(Card).where(Card.id == issued.card_id).values(public_key="00" * 32))
    db.commit()
    refused(db, lambda: submit(db, issued, data, signature), 403, "certificate", "does not match")


def test_ballots_checks_certificate_not_yet_valid(db: Session, setup: VotingSetup) -> None:
    issued = setup.cards[0]
    early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # before the card was issued
    data, signature = sign(issued, statement(db, setup, issued))
    refused(
        db, lambda: submit(db, issued, data, signature, now=early), 403, "certificate", "not valid"
    )


def test_ballots_checks_protocol_vector() -> None:
    """The nonce and ballot vector of docs/PROTOCOL.md section 6.1."""
    key = ballot_nonce_key("example-secret-key")
    assert key.hex() == "cef2eb13b69bd689186cb1d71acbbbff97819a8ce232efd218dd6dd3931ddb7f"
    time = "2026-12-16T03:00:00Z"
    nonce = "0001020304050607d566d1a958af3d3a"
    head = bytes(range(8))
    mac = hmac.new(
        key,
        b"\n".join([b"ballot-nonce/v1", head, b"NHXY-000001", b"1", b"2", time.encode()]),
        hashlib.sha256,
    ).digest()[:8]
    assert (head + mac).hex() == nonce
    assert ballots._nonce_is_ours(key, nonce, "NHXY-000001", 1, 2, time)
    assert not ballots._nonce_is_ours(key, nonce, "NHXY-000001", 1, 3, time)
    data = (
        b'{"area":"110101-001","choice":["Candidate 1","Candidate 3"],"credential":'
        b'"3a0b48c50deea7c49f35a6dd00de9a7ee7c960755dee66120a3fce4d6c79b243","meeting":1,'
        b'"motion":2,"nonce":"0001020304050607d566d1a958af3d3a","platform":"vote.example.org",'
        b'"roll":"967d8d709d82a9a68517eb651fc764fa5ce4e02de5156c75ce2b7be4945c7719",'
        b'"time":"2026-12-16T03:00:00Z","type":"ballot","voter":"h-7f3a9c21"}'
    )
    signature = bytes.fromhex(
        "894cb215400ca253ff78f35b9bf46093adfc1f40f548e9a4a920653799003e51"
        "ff56279856ac00453e0c72c5dad3f7af8beefebc7fa19c5c2ee9db1c3f6f080c"
    )
    card_key = CardKey(bytes(range(32)))
    statement = verify_statement(card_key.public_key, data, signature, expected_type="ballot")
    parsed = parse_ballot(statement)
    assert (parsed.meeting, parsed.motion, parsed.nonce) == (1, 2, nonce)
    assert card_key.sign(data) == signature
    assert hashlib.sha256(data).hexdigest() == (
        "272be48177dc8a010e78c0fae2a0d3d6a3b29ce3caa3b0f205b7265d6ebc4db9"
    )
