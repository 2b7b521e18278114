"""An open meeting in the seeded area around the real clock, and proxy requests over HTTP,
for the web tests of proxies (tests/web/test_proxies*.py, access_proxies.py)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crypto.canonical import JSONValue, canonical_bytes
from crypto.keys import CardKey
from voting.domain.procedure import MotionSpec, ResultDetail, RulesOfProcedure
from voting.domain.tally import MotionKind
from voting.models import Meeting, PropertyArea, utcnow
from voting.services.cards import IssuedCard
from voting.services.meetings import (
    add_motion,
    create_meeting,
    open_meeting,
    post_notice,
    set_rules,
)

PLATFORM = "voting.example"  # the app's default VOTING_PLATFORM_ID
MOTIONS = (
    MotionSpec(
        matter=4,
        kind=MotionKind.YES_NO,
        title="Renew the property service contract",
        text="Renew the contract with the current company for three years.",
    ),
    MotionSpec(
        matter=7,
        kind=MotionKind.CHOICE,
        title="Lift renovation in building 1",
        text="Choose the contractor for the lift renovation.",
        options=("Contractor A", "Contractor B"),
        scope=frozenset({"1号楼"}),
    ),
    MotionSpec(
        matter=3,
        kind=MotionKind.ELECTION,
        title="Committee election",
        text="Elect two members of the owners' committee.",
        options=("Candidate 1", "Candidate 2", "Candidate 3"),
        seats=2,
    ),
)


def open_meeting_now(
    store: Session,
    area: PropertyArea,
    *,
    proxy_cap: int = 2,
    title: str = "第一次业主大会会议",
    motions: tuple[MotionSpec, ...] = MOTIONS,
) -> Meeting:
    """A meeting of `area` whose voting window is open now (noticed 20 days ago); the area
    needs an owner roll (with 1号楼 for the default motions)."""
    now = utcnow().replace(microsecond=0)
    set_rules(
        store,
        area,
        RulesOfProcedure(
            notice_days=15,
            allow_vote_change=False,
            proxy_cap=proxy_cap,
            parking_counts=True,
            result_detail=ResultDetail.per_unit,
        ),
        now=now - dt.timedelta(days=21),
    )
    meeting = create_meeting(store, area, title, now=now - dt.timedelta(days=21))
    for spec in motions:
        add_motion(store, meeting, spec, now=now - dt.timedelta(days=21))
    post_notice(
        store,
        meeting,
        now - dt.timedelta(days=2),
        now + dt.timedelta(days=5),
        now - dt.timedelta(days=20),
    )
    open_meeting(store, meeting, now - dt.timedelta(days=1))
    store.refresh(meeting)
    return meeting


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def challenge(client: Any, meeting_id: int) -> Any:
    return client.post(f"/api/v1/meetings/{meeting_id}/proxy-challenge", json={})


def statement_from(
    reply: dict[str, Any], proxy_ref: str, instructions: dict[str, JSONValue] | None = None
) -> dict[str, JSONValue]:
    return {
        "type": "proxy",
        "platform": reply["platform"],
        "area": reply["area"],
        "meeting": reply["meeting"],
        "roll": reply["roll"],
        "owner": reply["owner"],
        "credential": reply["credential"],
        "proxy": proxy_ref,
        "instructions": instructions or {},
        "nonce": reply["nonce"],
        "time": reply["time"],
    }


def signed_body(card: IssuedCard, statement: dict[str, JSONValue]) -> dict[str, str]:
    data = canonical_bytes(statement)
    assert card.seed is not None
    return {"statement": b64(data), "signature": b64(CardKey(card.seed).sign(data))}


def authorise_over_http(
    client: Any,
    meeting_id: int,
    owner: IssuedCard,
    proxy_ref: str,
    instructions: dict[str, JSONValue] | None = None,
) -> Any:
    """Challenge, statement signed with the owner's card, POST /api/v1/proxies."""
    reply = challenge(client, meeting_id)
    assert reply.status_code == 200, reply.get_json()
    statement = statement_from(reply.get_json(), proxy_ref, instructions)
    return client.post("/api/v1/proxies", json=signed_body(owner, statement))
