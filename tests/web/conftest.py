"""Fixtures for web tests: two property areas in different streets, one staff user per role,
a `login` helper, and a live server with a phone-sized Chromium page for browser tests.

    store                  a database session of the test's own (no app context pushed)
    seeded                 Seed(area, other, users, password): area A has a roll version
    login(client, username, password=PASSWORD, next=None) -> Response   (not followed)
    form_token(client, path) -> str        the CSRF token of the form on `path`
    live_server            base URL of the app served by werkzeug on 127.0.0.1
    browser / page         Debian's Chromium through Playwright; `page` is 390×844
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from voting import demo
from voting.database import get_database
from voting.models import PropertyArea, Role, RollVersion, User
from voting.services.tenancy import ensure_property_area
from voting.services.users import ensure_user

PASSWORD = "correct-horse-7"

# Area A is the demo area; B lies in another street, outside every scope but the operator's.
AREA_A = demo.DEMO_PATH
AREA_B = demo.OTHER_PATH
# username = the role's value; display names as in the demo.
DISPLAY_NAMES = {user.role: user.display_name for user in demo.DEMO_USERS}

# Area A's current roll, as shown on the home pages.
ROLL = {"number": 2, "unit_count": 1152, "headcount": 1087, "total_area_centi": 10_523_456}

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass(frozen=True)
class Seed:
    area: PropertyArea
    other: PropertyArea
    users: dict[Role, User]
    password: str = PASSWORD


def scope_of(role: Role, area: PropertyArea) -> dict[str, int]:
    """The scope columns of a user of `role` whose home is `area`."""
    match role:
        case Role.operator:
            return {}
        case Role.street_office:
            return {"street_id": area.community.street_id}
        case Role.residents_committee:
            return {"community_id": area.community_id}
    return {"property_area_id": area.id}


@pytest.fixture
def store(app: Any) -> Iterator[Session]:
    """A database session of the test's own, outside any app context, so that each request
    of the test client runs in a fresh app context as it would in production."""
    with get_database(app).sessionmaker() as session:
        yield session


@functools.cache
def _password_hash(password: str) -> str:
    return generate_password_hash(password)


@pytest.fixture
def seeded(store: Session, monkeypatch: pytest.MonkeyPatch) -> Seed:
    # Real hashes, but each password hashed once per test run rather than per user and test.
    monkeypatch.setattr("voting.services.users.generate_password_hash", _password_hash)
    area = ensure_property_area(store, AREA_A)
    other = ensure_property_area(store, AREA_B)
    users = {}
    for role in Role:
        scope = scope_of(role, area)
        users[role] = ensure_user(store, role.value, PASSWORD, role, DISPLAY_NAMES[role], **scope)
    store.add(
        RollVersion(
            property_area_id=area.id,
            source_name="roll.xlsx",
            source_sha256="0" * 64,
            content_sha256="1" * 64,
            **ROLL,
        )
    )
    store.commit()
    return Seed(area=area, other=other, users=users)


def _form_token(client: Any, path: str) -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"{path} has no CSRF token"
    return match.group(1)


@pytest.fixture
def form_token() -> Callable[[Any, str], str]:
    return _form_token


def _login(client: Any, username: str, password: str = PASSWORD, next: str | None = None) -> Any:
    path = "/login" if next is None else f"/login?next={next}"
    token = _form_token(client, path)
    return client.post(path, data={"csrf_token": token, "username": username, "password": password})


@pytest.fixture
def login() -> Callable[..., Any]:
    """`login(client, username, password=PASSWORD, next=None)`: the response, not followed."""
    return _login


# --- browser tests ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The test app served on 127.0.0.1 in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh phone-sized page (390×844, touch) with its own cookies."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
