"""Card login through the service: challenges, signed login statements, PIN and limits.

Real cards (issued by the cards service from a real roll), real signatures with the card
seed, a real database; every refusal is checked against the database state it leaves.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.database import get_database
from voting.demo import DEMO_PATH
from voting.models import Card, LoginChallenge, utcnow
from voting.services.card_login import (
    CHALLENGE_LIFETIME,
    MAX_CHALLENGES_PER_CARD,
    RATE_WINDOW,
    Challenge,
    LoginRefused,
    issue_challenge,
    log_in_with_card,
    owner_units,
)
from voting.services.cards import IssuedCard, issue_cards, revoke_card
from voting.services.roll import import_roll
from voting.services.tenancy import ensure_property_area

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
PLATFORM = "vote.example.org"
ADDRESS = "203.0.113.7"
PATH = DEMO_PATH


@pytest.fixture
def issued(db: Session) -> list[IssuedCard]:
    area = ensure_property_area(db, PATH)
    db.commit()
    import_roll(db, area, "roll.csv", SAMPLE.read_bytes(), "key", expected_base_version=None)
    return issue_cards(db, area, CardKey(bytes(range(32, 64))), base_url="https://vote.example")


def sign(issued: IssuedCard, statement: dict[str, Any]) -> tuple[bytes, bytes]:
    data = canonical_bytes(statement)
    assert issued.seed is not None
    return data, CardKey(issued.seed).sign(data)


def challenge(db: Session, issued: IssuedCard, **kwargs: Any) -> Challenge:
    return issue_challenge(db, issued.number, ADDRESS, platform=PLATFORM, **kwargs)


def answer(db: Session, issued: IssuedCard, pin: str | None = None, **kwargs: Any) -> Card:
    data, signature = sign(issued, challenge(db, issued).statement())
    return log_in_with_card(db, data, signature, issued.pin if pin is None else pin, **kwargs)


def state(db: Session) -> dict[str, Any]:
    """What a login may change: the cards' counters and locks, and the challenges' use."""
    db.rollback()
    cards = db.execute(select(Card.number, Card.failed_pins, Card.locked_at, Card.status))
    challenges = db.execute(select(LoginChallenge.nonce, LoginChallenge.used_at))
    return {
        "cards": sorted(tuple(row) for row in cards),
        "used": {nonce: used is not None for nonce, used in challenges},
    }


def refused(db: Session, data: bytes, signature: bytes, pin: str, reason: str) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        log_in_with_card(db, data, signature, pin, platform=PLATFORM)
    assert caught.value.reason == reason, caught.value
    return caught.value


def test_card_login_succeeds_and_uses_the_challenge(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    issued_challenge = challenge(db, first)
    assert issued_challenge.statement() == {
        "type": "login",
        "platform": PLATFORM,
        "card_number": first.number,
        "nonce": issued_challenge.nonce,
        "time": issued_challenge.time,
    }
    data, signature = sign(first, issued_challenge.statement())
    card = log_in_with_card(db, data, signature, first.pin, platform=PLATFORM)
    assert card.id == first.card_id
    after = state(db)
    assert after["used"] == {issued_challenge.nonce: True}
    assert all(failed == 0 for _n, failed, _l, _s in after["cards"])
    # The same answer again: the challenge is spent.
    refused(db, data, signature, first.pin, "used_challenge")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "ballot"}, "malformed"),
        ({"platform": "other.example.org"}, "malformed"),
        ({"nonce": "00" * 16}, "unknown_challenge"),
        ({"nonce": "AB" * 16}, "malformed"),
        ({"time": "2000-01-01T00:00:00Z"}, "malformed"),
        ({"extra": "x"}, "malformed"),
        ({"card_number": None}, "malformed"),
    ],
)
def test_card_login_wrong_fields_are_refused(
    db: Session, issued: list[IssuedCard], change: dict[str, Any], reason: str
) -> None:
    first = issued[0]
    statement = dict(challenge(db, first).statement(), **change)
    statement = {key: value for key, value in statement.items() if value is not None}
    before = state(db)
    data, signature = sign(first, statement)
    refused(db, data, signature, first.pin, reason)
    after = state(db)
    assert after["cards"] == before["cards"]
    # A statement that names its challenge spends it; one refused by its form changes nothing.
    assert list(after["used"].values()) == ["time" in change]


def test_card_login_statement_for_another_card_is_refused(
    db: Session, issued: list[IssuedCard]
) -> None:
    first, second = issued[:2]
    statement = dict(challenge(db, first).statement(), card_number=second.number)
    data, signature = sign(second, statement)
    before = state(db)
    refused(db, data, signature, second.pin, "malformed")
    assert state(db)["cards"] == before["cards"]


@pytest.mark.parametrize("text", ["spaces", "unsorted", "escaped"])
def test_card_login_non_canonical_bytes_are_refused(
    db: Session, issued: list[IssuedCard], text: str
) -> None:
    first = issued[0]
    statement = challenge(db, first).statement()
    canonical = canonical_bytes(statement)
    data = {
        "spaces": canonical.replace(b",", b", "),
        "unsorted": b"{"
        + b",".join(f'"{k}":"{v}"'.encode() for k, v in reversed(sorted(statement.items())))
        + b"}",
        "escaped": canonical.replace(b'"login"', b'"\\u006cogin"'),
    }[text]
    assert data != canonical
    assert first.seed is not None
    before = state(db)
    refused(db, data, CardKey(first.seed).sign(data), first.pin, "malformed")
    assert state(db) == before  # nothing at all: not even the challenge


def test_card_login_bad_signatures_leave_the_pin_counter(
    db: Session, issued: list[IssuedCard]
) -> None:
    first, second = issued[:2]
    for make in (
        lambda data, sig: sig[:63],  # truncated
        lambda data, sig: bytes([sig[0] ^ 1]) + sig[1:],  # altered
        lambda data, sig: sign(second, {"x": "y", "type": "login"})[1],  # other message
        lambda data, sig: CardKey(second.seed).sign(data),  # type: ignore[arg-type]
        lambda data, sig: b"",
    ):
        issued_challenge = challenge(db, first)
        data, signature = sign(first, issued_challenge.statement())
        before = state(db)
        refused(db, data, make(data, signature), "000000", "bad_signature")
        after = state(db)
        assert after["cards"] == before["cards"]
        assert after["used"][issued_challenge.nonce] is True


def test_card_login_stale_challenge_is_refused(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    past = utcnow() - CHALLENGE_LIFETIME - dt.timedelta(seconds=1)
    data, signature = sign(first, challenge(db, first, now=past).statement())
    before = state(db)
    refused(db, data, signature, first.pin, "expired_challenge")
    assert state(db)["cards"] == before["cards"]


def test_card_login_revoked_card_is_refused(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    data, signature = sign(first, challenge(db, first).statement())
    card = db.get(Card, first.card_id)
    assert card is not None
    revoke_card(db, card, reason="lost", user_id=None)
    before = state(db)
    refused(db, data, signature, first.pin, "revoked")
    assert state(db)["cards"] == before["cards"]


def test_card_login_expired_certificate_is_refused(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    later = utcnow() + dt.timedelta(days=3651)
    data, signature = sign(first, challenge(db, first, now=later).statement())
    with pytest.raises(LoginRefused) as caught:
        log_in_with_card(db, data, signature, first.pin, platform=PLATFORM, now=later)
    assert caught.value.reason == "certificate"


def test_card_login_wrong_pins_count_and_lock(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    wrong = "000000" if first.pin != "000000" else "111111"
    for remaining in (4, 3, 2, 1, 0):
        with pytest.raises(LoginRefused) as caught:
            answer(db, first, wrong, platform=PLATFORM)
        assert (caught.value.reason, caught.value.remaining) == ("wrong_pin", remaining)
    card = db.get(Card, first.card_id)
    db.refresh(card)
    assert card is not None and card.failed_pins == 5 and card.locked_at is not None
    with pytest.raises(LoginRefused) as caught:
        answer(db, first, platform=PLATFORM)  # the right PIN no longer helps
    assert caught.value.reason == "locked"
    db.refresh(card)
    assert card.failed_pins == 5


def test_card_login_right_pin_resets_the_counter(db: Session, issued: list[IssuedCard]) -> None:
    first = issued[0]
    wrong = "000000" if first.pin != "000000" else "111111"
    with pytest.raises(LoginRefused):
        answer(db, first, wrong, platform=PLATFORM)
    answer(db, first, platform=PLATFORM)
    card = db.get(Card, first.card_id)
    db.refresh(card)
    assert card is not None and card.failed_pins == 0


def test_card_login_parallel_wrong_pins_lock_exactly_once(
    app: Any, db: Session, issued: list[IssuedCard]
) -> None:
    first = issued[0]
    wrong = "000000" if first.pin != "000000" else "111111"
    answers = [sign(first, challenge(db, first).statement()) for _ in range(8)]
    outcomes: list[tuple[str, int | None]] = []
    barrier = threading.Barrier(len(answers))

    def attempt(data: bytes, signature: bytes) -> None:
        with get_database(app).sessionmaker() as own:
            barrier.wait()
            try:
                log_in_with_card(own, data, signature, wrong, platform=PLATFORM)
            except LoginRefused as exc:
                outcomes.append((exc.reason, exc.remaining))

    threads = [threading.Thread(target=attempt, args=pair) for pair in answers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrongs = sorted(remaining for reason, remaining in outcomes if reason == "wrong_pin")
    assert wrongs == [0, 1, 2, 3, 4]
    assert [reason for reason, _r in outcomes].count("locked") == 3
    card = db.get(Card, first.card_id)
    db.refresh(card)
    assert card is not None and card.failed_pins == 5 and card.locked_at is not None
    assert all(state(db)["used"].values())


def test_card_login_parallel_answers_to_one_challenge(
    app: Any, db: Session, issued: list[IssuedCard]
) -> None:
    first = issued[0]
    data, signature = sign(first, challenge(db, first).statement())
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        with get_database(app).sessionmaker() as own:
            barrier.wait()
            try:
                log_in_with_card(own, data, signature, first.pin, platform=PLATFORM)
                results.append("ok")
            except LoginRefused as exc:
                results.append(exc.reason)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "used_challenge", "used_challenge", "used_challenge"]


def test_card_login_challenges_are_rate_limited_per_card(
    db: Session, issued: list[IssuedCard]
) -> None:
    first, second = issued[:2]
    start = utcnow()
    for _ in range(MAX_CHALLENGES_PER_CARD):
        challenge(db, first, now=start)
    with pytest.raises(LoginRefused) as caught:
        challenge(db, first, now=start)
    assert caught.value.reason == "rate_limited"
    challenge(db, second, now=start)  # other cards are not affected
    # After the window the old challenges are cleaned up and new ones are issued again.
    challenge(db, first, now=start + RATE_WINDOW + dt.timedelta(seconds=1))
    count = db.scalar(select(func.count()).select_from(LoginChallenge))
    assert count == 1


def test_card_login_challenges_are_rate_limited_per_address(
    db: Session, issued: list[IssuedCard]
) -> None:
    for card in issued[:3]:
        challenge(db, card, max_per_address=3)
    with pytest.raises(LoginRefused) as caught:
        challenge(db, issued[3], max_per_address=3)
    assert caught.value.reason == "rate_limited"
    issue_challenge(db, issued[3].number, "198.51.100.1", platform=PLATFORM, max_per_address=3)


def test_card_login_unknown_card_gets_no_challenge(db: Session, issued: list[IssuedCard]) -> None:
    with pytest.raises(LoginRefused) as caught:
        issue_challenge(db, "NHXY-999999", ADDRESS, platform=PLATFORM)
    assert caught.value.reason == "unknown_card"
    assert db.scalar(select(func.count()).select_from(LoginChallenge)) == 0


def test_card_login_owner_units(db: Session, issued: list[IssuedCard]) -> None:
    wang = next(card for card in issued if card.holder_name == "王伟")
    card = db.get(Card, wang.card_id)
    assert card is not None
    version, units = owner_units(db, card)
    assert version is not None and version.number == 1
    assert [(u.building, u.number, u.area_centi) for u in units] == [
        ("1号楼", "1-101", 8950),
        ("1号楼", "1-102", 12005),
        ("地下车库", "B1-001", 1250),
    ]
