"""Proxy authorisations over HTTP: the owner's form and confirmation, the JSON endpoints,
withdrawal, and what each refusal answers (and that it stores nothing)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from proxykit_web import (
    authorise_over_http,
    challenge,
    open_meeting_now,
    signed_body,
    statement_from,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_owner_login import card_login, owner_cards  # noqa: F401  (fixture)

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.models import Card, Channel, Holder, LogEntry, Meeting, Motion, Proxy
from voting.services.ballots import (
    ballot_challenge,
    ballot_nonce_key,
    cast_ballot,
    counted_ballots,
)
from voting.services.cards import IssuedCard


@pytest.fixture
def meeting(store: Session, seeded: Any, owner_cards: list[IssuedCard]) -> Meeting:  # noqa: F811
    return open_meeting_now(store, seeded.area)


def _card(cards: list[IssuedCard], name: str) -> IssuedCard:
    return next(card for card in cards if card.holder_name == name)


def _motions(store: Session, meeting: Meeting) -> dict[str, Motion]:
    store.rollback()
    rows = store.scalars(select(Motion).where(Motion.meeting_id == meeting.id))
    return {motion.kind.value: motion for motion in rows}


def _stored(store: Session) -> tuple[int, int]:
    store.rollback()
    return (
        store.scalar(select(func.count()).select_from(Proxy)) or 0,
        store.scalar(select(func.count()).select_from(LogEntry)) or 0,
    )


def _form_token(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"{path} has no form token"
    return match.group(1)


def test_proxies_owner_form_shows_a_confirmation(
    client: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    store: Session,
) -> None:
    wang, li = _card(owner_cards, "王伟"), _card(owner_cards, "李娜")
    assert card_login(client, wang).status_code == 200
    path = f"/vote/{meeting.id}/proxy"
    page = client.get(f"{path}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Choose your proxy" in html and "1号楼" in html
    motions = _motions(store, meeting)
    token = _form_token(client, path)
    form = {
        "csrf_token": token,
        "building": "1号楼",
        "unit": "1-201",
        f"instr-{motions['yes_no'].id}": "yes",
        f"instr-{motions['election'].id}": "candidates",
        f"cand-{motions['election'].id}": ["Candidate 3", "Candidate 1"],
    }
    reply = client.post(path, data=form)
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "李*" in html and "李娜" not in html and "1号楼 1-201" in html
    assert f'data-proxy="{li.holder_ref}"' in html
    match = re.search(r"data-instructions='([^']*)'", html)
    assert match is not None
    assert json.loads(match.group(1)) == {
        str(motions["yes_no"].id): "yes",
        str(motions["election"].id): ["Candidate 1", "Candidate 3"],
    }
    assert "Candidate 1、Candidate 3" in html and "In favour" in html
    assert 'src="/static/js/proxy.js"' in html
    assert _stored(store)[0] == 0  # the form itself stores nothing


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"building": "1号楼", "unit": "9-999"}, "No owner is recorded for this house number."),
        ({"building": "1号楼", "unit": "1-101"}, "You cannot be your own proxy."),
        ({"person": "PX-7"}, "No person registered by the owners"),
        ({"building": "1号楼", "unit": "1-201", "person": "PX-1"}, "not both"),
        ({}, "Please choose the proxy"),
    ],
)
def test_proxies_owner_form_errors(
    client: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    fields: dict[str, str],
    text: str,
) -> None:
    assert card_login(client, _card(owner_cards, "王伟")).status_code == 200
    path = f"/vote/{meeting.id}/proxy"
    client.get(f"{path}?lang=en")
    reply = client.post(path, data={"csrf_token": _form_token(client, path), **fields})
    assert reply.status_code == 400
    assert text in reply.get_data(as_text=True)


def test_proxies_owner_form_checks_instructions(
    client: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    store: Session,
) -> None:
    assert card_login(client, _card(owner_cards, "王伟")).status_code == 200
    motions = _motions(store, meeting)
    path = f"/vote/{meeting.id}/proxy"
    client.get(f"{path}?lang=en")
    election = motions["election"].id
    form = {
        "csrf_token": _form_token(client, path),
        "building": "1号楼",
        "unit": "1-201",
        f"instr-{election}": "candidates",
        f"cand-{election}": ["Candidate 1", "Candidate 2", "Candidate 3"],
        f"instr-{motions['yes_no'].id}": "maybe",
    }
    reply = client.post(path, data=form)
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "Tick between 1 and 2 candidates." in html
    assert "This instruction is not valid for the motion." in html
    # What was chosen is kept in the form.
    assert 'value="1-201"' in html


def test_proxies_authorise_over_the_api_then_vote_and_withdraw(
    client: Any,
    app: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    store: Session,
) -> None:
    wang, li = _card(owner_cards, "王伟"), _card(owner_cards, "李娜")
    motions = _motions(store, meeting)
    assert card_login(client, wang).status_code == 200
    reply = authorise_over_http(
        client, meeting.id, wang, li.holder_ref, {str(motions["yes_no"].id): "no"}
    )
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert body["owner"] == wang.holder_ref and body["proxy"] == li.holder_ref
    assert body["instructions"] == 1 and body["url"] == f"/vote/{meeting.id}/proxy"
    assert reply.headers["Cache-Control"] == "no-store"
    store.rollback()
    proxy = store.scalar(select(Proxy))
    assert proxy is not None and proxy.statement_hash == body["statement_hash"]
    html = client.get(f"/vote/{meeting.id}/proxy?lang=en").get_data(as_text=True)
    assert "Your authorisation" in html and "李*" in html and "Against" in html
    assert "Withdraw the authorisation" in html
    # A second authorisation is refused while this one is in force.
    again = challenge(client, meeting.id)
    assert again.status_code == 409 and again.get_json()["error"] == "already_authorised"
    # The proxy sees whom they represent.
    other = type(client)(client.application)
    assert card_login(other, li).status_code == 200
    held = other.get(f"/vote/{meeting.id}/proxy?lang=en").get_data(as_text=True)
    assert "Owners you represent" in held and "王*" in held and "1号楼 1-101" in held
    # Withdraw: a confirmation page, then the POST.
    path = f"/vote/{meeting.id}/proxy/withdraw"
    confirm = client.get(f"{path}?lang=en")
    assert confirm.status_code == 200 and "Withdraw the authorisation" in confirm.get_data(True)
    done = client.post(path, data={"csrf_token": _form_token(client, path)})
    assert done.status_code == 302 and done.headers["Location"] == f"/vote/{meeting.id}/proxy"
    store.rollback()
    store.refresh(proxy)
    assert proxy.withdrawn_at is not None
    kinds = list(store.scalars(select(LogEntry.kind).order_by(LogEntry.seq.desc()).limit(2)))
    assert kinds == ["proxy.withdraw", "proxy"]
    # Nothing in force any more: the withdraw page sends the owner back.
    assert client.get(path).status_code == 302


def test_proxies_withdraw_refused_after_the_proxy_voted(
    client: Any,
    app: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    store: Session,
) -> None:
    wang, li = _card(owner_cards, "王伟"), _card(owner_cards, "李娜")
    assert card_login(client, wang).status_code == 200
    granted = authorise_over_http(client, meeting.id, wang, li.holder_ref).get_json()
    # The proxy votes (through the ballot service, as the vote API would).
    key = ballot_nonce_key(app.config["SECRET_KEY"])
    owner = store.scalar(select(Holder).where(Holder.ref == wang.holder_ref))
    motion = _motions(store, meeting)["yes_no"]
    li_card = store.get(Card, li.card_id)
    assert li_card is not None and owner is not None
    store.refresh(meeting)
    offer = ballot_challenge(
        store, li_card, meeting, voter=owner, platform="voting.example", key=key
    )
    statement = offer.statement(motion.id, "yes") | {"proxy": granted["statement_hash"]}
    data = canonical_bytes(statement)
    assert li.seed is not None
    cast_ballot(
        store,
        data,
        CardKey(li.seed).sign(data),
        card_id=li.card_id,
        platform="voting.example",
        key=key,
        channel=Channel.web,
    )
    assert counted_ballots(store, motion) == [(wang.holder_ref, "yes")]
    html = client.get(f"/vote/{meeting.id}/proxy?lang=en").get_data(as_text=True)
    assert "can no longer be withdrawn" in html
    path = f"/vote/{meeting.id}/proxy/withdraw"
    refused = client.post(
        path, data={"csrf_token": _form_token(client, f"/vote/{meeting.id}/proxy")}
    )
    assert refused.status_code == 409
    store.rollback()
    assert store.scalar(select(Proxy.withdrawn_at)) is None


def test_proxies_api_refusals_store_nothing(
    client: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    store: Session,
) -> None:
    wang, li, chen = (_card(owner_cards, n) for n in ("王伟", "李娜", "陈静"))
    anonymous = type(client)(client.application)
    assert challenge(anonymous, meeting.id).status_code == 401
    assert anonymous.post("/api/v1/proxies", json={}).get_json()["error"] == "login_required"
    assert card_login(client, wang).status_code == 200
    before = _stored(store)
    reply = challenge(client, meeting.id).get_json()
    good = statement_from(reply, li.holder_ref)
    cases: list[tuple[Any, int, str]] = [
        ({"data": "{}", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        (
            {"data": b"{" + b" " * 70_000 + b"}", "content_type": "application/json"},
            413,
            "too_large",
        ),
        ({"data": "{nope", "content_type": "application/json"}, 400, "invalid_json"),
        ({"json": {"statement": "x"}}, 400, "invalid_request"),
        ({"json": {"statement": "a", "signature": 1}}, 400, "invalid_request"),
        ({"json": {"statement": "a+b=", "signature": "AA"}}, 400, "invalid_base64"),
        ({"json": signed_body(chen, good)}, 401, "bad_signature"),
        ({"json": signed_body(wang, good | {"proxy": "HNOBODY00"})}, 404, "unknown_proxy"),
        ({"json": signed_body(wang, good | {"platform": "evil.example"})}, 400, "platform"),
        ({"json": signed_body(wang, good | {"instructions": {"1": 5}})}, 400, "malformed"),
    ]
    for kwargs, status, reason in cases:
        answer = client.post("/api/v1/proxies", **kwargs)
        assert (answer.status_code, answer.get_json()["error"]) == (status, reason), kwargs
        assert answer.get_json()["message"]
    assert _stored(store) == before
    # Another area's meeting, and a meeting that does not exist.
    assert challenge(client, 999_999).status_code == 404
    # The good statement still works once; replayed it is refused.
    body = signed_body(wang, good)
    assert client.post("/api/v1/proxies", json=body).status_code == 201
    replay = client.post("/api/v1/proxies", json=body)
    assert replay.status_code == 409


def test_proxies_cap_over_http(
    client: Any,
    store: Session,
    seeded: Any,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    meeting = open_meeting_now(store, seeded.area, proxy_cap=1)
    li = _card(owner_cards, "李娜")
    first, second = _card(owner_cards, "王伟"), _card(owner_cards, "赵磊")
    assert card_login(client, first).status_code == 200
    assert authorise_over_http(client, meeting.id, first, li.holder_ref).status_code == 201
    other = type(client)(client.application)
    assert card_login(other, second).status_code == 200
    before = _stored(store)
    refused = authorise_over_http(other, meeting.id, second, li.holder_ref)
    assert refused.status_code == 409 and refused.get_json()["error"] == "cap"
    assert _stored(store) == before
    # The form says so before anything is signed.
    path = f"/vote/{meeting.id}/proxy"
    other.get(f"{path}?lang=en")
    form = {"csrf_token": _form_token(other, path), "building": "1号楼", "unit": "1-201"}
    reply = other.post(path, data=form)
    assert reply.status_code == 400
    assert "as many owners as the rules of procedure allow" in reply.get_data(as_text=True)
