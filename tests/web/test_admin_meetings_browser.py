"""The staff meeting pages on a phone (Chromium, 390×844): the committee creates a meeting,
adds a motion, posts its notice, and opens a meeting whose notice was posted 20 days ago."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from meetingkit_web import DAY, ROLL_SHA256, local, noticed_in_window, now, shown
from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.domain.procedure import MeetingState
from voting.models import Meeting

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))


def _fits_the_phone(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-meetings-{name}.png"), full_page=True)


def _login(page: Any, live_server: str, password: str) -> None:
    page.goto(f"{live_server}/login?lang=en")
    page.fill("input[name=username]", "committee_admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{live_server}/home")


def test_admin_meetings_browser_lifecycle_on_a_phone(
    page: Any, live_server: str, store: Session, seeded: Any
) -> None:
    code = seeded.area.code
    ready = noticed_in_window(store, seeded.area, "已公告二十天的会议")
    _login(page, live_server, seeded.password)
    page.click(f"a[href='/admin/meetings/{code}']")
    page.wait_for_url(f"{live_server}/admin/meetings/{code}")
    _fits_the_phone(page)
    # A new meeting.
    page.fill("#meeting-title", "2027 年第一次业主大会会议")
    page.click("button:has-text('Create the draft')")
    page.wait_for_selector("text=No motion yet")
    _fits_the_phone(page)
    # A motion.
    page.click("a:has-text('Add a motion')")
    page.select_option("#motion-matter", "4")
    page.check("input[name=kind][value=yes_no]")
    page.fill("#motion-title", "续聘物业服务企业")
    page.fill("#motion-text", "续聘现物业服务企业三年，服务费标准不变。")
    _fits_the_phone(page)
    _shot(page, "motion-form")
    page.click("button:has-text('Save the motion')")
    page.wait_for_selector("text=Motion 1 added.")
    assert "Hiring or dismissing the property service company" in page.inner_text("main")
    _fits_the_phone(page)
    _shot(page, "draft")
    # The notice: the window 20 days from now, then the confirmation.
    page.click("a:has-text('Post the notice')")
    opens, closes = now() + 20 * DAY, now() + 27 * DAY
    page.fill("#window-opens", local(opens))
    page.fill("#window-closes", local(closes))
    _fits_the_phone(page)
    page.click("button:has-text('Continue')")
    page.wait_for_selector("button:has-text('Post the notice now')")
    assert shown(opens) in page.inner_text("main")
    _fits_the_phone(page)
    page.click("button:has-text('Post the notice now')")
    page.wait_for_selector("text=The notice is posted")
    assert "Notice posted" in page.inner_text("main")
    assert page.locator("a:has-text('Add a motion')").count() == 0
    _fits_the_phone(page)
    store.rollback()
    created = store.scalars(select(Meeting).where(Meeting.title.startswith("2027"))).one()
    assert created.state is MeetingState.noticed
    # Opening the meeting noticed 20 days ago shows the roll snapshot's hash.
    page.goto(f"{live_server}/admin/meetings/{code}/{ready.id}")
    assert ROLL_SHA256 not in page.inner_text("main")
    page.click("a:has-text('Open voting')")
    page.click("button:has-text('Open voting now')")
    page.wait_for_selector("text=Voting is open.")
    assert ROLL_SHA256 in page.inner_text("main")
    _fits_the_phone(page)
    _shot(page, "open")
