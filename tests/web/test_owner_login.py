"""Card login over HTTP and the owner's page: status codes, messages, sessions, DB state.

Helpers used by other web tests too:

    owner_cards (fixture)                 cards issued to area A's holders (sample roll)
    card_login(client, card, pin=None)    challenge + signed statement + PIN → the response
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.models import Card, LoginChallenge, WebSession
from voting.services.cards import IssuedCard, issue_cards, load_issuer, revoke_card
from voting.services.roll import import_roll

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
JSON = "application/json"


@pytest.fixture
def owner_cards(app: Any, store: Session, seeded: Any) -> list[IssuedCard]:
    import_roll(store, seeded.area, "roll.csv", SAMPLE.read_bytes(), "key", expected_base_version=2)
    return issue_cards(store, seeded.area, load_issuer(app), base_url="http://localhost")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def csrf_header(client: Any, lang: str = "en") -> dict[str, str]:
    html = client.get(f"/card?lang={lang}").get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, "the card page has no CSRF meta tag"
    return {"X-CSRFToken": match.group(1), "Accept": JSON}


def get_challenge(client: Any, number: str, headers: dict[str, str]) -> Any:
    return client.post("/card/challenge", json={"card": number}, headers=headers)


def signed(
    card: IssuedCard, statement: dict[str, Any], seed: bytes | None = None
) -> tuple[str, str]:
    data = canonical_bytes(statement)
    key = CardKey(seed or card.seed or b"")
    return b64(data), b64(key.sign(data))


def login_payload(card: IssuedCard, statement: dict[str, Any], pin: str | None = None) -> Any:
    data, signature = signed(card, statement)
    return {"statement": data, "signature": signature, "pin": pin or card.pin}


def card_login(client: Any, card: IssuedCard, pin: str | None = None) -> Any:
    headers = csrf_header(client)
    reply = get_challenge(client, card.number, headers)
    assert reply.status_code == 200, reply.get_json()
    payload = login_payload(card, reply.get_json()["statement"], pin)
    return client.post("/card/login", json=payload, headers=headers)


def wrong_pin(card: IssuedCard) -> str:
    return "000000" if card.pin != "000000" else "111111"


def snapshot(store: Session) -> dict[str, Any]:
    store.rollback()  # a fresh transaction sees what the requests committed
    return {
        "cards": sorted(
            tuple(row) for row in store.execute(select(Card.id, Card.failed_pins, Card.locked_at))
        ),
        "used": sorted(
            store.scalars(select(LoginChallenge.nonce).where(LoginChallenge.used_at.is_not(None)))
        ),
        "sessions": store.scalars(
            select(WebSession.card_id).where(WebSession.card_id.is_not(None))
        ).all(),
    }


def test_owner_login_and_home_page(
    client: Any, owner_cards: list[IssuedCard], store: Session
) -> None:
    wang = owner_cards[0]
    assert wang.holder_name == "王伟"
    client.get("/card")  # an anonymous session with a CSRF token
    anonymous_cookie = client.get_cookie("session")
    response = card_login(client, wang)
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/owner"}
    assert response.headers["Cache-Control"] == "no-store"
    # The login runs under a fresh token, bound to the card.
    assert client.get_cookie("session").value != anonymous_cookie.value
    rows = store.scalars(select(WebSession).where(WebSession.card_id.is_not(None))).all()
    assert [(row.card_id, row.user_id) for row in rows] == [(wang.card_id, None)]
    html = client.get("/owner?lang=zh_CN").get_data(as_text=True)
    assert "王*" in html and "王伟" not in html
    assert "1-101" in html and "1-102" in html and "89.50" in html
    assert wang.number in html
    assert "1-201" not in html  # another holder's unit


def test_owner_logout(client: Any, owner_cards: list[IssuedCard], form_token: Any) -> None:
    assert card_login(client, owner_cards[0]).status_code == 200
    token = form_token(client, "/owner")
    response = client.post("/owner/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/card"
    assert client.get("/owner").headers["Location"] == "/card"


def test_owner_session_is_not_a_staff_session(
    client: Any, owner_cards: list[IssuedCard], login: Any
) -> None:
    assert card_login(client, owner_cards[0]).status_code == 200
    assert client.get("/home").headers["Location"].startswith("/login?next=")
    # A staff login replaces the owner's login entirely.
    assert login(client, "committee_admin").status_code == 302
    assert client.get("/home").status_code == 200
    assert client.get("/owner").headers["Location"] == "/card"


def test_owner_revoked_card_ends_the_session_at_once(
    client: Any, owner_cards: list[IssuedCard], store: Session
) -> None:
    assert card_login(client, owner_cards[0]).status_code == 200
    assert client.get("/owner").status_code == 200
    card = store.get(Card, owner_cards[0].card_id)
    assert card is not None
    revoke_card(store, card, reason="lost", user_id=None)
    assert client.get("/owner").headers["Location"] == "/card"
    assert snapshot(store)["sessions"] == []


def _refused(response: Any, status: int, text: str) -> None:
    assert response.status_code == status, response.get_json()
    assert text in response.get_json()["error"]
    assert response.mimetype == JSON


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"type": "ballot"}, 400, "not valid"),
        ({"platform": "evil.example"}, 400, "not valid"),
        ({"nonce": "ab" * 16}, 400, "not valid"),
        ({"time": "2020-01-01T00:00:00Z"}, 400, "not valid"),
        ({"card_number": "NHXY-000002"}, 400, "not valid"),
    ],
)
def test_owner_login_wrong_fields(
    client: Any,
    owner_cards: list[IssuedCard],
    store: Session,
    change: dict[str, str],
    status: int,
    text: str,
) -> None:
    card = owner_cards[0]
    headers = csrf_header(client)
    statement = get_challenge(client, card.number, headers).get_json()["statement"]
    before = snapshot(store)
    data, signature = signed(card, dict(statement, **change))
    payload = {"statement": data, "signature": signature, "pin": card.pin}
    _refused(client.post("/card/login", json=payload, headers=headers), status, text)
    after = snapshot(store)
    assert after["cards"] == before["cards"] and after["sessions"] == []


@pytest.mark.parametrize("damage", ["truncated", "other card", "flipped", "not base64"])
def test_owner_login_forged_signatures(
    client: Any, owner_cards: list[IssuedCard], store: Session, damage: str
) -> None:
    card, other = owner_cards[:2]
    headers = csrf_header(client)
    statement = get_challenge(client, card.number, headers).get_json()["statement"]
    data, signature = signed(card, statement)
    raw = base64.urlsafe_b64decode(signature + "==")
    forged = {
        "truncated": b64(raw[:63]),
        "other card": signed(card, statement, seed=other.seed)[1],
        "flipped": b64(raw[:10] + bytes([raw[10] ^ 0x80]) + raw[11:]),
        "not base64": signature[:-2] + "+/",
    }[damage]
    before = snapshot(store)
    response = client.post(
        "/card/login",
        json={"statement": data, "signature": forged, "pin": card.pin},
        headers=headers,
    )
    if damage == "not base64":
        _refused(response, 400, "not valid")
    else:
        _refused(response, 401, "card key does not match")
    after = snapshot(store)
    assert after["cards"] == before["cards"] and after["sessions"] == []


@pytest.mark.parametrize("form", ["spaces", "unsorted"])
def test_owner_login_non_canonical_statement(
    client: Any, owner_cards: list[IssuedCard], store: Session, form: str
) -> None:
    card = owner_cards[0]
    headers = csrf_header(client)
    statement = get_challenge(client, card.number, headers).get_json()["statement"]
    if form == "spaces":
        data = canonical_bytes(statement).replace(b":", b": ")
    else:
        data = (
            "{" + ",".join(f'"{k}":"{v}"' for k, v in sorted(statement.items(), reverse=True)) + "}"
        ).encode()
        assert data != canonical_bytes(statement)
    assert card.seed is not None
    payload = {
        "statement": b64(data),
        "signature": b64(CardKey(card.seed).sign(data)),
        "pin": card.pin,
    }
    before = snapshot(store)
    _refused(client.post("/card/login", json=payload, headers=headers), 400, "not valid")
    assert snapshot(store) == before


def test_owner_login_replayed_and_stale(
    client: Any, owner_cards: list[IssuedCard], store: Session
) -> None:
    card = owner_cards[0]
    headers = csrf_header(client)
    statement = get_challenge(client, card.number, headers).get_json()["statement"]
    payload = login_payload(card, statement)
    assert client.post("/card/login", json=payload, headers=headers).status_code == 200
    other = client.application.test_client()
    _refused(other.post("/card/login", json=payload, headers=csrf_header(other)), 409, "already")
    # A challenge past its lifetime.
    headers = csrf_header(other)
    statement = get_challenge(other, card.number, headers).get_json()["statement"]
    challenge = store.scalar(
        select(LoginChallenge).where(LoginChallenge.nonce == statement["nonce"])
    )
    assert challenge is not None
    challenge.expires_at = challenge.created_at
    store.commit()
    payload = login_payload(card, statement)
    _refused(other.post("/card/login", json=payload, headers=headers), 410, "too long")


def test_owner_login_revoked_card(
    client: Any, owner_cards: list[IssuedCard], store: Session
) -> None:
    card = owner_cards[0]
    headers = csrf_header(client)
    statement = get_challenge(client, card.number, headers).get_json()["statement"]
    row = store.get(Card, card.card_id)
    assert row is not None
    revoke_card(store, row, reason="lost", user_id=None)
    payload = login_payload(card, statement)
    before = snapshot(store)
    _refused(client.post("/card/login", json=payload, headers=headers), 403, "revoked")
    assert snapshot(store)["cards"] == before["cards"]


def test_owner_login_five_wrong_pins_lock_the_card(
    client: Any, owner_cards: list[IssuedCard], store: Session
) -> None:
    card = owner_cards[0]
    for remaining in (4, 3, 2, 1, 0):
        response = card_login(client, card, wrong_pin(card))
        _refused(response, 401, f"Attempts left before the card is locked: {remaining}.")
        assert snapshot(store)["cards"][0][1] == 5 - remaining
    response = card_login(client, card)
    _refused(response, 423, "The card is locked")
    assert snapshot(store)["sessions"] == []
    zh = client.application.test_client()
    zh_headers = csrf_header(zh, lang="zh_CN")
    statement = get_challenge(zh, card.number, zh_headers).get_json()["statement"]
    response = zh.post("/card/login", json=login_payload(card, statement), headers=zh_headers)
    assert response.status_code == 423
    assert response.get_json()["error"]


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({}, "not valid"),
        ({"statement": "e30", "signature": "", "pin": "12345"}, "6-digit PIN"),
        ({"statement": "e30", "signature": "", "pin": 123456}, "6-digit PIN"),
        ({"statement": "e30=", "signature": "", "pin": "123456"}, "not valid"),
        ({"statement": ["x"], "signature": "", "pin": "123456"}, "not valid"),
        ({"statement": "e30", "signature": "", "pin": "123456"}, "not valid"),
    ],
)
def test_owner_login_malformed_requests(
    client: Any, owner_cards: list[IssuedCard], store: Session, payload: Any, text: str
) -> None:
    headers = csrf_header(client)
    before = snapshot(store)
    _refused(client.post("/card/login", json=payload, headers=headers), 400, text)
    assert snapshot(store) == before


def test_owner_login_not_json_and_no_csrf(client: Any, owner_cards: list[IssuedCard]) -> None:
    headers = csrf_header(client)
    response = client.post("/card/login", data="statement=x", headers=headers)
    _refused(response, 400, "not valid")
    response = client.post(
        "/card/challenge", json={"card": owner_cards[0].number}, headers={"Accept": JSON}
    )
    assert response.status_code == 400 and response.get_json()["error"]


@pytest.mark.parametrize(
    ("number", "status", "text"),
    [
        ("NHXY-999999", 404, "no owner card"),
        ("not a card", 400, "check the card number"),
        (None, 400, "check the card number"),
    ],
)
def test_owner_challenge_refusals(
    client: Any, owner_cards: list[IssuedCard], number: Any, status: int, text: str
) -> None:
    _refused(get_challenge(client, number, csrf_header(client)), status, text)


def test_owner_challenge_rate_limit(client: Any, owner_cards: list[IssuedCard]) -> None:
    headers = csrf_header(client)
    for _ in range(10):
        assert get_challenge(client, owner_cards[0].number.lower(), headers).status_code == 200
    _refused(get_challenge(client, owner_cards[0].number, headers), 429, "Too many")


def test_owner_card_page_is_safe(client: Any, owner_cards: list[IssuedCard]) -> None:
    html = client.get("/card").get_data(as_text=True)
    assert 'inputmode="numeric"' in html
    assert "<script>" not in html and "style=" not in html
    # The card's secrets are typed into inputs without a name: a plain submit sends nothing.
    for field in ("card-number", "backup-code", "card-pin"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html)
        assert tag and " name=" not in tag.group(0)
