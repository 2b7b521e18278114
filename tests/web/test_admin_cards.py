"""Owner card pages: list, issue (a ZIP sent once), lock/unlock/revoke/reissue with a reason."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.models import Card, CardStatus, LogEntry, Role
from voting.services.cards import card_by_number, check_pin
from voting.services.roll import import_roll

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"


@pytest.fixture
def roll(store: Session, seeded: Any) -> Any:
    import_roll(
        store, seeded.area, "roll.csv", SAMPLE.read_bytes(), "web-key", expected_base_version=2
    )
    return seeded


def _issue(client: Any, login: Any, form_token: Any, code: str, *, first: bool = True) -> Any:
    if first:
        assert login(client, "committee_admin").status_code == 302
    token = form_token(client, f"/admin/cards/{code}/issue")
    return client.post(f"/admin/cards/{code}/issue", data={"csrf_token": token})


def test_issue_sends_a_zip_once(
    client: Any, roll: Any, login: Any, form_token: Any, store: Session, app: Any
) -> None:
    code = roll.area.code
    assert login(client, "committee_admin").status_code == 302
    confirm = client.get(f"/admin/cards/{code}/issue").get_data(as_text=True)
    assert "6" in confirm
    response = _issue(client, login, form_token, code, first=False)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["cards.pdf", "pin-letters.pdf"]
    assert len(store.scalars(select(Card)).all()) == 6
    # Nothing left: a second POST issues nothing and goes back to the list.
    again = _issue(client, login, form_token, code, first=False)
    assert again.status_code == 302
    listing = client.get(f"/admin/cards/{code}").get_data(as_text=True)
    assert "NHXY-000001" in listing and "王伟" in listing  # names: view_roll_details
    assert not list(Path(app.instance_path).glob("*.pdf"))
    assert not list(Path(app.instance_path).glob("*.zip"))


def test_observer_sees_refs_only_and_cannot_manage(
    client: Any, roll: Any, login: Any, form_token: Any, store: Session
) -> None:
    _issue(client, login, form_token, roll.area.code)
    other = type(client)(client.application)
    assert login(other, "observer").status_code == 302
    listing = other.get(f"/admin/cards/{roll.area.code}")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "NHXY-000001" in text and "王伟" not in text
    assert other.get(f"/admin/cards/{roll.area.code}/issue").status_code == 403
    token = form_token(other, f"/admin/cards/{roll.area.code}")
    post = other.post(
        f"/admin/cards/{roll.area.code}/NHXY-000001/revoke",
        data={"csrf_token": token, "reason": "x"},
    )
    assert post.status_code == 403
    assert store.scalars(select(Card.status)).all() == [CardStatus.active] * 6


def test_other_areas_admin_is_refused(
    client: Any, roll: Any, login: Any, form_token: Any, store: Session
) -> None:
    from voting.services.users import ensure_user

    ensure_user(
        store,
        "admin-b",
        roll.password,
        Role.committee_admin,
        "B 区业委会",
        property_area_id=roll.other.id,
    )
    assert login(client, "admin-b").status_code == 302
    assert client.get(f"/admin/cards/{roll.area.code}").status_code == 403
    assert client.get(f"/admin/cards/{roll.area.code}/issue").status_code == 403


def test_card_actions(client: Any, roll: Any, login: Any, form_token: Any, store: Session) -> None:
    code = roll.area.code
    _issue(client, login, form_token, code)
    base = f"/admin/cards/{code}/NHXY-000001"

    def post(action: str, reason: str | None = "owner asked", number: str = "NHXY-000001") -> Any:
        token = form_token(client, f"/admin/cards/{code}")
        data = {"csrf_token": token}
        if reason is not None:
            data["reason"] = reason
        return client.post(f"/admin/cards/{code}/{number}/{action}", data=data)

    assert client.get(f"{base}/lock").status_code == 200
    assert client.get(f"{base}/explode").status_code == 404
    assert client.get(f"/admin/cards/{code}/NHXY-999999/lock").status_code == 404
    assert client.get(f"/admin/cards/{code}/not-a-card/lock").status_code == 404
    missing = post("lock", reason="  ")
    assert missing.status_code == 400
    assert post("lock", number="NHXY-999999").status_code == 404
    assert post("unlock").status_code == 409  # not locked
    assert post("lock").status_code == 302
    assert post("lock").status_code == 409
    card = card_by_number(store, "NHXY-000001")
    assert card is not None and card.locked_at is not None
    assert post("unlock").status_code == 302
    store.commit()
    store.expire_all()
    assert card.locked_at is None
    # A card locked by wrong PINs shows up as locked with its count.
    for _ in range(5):
        check_pin(store, card, "abcdef")
        store.commit()
    listing = client.get(f"/admin/cards/{code}").get_data(as_text=True)
    assert ">5<" in listing
    reissued = post("reissue")
    assert reissued.status_code == 200 and reissued.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(reissued.data)) as archive:
        assert sorted(archive.namelist()) == ["cards.pdf", "pin-letters.pdf"]
    assert post("revoke").status_code == 409  # already revoked by the reissue
    assert post("revoke", number="NHXY-000007").status_code == 302
    store.commit()
    store.expire_all()
    kinds = store.scalars(select(LogEntry.kind).order_by(LogEntry.seq)).all()
    assert kinds[-1] == "card.revoke" and "card.reissue" in kinds


def test_card_of_another_area_is_404(
    client: Any, roll: Any, login: Any, form_token: Any, store: Session
) -> None:
    _issue(client, login, form_token, roll.area.code)
    # The area's admin may not touch another area's pages, whatever the card number.
    assert client.get(f"/admin/cards/{roll.other.code}/NHXY-000001/lock").status_code == 403


def test_admin_cards_page_fits_the_security_policy(client: Any, roll: Any, login: Any) -> None:
    assert login(client, "committee_admin").status_code == 302
    page = client.get(f"/admin/cards/{roll.area.code}").get_data(as_text=True)
    assert 'name="viewport"' in page
    assert "style=" not in page and "<script" not in page
