"""Helpers for the JSON API tests (tests/web/test_api_*.py, access_api.py).

    clock (fixture)                 the time the card login and the API see; starts at VOTING
    voting (fixture)                ballotkit's open meeting (sample roll, cards) in `store`
    logged_in(client, card)         card login over HTTP (PIN and signed challenge)
    get_challenge(client, meeting, body=None) -> Response
    ballot_body(card, statement)    {"statement", "signature"} as base64url
    stored(store)                   (ballots, counted ballots, log entries)
    refused(response, status, reason, text)

The fixed times of ballotkit lie in the future of the card certificates' real clock, so the
card login and the API read the clock from `clock` (monkeypatched), as services take `now=`.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from ballotkit import VOTING, VotingSetup, open_meeting_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_owner_login import card_login

from crypto.canonical import JSONValue, canonical_bytes
from crypto.keys import CardKey
from voting.models import Ballot, CountedBallot, LogEntry
from voting.services import ballots
from voting.services.ballots import ballot_nonce_key
from voting.services.cards import IssuedCard

JSON = "application/json"


@dataclass
class Clock:
    now: dt.datetime

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    current = Clock(VOTING)
    monkeypatch.setattr("voting.services.card_login.utcnow", lambda: current.now)
    monkeypatch.setattr("voting.web.api.utcnow", lambda: current.now)
    return current


@pytest.fixture
def voting(store: Session, clock: Clock) -> VotingSetup:
    return open_meeting_setup(store)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def logged_in(client: Any, card: IssuedCard) -> Any:
    response = card_login(client, card)
    assert response.status_code == 200, response.get_json()
    return client


def get_challenge(client: Any, meeting_id: int, body: Any = None) -> Any:
    return client.post(f"/api/v1/meetings/{meeting_id}/challenge", json=body or {})


def challenge_of(client: Any, meeting_id: int, body: Any = None) -> dict[str, Any]:
    response = get_challenge(client, meeting_id, body)
    assert response.status_code == 200, response.get_json()
    challenge: dict[str, Any] = response.get_json()
    return challenge


def statement_from(
    challenge: dict[str, Any], motion_id: int, choice: JSONValue
) -> dict[str, JSONValue]:
    """The ballot statement a client builds from a challenge (PROTOCOL 6.1)."""
    statement: dict[str, JSONValue] = {
        "type": "ballot",
        "platform": challenge["platform"],
        "area": challenge["area"],
        "meeting": challenge["meeting"],
        "motion": motion_id,
        "roll": challenge["roll"],
        "voter": challenge["voter"],
        "credential": challenge["credential"],
        "choice": choice,
        "nonce": challenge["nonces"][str(motion_id)],
        "time": challenge["time"],
    }
    if challenge["proxy"] is not None:
        statement["proxy"] = challenge["proxy"]
    return statement


def signature_of(card: IssuedCard, data: bytes) -> bytes:
    assert card.seed is not None
    return CardKey(card.seed).sign(data)


def ballot_body(card: IssuedCard, statement: dict[str, JSONValue]) -> dict[str, str]:
    data = canonical_bytes(statement)
    return {"statement": b64(data), "signature": b64(signature_of(card, data))}


def post_ballot(client: Any, body: Any) -> Any:
    return client.post("/api/v1/ballots", json=body)


def forged_nonce(app: Any, card: IssuedCard, meeting: int, motion: int, time: str) -> str:
    """A nonce exactly as this app would issue it (for a motion it never offers one for)."""
    key = ballot_nonce_key(app.config["SECRET_KEY"])
    return ballots._new_nonce(key, card.number, meeting, motion, time)


def stored(store: Session) -> tuple[int, int, int]:
    """(ballots, counted ballots, log entries) as committed."""
    store.rollback()
    return tuple(  # type: ignore[return-value]
        store.scalar(select(func.count()).select_from(model)) or 0
        for model in (Ballot, CountedBallot, LogEntry)
    )


def refused(response: Any, status: int, reason: str, text: str) -> None:
    """A JSON refusal with this status, reason code and (English) message."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert body["error"] == reason
    assert text in body["message"], body["message"]
