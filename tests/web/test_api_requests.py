"""The JSON API's handling of requests: JSON errors for every path under /api/v1 (unknown
paths, wrong methods, server errors), messages in the UI language, unknown ids, meetings
of other areas, proxies, and the turnout and results endpoints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
from typing import Any

import pytest
from apikit import (
    JSON,
    ballot_body,
    challenge_of,
    clock,  # noqa: F401  (fixture)
    get_challenge,
    logged_in,
    post_ballot,
    refused,
    statement_from,
    stored,
    voting,  # noqa: F401  (fixture)
)
from ballotkit import CHOICE, CLOSES, VOTING, VotingSetup
from proxykit import authorise, card_of
from sqlalchemy.orm import Session

from voting.demo import OTHER_PATH
from voting.models import Card
from voting.services.ballots import voter_buildings
from voting.services.cards import IssuedCard, lock_by_admin
from voting.services.meetings import add_motion, close_meeting, create_meeting, post_notice
from voting.services.tenancy import ensure_property_area
from voting.web.api import jsonable


@pytest.fixture
def owner(client: Any, voting: VotingSetup) -> IssuedCard:  # noqa: F811
    logged_in(client, voting.cards[0])
    return voting.cards[0]


def test_api_requests_unknown_paths_are_json(client: Any) -> None:
    for method in ("get", "post", "delete"):
        response = getattr(client, method)("/api/v1/no-such-thing?lang=en")
        refused(response, 404, "not_found", "Not found")
    refused(client.get("/api/v1/meetings/abc?lang=en"), 404, "not_found", "Not found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/v1/ballots", "POST"),
        ("put", "/api/v1/meetings", "GET"),
        ("get", "/api/v1/meetings/1/challenge", "POST"),
        ("delete", "/api/v1/receipts/" + "0" * 64, "GET"),
        ("post", "/api/v1/openapi.json", "GET"),
    ],
)
def test_api_requests_wrong_method(client: Any, method: str, path: str, allowed: str) -> None:
    response = getattr(client, method)(path + "?lang=en")
    refused(response, 405, "method_not_allowed", "not allowed")
    assert allowed in response.headers["Allow"]


def test_api_requests_other_paths_keep_their_pages(client: Any) -> None:
    assert client.get("/no-such-page").mimetype == "text/html"
    assert client.get("/api/no-such-thing").get_json() == {
        "error": "您访问的页面不存在或已被移除。"
    }


def test_api_requests_server_error_is_json(app: Any) -> None:
    def fail() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/api/v1/test-failure", "api_v1_test_failure", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/v1/test-failure")
    assert response.status_code == 500 and response.mimetype == JSON
    assert response.get_json() == {"error": "server_error", "message": "系统出现故障，请稍后再试。"}
    assert "secret" not in response.get_data(as_text=True)


def test_api_requests_messages_in_the_ui_language(
    app: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
) -> None:
    from voting.models import Card

    client = logged_in(app.test_client(), voting.cards[0])
    body = ballot_body(voting.cards[0], _valid(client, voting))
    card = store.get(Card, voting.cards[0].card_id)
    assert card is not None
    lock_by_admin(store, card, reason="lost", user_id=None, now=VOTING)
    client.get("/language/zh_CN")
    response = post_ballot(client, body)
    assert response.status_code == 423
    assert response.get_json() == {
        "error": "locked",
        "message": "卡已锁定，请用 PUK 解锁或联系业委会",
    }
    response = client.post("/api/v1/ballots?lang=en", json=body)
    assert response.get_json()["message"].startswith("The card is locked.")


def test_api_requests_no_csrf_token_needed_but_forms_still_need_it(
    client: Any,
    owner: IssuedCard,
    voting: VotingSetup,  # noqa: F811
) -> None:
    assert get_challenge(client, voting.meeting.id).status_code == 200  # no X-CSRFToken
    assert client.post("/owner/logout").status_code == 400  # a form: token required


def _valid(client: Any, voting: VotingSetup, choice: Any = "yes") -> dict[str, Any]:  # noqa: F811
    return statement_from(challenge_of(client, voting.meeting.id), voting.yes_no.id, choice)


def test_api_requests_unknown_and_foreign_meetings(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    draft = create_meeting(store, voting.area, "草稿", now=VOTING)
    other_area = ensure_property_area(store, OTHER_PATH)
    foreign = create_meeting(store, other_area, "别的小区", now=VOTING)
    for meeting_id in (draft.id, foreign.id, 999_999):
        refused(client.get(f"/api/v1/meetings/{meeting_id}"), 404, "not_found", "Not found")
        refused(get_challenge(client, meeting_id), 404, "not_found", "Not found")
        for figures in ("turnout", "results"):
            path = f"/api/v1/meetings/{meeting_id}/{figures}"
            refused(client.get(path), 404, "not_found", "Not found")
    listed = [m["id"] for m in client.get("/api/v1/meetings").get_json()["meetings"]]
    assert listed == [voting.meeting.id]


@pytest.mark.parametrize(
    "path", ["0" * 63, "0" * 65, "A" * 64, "g" * 64, "0" * 64, "%20" + "0" * 61]
)
def test_api_requests_unknown_receipts(client: Any, path: str) -> None:
    refused(client.get(f"/api/v1/receipts/{path}?lang=en"), 404, "not_found", "Not found")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"voter": 1}, 400, "invalid_request"),
        ({"voter": "not a ref!"}, 400, "invalid_request"),
        ({"voter": "h-nobody"}, 403, "proxy"),
        ({"proxy": "x"}, 400, "invalid_request"),
    ],
)
def test_api_requests_challenge_body(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
    body: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    response = client.post(f"/api/v1/meetings/{voting.meeting.id}/challenge", json=body)
    assert response.status_code == status and response.get_json()["error"] == reason
    # The card holder's own ref is an ordinary (in-person) challenge.
    own = challenge_of(client, voting.meeting.id, {"voter": owner.holder_ref})
    assert own["voter"] == owner.holder_ref and own["proxy"] is None


def test_api_requests_proxy_ballot(
    app: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
) -> None:
    wang, li = card_of(voting, "王伟"), card_of(voting, "李娜")
    granted = authorise(store, voting, wang, li.holder_ref, {voting.yes_no.id: "no"})
    proxy = logged_in(app.test_client(), li)
    detail = proxy.get(f"/api/v1/meetings/{voting.meeting.id}").get_json()
    (held,) = detail["proxies"]
    assert held["voter"] == wang.holder_ref and held["proxy"] == granted.statement_hash
    assert held["instructions"] == {str(voting.yes_no.id): "no"}
    assert voting.yes_no.id in [m["id"] for m in held["motions"]]
    challenge = challenge_of(proxy, voting.meeting.id, {"voter": wang.holder_ref})
    assert challenge["voter"] == wang.holder_ref
    assert challenge["proxy"] == granted.statement_hash
    # Against the owner's instruction: refused, nothing stored.
    before = stored(store)
    against = statement_from(challenge, voting.yes_no.id, "yes")
    refused(post_ballot(proxy, ballot_body(li, against)), 403, "instruction", "instructed")
    assert stored(store) == before
    accepted = post_ballot(
        proxy, ballot_body(li, statement_from(challenge, voting.yes_no.id, "no"))
    )
    assert accepted.status_code == 201, accepted.get_json()
    receipt = app.test_client().get(f"/api/v1/receipts/{accepted.get_json()['ballot_hash']}")
    assert receipt.get_json()["by_proxy"] is True
    # The owner's own ballot overrides the proxy's; a later proxy ballot is refused.
    owner = logged_in(app.test_client(), wang)
    own = statement_from(challenge_of(owner, voting.meeting.id), voting.yes_no.id, "yes")
    assert post_ballot(owner, ballot_body(wang, own)).status_code == 201
    assert app.test_client().get(receipt.request.path).get_json()["counted"] is False
    again = challenge_of(proxy, voting.meeting.id, {"voter": wang.holder_ref})
    late = statement_from(again, voting.yes_no.id, "no")
    refused(post_ballot(proxy, ballot_body(li, late)), 409, "owner_voted", "in person")


def test_api_requests_noticed_meeting_lists_motions_in_scope(
    client: Any,
    store: Session,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    """Before voting opens, the motions are matched against the area's current roll."""
    later = create_meeting(store, voting.area, "第二次会议", now=VOTING)
    add_motion(store, later, dataclasses.replace(CHOICE, title="Another lift"))
    opens = VOTING + dt.timedelta(days=15)
    post_notice(store, later, opens, opens + dt.timedelta(days=7), VOTING)
    detail = client.get(f"/api/v1/meetings/{later.id}").get_json()
    assert detail["state"] == "noticed" and detail["roll"] is None
    card = store.get(Card, owner.card_id)
    assert card is not None
    in_scope = "1号楼" in voter_buildings(store, voting.meeting, card.holder_id)
    assert [m["title"] for m in detail["motions"]] == (["Another lift"] if in_scope else [])


# --- turnout and results -------------------------------------------------------------------


def _results_available(name: str) -> bool:
    if importlib.util.find_spec("voting.services.results") is None:
        return False
    return hasattr(importlib.import_module("voting.services.results"), name)


def test_api_requests_turnout(
    client: Any,
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    body = ballot_body(owner, _valid(client, voting))
    assert post_ballot(client, body).status_code == 201
    response = client.get(f"/api/v1/meetings/{voting.meeting.id}/turnout")
    if _results_available("turnout"):
        assert response.status_code == 200 and response.mimetype == JSON
        figures = response.get_json()
        assert figures["meeting"] == voting.meeting.id
        assert "choice" not in response.get_data(as_text=True)  # participation only
    else:
        refused(response, 404, "not_available", "not available")


def test_api_requests_results_after_close(
    client: Any,
    store: Session,
    clock: Any,  # noqa: F811
    voting: VotingSetup,  # noqa: F811
    owner: IssuedCard,
) -> None:
    path = f"/api/v1/meetings/{voting.meeting.id}/results"
    refused(client.get(path), 409, "not_closed", "once voting has closed")
    close_meeting(store, voting.meeting, now=CLOSES)
    response = client.get(path)
    if _results_available("results"):
        assert response.status_code == 200 and response.mimetype == JSON
        motions = [m["motion"] for m in response.get_json()["motions"]]
        assert motions == [m.id for m in voting.meeting.motions]
    else:
        refused(response, 404, "not_available", "not available")


def test_api_requests_jsonable() -> None:
    import decimal
    import enum

    class Colour(enum.Enum):
        red = "red"

    @dataclasses.dataclass
    class Row:
        when: dt.datetime
        area: decimal.Decimal
        tags: frozenset[str]
        colour: Colour
        raw: bytes

    value = Row(
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        decimal.Decimal("89.50"),
        frozenset({"b", "a"}),
        Colour.red,
        b"\x01",
    )
    assert jsonable({1: [value], "n": None}) == {
        "1": [
            {
                "when": "2026-01-02T03:04:05Z",
                "area": "89.50",
                "tags": ["a", "b"],
                "colour": "red",
                "raw": "01",
            }
        ],
        "n": None,
    }
