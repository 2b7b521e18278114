"""Staff login with a throttle on wrong passwords.

Wrong passwords are counted per username in the database, so that the limit holds across
all app servers; unknown usernames are counted the same way, so the answer never tells
whether an account exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from voting.models import User, utcnow
from voting.models.users import LoginFailure
from voting.services import use_case
from voting.services.users import authenticate

MAX_FAILURES = 10
FAILURE_WINDOW = dt.timedelta(minutes=15)
_USERNAME_LENGTH = LoginFailure.__table__.c.username.type.length  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoginResult:
    """The user on success; `throttled` when too many wrong passwords were given lately."""

    user: User | None
    throttled: bool = False


def _key(username: str) -> str:
    return username.strip()[:_USERNAME_LENGTH]


def recent_failures(session: Session, username: str, now: dt.datetime | None = None) -> int:
    since = (now or utcnow()) - FAILURE_WINDOW
    query = select(func.count()).where(
        LoginFailure.username == _key(username), LoginFailure.created_at > since
    )
    return int(session.scalar(query) or 0)


@use_case
def staff_login(
    session: Session, username: str, password: str, *, now: dt.datetime | None = None
) -> LoginResult:
    """Check the password unless the username is throttled; record the outcome."""
    now = now or utcnow()
    key = _key(username)
    if recent_failures(session, key, now) >= MAX_FAILURES:
        return LoginResult(user=None, throttled=True)
    user = authenticate(session, username.strip(), password)
    if user is None:
        session.add(LoginFailure(username=key, created_at=now))
        # Opportunistic clean-up: failures older than the window no longer count.
        session.execute(delete(LoginFailure).where(LoginFailure.created_at <= now - FAILURE_WINDOW))
        return LoginResult(user=None)
    session.execute(delete(LoginFailure).where(LoginFailure.username == key))
    return LoginResult(user=user)
