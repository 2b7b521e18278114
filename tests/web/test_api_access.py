"""Who may POST to the JSON API: anonymous visitors, each staff role and a card-holder ×
each POST endpoint (the GET endpoints are rows of access_api.py in the access matrix)."""

from __future__ import annotations

import re
from typing import Any

import access_api
import pytest
from apikit import JSON, ballot_body, challenge_of, statement_from
from test_owner_login import card_login, owner_cards  # noqa: F401  (fixture)

from voting.models import Role
from voting.web.api import API_PREFIX

WHO = ("anonymous", *(role.value for role in Role), "owner")

# endpoint → status for a card-holder (everyone else: 401).
OWNER_STATUS = {"challenge": 200, "ballot": 201}


def _body(client: Any, who: str, endpoint: str, meeting: int, cards: list[Any]) -> Any:
    """A well-formed body; for the owner, a real signed ballot."""
    if endpoint == "challenge":
        return {}
    if who != "owner":
        return {"statement": "e30", "signature": "A" * 86}
    challenge = challenge_of(client, meeting)
    motion = int(next(iter(challenge["nonces"])))
    return ballot_body(cards[0], statement_from(challenge, motion, "yes"))


@pytest.mark.parametrize("endpoint", list(OWNER_STATUS))
@pytest.mark.parametrize("who", WHO)
def test_api_access_post(
    client: Any,
    store: Any,
    seeded: Any,
    login: Any,
    owner_cards: Any,  # noqa: F811
    who: str,
    endpoint: str,
) -> None:
    meeting = int(access_api.prepare(store, seeded)["api_open"])
    if who == "owner":
        assert card_login(client, owner_cards[0]).status_code == 200
    elif who != "anonymous":
        assert login(client, who).status_code == 302
    path = f"/api/v1/meetings/{meeting}/challenge" if endpoint == "challenge" else "/api/v1/ballots"
    response = client.post(path, json=_body(client, who, endpoint, meeting, owner_cards))
    expected = OWNER_STATUS[endpoint] if who == "owner" else 401
    assert response.status_code == expected, response.get_json()
    assert response.mimetype == JSON
    if expected == 401:
        assert response.get_json()["error"] == "login_required"


_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def test_api_access_every_post_answers_json(app: Any, client: Any, seeded: Any) -> None:
    """Every POST under /api/v1 (also those of other modules) answers an anonymous visitor
    with JSON and never a server error; this module's need a card session."""
    posts = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX) and "POST" in (rule.methods or ())
    ]
    assert {"/api/v1/ballots", "/api/v1/meetings/<int:meeting_id>/challenge"} <= set(posts)
    values = {"code": seeded.area.code}
    for rule in posts:
        path = _CONVERTER.sub(lambda m: values.get(m.group(1), "1"), rule)
        response = client.post(path, json={})
        assert response.status_code < 500 and response.mimetype == JSON, rule
        if rule.endswith(("/ballots", "/challenge")):
            assert response.status_code == 401
