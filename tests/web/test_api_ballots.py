"""Ballots over the JSON API: the whole flow from card login to receipt, and every refusal
with its status, reason, message, and nothing stored (no ballot, counted ballot or log
entry)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from apikit import (
    JSON,
    Clock,
    b64,
    ballot_body,
    challenge_of,
    clock,  # noqa: F401  (fixture)
    forged_nonce,
    get_challenge,
    logged_in,
    post_ballot,
    refused,
    signature_of,
    statement_from,
    stored,
    voting,  # noqa: F401  (fixture)
)
from ballotkit import CLOSES, ELECTION, VOTING, VotingSetup
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from voting.models import Card
from voting.services.ballots import NONCE_LIFETIME, voter_buildings
from voting.services.cards import IssuedCard, lock_by_admin, revoke_card
from voting.services.meetings import add_motion, close_meeting, create_meeting, post_notice


def test_api_ballots_flow(client: Any, store: Session, voting: VotingSetup) -> None:  # noqa: F811
    card = voting.cards[0]
    logged_in(client, card)
    listing = client.get("/api/v1/meetings")
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "no-store"
    assert listing.get_json()["area"]["code"] == voting.area.code
    assert [m["id"] for m in listing.get_json()["meetings"]] == [voting.meeting.id]
    assert listing.get_json()["meetings"][0]["state"] == "open"

    detail = client.get(f"/api/v1/meetings/{voting.meeting.id}").get_json()
    assert detail["voter"] == card.holder_ref and detail["roll"] == voting.meeting.roll_sha256
    motions = {m["id"]: m for m in detail["motions"]}
    assert voting.yes_no.id in motions and motions[voting.yes_no.id]["voted"] is False
    assert motions[voting.yes_no.id]["rule"] == "ordinary"
    assert motions[voting.election.id]["options"] == ["Candidate 1", "Candidate 2", "Candidate 3"]
    assert detail["proxies"] == []

    challenge = challenge_of(client, voting.meeting.id)
    assert challenge["voter"] == card.holder_ref and challenge["proxy"] is None
    assert challenge["platform"] == client.application.config["VOTING_PLATFORM_ID"]
    assert set(challenge["nonces"]) == set(map(str, motions))
    statement = statement_from(challenge, voting.yes_no.id, "yes")
    before = stored(store)
    accepted = post_ballot(client, ballot_body(card, statement))
    assert accepted.status_code == 201, accepted.get_json()
    body = accepted.get_json()
    assert body["meeting"] == voting.meeting.id and body["motion"] == voting.yes_no.id
    assert body["counted"] is True and body["time"] == "2026-12-16T03:00:00Z"
    assert body["receipt_url"] == f"/receipts/{body['ballot_hash']}"
    assert stored(store) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert before[2] == body["log_index"]

    receipt = client.application.test_client().get(f"/api/v1/receipts/{body['ballot_hash']}")
    assert receipt.status_code == 200
    assert receipt.get_json() == {
        "ballot_hash": body["ballot_hash"],
        "area": voting.area.code,
        "meeting": voting.meeting.id,
        "motion": voting.yes_no.id,
        "time": body["time"],
        "log_index": body["log_index"],
        "counted": True,
        "by_proxy": False,
    }
    detail = client.get(f"/api/v1/meetings/{voting.meeting.id}").get_json()
    assert {m["id"]: m["voted"] for m in detail["motions"]}[voting.yes_no.id] is True
    assert all(set(m) - {"choice"} == set(m) for m in detail["motions"])  # never the choice


def test_api_ballots_election_choice_as_sorted_list(
    client: Any,
    voting: VotingSetup,  # noqa: F811
) -> None:
    card = voting.cards[0]
    logged_in(client, card)
    challenge = challenge_of(client, voting.meeting.id)
    statement = statement_from(challenge, voting.election.id, ["Candidate 1", "Candidate 3"])
    assert post_ballot(client, ballot_body(card, statement)).status_code == 201


@pytest.fixture
def owner(client: Any, voting: VotingSetup) -> IssuedCard:  # noqa: F811
    logged_in(client, voting.cards[0])
    return voting.cards[0]


def _valid(client: Any, voting: VotingSetup, choice: Any = "yes") -> dict[str, Any]:  # noqa: F811
    return statement_from(challenge_of(client, voting.meeting.id), voting.yes_no.id, choice)


def _nothing_stored(store: Session, before: tuple[int, int, int]) -> None:
    assert stored(store) == before


def test_api_ballots_forged_signature(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    data = canonical_bytes(_valid(client, voting))
    signature = bytearray(signature_of(owner, data))
    signature[0] ^= 1
    before = stored(store)
    response = post_ballot(client, {"statement": b64(data), "signature": b64(bytes(signature))})
    refused(response, 401, "bad_signature", "signature does not match")
    # Signed by another owner's card.
    other = signature_of(voting.cards[1], data)
    response = post_ballot(client, {"statement": b64(data), "signature": b64(other)})
    refused(response, 401, "bad_signature", "signature does not match")
    _nothing_stored(store, before)


def test_api_ballots_another_voters_credential(
    app: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
) -> None:
    card_a, card_b = voting.cards[:2]
    client_a = logged_in(app.test_client(), card_a)
    client_b = logged_in(app.test_client(), card_b)
    theirs = _valid(client_b, voting)
    mine = _valid(client_a, voting)
    forged = dict(mine, credential=theirs["credential"], voter=theirs["voter"])
    before = stored(store)
    response = post_ballot(client_a, ballot_body(card_a, forged))
    refused(response, 403, "credential", "another owner card")
    # B's own valid ballot, posted in A's session.
    response = post_ballot(client_a, ballot_body(card_b, theirs))
    refused(response, 403, "credential", "another owner card")
    _nothing_stored(store, before)


@pytest.mark.parametrize("member", ["motion", "meeting"])
def test_api_ballots_for_another_motion_or_meeting(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    member: str,
) -> None:
    valid = _valid(client, voting)
    target = voting.election.id if member == "motion" else voting.meeting.id + 1
    before = stored(store)
    response = post_ballot(client, ballot_body(owner, dict(valid, **{member: target})))
    refused(response, 400, "unknown_nonce", "does not answer a challenge")
    _nothing_stored(store, before)


def test_api_ballots_reused_nonce(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    valid = _valid(client, voting)
    body = ballot_body(owner, valid)
    assert post_ballot(client, body).status_code == 201
    before = stored(store)
    refused(post_ballot(client, body), 409, "replayed", "already been submitted")
    again = ballot_body(owner, dict(valid, choice="no"))
    refused(post_ballot(client, again), 409, "replayed", "already been submitted")
    _nothing_stored(store, before)


def test_api_ballots_second_ballot_refused(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    assert post_ballot(client, ballot_body(owner, _valid(client, voting))).status_code == 201
    before = stored(store)
    response = post_ballot(client, ballot_body(owner, _valid(client, voting, "no")))
    refused(response, 409, "already_voted", "do not allow changing it")
    _nothing_stored(store, before)


def _card_row(store: Session, issued: IssuedCard) -> Card:
    card = store.get(Card, issued.card_id)
    assert card is not None
    return card


def test_api_ballots_revoked_card(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    revoke_card(store, _card_row(store, owner), reason="lost", user_id=None, now=VOTING)
    before = stored(store)
    # Revoking ends the card's sessions (and the language chosen in it): the ballot arrives
    # without a login.
    response = client.post("/api/v1/ballots?lang=en", json=body)
    refused(response, 401, "login_required", "log in with your owner card")
    _nothing_stored(store, before)


def test_api_ballots_locked_card(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    lock_by_admin(store, _card_row(store, owner), reason="lost", user_id=None, now=VOTING)
    before = stored(store)
    refused(post_ballot(client, body), 423, "locked", "The card is locked")
    _nothing_stored(store, before)


def test_api_ballots_unit_out_of_scope(
    app: Any,
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
) -> None:
    card = next(
        issued
        for issued in voting.cards
        if "1号楼" not in voter_buildings(store, voting.meeting, _card_row(store, issued).holder_id)
    )
    logged_in(client, card)
    detail = client.get(f"/api/v1/meetings/{voting.meeting.id}").get_json()
    assert voting.choice.id not in [m["id"] for m in detail["motions"]]
    challenge = challenge_of(client, voting.meeting.id)
    assert str(voting.choice.id) not in challenge["nonces"]
    statement = dict(
        statement_from(challenge, voting.yes_no.id, "yes"),
        motion=voting.choice.id,
        choice="Contractor A",
        nonce=forged_nonce(app, card, voting.meeting.id, voting.choice.id, challenge["time"]),
    )
    before = stored(store)
    refused(post_ballot(client, ballot_body(card, statement)), 403, "scope", "scope")
    _nothing_stored(store, before)


def test_api_ballots_before_open(
    app: Any,
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    noticed = create_meeting(store, voting.area, "第二次会议", now=VOTING)
    motion = add_motion(store, noticed, dataclasses.replace(ELECTION, title="Another election"))
    opens = VOTING + dt.timedelta(days=15)
    post_notice(store, noticed, opens, opens + dt.timedelta(days=7), VOTING)
    listing = client.get("/api/v1/meetings").get_json()["meetings"]
    assert [m["state"] for m in listing] == ["noticed", "open"]
    refused(get_challenge(client, noticed.id), 409, "not_open", "not open")
    valid = _valid(client, voting, ["Candidate 1"])
    statement = dict(
        valid,
        meeting=noticed.id,
        motion=motion.id,
        nonce=forged_nonce(app, owner, noticed.id, motion.id, valid["time"]),
    )
    before = stored(store)
    refused(post_ballot(client, ballot_body(owner, statement)), 409, "not_open", "not open")
    _nothing_stored(store, before)


def test_api_ballots_after_the_window_closes(
    client: Any,
    store: Session,
    clock: Clock,  # noqa: F811
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    clock.now = CLOSES - dt.timedelta(minutes=1)
    body = ballot_body(owner, _valid(client, voting))
    clock.now = CLOSES
    before = stored(store)
    refused(post_ballot(client, body), 409, "closed", "voting period has ended")
    refused(get_challenge(client, voting.meeting.id), 409, "closed", "voting period has ended")
    _nothing_stored(store, before)


def test_api_ballots_after_close_meeting(
    client: Any,
    store: Session,
    clock: Clock,  # noqa: F811
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    clock.now = CLOSES - dt.timedelta(minutes=1)
    body = ballot_body(owner, _valid(client, voting))
    close_meeting(store, voting.meeting, now=CLOSES)
    before = stored(store)
    refused(post_ballot(client, body), 409, "not_open", "not open")
    _nothing_stored(store, before)


@pytest.mark.parametrize(
    ("change", "status", "reason", "text"),
    [
        ({"platform": "evil.example"}, 400, "platform", "another voting platform"),
        ({"roll": "ab" * 32}, 400, "roll", "another owner roll"),
        ({"area": "OTHER"}, 400, "area", "another property area"),
        ({"voter": "someone-else"}, 403, "voter", "another owner"),
        ({"meeting": "1"}, 400, "malformed", "ballot is not valid"),
        ({"choice": 1}, 400, "choice", "choice is not valid"),
        ({"choice": "maybe"}, 400, "choice", "choice is not valid"),
        ({"extra": "member"}, 400, "malformed", "ballot is not valid"),
        ({"type": "login"}, 400, "malformed", "ballot is not valid"),
        ({"proxy": "ab" * 32}, 403, "proxy", "No authorisation"),
    ],
)
def test_api_ballots_wrong_members(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    change: dict[str, Any],
    status: int,
    reason: str,
    text: str,
) -> None:
    statement = dict(_valid(client, voting), **change)
    before = stored(store)
    refused(post_ballot(client, ballot_body(owner, statement)), status, reason, text)
    _nothing_stored(store, before)


@pytest.mark.parametrize("member", ["choice", "nonce", "roll", "time"])
def test_api_ballots_missing_member(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    member: str,
) -> None:
    statement = _valid(client, voting)
    del statement[member]
    before = stored(store)
    refused(post_ballot(client, ballot_body(owner, statement)), 400, "malformed", "not valid")
    _nothing_stored(store, before)


def test_api_ballots_expired_nonce(
    client: Any,
    store: Session,
    clock: Clock,  # noqa: F811
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    clock.now += NONCE_LIFETIME + dt.timedelta(seconds=1)
    before = stored(store)
    refused(post_ballot(client, body), 410, "expired", "took too long")
    _nothing_stored(store, before)


@pytest.mark.parametrize("form", ["spaces", "unsorted", "escaped", "newline"])
def test_api_ballots_non_canonical_bytes(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    form: str,
) -> None:
    data = canonical_bytes(_valid(client, voting))
    damaged = {
        "spaces": data.replace(b'":', b'": '),
        "unsorted": b"{" + b",".join(reversed(data[1:-1].split(b","))) + b"}",
        "escaped": data.replace(b'"ballot"', b'"b\\u0061llot"'),
        "newline": data + b"\n",
    }[form]
    body = {"statement": b64(damaged), "signature": b64(signature_of(owner, damaged))}
    before = stored(store)
    refused(post_ballot(client, body), 400, "malformed", "ballot is not valid")
    _nothing_stored(store, before)


@pytest.mark.parametrize("size", [0, 32, 63, 65])
def test_api_ballots_signature_of_wrong_length(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    size: int,
) -> None:
    data = canonical_bytes(_valid(client, voting))
    signature = (signature_of(owner, data) * 2)[:size]
    before = stored(store)
    response = post_ballot(client, {"statement": b64(data), "signature": b64(signature)})
    if size > 64:  # longer than any signature: refused while decoding
        refused(response, 400, "invalid_base64", "base64url")
    else:
        refused(response, 400, "malformed", "ballot is not valid")
    _nothing_stored(store, before)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _encodings(valid: str) -> dict[str, str]:
    """Ways to damage a canonical unpadded base64url text."""
    last = _ALPHABET.index(valid[-1]) if valid else 0
    return {
        "padded": valid + "=" * (-len(valid) % 4 or 4),
        "standard alphabet": valid.replace("-", "+").replace("_", "/") + "+/",
        "length 4n+1": valid + "A" * ((1 - len(valid)) % 4 or 4),
        "space": valid[:4] + " " + valid[4:],
        # The lowest bit of the last character is unused when the length is not 4n.
        "non-zero trailing bits": valid[:-1] + _ALPHABET[last | 1],
        "non-ASCII": valid[:-1] + "é",
        "empty": "",
    }


@pytest.mark.parametrize("field", ["statement", "signature"])
@pytest.mark.parametrize(
    "damage",
    list(_encodings("x")),
)
def test_api_ballots_bad_base64(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    field: str,
    damage: str,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    if len(body[field]) % 4 == 0 and damage == "non-zero trailing bits":
        pytest.skip("no spare bits in this encoding")
    body[field] = _encodings(body[field])[damage]
    before = stored(store)
    response = post_ballot(client, body)
    if damage == "empty":  # decodes to zero bytes: refused by the ballot checks
        refused(response, 400, "malformed", "ballot is not valid")
    else:
        refused(response, 400, "invalid_base64", "base64url")
    _nothing_stored(store, before)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"statement": "e30", "signature": "AA"', "invalid_json"),
        ('{"statement": "e30", "statement": "e30", "signature": "AA"}', "invalid_json"),
        ('{"statement": NaN, "signature": "AA"}', "invalid_json"),
        ("[]", "invalid_request"),
        ('"e30"', "invalid_request"),
        ("{}", "invalid_request"),
        ('{"statement": "e30"}', "invalid_request"),
        ('{"statement": "e30", "signature": "AA", "pin": "123456"}', "invalid_request"),
        ('{"statement": 1, "signature": "AA"}', "invalid_request"),
        ('{"statement": ["e30"], "signature": "AA"}', "invalid_request"),
        ('{"statement": "e30", "signature": null}', "invalid_request"),
        ('{"statement": "e30", "signature": 1.5}', "invalid_json"),
        ("", "invalid_json"),
    ],
)
def test_api_ballots_malformed_body(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    body: str,
    reason: str,
) -> None:
    before = stored(store)
    response = client.post("/api/v1/ballots", data=body.encode(), content_type=JSON)
    refused(response, 400, reason, "request")
    _nothing_stored(store, before)


def test_api_ballots_invalid_utf8_body(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    response = client.post(
        "/api/v1/ballots", data=b'{"statement": "\xff", "signature": ""}', content_type=JSON
    )
    refused(response, 400, "invalid_json", "not valid JSON")


def test_api_ballots_huge_body(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    before = stored(store)
    body = ballot_body(owner, _valid(client, voting, "x" * 70_000))
    response = post_ballot(client, body)
    refused(response, 413, "too_large", "64 KiB")
    response = client.post("/api/v1/ballots", data=b" " * (64 * 1024 + 1), content_type=JSON)
    refused(response, 413, "too_large", "64 KiB")
    # At the limit the body is read (and refused for what it says).
    response = client.post("/api/v1/ballots", data=b" " * (64 * 1024), content_type=JSON)
    refused(response, 400, "invalid_json", "not valid JSON")
    _nothing_stored(store, before)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        None,
    ],
)
def test_api_ballots_not_json(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    content_type: str | None,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    before = stored(store)
    data = f'{{"statement": "{body["statement"]}", "signature": "{body["signature"]}"}}'
    response = client.post("/api/v1/ballots", data=data, content_type=content_type)
    refused(response, 415, "unsupported_media_type", "application/json")
    _nothing_stored(store, before)
