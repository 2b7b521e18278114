"""`voting demo --seed-only`: a realistic area, seeded once, the same counts on a rerun."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from voting.cli import main
from voting.models import (
    Base,
    Holder,
    HolderKind,
    PropertyArea,
    Role,
    RollEntry,
    RollVersion,
    UnitStatus,
    User,
)


def _run_demo(database_url: str, instance: Path) -> str:
    result = CliRunner().invoke(
        main,
        ["demo", "--seed-only"],
        env={"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(instance)},
    )
    assert result.exit_code == 0, result.output
    return result.output


def _counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                name: conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                for name in Base.metadata.tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> tuple[str, str]:
    return database_url, _run_demo(database_url, tmp_path / "instance")


def test_demo_seeds_the_same_counts_twice(seeded: tuple[str, str], tmp_path: Path) -> None:
    database_url, first_output = seeded
    first = _counts(database_url)
    second_output = _run_demo(database_url, tmp_path / "instance")
    assert _counts(database_url) == first
    assert "(imported)" in first_output
    assert "(unchanged)" in second_output


def test_demo_area_is_realistic(seeded: tuple[str, str]) -> None:
    database_url, output = seeded
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            area = session.scalars(select(PropertyArea).where(PropertyArea.code == "NHXY")).one()
            version = session.scalars(
                select(RollVersion).where(RollVersion.property_area_id == area.id)
            ).one()
            entries = session.scalars(
                select(RollEntry).where(RollEntry.roll_version_id == version.id)
            ).all()
            assert version.unit_count == len(entries) >= 1000
            buildings = {entry.unit.building.name for entry in entries}
            assert len(buildings) >= 10
            # The developer holds every unsold and undelivered unit, as one person.
            developer_units = [e for e in entries if e.holder.kind is HolderKind.developer]
            assert {e.status for e in developer_units} == {
                UnitStatus.unsold,
                UnitStatus.undelivered,
            }
            assert len({e.holder_id for e in developer_units}) == 1
            assert all(
                e.holder.kind is HolderKind.developer
                for e in entries
                if e.status is not UnitStatus.sold
            )
            # Buyers of several units, co-owned units, parking spaces.
            units_per_holder: dict[int, int] = {}
            for entry in entries:
                units_per_holder[entry.holder_id] = units_per_holder.get(entry.holder_id, 0) + 1
            assert sum(1 for n in units_per_holder.values() if n > 1) >= 30
            assert version.headcount == len(units_per_holder) < version.unit_count
            assert sum(1 for e in entries if e.co_owners) >= 50
            assert any(e.is_parking for e in entries)
            assert version.total_area_centi == sum(e.area_centi for e in entries)
            # Realistic flat areas: two decimals, 50 to 160 m².
            flats = [e.area_centi for e in entries if not e.is_parking]
            assert min(flats) >= 5000 and max(flats) <= 16000
            roles = set(session.scalars(select(User.role)))
            assert roles == set(Role)
            assert session.scalar(select(func.count()).select_from(Holder)) == version.headcount
    finally:
        engine.dispose()
    for username in ("operator", "admin", "juweihui", "jiedao", "observer"):
        assert username in output
    assert "demo-2026" in output


def test_demo_issues_one_card_per_holder(seeded: tuple[str, str], tmp_path: Path) -> None:
    import json

    from voting.models import Card, CardStatus

    database_url, output = seeded
    path = tmp_path / "instance" / "demo-cards.json"
    assert path.stat().st_mode & 0o777 == 0o600
    listed = json.loads(path.read_text(encoding="utf-8"))
    before = path.read_bytes()
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            active = session.execute(
                select(Card.number, Card.holder_id).where(Card.status == CardStatus.active)
            ).all()
            holders = session.scalar(select(func.count()).select_from(Holder))
    finally:
        engine.dispose()
    assert len(active) == holders == len({holder for _n, holder in active})
    assert {entry["card_number"] for entry in listed} == {number for number, _h in active}
    first = listed[0]
    assert first["link"].startswith("http://127.0.0.1:8000/card#1.NHXY-")
    assert len(first["pin"]) == 6 and len(first["puk"]) == 8 and first["houses"]
    assert str(path) in output and first["pin"] in output
    # A rerun keeps the file; without the file the cards are issued anew.
    _run_demo(database_url, tmp_path / "instance")
    assert path.read_bytes() == before
    path.unlink()
    _run_demo(database_url, tmp_path / "instance")
    again = json.loads(path.read_text(encoding="utf-8"))
    assert len(again) == len(listed)
    assert {e["card_number"] for e in again}.isdisjoint(e["card_number"] for e in listed)


def test_demo_meetings_published_record_verifies(seeded: tuple[str, str], tmp_path: Path) -> None:
    from crypto.keys import CardKey
    from voting.domain.procedure import MeetingState
    from voting.models import Ballot, Meeting, MotionResult, Proxy
    from voting.models.paper import PaperEntry

    database_url, output = seeded
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            meetings = session.scalars(select(Meeting).order_by(Meeting.id)).all()
            states = [meeting.state for meeting in meetings]
            ballots = session.scalar(select(func.count()).select_from(Ballot)) or 0
            proxy_ballots = session.scalar(
                select(func.count()).select_from(Ballot).where(Ballot.proxy_id.is_not(None))
            )
            proxies = session.scalar(select(func.count()).select_from(Proxy))
            paper = session.scalar(select(func.count()).select_from(PaperEntry))
            results = session.scalars(select(MotionResult)).all()
            published = meetings[0].id
    finally:
        engine.dispose()
    assert states == [MeetingState.published, MeetingState.open]
    assert ballots >= 300 and proxy_ballots and proxies and paper
    assert len(results) == 2 and all(b'"passed"' in r.result for r in results)
    assert "774 ballots seeded" in output or f"{ballots} ballots seeded" in output
    env = {"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(tmp_path / "instance")}
    record = tmp_path / "record"
    exported = CliRunner().invoke(
        main, ["export", "--meeting", str(published), str(record)], env=env
    )
    assert exported.exit_code == 0, exported.output
    log_key = CardKey((tmp_path / "instance" / "log-key").read_bytes()).public_key.hex()
    verified = CliRunner().invoke(main, ["verify", str(record), "--log-key", log_key], env=env)
    assert verified.exit_code == 0, verified.output
    assert "passed every check" in verified.output
    # A rerun seeds no meeting again.
    assert "ballots seeded" not in _run_demo(database_url, tmp_path / "instance")
