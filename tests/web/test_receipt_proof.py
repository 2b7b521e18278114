"""The receipt page proves the ballot is in the log, in Debian's Chromium (390×844): the
browser checks the checkpoint's Ed25519 signature against the log key, that the entry at the
receipt's leaf index names the ballot, and the inclusion proof (RFC 9162 §2.1.3.2) against
the checkpoint's root. Doctored answers (routed through Playwright) must fail loudly."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ballotkit import VotingSetup, cast, open_meeting_setup
from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.models import Checkpoint, LogEntry, utcnow
from voting.services.ballots import Receipt
from voting.services.logtree import load_log_signer, sign_checkpoint

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))
VECTORS = Path(__file__).resolve().parents[1] / "crypto" / "data" / "merkle" / "inclusion"
PHONE_WIDTH = 390
VERIFIED = "Verified: this ballot is recorded in the tamper-evident log."
PENDING = (
    "No signed checkpoint covers this ballot yet: the next checkpoint will include this ballot."
    " Check again in a moment."
)
FAILED = (
    "NOT VERIFIED: this ballot could not be proven to be in the log. Keep this page and report"
    " it to the street office."
)
REASONS = {
    "BadProof": "The inclusion proof does not verify against the checkpoint's root hash.",
    "WrongEntry": "The log entry at this index does not name this ballot.",
    "BadSignature": "The checkpoint signature does not verify with the log key.",
}
DONE = '#proof-status:not([data-state="idle"]):not([data-state="checking"])'


@dataclass(frozen=True)
class Cast:
    setup: VotingSetup
    mine: Receipt
    other: Receipt


@pytest.fixture
def ballots(store: Session) -> Cast:
    """Two ballots of different owners on the yes/no motion; no checkpoint signed yet."""
    setup = open_meeting_setup(store)
    mine = cast(store, setup, setup.cards[0], setup.yes_no, "yes")
    other = cast(store, setup, setup.cards[1], setup.yes_no, "no")
    return Cast(setup, mine, other)


def _open(page: Any, live_server: str, receipt: Receipt) -> str:
    """Open the receipt page and wait for the proof check to end; its state."""
    page.goto(f"{live_server}/receipts/{receipt.ballot_hash}")
    page.wait_for_selector(DONE)
    state: str = page.get_attribute("#proof-status", "data-state")
    return state


def _no_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width} px wide"


def _doctor(page: Any, pattern: str, change: Any) -> None:
    """Answer requests matching `pattern` with the real JSON answer as `change` edits it
    (a refusal is passed on unchanged)."""

    def handle(route: Any) -> None:
        response = route.fetch()
        if not response.ok:  # e.g. "no checkpoint yet": passed on as it is
            route.fulfill(response=response)
            return
        body = response.json()
        change(body)
        route.fulfill(response=response, body=json.dumps(body))

    page.route(re.compile(pattern), handle)


def _zh(app: Any, msgid: str) -> str:
    """The page's text for `msgid` (Chinese, once the catalog has it)."""
    with app.test_request_context("/"), force_locale("zh_CN"):
        return str(gettext(msgid))


def _flip(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def test_receipt_proof_page_names_the_log(
    client: Any, ballots: Cast, app: Any, store: Session
) -> None:
    html = client.get(f"/receipts/{ballots.mine.ballot_hash}").get_data(as_text=True)
    code = ballots.setup.area.code
    assert f'data-api="/api/v1/areas/{code}/log"' in html
    assert f'data-origin="{app.config["VOTING_PLATFORM_ID"]}/log/{code}"' in html
    assert f'data-log-index="{ballots.mine.log_index}"' in html
    assert "js/merkle.js" in html and "js/receipt-proof.js" in html


@pytest.mark.browser
def test_receipt_proof_verified(
    page: Any, live_server: str, ballots: Cast, store: Session, app: Any
) -> None:
    verified = _zh(app, VERIFIED)
    if verified != VERIFIED:  # the wording the owners' committee asked for
        assert "已验证：此表决票已记入不可篡改日志" in verified
    assert _open(page, live_server, ballots.mine) == "verified"
    assert page.inner_text("#proof-message") == verified
    assert page.get_attribute("#proof-status", "data-reason") == ""
    # The server was asked for the first checkpoint; it covers both ballots.
    row = store.scalars(select(Checkpoint)).one()
    assert row.size > ballots.other.log_index
    assert page.inner_text("#proof-size") == str(row.size)
    assert page.inner_text("#proof-root") == row.root_hash.hex()
    leaf = store.scalar(
        select(LogEntry.leaf_hash).where(
            LogEntry.property_area_id == ballots.setup.area.id,
            LogEntry.seq == ballots.mine.log_index,
        )
    )
    assert leaf is not None
    # The proof hashes are folded away until asked for.
    assert not page.is_visible("#proof-leaf")
    page.click("#proof-details summary")
    assert page.inner_text("#proof-leaf") == leaf.hex()
    assert page.locator("#proof-hashes li").count() >= 1
    assert page.inner_text("#proof-note") == row.note.decode()
    assert page.is_hidden("#proof-detail")
    _no_overflow(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "receipt-proof-verified.png"), full_page=True)
    # A later visit uses the latest checkpoint as it is: no new one is signed.
    assert _open(page, live_server, ballots.other) == "verified"
    store.expire_all()
    assert len(store.scalars(select(Checkpoint)).all()) == 1


@pytest.mark.browser
@pytest.mark.parametrize("doctored", ["inclusion", "entry", "checkpoint"])
def test_receipt_proof_fails_on_doctored_answers(
    page: Any, live_server: str, ballots: Cast, store: Session, app: Any, doctored: str
) -> None:
    api = f"/api/v1/areas/{ballots.setup.area.code}/log"
    if doctored == "inclusion":  # one hash of the proof flipped

        def change(body: dict[str, Any]) -> None:
            assert body["proof"], "the proof must have a hash to flip"
            body["proof"][0] = _flip(body["proof"][0])

        _doctor(page, rf"{api}/inclusion\?", change)
        reason = "BadProof"
    elif doctored == "entry":  # the other ballot's entry at this ballot's index
        other = store.scalar(
            select(LogEntry.entry).where(
                LogEntry.property_area_id == ballots.setup.area.id,
                LogEntry.seq == ballots.other.log_index,
            )
        )
        assert other is not None

        def change(body: dict[str, Any]) -> None:
            body["entries"][0]["entry"] = base64.b64encode(other).decode()

        _doctor(page, rf"{api}/entries\?", change)
        reason = "WrongEntry"
    else:  # the checkpoint's root replaced: the signature no longer holds

        def change(body: dict[str, Any]) -> None:
            lines = body["note"].split("\n")
            lines[2] = base64.b64encode(bytes(range(32))).decode()
            body["note"] = "\n".join(lines)

        _doctor(page, rf"{api}/checkpoint$", change)
        reason = "BadSignature"
    assert _open(page, live_server, ballots.mine) == "failed"
    assert page.get_attribute("#proof-status", "data-reason") == reason
    assert page.get_attribute("#proof-status", "role") == "alert"
    assert page.inner_text("#proof-message") == _zh(app, FAILED)
    assert page.inner_text("#proof-detail") == _zh(app, REASONS[reason])
    assert _zh(app, VERIFIED) not in page.inner_text("#proof")
    color = page.eval_on_selector("#proof-status", "(e) => getComputedStyle(e).color")
    assert color == "rgb(166, 27, 27)"  # --bad
    _no_overflow(page)
    if doctored == "inclusion":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "receipt-proof-failed.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.parametrize("declined", ["older", "429"])
def test_receipt_proof_pending_until_a_checkpoint_covers_it(
    page: Any, live_server: str, ballots: Cast, store: Session, app: Any, declined: str
) -> None:
    """A ballot after the latest checkpoint: the POST for a fresh one is declined (the server
    answers the older one within its rate limit, or 429); the page says the next checkpoint
    will include the ballot, and verifies once one does."""
    area = ballots.setup.area
    signer = load_log_signer(app)
    if declined == "older":  # signed "just now" as the server sees it: the POST returns it
        sign_checkpoint(store, area, signer, utcnow() + dt.timedelta(days=1))
    else:  # signed long enough ago: only the 429 stops a fresh one
        sign_checkpoint(store, area, signer, utcnow() - dt.timedelta(hours=1))
    late = cast(store, ballots.setup, ballots.setup.cards[2], ballots.setup.yes_no, "abstain")
    api = f"/api/v1/areas/{area.code}/log"
    if declined == "429":

        def refuse(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            route.fulfill(
                status=429,
                content_type="application/json",
                body=json.dumps({"error": "too_many_requests", "message": "Slow down."}),
            )

        page.route(re.compile(rf"{api}/checkpoint$"), refuse)
    assert _open(page, live_server, late) == "pending"
    assert page.inner_text("#proof-message") == _zh(app, PENDING)
    assert page.get_attribute("#proof-status", "role") == "status"
    assert page.is_hidden("#proof-checkpoint")
    _no_overflow(page)
    # Later the server signs again; "check again" verifies.
    if declined == "429":
        page.unroute(re.compile(rf"{api}/checkpoint$"))
    else:
        store.execute(Checkpoint.__table__.update().values(created_at=utcnow().replace(year=2000)))
        store.commit()
    page.click("#proof-again")
    page.wait_for_selector('#proof-status[data-state="verified"]')
    assert page.inner_text("#proof-message") == _zh(app, VERIFIED)
    assert int(page.inner_text("#proof-size")) > late.log_index


@pytest.mark.browser
def test_receipt_proof_inclusion_vectors(page: Any, live_server: str, ballots: Cast) -> None:
    """The page's verifier accepts exactly the transparency-dev vectors marked wantErr false."""
    _open(page, live_server, ballots.mine)
    cases = []
    for path in sorted(VECTORS.rglob("*.json")):
        case = json.loads(path.read_text())
        cases.append(
            {
                "name": str(path.relative_to(VECTORS)),
                "index": case["leafIdx"],
                "size": case["treeSize"],
                "leaf": base64.b64decode(case["leafHash"] or "").hex(),
                "root": base64.b64decode(case["root"] or "").hex(),
                "proof": [base64.b64decode(item).hex() for item in case["proof"] or []],
                "ok": not case["wantErr"],
            }
        )
    assert len(cases) > 90
    results = page.evaluate(
        """async (cases) => {
            const M = window.Merkle;
            const out = {};
            for (const c of cases) {
                out[c.name] = await M.verifyInclusion(BigInt(c.index), BigInt(c.size),
                    M.hexToBytes(c.leaf), M.hexToBytes(c.root), c.proof.map(M.hexToBytes));
            }
            return out;
        }""",
        cases,
    )
    assert results == {case["name"]: case["ok"] for case in cases}
