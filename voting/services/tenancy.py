"""Creating the tenancy tree: districts, streets, communities and property areas."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.models import Community, District, PropertyArea, Street
from voting.services import NotFound, use_case


@dataclass(frozen=True)
class AreaPath:
    """Codes and names from the district down to the property area."""

    district: tuple[str, str]
    street: tuple[str, str]
    community: tuple[str, str]
    area: tuple[str, str]
    address: str | None = None


def _get_or_add(session: Session, model: type, code: str, **fields: object) -> object:
    row = session.scalar(select(model).where(model.code == code))  # type: ignore[attr-defined]
    if row is None:
        row = model(code=code, **fields)
        session.add(row)
        session.flush()
    return row


@use_case
def ensure_property_area(session: Session, path: AreaPath) -> PropertyArea:
    """Create whatever part of the path is missing; existing rows are reused as they are."""
    district = _get_or_add(session, District, path.district[0], name=path.district[1])
    street = _get_or_add(
        session,
        Street,
        path.street[0],
        name=path.street[1],
        district_id=district.id,  # type: ignore[attr-defined]
    )
    community = _get_or_add(
        session,
        Community,
        path.community[0],
        name=path.community[1],
        street_id=street.id,  # type: ignore[attr-defined]
    )
    area = _get_or_add(
        session,
        PropertyArea,
        path.area[0],
        name=path.area[1],
        address=path.address,
        community_id=community.id,  # type: ignore[attr-defined]
    )
    assert isinstance(area, PropertyArea)
    return area


def area_by_code(session: Session, code: str) -> PropertyArea:
    area = session.scalar(select(PropertyArea).where(PropertyArea.code == code))
    if area is None:
        raise NotFound(f"no property area with code {code!r}")
    return area
