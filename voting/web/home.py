"""Staff home pages: one per role, and the summary page of a property area."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, abort, render_template
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, joinedload

from voting.database import db_session
from voting.models import Community, PropertyArea, Role, RollVersion, Street, User
from voting.permissions import Action, can, visible_areas
from voting.web.auth import current_user, login_required, require

bp = Blueprint("home", __name__)

# Roles whose home is the summary of their own property area; the others see a list.
_AREA_HOME_ROLES = frozenset({Role.committee_admin, Role.observer})


def _visible(session: Session, user: User) -> Sequence[PropertyArea]:
    query = visible_areas(user).options(
        joinedload(PropertyArea.community).joinedload(Community.street).joinedload(Street.district)
    )
    return session.scalars(query).unique().all()


def current_rolls(session: Session, areas: Sequence[PropertyArea]) -> dict[int, RollVersion]:
    """The newest roll version of each area that has one, by area id."""
    ids = [area.id for area in areas]
    if not ids:
        return {}
    newest = (
        select(RollVersion.property_area_id, func.max(RollVersion.number).label("number"))
        .where(RollVersion.property_area_id.in_(ids))
        .group_by(RollVersion.property_area_id)
        .subquery()
    )
    query = select(RollVersion).join(
        newest,
        and_(
            RollVersion.property_area_id == newest.c.property_area_id,
            RollVersion.number == newest.c.number,
        ),
    )
    return {version.property_area_id: version for version in session.scalars(query)}


def _render_area(area: PropertyArea, user: User) -> str:
    session = db_session()
    return render_template(
        "home/area.html",
        area=area,
        roll=current_rolls(session, [area]).get(area.id),
        can_manage_roll=can(user, Action.manage_roll, area),
    )


@bp.get("/home")
@login_required
def index() -> str:
    user = current_user()
    assert user is not None
    session = db_session()
    areas = _visible(session, user)
    if user.role in _AREA_HOME_ROLES and len(areas) == 1:
        return _render_area(areas[0], user)
    return render_template(
        "home/areas.html",
        areas=areas,
        rolls=current_rolls(session, areas),
        show_district=user.role is Role.operator,
    )


@bp.get("/areas/<code>")
def area(code: str) -> str:
    session = db_session()
    found = session.scalar(select(PropertyArea).where(PropertyArea.code == code))
    require(Action.view_area, found)
    if found is None:
        abort(404)
    user = current_user()
    assert user is not None
    return _render_area(found, user)
