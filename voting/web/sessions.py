"""Server-side sessions kept in the `web_sessions` table.

The cookie holds only a random token; the row is keyed by the token's SHA-256, so a copy of
the table gives nobody a usable cookie. Logging out deletes the row, after which the cookie
is worthless. The lifetime slides with use (`VOTING_SESSION_LIFETIME_MINUTES`); expired rows
are ignored and deleted whenever a new session is stored.

The store uses its own short database session, never the request's `db_session()`, so that
a request that fails and rolls back still keeps (or ends) its login as it should.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, select, update
from werkzeug.datastructures import CallbackDict

from voting.database import get_database
from voting.models import WebSession, utcnow

# A session used within this long of its last refresh is not written again just to slide
# its expiry: one write per minute and user at most, instead of one per request.
REFRESH_INTERVAL = dt.timedelta(seconds=60)

_serializer = TaggedJSONSerializer()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """The row id for a cookie token: SHA-256 hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus the login it belongs to.

    A login is either a staff user (`user_id`) or an owner's card (`card_id`), never both;
    each is stored in its own column. Change them only through `log_in`, `log_in_card` and
    `log_out`. All three retire the current token (its row is deleted) and continue under a
    fresh one if anything is left to keep, so that a login never reuses a token an attacker
    may have planted, and a cookie copied before logout is worthless afterwards. Revoking a
    card deletes its session rows, which ends those logins at once.
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        token: str | None = None,
        user_id: int | None = None,
        last_seen_at: dt.datetime | None = None,
        *,
        card_id: int | None = None,
        stored: bool = True,
    ) -> None:
        def on_update(_self: CallbackDict[str, Any]) -> None:
            self.modified = True
            self.accessed = True

        super().__init__(data or {}, on_update)
        self.token = token
        self.user_id = user_id
        self.card_id = card_id
        self.last_seen_at = last_seen_at
        self.retired_token: str | None = None
        self.stored = stored
        self.new = token is None
        self.modified = False
        self.accessed = False

    def log_in(self, user_id: int) -> None:
        """Bind the session to staff user `user_id` under a fresh token."""
        self._restart()
        self.user_id = user_id

    def log_in_card(self, card_id: int) -> None:
        """Bind the session to the owner card `card_id` under a fresh token."""
        self._restart()
        self.card_id = card_id

    @property
    def logged_in(self) -> bool:
        return self.user_id is not None or self.card_id is not None

    def log_out(self) -> None:
        """End the login: the token is retired, only the language choice is kept."""
        self._restart()

    def _restart(self, keep: tuple[str, ...] = ("lang",)) -> None:
        kept = {key: self[key] for key in keep if key in self}
        self.clear()
        self.update(kept)
        if self.token is not None:
            self.retired_token = self.token
        self.token = None
        self.user_id = None
        self.card_id = None
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def _lifetime(self, app: Flask) -> dt.timedelta:
        return dt.timedelta(minutes=int(app.config["VOTING_SESSION_LIFETIME_MINUTES"]))

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        if request.path.startswith(f"{app.static_url_path}/"):
            return ServerSession(stored=False)  # static files never touch the session
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 128:
            return ServerSession()
        database = get_database(app)
        with database.sessionmaker() as db:
            row = db.scalar(
                select(WebSession).where(
                    WebSession.id == token_id(token), WebSession.expires_at > utcnow()
                )
            )
        if row is None:
            return ServerSession()
        return ServerSession(
            _serializer.loads(row.data), token, row.user_id, row.last_seen_at, card_id=row.card_id
        )

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if not session.stored:
            return
        had_cookie = session.token is not None or session.retired_token is not None
        if session.accessed or had_cookie:
            response.vary.add("Cookie")
        if not session and not session.logged_in:
            # Nothing worth keeping: no row, no cookie.
            for token in (session.retired_token, session.token):
                if token is not None:
                    self._delete(app, token)
            if had_cookie:
                self._clear_cookie(app, response)
            return
        now = utcnow()
        expires = now + self._lifetime(app)
        if session.token is None:
            session.token = new_token()
            self._insert(app, session, now, expires)
        elif session.modified or _due_for_refresh(session.last_seen_at, now):
            if not self._update(app, session, now, expires):
                return  # ended meanwhile (logged out in another tab): stays ended
        else:
            return
        response.set_cookie(
            self.get_cookie_name(app),
            session.token,
            expires=expires,
            httponly=self.get_cookie_httponly(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )

    def _insert(
        self, app: Flask, session: ServerSession, now: dt.datetime, expires: dt.datetime
    ) -> None:
        assert session.token is not None
        with get_database(app).sessionmaker() as db, db.begin():
            if session.retired_token is not None:
                db.execute(
                    delete(WebSession).where(WebSession.id == token_id(session.retired_token))
                )
            db.execute(delete(WebSession).where(WebSession.expires_at <= now))
            db.add(
                WebSession(
                    id=token_id(session.token),
                    user_id=session.user_id,
                    card_id=session.card_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                    data=_serializer.dumps(dict(session)),
                )
            )

    def _update(
        self, app: Flask, session: ServerSession, now: dt.datetime, expires: dt.datetime
    ) -> bool:
        assert session.token is not None
        with get_database(app).sessionmaker() as db, db.begin():
            result = db.execute(
                update(WebSession)
                .where(WebSession.id == token_id(session.token))
                .values(
                    user_id=session.user_id,
                    card_id=session.card_id,
                    last_seen_at=now,
                    expires_at=expires,
                    data=_serializer.dumps(dict(session)),
                )
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _delete(self, app: Flask, token: str) -> None:
        with get_database(app).sessionmaker() as db, db.begin():
            db.execute(delete(WebSession).where(WebSession.id == token_id(token)))

    def _clear_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
        )


def _due_for_refresh(last_seen_at: dt.datetime | None, now: dt.datetime) -> bool:
    return last_seen_at is None or now - last_seen_at >= REFRESH_INTERVAL
