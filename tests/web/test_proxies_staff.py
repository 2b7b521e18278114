"""Staff pages for proxies: the list of a meeting's authorisations (house numbers, never
names) for every role that may view meetings, and registering a named person with a card."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from proxykit_web import authorise_over_http, open_meeting_now
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_owner_login import card_login, owner_cards  # noqa: F401  (fixture)

from voting.models import Card, CardStatus, Holder, LogEntry, Meeting, Proxy
from voting.services.cards import IssuedCard
from voting.services.meetings import create_meeting

PERSON_ID = "110105198001010032"


@pytest.fixture
def meeting(store: Session, seeded: Any, owner_cards: list[IssuedCard]) -> Meeting:  # noqa: F811
    return open_meeting_now(store, seeded.area)


def _card(cards: list[IssuedCard], name: str) -> IssuedCard:
    return next(card for card in cards if card.holder_name == name)


def _token(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"{path} has no form token"
    return match.group(1)


def _list(meeting: Meeting, code: str) -> str:
    return f"/admin/meetings/{code}/{meeting.id}/proxies"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("committee_admin", 200),
        ("residents_committee", 200),
        ("street_office", 200),
        ("observer", 200),
        ("operator", 403),
    ],
)
def test_proxies_staff_list_by_role(
    client: Any,
    login: Any,
    seeded: Any,
    meeting: Meeting,
    owner_cards: list[IssuedCard],  # noqa: F811
    role: str,
    status: int,
) -> None:
    wang, li = _card(owner_cards, "王伟"), _card(owner_cards, "李娜")
    owner = type(client)(client.application)
    assert card_login(owner, wang).status_code == 200
    assert authorise_over_http(owner, meeting.id, wang, li.holder_ref).status_code == 201
    assert login(client, role).status_code == 302
    reply = client.get(_list(meeting, seeded.area.code) + "?lang=en")
    assert reply.status_code == status
    if status == 200:
        html = reply.get_data(as_text=True)
        assert "1号楼 1-101、1号楼 1-102" in html and "1号楼 1-201" in html
        assert "王伟" not in html and "李娜" not in html
        assert "1 authorisations in force, 1 in all." in html
        registering = "Register a person who is not an owner" in html
        assert registering == (role == "committee_admin")


def test_proxies_staff_list_refuses_other_areas_and_unknown_meetings(
    client: Any, login: Any, seeded: Any, meeting: Meeting, store: Session
) -> None:
    other = create_meeting(store, seeded.other, "Other")
    assert login(client, "observer").status_code == 302
    assert client.get(_list(other, seeded.other.code)).status_code == 403
    assert client.get(_list(other, seeded.area.code)).status_code == 404  # not this area's
    assert client.get(f"/admin/meetings/{seeded.area.code}/999999/proxies").status_code == 404
    anonymous = type(client)(client.application)
    reply = anonymous.get(_list(meeting, seeded.area.code))
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/login?next=")


def test_proxies_register_named_person_sends_a_zip(
    client: Any,
    login: Any,
    seeded: Any,
    meeting: Meeting,
    store: Session,
    owner_cards: list[IssuedCard],  # noqa: F811
    app: Any,
) -> None:
    assert login(client, "committee_admin").status_code == 302
    path = f"/admin/meetings/{seeded.area.code}/{meeting.id}/proxies/person"
    form = {"csrf_token": _token(client, path + "?lang=en"), "name": "周杰", "id_number": PERSON_ID}
    reply = client.post(path, data=form)
    assert reply.status_code == 200 and reply.mimetype == "application/zip"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "PX-1" in reply.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(reply.data)) as archive:
        assert sorted(archive.namelist()) == ["cards.pdf", "pin-letters.pdf"]
    store.rollback()
    holder = store.scalar(select(Holder).where(Holder.ref == "PX-1"))
    assert holder is not None and holder.name == "周杰" and holder.id_last4 == "0032"
    card = store.scalar(select(Card).where(Card.holder_id == holder.id))
    assert card is not None and card.status is CardStatus.active
    listing = client.get(_list(meeting, seeded.area.code) + "?lang=en").get_data(as_text=True)
    assert "PX-1" in listing and "周杰" in listing and card.number in listing
    # Registered once only; bad input answers 400 and stores nothing.
    before = store.scalar(select(func.count()).select_from(Holder))
    again = client.post(path, data=form)
    assert again.status_code == 409 and "(PX-1)" in again.get_data(as_text=True)
    bad = client.post(path, data=form | {"id_number": "110105198001010033"})
    assert bad.status_code == 400 and "ID number is not valid" in bad.get_data(as_text=True)
    empty = client.post(path, data=form | {"name": " "})
    assert empty.status_code == 400
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Holder)) == before
    assert not list(__import__("pathlib").Path(app.instance_path).glob("*.pdf"))


def test_proxies_register_named_person_needs_manage_cards(
    client: Any, login: Any, seeded: Any, meeting: Meeting, store: Session
) -> None:
    assert login(client, "observer").status_code == 302
    path = f"/admin/meetings/{seeded.area.code}/{meeting.id}/proxies/person"
    assert client.get(path).status_code == 403
    token = _token(client, _list(meeting, seeded.area.code))
    reply = client.post(path, data={"csrf_token": token, "name": "周杰", "id_number": PERSON_ID})
    assert reply.status_code == 403
    store.rollback()
    assert store.scalar(select(Holder).where(Holder.ref == "PX-1")) is None


def test_proxies_owner_names_a_registered_person(
    client: Any,
    login: Any,
    seeded: Any,
    meeting: Meeting,
    store: Session,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    staff = type(client)(client.application)
    assert login(staff, "committee_admin").status_code == 302
    path = f"/admin/meetings/{seeded.area.code}/{meeting.id}/proxies/person"
    form = {"csrf_token": _token(staff, path), "name": "周杰", "id_number": PERSON_ID}
    assert staff.post(path, data=form).status_code == 200
    wang = _card(owner_cards, "王伟")
    assert card_login(client, wang).status_code == 200
    page = f"/vote/{meeting.id}/proxy"
    client.get(page + "?lang=en")
    reply = client.post(page, data={"csrf_token": _token(client, page), "person": " px-1 "})
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "周*" in html and "registered person PX-1" in html and 'data-proxy="PX-1"' in html
    assert authorise_over_http(client, meeting.id, wang, "PX-1").status_code == 201
    listing = staff.get(_list(meeting, seeded.area.code) + "?lang=en").get_data(as_text=True)
    assert "Named person PX-1" in listing
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Proxy)) == 1
    kinds = set(store.scalars(select(LogEntry.kind)))
    assert {"proxy.person", "card.issue", "proxy"} <= kinds
