"""A proxy authorised on a phone: Debian's Chromium (390×844) signs the proxy statement with
the card key derived from the typed backup code; the server stores exactly what was signed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from proxykit_web import open_meeting_now
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_owner_login import owner_cards  # noqa: F401  (fixture)

from crypto.canonical import canonical_bytes, parse_canonical
from crypto.keys import CardKey
from voting.models import Motion, Proxy
from voting.services.cards import IssuedCard

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))

CANONICAL_CASES: list[Any] = [
    {"instructions": {"12": "yes", "9": ["A", "B"], "100": "abstain"}, "meeting": 7},
    {"b": [{"z": 1, "a": []}, {}], "a": {"y": None, "x": "业主"}},
    {"\u20ac": "1", "\r": "2", "\ufb33": "3", "1": "4", "\U0001f600": [True, False]},
]


def _login(page: Any, live_server: str, card: IssuedCard) -> None:
    assert card.qr_url is not None
    page.goto(f"{live_server}/card#{card.qr_url.split('#', 1)[1]}")
    page.wait_for_selector("#card-recognised:not([hidden])")
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    page.wait_for_url(f"{live_server}/owner")


def _fits_the_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_proxies_phone_authorise_with_the_backup_code(
    page: Any,
    live_server: str,
    store: Session,
    seeded: Any,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    meeting = open_meeting_now(store, seeded.area)
    wang = next(card for card in owner_cards if card.holder_name == "王伟")
    li = next(card for card in owner_cards if card.holder_name == "李娜")
    motions = {m.kind.value: m for m in store.scalars(select(Motion))}
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url + (request.post_data or "")))
    _login(page, live_server, wang)
    page.goto(f"{live_server}/vote/{meeting.id}/proxy?lang=en")
    _fits_the_phone(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "proxy-form.png"), full_page=True)
    page.select_option("#proxy-building", "1号楼")
    page.fill("#proxy-unit", "1-201")
    page.select_option(f"#instr-{motions['yes_no'].id}", "no")
    page.select_option(f"#instr-{motions['election'].id}", "candidates")
    page.check(f"input[name='cand-{motions['election'].id}'][value='Candidate 2']")
    page.click("button[type=submit]:has-text('Continue')")
    page.wait_for_selector("#proxy-sign:not([hidden])")
    assert page.inner_text("#proxy-name") == "李*"
    _fits_the_phone(page)
    for case in CANONICAL_CASES:
        text = page.evaluate("(o) => ProxyStatement.canonical(o)", case)
        assert text.encode("utf-8") == canonical_bytes(case)
    page.screenshot(path=str(SHOTS / "proxy-confirm.png"), full_page=True)
    # A wrong code is refused by the server's signature check; nothing is stored.
    page.fill("#proxy-backup-code", "0000-0000-0000-0000-0000")
    page.click("#proxy-submit")
    page.wait_for_selector("#proxy-message.notice-error")
    assert "backup code does not match" in page.inner_text("#proxy-message")
    store.rollback()
    assert store.scalar(select(Proxy)) is None
    assert wang.backup_code is not None
    page.fill("#proxy-backup-code", wang.backup_code.lower())
    page.click("#proxy-submit")
    page.wait_for_url(f"{live_server}/vote/{meeting.id}/proxy")
    page.wait_for_selector("text=Your authorisation")
    _fits_the_phone(page)
    page.screenshot(path=str(SHOTS / "proxy-authorised.png"), full_page=True)
    store.rollback()
    proxy = store.scalar(select(Proxy))
    assert proxy is not None and proxy.proxy_holder.ref == li.holder_ref
    assert wang.seed is not None
    CardKey(wang.seed).public_key.verify(proxy.statement, proxy.signature)
    statement = parse_canonical(proxy.statement)
    assert statement["instructions"] == {
        str(motions["yes_no"].id): "no",
        str(motions["election"].id): ["Candidate 2"],
    }
    assert not any(wang.backup_code in sent for sent in requests)
