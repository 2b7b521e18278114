"""Server-side sessions: the cookie is a bare random token, logout kills it, lifetimes slide."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select, update

from voting.models import WebSession, utcnow
from voting.web.sessions import REFRESH_INTERVAL

COOKIE = "session"


def _cookie(client: Any) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return None if cookie is None else cookie.value


def _rows(store: Any) -> list[WebSession]:
    store.rollback()  # a fresh snapshot: see what the requests committed
    return list(store.scalars(select(WebSession)))


def test_session_anonymous_landing_sets_no_cookie(client: Any, seeded: Any, store: Any) -> None:
    response = client.get("/")
    assert "Set-Cookie" not in response.headers
    assert _rows(store) == []


def test_session_cookie_is_only_a_random_token(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    login(client, "committee_admin")
    token = _cookie(client)
    assert token is not None
    assert len(token) >= 43  # 32 random bytes, base64url
    (row,) = _rows(store)
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    assert row.user_id == seeded.users["committee_admin"].id
    assert token not in row.data
    set_cookie = client.get("/home?lang=en").headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie


def test_session_replay_after_logout_is_anonymous(
    app: Any, client: Any, seeded: Any, login: Any, form_token: Any
) -> None:
    login(client, "committee_admin")
    stolen = _cookie(client)
    assert stolen is not None
    client.post("/logout", data={"csrf_token": form_token(client, "/home")})

    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    response = replay.get("/home")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_session_token_rotates_on_login(
    client: Any, seeded: Any, login: Any, store: Any, form_token: Any
) -> None:
    form_token(client, "/login")  # the login form stores its CSRF secret: a session exists
    before = _cookie(client)
    assert before is not None
    login(client, "observer")
    after = _cookie(client)
    assert after is not None and after != before
    ids = {row.id for row in _rows(store)}
    assert hashlib.sha256(before.encode()).hexdigest() not in ids
    assert hashlib.sha256(after.encode()).hexdigest() in ids


def test_session_planted_token_is_not_logged_in(
    app: Any, client: Any, seeded: Any, login: Any, form_token: Any
) -> None:
    # An attacker gets a victim to use the attacker's anonymous session, then waits.
    attacker = app.test_client()
    form_token(attacker, "/login")
    planted = _cookie(attacker)
    assert planted is not None
    client.set_cookie(COOKIE, planted)
    login(client, "street_office")
    assert client.get("/home").status_code == 200
    assert attacker.get("/home").status_code == 302


def test_session_expired_row_is_ignored(client: Any, seeded: Any, login: Any, store: Any) -> None:
    login(client, "operator")
    store.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    store.commit()
    assert client.get("/home").status_code == 302


def test_session_expired_rows_are_cleaned_up(
    app: Any, client: Any, seeded: Any, login: Any, store: Any
) -> None:
    login(client, "operator")
    store.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    store.commit()
    login(app.test_client(), "observer")
    rows = _rows(store)
    assert [row.user_id for row in rows] == [seeded.users["observer"].id]


def test_session_lifetime_comes_from_config(
    app: Any, client: Any, seeded: Any, login: Any, store: Any
) -> None:
    app.config["VOTING_SESSION_LIFETIME_MINUTES"] = 5
    login(client, "operator")
    (row,) = _rows(store)
    remaining = row.expires_at - utcnow()
    assert dt.timedelta(minutes=4) < remaining <= dt.timedelta(minutes=5)


def test_session_expiry_slides_with_use(client: Any, seeded: Any, login: Any, store: Any) -> None:
    login(client, "operator")
    earlier = utcnow() - REFRESH_INTERVAL - dt.timedelta(seconds=5)
    store.execute(
        update(WebSession).values(last_seen_at=earlier, expires_at=earlier + dt.timedelta(hours=2))
    )
    store.commit()
    response = client.get("/home")
    assert response.status_code == 200
    assert COOKIE in response.headers["Set-Cookie"]
    (row,) = _rows(store)
    assert row.expires_at > utcnow() + dt.timedelta(minutes=119)


def test_session_recent_use_is_not_rewritten(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    login(client, "operator")
    client.get("/home")  # the first page stores the new session's CSRF secret
    (before,) = _rows(store)
    response = client.get("/home")
    assert "Set-Cookie" not in response.headers
    (after,) = _rows(store)
    assert after.last_seen_at == before.last_seen_at


def test_session_static_files_do_not_touch_it(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    response = client.get("/static/style.css?lang=en")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert store.scalar(select(func.count()).select_from(WebSession)) == 0


@pytest.fixture
def failing_app(app: Any) -> Any:
    """The app with a page that changes the session and then fails."""
    from flask import session

    def fail() -> str:
        session["draft"] = "kept?"
        raise RuntimeError("boom")

    app.add_url_rule("/test-failure", "test_failure", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_session_survives_a_failing_request(failing_app: Any, seeded: Any, login: Any) -> None:
    client = failing_app.test_client()
    login(client, "committee_admin")
    assert client.get("/test-failure").status_code == 500
    assert client.get("/home").status_code == 200
