"""Access rows for the paper ballot pages (see tests/web/test_web_access.py)."""

from __future__ import annotations

from typing import Any

from paperkit import HASH_A, WANG, open_meeting_now, staff

from voting.models import Role, utcnow
from voting.services.meetings import create_meeting
from voting.services.paper import enter_paper, find_voter

# The paper pages of the open meeting in the users' area.
PAPER = "/admin/meetings/{area}/{paper_meeting}/paper"

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                               anon  oper  admin  resid  street  obs
    (PAPER,                                              (302,  403,  200,   200,   200,    200)),
    ("/admin/meetings/{other}/{paper_other}/paper",      (302,  403,  403,   403,   403,    403)),
    ("/admin/meetings/{area}/999999/paper",              (302,  403,  404,   404,   404,    404)),
    (PAPER + "/enter",                                   (302,  403,  200,   403,   403,    403)),
    (PAPER + "/enter?voter={paper_ref}",                 (302,  403,  200,   403,   403,    403)),
    (PAPER + "/enter?voter=NOBODY",                      (302,  403,  404,   403,   403,    403)),
    (PAPER + "/{paper_ref}/resolve",                     (302,  403,  200,   403,   403,    403)),
    (PAPER + "/HNOSUCHREF/resolve",                      (302,  403,  404,   403,   403,    403)),
]  # fmt: skip


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """An open meeting with one sheet whose two entries differ, and a draft in the other
    area."""
    meeting = open_meeting_now(store, seeded.area)
    first, second = staff(store, seeded.area, 2)
    holder = find_voter(store, meeting, WANG)
    assert holder is not None
    yes_no = meeting.motions[0].id
    for user, choice in ((first, "yes"), (second, "no")):
        enter_paper(store, meeting, holder.ref, {yes_no: choice}, HASH_A, user.id, utcnow())
    other = create_meeting(store, seeded.other, "Other area's meeting")
    assert seeded.users[Role.committee_admin].id not in (first.id, second.id)
    return {"paper_meeting": str(meeting.id), "paper_other": str(other.id), "paper_ref": holder.ref}
