"""A paper sheet entered on a phone (Chromium, 390×844): the image's SHA-256 is computed in
the browser from the chosen file, which is never sent to the server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from paperkit import WANG, open_meeting_now
from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.models import PaperEntry

pytestmark = pytest.mark.browser

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"
SCAN = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # stands in for a scanned sheet


def test_paper_phone_entry_hashes_the_scan_in_the_browser(
    live_server: str, page: Any, store: Session, seeded: Any
) -> None:
    meeting = open_meeting_now(store, seeded.area)
    base = f"{live_server}/admin/meetings/{seeded.area.code}/{meeting.id}/paper"
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    bodies: list[bytes] = []
    page.on("request", lambda request: bodies.append(request.post_data_buffer or b""))

    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("committee_admin")
    page.get_by_label("密码").fill(seeded.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/home")

    page.goto(f"{base}/enter?lang=en")
    assert page.evaluate(NO_OVERFLOW)
    page.get_by_label("House number or holder ref on the sheet").fill(WANG)
    page.get_by_role("button", name="Find the voter").click()
    page.wait_for_selector("form.paper-form")
    assert page.evaluate(NO_OVERFLOW), "the entry form scrolls sideways on a phone"

    yes_no, _choice, election = meeting.motions
    page.check(f"input[name='choice-{yes_no.id}'][value='yes']")
    page.check(f"input[name='choice-{election.id}'][value='Candidate 2']")
    page.set_input_files(
        "#image-file", files=[{"name": "sheet.png", "mimeType": "image/png", "buffer": SCAN}]
    )
    expected = hashlib.sha256(SCAN).hexdigest()
    page.wait_for_function(
        "expected => document.getElementById('image_sha256').value === expected", arg=expected
    )
    assert "stays on this device" in page.locator("#image-file-status").inner_text()
    page.get_by_role("button", name="Save this entry").click()
    page.wait_for_selector(".flash-success")
    assert page.evaluate(NO_OVERFLOW)

    store.rollback()
    entry = store.scalar(select(PaperEntry))
    assert entry is not None and entry.image_sha256 == expected
    assert not any(SCAN[:64] in body for body in bodies), "the scanned file was sent"
    assert not [p for p in problems if "Content Security Policy" in p]

    page.goto(base)
    assert page.evaluate(NO_OVERFLOW), "the list scrolls sideways on a phone"
