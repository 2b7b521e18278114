"""Loading what a staff page is about, with its permission check, in one place."""

from __future__ import annotations

from flask import abort, redirect, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from voting.database import db_session
from voting.models import PropertyArea, User
from voting.permissions import Action
from voting.web.auth import current_user, require


def area_for(code: str, action: Action) -> PropertyArea:
    """The area with this code, if the user may do `action` there (else login, 403 or 404)."""
    area = db_session().scalar(select(PropertyArea).where(PropertyArea.code == code))
    require(action, area)
    if area is None:
        abort(404)
    return area


def staff_user() -> User:
    user = current_user()
    assert user is not None  # require() has sent anonymous visitors to the login page
    return user


def own_area_redirect(endpoint: str) -> Response:
    """Send a user bound to one area to that area's page, anyone else to their home."""
    user = staff_user()
    if user.property_area_id is None:
        return redirect(url_for("home.index"))
    area = db_session().get(PropertyArea, user.property_area_id)
    if area is None:
        abort(404)
    return redirect(url_for(endpoint, code=area.code))
