"""The one place that says who may do what.

A staff user has one role and one scope in the tenancy tree; every question "may this user
do X in that property area?" is answered here, and every query of property areas a user may
see is built here.
"""

from __future__ import annotations

import enum

from sqlalchemy import Select, select

from voting.models import Community, PropertyArea, Role, Street, User


class Action(enum.StrEnum):
    view_area = "view_area"  # see the area's pages, roll summary and versions
    view_roll_details = "view_roll_details"  # names and phone numbers in the roll
    manage_roll = "manage_roll"  # import a new roll version
    administer_platform = "administer_platform"  # create districts, streets, areas
    view_cards = "view_cards"  # the area's owner cards: numbers, holder refs, status
    manage_cards = "manage_cards"  # issue, lock, unlock, revoke and reissue owner cards
    view_meetings = "view_meetings"  # meetings, notices, proxies, turnout and results
    manage_meetings = "manage_meetings"  # rules of procedure, meetings, motions, lifecycle
    annul_meeting = "annul_meeting"  # annul a published decision (street office)
    enter_paper = "enter_paper"  # enter and resolve paper ballots (double entry)
    audit_log = "audit_log"  # the observer page: checkpoints, proofs, log entries


_ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.operator: frozenset({Action.view_area, Action.administer_platform}),
    Role.committee_admin: frozenset(
        {
            Action.view_area,
            Action.view_roll_details,
            Action.manage_roll,
            Action.view_cards,
            Action.manage_cards,
            Action.view_meetings,
            Action.manage_meetings,
            Action.enter_paper,
            Action.audit_log,
        }
    ),
    Role.residents_committee: frozenset(
        {Action.view_area, Action.view_cards, Action.view_meetings, Action.audit_log}
    ),
    Role.street_office: frozenset(
        {
            Action.view_area,
            Action.view_roll_details,
            Action.view_cards,
            Action.view_meetings,
            Action.annul_meeting,
            Action.audit_log,
        }
    ),
    Role.observer: frozenset(
        {Action.view_area, Action.view_cards, Action.view_meetings, Action.audit_log}
    ),
}


def visible_areas(user: User) -> Select[tuple[PropertyArea]]:
    """The property areas within the user's scope, as a query to refine and execute."""
    query = select(PropertyArea).order_by(PropertyArea.code)
    if not user.active:
        return query.where(False)
    match user.role:
        case Role.operator:
            if user.district_id is None:
                return query
            return (
                query.join(Community, PropertyArea.community_id == Community.id)
                .join(Street, Community.street_id == Street.id)
                .where(Street.district_id == user.district_id)
            )
        case Role.street_office:
            return query.join(Community, PropertyArea.community_id == Community.id).where(
                Community.street_id == user.street_id
            )
        case Role.residents_committee:
            return query.where(PropertyArea.community_id == user.community_id)
        case Role.committee_admin | Role.observer:
            return query.where(PropertyArea.id == user.property_area_id)
    return query.where(False)


def in_scope(user: User, area: PropertyArea) -> bool:
    if not user.active:
        return False
    match user.role:
        case Role.operator:
            return user.district_id is None or area.community.street.district_id == user.district_id
        case Role.street_office:
            return area.community.street_id == user.street_id
        case Role.residents_committee:
            return area.community_id == user.community_id
        case Role.committee_admin | Role.observer:
            return area.id == user.property_area_id
    return False


def can(user: User | None, action: Action, area: PropertyArea | None = None) -> bool:
    """May `user` do `action` (in `area`, for area-bound actions)?"""
    if user is None or not user.active:
        return False
    if action not in _ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    # Without an area the question is whether the role ever allows it (e.g. to show a menu).
    return area is None or in_scope(user, area)
