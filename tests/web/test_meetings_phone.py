"""The meeting page on a phone: Debian's Chromium at 390×844 shows the result charts in
Chinese and in English and the live turnout, with no horizontal overflow and no CSP
violation (the charts are inline SVG without inline styles)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from resultskit import staged_meeting
from sqlalchemy.orm import Session

from voting.domain.procedure import MeetingState

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("VOTING_SCREENSHOTS", "/tmp/voting-screenshots"))
PHONE_WIDTH = 390


def _watch_console(page: Any) -> list[str]:
    """Console errors about the Content-Security-Policy (an inline style would be refused)."""
    errors: list[str] = []

    def seen(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", seen)
    return errors


def _check_layout(page: Any, shot: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width} px wide at {page.url}"
    bars = page.locator("svg.results-bar")
    assert bars.count() > 0
    first = bars.first
    first.scroll_into_view_if_needed()
    assert first.is_visible()
    box = first.bounding_box()
    assert box is not None and 250 <= box["width"] <= PHONE_WIDTH and box["height"] >= 16
    # The filled bar is drawn in the stylesheet's colour, not left black or invisible.
    fill = page.evaluate(
        "getComputedStyle(document.querySelector('svg.results-bar .results-fill-area')).fill"
    )
    assert fill not in ("none", "rgb(0, 0, 0)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / shot), full_page=True)


def test_meetings_phone_results_in_chinese_and_english(
    page: Any, live_server: str, store: Session, seeded: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.published, vote=True)
    errors = _watch_console(page)
    url = f"{live_server}/meetings/{setup.area.code}/{setup.meeting.id}"
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.wait_for_selector("text=1号楼")
    _check_layout(page, "meetings-results-zh.png")
    page.goto(url + "?lang=en")
    page.wait_for_selector("text=By building")
    assert page.locator(".results-outcome-passed").count() == 2  # the yes/no motion, election
    page.locator("details.results-units summary").first.click()
    page.wait_for_selector("text=1号楼 1-101")
    _check_layout(page, "meetings-results-en.png")
    assert not errors, errors


def test_meetings_phone_turnout_for_staff(
    page: Any, live_server: str, store: Session, seeded: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.open, vote=True)
    errors = _watch_console(page)
    target = f"/meetings/{setup.area.code}/{setup.meeting.id}"
    page.goto(f"{live_server}{target}?lang=en")
    page.click("main a.button-secondary")  # the 401 page: "Staff login", back here after
    page.fill("input[name=username]", "observer")
    page.fill("input[name=password]", seeded.password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{live_server}{target}*")
    page.wait_for_selector("text=Turnout so far")
    assert page.locator("text=Contractor A").count() == 0
    _check_layout(page, "meetings-turnout-en.png")
    assert not errors, errors
