"""Access rows for the proxy pages (see tests/web/test_web_access.py)."""

from __future__ import annotations

from typing import Any

from proxykit_web import MOTIONS, open_meeting_now

from voting.services.meetings import create_meeting

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                              anon  oper  admin  resid  street  obs
    ("/admin/meetings/{area}/{meeting}/proxies",        (302,  403,  200,   200,   200,    200)),
    ("/admin/meetings/{other}/{other_meeting}/proxies", (302,  403,  403,   403,   403,    403)),
    ("/admin/meetings/{area}/999999/proxies",           (302,  403,  404,   404,   404,    404)),
    ("/admin/meetings/{area}/{meeting}/proxies/person", (302,  403,  200,   403,   403,    403)),
    ("/vote/{meeting}/proxy",                           (302,  302,  302,   302,   302,    302)),
    ("/vote/{meeting}/proxy/withdraw",                  (302,  302,  302,   302,   302,    302)),
    ("/vote/999999/proxy",                              (302,  302,  302,   302,   302,    302)),
]  # fmt: skip

# What an owner logged in with a card of the area gets (no authorisation in force yet).
OWNER_PAGES = {
    "/vote/{meeting}/proxy": 200,
    "/vote/{meeting}/proxy/withdraw": 302,
    "/vote/999999/proxy": 404,
}


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """An open meeting in the users' area (one motion for every building, so that it opens
    with whichever roll the area has) and a draft in the other area."""
    meeting = open_meeting_now(store, seeded.area, motions=MOTIONS[:1])
    other = create_meeting(store, seeded.other, "Other area's meeting")
    return {"meeting": str(meeting.id), "other_meeting": str(other.id)}
