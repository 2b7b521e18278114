"""`voting cards`: issue and print, list, revoke, unlock, reissue; exit 2 on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy.orm import Session

from voting.cli import main
from voting.models import CardStatus, PropertyArea
from voting.services.cards import card_by_number, check_pin
from voting.services.roll import import_roll
from voting.services.tenancy import AreaPath, ensure_property_area

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-004", "望京街道"),
    community=("110105-004-012", "南湖西园社区"),
    area=("NHXY", "南湖西园小区"),
)


@pytest.fixture
def area(db: Session) -> PropertyArea:
    area = ensure_property_area(db, PATH)
    import_roll(db, area, "roll.csv", SAMPLE.read_bytes(), "cli-key", expected_base_version=None)
    return area


@pytest.fixture
def run(database_url: str, instance_path: Path) -> Any:
    env = {"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(instance_path)}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_issue_writes_the_pdfs(run: Any, area: PropertyArea, tmp_path: Path, db: Session) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run("cards", "issue", "--area", "NHXY", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "6 cards issued" in result.output
    cards = sorted(out.glob("cards-NHXY-*.pdf"))
    letters = sorted(out.glob("pin-letters-NHXY-*.pdf"))
    assert len(cards) == len(letters) == 1
    for path in (*cards, *letters):
        assert path.stat().st_mode & 0o777 == 0o600
        assert str(path) in result.output
    assert len(PdfReader(letters[0]).pages) == 6
    assert len(PdfReader(cards[0]).pages) == 1
    # Again: nothing left to issue.
    again = run("cards", "issue", "--area", "NHXY", "--out", str(out))
    assert again.exit_code == 0 and "none issued" in again.output
    listing = run("cards", "list", "--area", "NHXY")
    assert listing.exit_code == 0
    assert "NHXY-000001" in listing.output and "6 cards" in listing.output
    assert "王伟" not in listing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--area", "NOPE"], "no property area"),
        (["--area", "NHXY", "--holder", "H-NOPE"], "no holder H-NOPE"),
        (["--area", "NHXY", "--chip"], "--chip needs"),
    ],
)
def test_issue_refusals(
    run: Any, area: PropertyArea, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("cards", "issue", *args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output


def test_issue_needs_a_writable_out(run: Any, area: PropertyArea, tmp_path: Path) -> None:
    missing = run("cards", "issue", "--area", "NHXY", "--out", str(tmp_path / "missing"))
    assert missing.exit_code == 2 and "not a directory" in missing.output
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    result = run("cards", "issue", "--area", "NHXY", "--out", str(a_file))
    assert result.exit_code == 2 and "is a file" in result.output


def test_holder_with_a_card_and_card_commands(
    run: Any, area: PropertyArea, tmp_path: Path, db: Session
) -> None:
    first = run("cards", "issue", "--area", "NHXY", "--out", str(tmp_path))
    assert first.exit_code == 0, first.output
    card = card_by_number(db, "NHXY-000001")
    assert card is not None
    ref = card.holder.ref
    refused = run("cards", "issue", "--area", "NHXY", "--holder", ref, "--out", str(tmp_path))
    assert refused.exit_code == 2 and "revoke it first" in refused.output
    assert run("cards", "unlock", "NHXY-000001", "--reason", "x").exit_code == 2
    for _ in range(5):
        check_pin(db, card, "abc")
        db.commit()
    unlocked = run("cards", "unlock", "nhxy-000001", "--reason", "owner at the office")
    assert unlocked.exit_code == 0, unlocked.output
    db.commit()
    db.refresh(card)
    assert card.locked_at is None
    no_reason = run("cards", "revoke", "NHXY-000001")
    assert no_reason.exit_code == 2
    revoked = run("cards", "revoke", "NHXY-000001", "--reason", "lost")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = run("cards", "revoke", "NHXY-000001", "--reason", "lost")
    assert again.exit_code == 2 and "already revoked" in again.output
    unknown = run("cards", "revoke", "NHXY-999999", "--reason", "lost")
    assert unknown.exit_code == 2 and "no card" in unknown.output
    out = tmp_path / "re"
    out.mkdir()
    reissued = run("cards", "reissue", "NHXY-000001", "--reason", "lost", "--out", str(out))
    assert reissued.exit_code == 0, reissued.output
    assert "replaced by NHXY-000007" in reissued.output
    assert len(list(out.glob("*.pdf"))) == 2
    db.commit()
    db.refresh(card)
    assert card.status is CardStatus.revoked
