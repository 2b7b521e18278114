"""Staff accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from voting.models import Role, User, utcnow
from voting.services import ServiceError, use_case

MIN_PASSWORD_LENGTH = 8


@use_case
def ensure_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    *,
    district_id: int | None = None,
    street_id: int | None = None,
    community_id: int | None = None,
    property_area_id: int | None = None,
) -> User:
    """Create the account, or return it unchanged if the username exists."""
    existing = session.scalar(select(User).where(User.username == username))
    if existing is not None:
        return existing
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        username=username,
        password_hash=generate_password_hash(password),
        role=role,
        display_name=display_name,
        district_id=district_id,
        street_id=street_id,
        community_id=community_id,
        property_area_id=property_area_id,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None; the same work is done for unknown names."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    session.commit()
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password")
