"""Access rows of the owner's voting pages and the public receipts (see test_web_access.py).

Owner pages send anonymous visitors and staff to the card login (302 → /card); receipts are
public. A hash of the wrong shape is 400, an unknown one 404, for everyone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from voting.domain.procedure import MotionSpec
from voting.domain.tally import MotionKind
from voting.models import utcnow
from voting.services.meetings import add_motion, create_meeting, post_notice

UNKNOWN_HASH = "ab" * 32

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                              anon  oper  admin  resid  street  obs
    ("/vote",                           (302,  302,  302,   302,   302,    302)),
    ("/vote/{vote_meeting}",            (302,  302,  302,   302,   302,    302)),
    ("/vote/{vote_other_meeting}",      (302,  302,  302,   302,   302,    302)),
    ("/receipts",                       (200,  200,  200,   200,   200,    200)),
    ("/receipts/" + UNKNOWN_HASH,       (404,  404,  404,   404,   404,    404)),
    ("/receipts/not-a-hash",            (400,  400,  400,   400,   400,    400)),
]  # fmt: skip

# What an owner logged in with a card of area A gets.
OWNER_PAGES = {
    "/vote": 200,
    "/vote/{vote_meeting}": 200,
    "/vote/{vote_other_meeting}": 404,  # another area's meeting is not revealed
    "/receipts": 200,
    "/receipts/" + UNKNOWN_HASH: 404,
    "/receipts/not-a-hash": 400,
}


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """A noticed meeting in the seeded users' area and one in the other area."""
    now = utcnow().replace(microsecond=0)
    ids = {}
    for name, area in (("vote_meeting", seeded.area), ("vote_other_meeting", seeded.other)):
        meeting = create_meeting(store, area, "业主大会会议", now=now)
        add_motion(
            store,
            meeting,
            MotionSpec(matter=4, kind=MotionKind.YES_NO, title="Renew", text="Renew."),
        )
        opens = now + dt.timedelta(days=15)
        post_notice(store, meeting, opens, opens + dt.timedelta(days=7), now=now)
        ids[name] = str(meeting.id)
    return ids
