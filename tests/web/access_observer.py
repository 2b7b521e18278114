"""Access rows of the observer page and the log's JSON endpoints (see test_web_access.py).

The observer page needs Action.audit_log in the area (the operator has none); the JSON
endpoints are public, for every area: anyone may audit a log.
"""

from __future__ import annotations

from typing import Any

from logkit import signer

from voting.services.logtree import sign_checkpoint

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                        anon  oper  admin  resid  street  obs
    ("/observer/",                                (302,  302,  302,   302,   302,    302)),
    ("/observer/{area}",                          (302,  403,  200,   200,   200,    200)),
    ("/observer/{other}",                         (302,  403,  403,   403,   403,    403)),
    ("/observer/NO-SUCH-AREA",                    (302,  403,  404,   404,   404,    404)),
    ("/api/v1/areas/{area}/log/checkpoint",       (200,  200,  200,   200,   200,    200)),
    ("/api/v1/areas/{area}/log/key",              (200,  200,  200,   200,   200,    200)),
    ("/api/v1/areas/{other}/log/entries?start=0", (200,  200,  200,   200,   200,    200)),
    ("/api/v1/areas/{area}/log/consistency?from=0&to=0", (400, 400, 400, 400, 400, 400)),
    ("/api/v1/areas/NO-SUCH-AREA/log/key",        (404,  404,  404,   404,   404,    404)),
]  # fmt: skip


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """A signed checkpoint of area A's (empty) log, for the checkpoint row."""
    from voting.models import utcnow

    sign_checkpoint(store, seeded.area, signer(), utcnow())
    return {}
