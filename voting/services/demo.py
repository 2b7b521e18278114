"""Seeding the demo: tenancy, staff accounts and the roll, each step idempotent."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crypto.keys import CardKey
from voting import demo
from voting.models import CardStatus, PropertyArea, Role, RollVersion
from voting.services.cards import IssuedCard, cards_of_area, issue_cards, revoke_card
from voting.services.roll import check_roll_file, current_version, import_roll
from voting.services.tenancy import ensure_property_area
from voting.services.users import ensure_user

DEMO_CARDS_FILE = "demo-cards.json"


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


@dataclass(frozen=True)
class DemoCards:
    path: Path
    cards: list[dict[str, Any]]
    issued: int


def _card_entry(card: IssuedCard) -> dict[str, Any]:
    return {
        "card_number": card.number,
        "holder_ref": card.holder_ref,
        "houses": list(card.houses),
        "link": card.qr_url,
        "backup_code": card.backup_code,
        "pin": card.pin,
        "puk": card.puk,
    }


def _write_private(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write the file with mode 0600 (it holds the demo cards' secrets)."""
    data = json.dumps(entries, ensure_ascii=False, indent=1).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, 0o600)
        file.write(data)


def seed_demo_cards(
    session: Session,
    area: PropertyArea,
    issuer: CardKey,
    instance: Path,
    base_url: str,
    *,
    issued_at: dt.datetime | None = None,
) -> DemoCards:
    """Issue a card to every demo holder without one and list them all in demo-cards.json.

    For the demo only: the file keeps the cards' secrets (link, backup code, PIN, PUK), which
    the platform otherwise never stores. A rerun issues nothing and keeps the file. If the
    file is missing while cards exist, their secrets are gone for good, so the demo cards are
    revoked and issued anew to write the file again. `issued_at` backdates the issue, so
    the cards were valid when the demo's past meeting was voted on.
    """
    path = instance / DEMO_CARDS_FILE
    entries: list[dict[str, Any]] = []
    if path.exists():
        entries = json.loads(path.read_text(encoding="utf-8"))
    else:
        for card in cards_of_area(session, area):
            if card.status is CardStatus.active:
                revoke_card(session, card, reason="demo-cards.json was missing", user_id=None)
    issued = issue_cards(session, area, issuer, base_url=base_url, now=issued_at)
    if issued or not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        entries += [_card_entry(card) for card in issued]
        _write_private(path, entries)
    return DemoCards(path, entries, len(issued))
