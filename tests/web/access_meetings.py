"""Access rows of the meeting pages and result notices (see tests/web/test_web_access.py).

Staff who view the area's meetings see every state; owners with a card of the area see every
state but drafts; a published result (also when later annulled) is public. Otherwise an
anonymous visitor gets a 401 page offering both logins, whether the meeting exists or not,
and an owner gets 404 for what is not theirs. The notice PDF is 409 before the close.
"""

from __future__ import annotations

from typing import Any

from ballotkit import YES_NO
from resultskit import staged_meeting

from voting.domain.procedure import MeetingState

M = "/meetings/{area}/"
ONE = (YES_NO,)  # one motion is enough here
ALL = (200, 200, 200, 200, 200, 200)
STAFF = (401, 403, 200, 200, 200, 200)

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                      anon  oper  admin  resid  street  obs
    (M + "{m_draft}",                           STAFF),
    (M + "{m_noticed}",                         STAFF),
    (M + "{m_open}",                            STAFF),
    (M + "{m_closed}",                          STAFF),
    (M + "{m_published}",                       ALL),
    (M + "{m_annulled}",                        ALL),
    (M + "999999",                              (401,  403,  404,   404,   404,    404)),
    ("/meetings/NO-SUCH-AREA/1",                (401,  403,  404,   404,   404,    404)),
    ("/meetings/{other}/{m_draft}",             (401,  403,  403,   403,   403,    403)),
    ("/meetings/{other}/{m_other_closed}",      (401,  403,  403,   403,   403,    403)),
    ("/meetings/{other}/{m_other_published}",   ALL),
    (M + "{m_open}/notice.pdf",                 (401,  403,  409,   409,   409,    409)),
    (M + "{m_closed}/notice.pdf",               STAFF),
    (M + "{m_published}/notice.pdf",            ALL),
    ("/meetings/{other}/{m_other_closed}/notice.pdf", (401, 403, 403, 403,  403,    403)),
]  # fmt: skip

# What an owner logged in with a card of the seeded area gets.
OWNER_PAGES = {
    M + "{m_draft}": 404,
    M + "{m_noticed}": 200,
    M + "{m_open}": 200,
    M + "{m_closed}": 200,
    M + "{m_published}": 200,
    M + "{m_annulled}": 200,
    M + "999999": 404,
    "/meetings/NO-SUCH-AREA/1": 404,
    "/meetings/{other}/{m_draft}": 404,
    "/meetings/{other}/{m_other_closed}": 404,
    "/meetings/{other}/{m_other_published}": 200,
    M + "{m_open}/notice.pdf": 409,
    M + "{m_closed}/notice.pdf": 200,
    M + "{m_published}/notice.pdf": 200,
    "/meetings/{other}/{m_other_closed}/notice.pdf": 404,
}


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """A meeting of the users' area in each state, and a closed and a published one in the
    other area."""
    ids = {
        f"m_{state.value}": str(staged_meeting(store, seeded.area, state, specs=ONE).meeting.id)
        for state in MeetingState
    }
    for state in (MeetingState.closed, MeetingState.published):
        setup = staged_meeting(store, seeded.other, state, title="别的小区的会议", specs=ONE)
        ids[f"m_other_{state.value}"] = str(setup.meeting.id)
    return ids
