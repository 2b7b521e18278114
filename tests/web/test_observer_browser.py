"""The observer page in Debian's Chromium (390×844): the browser verifies the checkpoint's
Ed25519 signature (WebCrypto) and a consistency proof (SubtleCrypto SHA-256, RFC 9162
§2.1.4.2) from the checkpoint it remembered, and sounds an alarm when they do not hold."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from logkit import grow
from sqlalchemy.orm import Session

from crypto.checkpoint import sign_checkpoint
from voting.models import Checkpoint
from voting.services.logtree import load_log_key

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).resolve().parents[1] / "crypto" / "data" / "merkle" / "consistency"
SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))


def _login(page: Any, live_server: str, password: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("observer")
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/home")


def _check(page: Any, url: str) -> str:
    """Open the page, wait for the check to end; its state (first, consistent, alarm…)."""
    page.goto(url)
    page.wait_for_selector('#observer-status:not([data-state="idle"]):not([data-state="checking"])')
    state: str = page.get_attribute("#observer-status", "data-state")
    return state


def _backdate(store: Session) -> None:
    """Let the next POST sign a new checkpoint although the last is younger than a second."""
    from voting.models import utcnow

    store.execute(Checkpoint.__table__.update().values(created_at=utcnow().replace(year=2000)))
    store.commit()


def _remembered(page: Any, origin: str) -> dict[str, Any]:
    value = page.evaluate("(k) => localStorage.getItem(k)", f"voting.observer.{origin}")
    result: dict[str, Any] = json.loads(value)
    return result


def _remember(page: Any, origin: str, note: bytes, key: str) -> None:
    page.evaluate(
        "([k, v]) => localStorage.setItem(k, v)",
        [f"voting.observer.{origin}", json.dumps({"note": note.decode(), "key": key})],
    )


def test_observer_browser_consistency_vectors(page: Any, live_server: str, seeded: Any) -> None:
    """The page's verifier accepts exactly the transparency-dev vectors marked wantErr false."""
    _login(page, live_server, seeded.password)
    page.goto(f"{live_server}/observer/{seeded.area.code}")
    page.wait_for_function("window.ObserverLog !== undefined")
    cases = []
    for path in sorted(VECTORS.rglob("*.json")):
        case = json.loads(path.read_text())
        cases.append(
            {
                "name": str(path.relative_to(VECTORS)),
                "size1": case["size1"],
                "size2": case["size2"],
                "root1": base64.b64decode(case["root1"] or "").hex(),
                "root2": base64.b64decode(case["root2"] or "").hex(),
                "proof": [base64.b64decode(item).hex() for item in case["proof"] or []],
                "ok": not case["wantErr"],
            }
        )
    assert len(cases) > 90
    results = page.evaluate(
        """async (cases) => {
            const L = window.ObserverLog;
            const out = {};
            for (const c of cases) {
                try {
                    await L.verifyConsistency(BigInt(c.size1), BigInt(c.size2),
                        L.hexToBytes(c.root1), L.hexToBytes(c.root2), c.proof.map(L.hexToBytes));
                    out[c.name] = true;
                } catch (e) {
                    if (!(e instanceof L.Alarm)) { throw e; }
                    out[c.name] = false;
                }
            }
            return out;
        }""",
        cases,
    )
    assert results == {case["name"]: case["ok"] for case in cases}


def test_observer_browser_shows_consistent_after_appends(
    page: Any, live_server: str, seeded: Any, store: Session
) -> None:
    url = f"{live_server}/observer/{seeded.area.code}"
    origin = f"voting.example/log/{seeded.area.code}"
    grow(store, seeded.area, 5)
    _login(page, live_server, seeded.password)
    assert _check(page, url) == "first"
    assert _remembered(page, origin)["note"].split("\n")[1] == "5"
    grow(store, seeded.area, 9)
    _backdate(store)
    assert _check(page, url) == "consistent"
    assert page.text_content("#observer-old-size") == "5"
    assert page.text_content("#observer-new-size") == "14"
    assert "14" in page.text_content("#observer-message")
    assert page.locator("#observer-entries tr").count() == 14
    assert page.locator("#observer-entries .observer-bad").count() == 0
    assert _remembered(page, origin)["note"].split("\n")[1] == "14"
    # Not grown since: still consistent (same size, same root).
    assert _check(page, url) == "consistent"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "observer-consistent.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.parametrize("doctored", ["fork", "forged_history", "bad_signature", "garbage"])
def test_observer_browser_alarm_on_doctored_checkpoint(
    page: Any, live_server: str, seeded: Any, store: Session, app: Any, doctored: str
) -> None:
    url = f"{live_server}/observer/{seeded.area.code}"
    origin = f"voting.example/log/{seeded.area.code}"
    grow(store, seeded.area, 6)
    _login(page, live_server, seeded.password)
    assert _check(page, url) == "first"
    remembered = _remembered(page, origin)
    key = load_log_key(app)
    other_root = bytes(range(32))
    if doctored == "fork":  # a signed checkpoint of the same size with another root
        note = sign_checkpoint(origin, 6, other_root, "voting.example", key)
        expected = "Fork"
    elif doctored == "forged_history":  # signed, smaller, but not a prefix of the log
        note = sign_checkpoint(origin, 3, other_root, "voting.example", key)
        expected = "Inconsistent"
    elif doctored == "bad_signature":  # the remembered root edited in place
        lines = remembered["note"].split("\n")
        lines[2] = base64.b64encode(other_root).decode()
        note = "\n".join(lines).encode()
        expected = "BadRemembered"
    else:
        note = b"not a checkpoint\n"
        expected = "BadRemembered"
    _remember(page, origin, note, remembered["key"])
    if doctored != "fork":  # the fork is seen at the same size
        grow(store, seeded.area, 2)
        _backdate(store)
    assert _check(page, url) == "alarm"
    assert page.get_attribute("#observer-status", "data-reason") == expected
    assert page.get_attribute("#observer-status", "role") == "alert"
    # The evidence is kept: the doctored checkpoint is not replaced by the new one.
    assert _remembered(page, origin)["note"] == note.decode()
    if doctored == "fork":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "observer-alarm.png"), full_page=True)
