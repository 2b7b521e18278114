"""Access rows for the staff meeting pages (see tests/web/test_web_access.py)."""

from __future__ import annotations

from typing import Any

from meetingkit_web import draft, noticed_in_window, published

M = "/admin/meetings"
DRAFT = M + "/{area}/{mt_draft}"

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                          anon  oper  admin  resid  street  obs
    (M + "/",                                       (302,  302,  302,   302,   302,    302)),
    (M + "/notices",                                (302,  403,  200,   200,   200,    200)),
    (M + "/{area}",                                 (302,  403,  200,   200,   200,    200)),
    (M + "/{other}",                                (302,  403,  403,   403,   403,    403)),
    (M + "/NO-SUCH-AREA",                           (302,  403,  404,   404,   404,    404)),
    (M + "/{area}/rules",                           (302,  403,  200,   200,   200,    200)),
    (M + "/{other}/rules",                          (302,  403,  403,   403,   403,    403)),
    (DRAFT,                                         (302,  403,  200,   200,   200,    200)),
    (M + "/{area}/999999",                          (302,  403,  404,   404,   404,    404)),
    (M + "/{other}/{mt_other}",                     (302,  403,  403,   403,   403,    403)),
    (M + "/{area}/{mt_other}",                      (302,  403,  404,   404,   404,    404)),
    (DRAFT + "/motions/new",                        (302,  403,  200,   403,   403,    403)),
    (DRAFT + "/motions/{mt_motion}/edit",           (302,  403,  200,   403,   403,    403)),
    (DRAFT + "/motions/{mt_motion}/remove",         (302,  403,  200,   403,   403,    403)),
    (DRAFT + "/motions/999999/edit",                (302,  403,  404,   403,   403,    403)),
    (DRAFT + "/notice",                             (302,  403,  200,   403,   403,    403)),
    (DRAFT + "/open",                               (302,  403,  409,   403,   403,    403)),
    (DRAFT + "/annul",                              (302,  403,  403,   403,   409,    403)),
    (DRAFT + "/no-such-step",                       (404,  404,  404,   404,   404,    404)),
    (M + "/{area}/{mt_ready}/open",                 (302,  403,  200,   403,   403,    403)),
    (M + "/{area}/{mt_ready}/motions/new",          (302,  403,  409,   403,   403,    403)),
    (M + "/{area}/{mt_published}",                  (302,  403,  200,   200,   200,    200)),
    (M + "/{area}/{mt_published}/publish",          (302,  403,  409,   403,   403,    403)),
    (M + "/{area}/{mt_published}/annul",            (302,  403,  403,   403,   200,    403)),
]  # fmt: skip


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """A draft with one motion, a meeting ready to open, a published one, all in the users'
    area, and a draft in the other area."""
    mine = draft(store, seeded.area)
    ready = noticed_in_window(store, seeded.area)
    done = published(store, seeded.area)
    other = draft(store, seeded.other, "别的小区的会议")
    return {
        "mt_draft": str(mine.id),
        "mt_motion": str(mine.motions[0].id),
        "mt_ready": str(ready.id),
        "mt_published": str(done.id),
        "mt_other": str(other.id),
    }
