"""Who may open which page: anonymous and each role × each page, as a table.

Add a row for every new page, here or in a module `tests/web/access_<feature>.py` that
defines `ROWS` (same shape) and optionally `prepare(store, seeded) -> dict[str, str]`, which
creates what its paths need and returns their placeholders. Paths may use {area} (the seeded
users' home area), {other} (an area in another street, outside every scope but the
operator's) and the placeholders that `prepare` returns. Expected
statuses: 200 shown, 302 sent to the login page (anonymous) or elsewhere, 403 refused to a
logged-in user, 404 unknown. Requests are GETs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from test_owner_login import card_login, owner_cards  # noqa: F401  (fixture)

from voting.models import Role

# Column order of ACCESS: anonymous, then every role.
WHO = (
    "anonymous",
    "operator",
    "committee_admin",
    "residents_committee",
    "street_office",
    "observer",
)
assert set(WHO[1:]) == {role.value for role in Role}

ACCESS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                   anon  oper  admin  resid  street  obs
    ("/",                    (200,  200,  200,   200,   200,    200)),
    ("/login",               (200,  302,  302,   302,   302,    302)),
    ("/home",                (302,  200,  200,   200,   200,    200)),
    ("/areas/{area}",        (302,  200,  200,   200,   200,    200)),
    ("/areas/{other}",       (302,  200,  403,   403,   403,    403)),
    ("/areas/NO-SUCH-AREA",  (302,  404,  404,   404,   404,    404)),
    ("/language/en?next=/",  (302,  302,  302,   302,   302,    302)),
    ("/static/style.css",    (200,  200,  200,   200,   200,    200)),
    ("/card",                (200,  200,  200,   200,   200,    200)),
    ("/owner",               (302,  302,  302,   302,   302,    302)),
    ("/no-such-page",        (404,  404,  404,   404,   404,    404)),
    ("/admin/cards/",        (302,  302,  302,   302,   302,    302)),
    ("/admin/cards/{area}",  (302,  403,  200,   200,   200,    200)),
    ("/admin/cards/{other}", (302,  403,  403,   403,   403,    403)),
    ("/admin/cards/NO-SUCH-AREA", (302, 403, 404,  404,   404,    404)),
    ("/admin/cards/{area}/issue", (302, 403, 200,  403,   403,    403)),
    ("/admin/cards/{area}/NHXY-000001/lock", (302, 403, 404, 403, 403, 403)),
]  # fmt: skip

# Rows of the feature modules: path -> (statuses, prepare or None).
_FEATURES = [
    importlib.import_module(path.stem) for path in sorted(Path(__file__).parent.glob("access_*.py"))
]
_PREPARE = {
    path: getattr(module, "prepare", None) for module in _FEATURES for path, _s in module.ROWS
}
ACCESS = ACCESS + [row for module in _FEATURES for row in module.ROWS]
assert len({path for path, _s in ACCESS}) == len(ACCESS), "a path is listed twice"


def _url(path: str, store: Any, seeded: Any) -> str:
    values = {"area": seeded.area.code, "other": seeded.other.code}
    prepare = _PREPARE.get(path)
    if prepare is not None:
        values.update(prepare(store, seeded))
    return path.format(**values)


CASES = [
    pytest.param(path, who, status, id=f"{path} as {who}")
    for path, statuses in ACCESS
    for who, status in zip(WHO, statuses, strict=True)
]


@pytest.mark.parametrize(("path", "who", "expected"), CASES)
def test_access_matrix(
    client: Any, store: Any, seeded: Any, login: Any, path: str, who: str, expected: int
) -> None:
    url = _url(path, store, seeded)
    if who != "anonymous":
        assert login(client, who).status_code == 302, f"{who} could not log in"
    response = client.get(url)
    assert response.status_code == expected
    if path in OWNER_PAGES:  # owner pages send staff and anonymous visitors to the card login
        assert expected != 302 or response.headers["Location"] == "/card"
    elif expected == 302 and who == "anonymous" and not path.startswith("/language/"):
        assert response.headers["Location"].startswith("/login?next=")


# An owner logged in with a card is an anonymous visitor to every staff page; only the
# owner pages differ.
# Feature modules may add theirs as `OWNER_PAGES` (path -> status for a card-holder).
OWNER_PAGES = {"/owner": 200, "/card": 200}
for _module in _FEATURES:
    OWNER_PAGES.update(getattr(_module, "OWNER_PAGES", {}))


@pytest.mark.parametrize("path", [path for path, _statuses in ACCESS])
def test_access_matrix_owner(
    client: Any,
    store: Any,
    seeded: Any,
    owner_cards: Any,  # noqa: F811
    path: str,
) -> None:
    url = _url(path, store, seeded)
    assert card_login(client, owner_cards[0]).status_code == 200
    expected = OWNER_PAGES.get(path, dict(ACCESS)[path][0])
    response = client.get(url)
    assert response.status_code == expected
    if expected == 302 and path not in OWNER_PAGES and not path.startswith("/language/"):
        assert response.headers["Location"].startswith("/login?next=")
