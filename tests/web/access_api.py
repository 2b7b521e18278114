"""Access rows of the JSON API's GET endpoints (see test_web_access.py).

Owner endpoints need a card session: anonymous visitors and staff get 401 (never a
redirect). Turnout and results are for the area's owners and for staff who may view its
meetings. Receipts (a real one: access_api_receipts.py) and the OpenAPI document are
public. The data of turnout and results
come from `voting.services.results`; until it exists those answer 404 "not_available".
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
from typing import Any

from voting.domain.procedure import MotionSpec
from voting.domain.tally import MotionKind
from voting.models import utcnow
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
)

MOTION = MotionSpec(matter=4, kind=MotionKind.YES_NO, title="Renew", text="Renew the contract.")


def _available(name: str) -> bool:
    if importlib.util.find_spec("voting.services.results") is None:
        return False
    return hasattr(importlib.import_module("voting.services.results"), name)


TURNOUT = 200 if _available("turnout") else 404
RESULTS = 200 if _available("results") else 404

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                        anon  oper  admin  resid  street  obs
    ("/api/v1/meetings",                          (401,  401,  401,   401,   401,    401)),
    ("/api/v1/meetings/{api_open}",               (401,  401,  401,   401,   401,    401)),
    ("/api/v1/meetings/{api_draft}",              (401,  401,  401,   401,   401,    401)),
    ("/api/v1/meetings/{api_foreign}",            (401,  401,  401,   401,   401,    401)),
    ("/api/v1/meetings/999999",                   (401,  401,  401,   401,   401,    401)),
    ("/api/v1/meetings/{api_open}/turnout",
        (401, 403, TURNOUT, TURNOUT, TURNOUT, TURNOUT)),
    ("/api/v1/meetings/{api_foreign}/turnout",    (401,  403,  403,   403,   403,    403)),
    ("/api/v1/meetings/{api_draft}/turnout",      (401,  403,  404,   404,   404,    404)),
    ("/api/v1/meetings/999999/turnout",           (401,  403,  404,   404,   404,    404)),
    ("/api/v1/meetings/{api_open}/results",       (401,  403,  409,   409,   409,    409)),
    ("/api/v1/meetings/{api_closed}/results",
        (401, 403, RESULTS, RESULTS, RESULTS, RESULTS)),
    ("/api/v1/meetings/{api_foreign}/results",    (401,  403,  403,   403,   403,    403)),
    ("/api/v1/receipts/" + "0" * 64,              (404,  404,  404,   404,   404,    404)),
    ("/api/v1/receipts/not-a-hash",               (404,  404,  404,   404,   404,    404)),
    ("/api/v1/openapi.json",                      (200,  200,  200,   200,   200,    200)),
    ("/api/v1/no-such-endpoint",                  (404,  404,  404,   404,   404,    404)),
]  # fmt: skip

# What an owner logged in with a card of the seeded area gets (other rows: as anonymous).
OWNER_PAGES = {
    "/api/v1/meetings": 200,
    "/api/v1/meetings/{api_open}": 200,
    "/api/v1/meetings/{api_draft}": 404,
    "/api/v1/meetings/{api_foreign}": 404,  # another area's meeting is not revealed
    "/api/v1/meetings/999999": 404,
    "/api/v1/meetings/{api_open}/turnout": TURNOUT,
    "/api/v1/meetings/{api_foreign}/turnout": 404,
    "/api/v1/meetings/{api_draft}/turnout": 404,
    "/api/v1/meetings/999999/turnout": 404,
    "/api/v1/meetings/{api_open}/results": 409,
    "/api/v1/meetings/{api_closed}/results": RESULTS,
    "/api/v1/meetings/{api_foreign}/results": 404,
}


def _meeting(store: Any, area: Any, opens: dt.datetime, closes: dt.datetime) -> Any:
    """A meeting noticed 20 days before it opens."""
    meeting = create_meeting(store, area, "业主大会会议", now=opens - dt.timedelta(days=21))
    add_motion(store, meeting, MOTION)
    post_notice(store, meeting, opens, closes, now=opens - dt.timedelta(days=20))
    return meeting


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """In the seeded area: an open meeting, a closed one and a draft; in the other area, a
    noticed meeting."""
    now = utcnow().replace(microsecond=0)
    day = dt.timedelta(days=1)
    opened = _meeting(store, seeded.area, now - day, now + 6 * day)
    open_meeting(store, opened, now=now - day)
    closed = _meeting(store, seeded.area, now - 20 * day, now - 10 * day)
    open_meeting(store, closed, now=now - 20 * day)
    close_meeting(store, closed, now=now - 10 * day)
    draft = create_meeting(store, seeded.area, "草稿", now=now)

    foreign = _meeting(store, seeded.other, now + 20 * day, now + 27 * day)
    return {
        "api_open": str(opened.id),
        "api_closed": str(closed.id),
        "api_draft": str(draft.id),
        "api_foreign": str(foreign.id),
    }
