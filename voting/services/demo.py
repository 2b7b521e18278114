"""Seeding the demo: tenancy, staff accounts and the roll, each step idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from voting import demo
from voting.models import PropertyArea, Role, RollVersion
from voting.services.roll import check_roll_file, current_version, import_roll
from voting.services.tenancy import ensure_property_area
from voting.services.users import ensure_user


@dataclass(frozen=True)
class DemoSummary:
    area: PropertyArea
    version: RollVersion
    imported: bool


def _scope_for(role: Role, area: PropertyArea) -> dict[str, int | None]:
    community = area.community
    match role:
        case Role.operator:
            return {}
        case Role.street_office:
            return {"street_id": community.street_id}
        case Role.residents_committee:
            return {"community_id": community.id}
    return {"property_area_id": area.id}


def seed_demo(session: Session, id_hash_key: str) -> DemoSummary:
    area = ensure_property_area(session, demo.DEMO_PATH)
    ensure_property_area(session, demo.OTHER_PATH)
    for user in demo.DEMO_USERS:
        ensure_user(
            session,
            user.username,
            demo.DEMO_PASSWORD,
            user.role,
            user.display_name,
            **_scope_for(user.role, area),
        )
    content = demo.demo_roll_csv()
    before = current_version(session, area)
    preview = check_roll_file(session, area, "demo-roll.csv", content, id_hash_key)
    if before is not None and not preview.has_changes:
        return DemoSummary(area, before, imported=False)
    version = import_roll(
        session,
        area,
        "demo-roll.csv",
        content,
        id_hash_key,
        expected_base_version=before.number if before else None,
    )
    return DemoSummary(area, version, imported=True)
