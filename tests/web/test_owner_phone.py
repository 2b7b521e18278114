"""The card login on a phone: Debian's Chromium (390×844) with WebCrypto Ed25519 and HKDF.

The page's own scripts are checked against the Python reference (canonical JSON, backup code
→ seed, QR fragment parsing), then a real owner logs in with the QR link and with the typed
card number and backup code, and lands on their page.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_owner_login import owner_cards  # noqa: F401  (fixture)

from crypto.canonical import canonical_bytes
from crypto.cardcode import qr_fragment, seed_from_backup_code
from voting.services.cards import IssuedCard

pytestmark = pytest.mark.browser

# The worked vector of docs/PROTOCOL.md 6.5, as the service tests define it.
_VECTORS = Path(__file__).resolve().parents[1] / "services" / "test_card_login_vectors.py"
_spec = importlib.util.spec_from_file_location("card_login_vectors", _VECTORS)
assert _spec is not None and _spec.loader is not None
vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vectors)

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))

CANONICAL_CASES = [
    {"type": "login", "platform": "vote.example.org", "card_number": "NHXY-000001"},
    {"b": "业主", "a": '\u0000\b\t\n\f\r\u001f\u007f\u2028/<>&"\\', "n": -(2**53 - 1)},
    {"\u20ac": "1", "\r": "2", "\ufb33": "3", "1": "4", "\U0001f600": "5", "\u0080": 6},
    {"t": True, "f": False, "z": None, "zero": 0},
]


def open_card_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.OwnerCard !== undefined")


def test_owner_phone_scripts_match_the_python_reference(
    page: Any,
    live_server: str,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    open_card_page(page, f"{live_server}/card")
    for case in CANONICAL_CASES:
        text = page.evaluate("(o) => OwnerCard.canonicalJSON(o)", case)
        assert text.encode("utf-8") == canonical_bytes(case)
    card = owner_cards[0]
    assert card.backup_code is not None and card.seed is not None
    typed = card.backup_code.lower().replace("-", " ")
    seed_hex = page.evaluate(
        """async ([number, code]) => {
            const seed = await OwnerCard.seedFromBackupCode(
                number, OwnerCard.normaliseBackupCode(code));
            return Array.from(seed, (b) => b.toString(16).padStart(2, "0")).join("");
        }""",
        [card.number, typed],
    )
    assert bytes.fromhex(seed_hex) == seed_from_backup_code(card.number, card.backup_code)
    parsed = page.evaluate(
        "(f) => { const p = OwnerCard.parseFragment(f); "
        "return [p.number, OwnerCard.base64url(p.seed)]; }",
        qr_fragment(card.number, card.seed),
    )
    assert parsed[0] == card.number
    assert qr_fragment(card.number, card.seed).endswith(parsed[1])
    # The worked vector of docs/PROTOCOL.md 6.5, signed by the browser's Ed25519.
    signature = page.evaluate(
        """async ([number, code, statement]) => {
            const seed = await OwnerCard.seedFromBackupCode(
                number, OwnerCard.normaliseBackupCode(code));
            const key = await OwnerCard.importCardKey(seed);
            const signed = await OwnerCard.signStatement(key, statement);
            return Array.from(signed.signature, (b) => b.toString(16).padStart(2, "0")).join("");
        }""",
        [vectors.CARD, vectors.TYPED, json.loads(vectors.STATEMENT)],
    )
    assert signature == vectors.SIGNATURE
    for damaged in ("1.NHXY-000001.abc", "2." + qr_fragment(card.number, card.seed)[2:], ""):
        assert page.evaluate("(f) => OwnerCard.parseFragment(f)", damaged) is None


def test_owner_phone_login_with_the_qr_link(
    page: Any,
    live_server: str,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    card = owner_cards[0]
    assert card.qr_url is not None and card.seed is not None
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url + (request.post_data or "")))
    fragment = card.qr_url.split("#", 1)[1]
    open_card_page(page, f"{live_server}/card#{fragment}")
    page.wait_for_selector("#card-recognised:not([hidden])")
    assert page.evaluate("window.location.hash") == ""  # gone from the address bar
    assert page.inner_text("#card-number-shown") == card.number
    assert page.is_hidden("#card-typed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "card-login.png"), full_page=True)
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    page.wait_for_url(f"{live_server}/owner")
    assert "1-101" in page.inner_text("main")
    assert card.number in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "owner-home.png"), full_page=True)
    seed_text = fragment.rsplit(".", 1)[1]
    assert not any(seed_text in sent for sent in requests)
    # Logging out returns to the card page.
    page.click("form[action='/owner/logout'] button")
    page.wait_for_url(f"{live_server}/card")


def test_owner_phone_login_with_typed_code_and_wrong_pin(
    page: Any,
    live_server: str,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    card = owner_cards[1]
    assert card.backup_code is not None
    open_card_page(page, f"{live_server}/card?lang=en")
    page.wait_for_selector("#card-login:not([hidden])")
    page.fill("#card-number", card.number.lower())
    page.fill("#backup-code", card.backup_code.replace("-", " "))
    wrong = "000000" if card.pin != "000000" else "111111"
    page.fill("#card-pin", wrong)
    page.click("#card-submit")
    page.wait_for_selector("#card-message.notice-error")
    assert "Attempts left before the card is locked: 4" in page.inner_text("#card-message")
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    page.wait_for_url(f"{live_server}/owner")
    assert "1-201" in page.inner_text("main")


def test_owner_phone_wrong_backup_code(
    page: Any,
    live_server: str,
    owner_cards: list[IssuedCard],  # noqa: F811
) -> None:
    card = owner_cards[2]
    open_card_page(page, f"{live_server}/card?lang=en")
    page.wait_for_selector("#card-login:not([hidden])")
    page.fill("#card-number", card.number)
    page.fill("#backup-code", "0000-0000-0000-0000-0000")
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    page.wait_for_selector("#card-message.notice-error")
    assert "card key does not match" in page.inner_text("#card-message")
    page.fill("#backup-code", "short")
    page.fill("#card-pin", card.pin)
    page.click("#card-submit")
    assert "20 letters and digits" in page.inner_text("#card-message")
