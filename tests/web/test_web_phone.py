"""On a phone (390×844 in Chromium): staff log in and read their home page without
sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def test_phone_committee_admin_logs_in_and_reads_home(
    live_server: str, seeded: Any, page: Any
) -> None:
    page.goto(f"{live_server}/")
    assert page.evaluate(NO_OVERFLOW)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.get_by_role("link", name="工作人员登录").first.click()

    page.get_by_label("用户名").fill("committee_admin")
    page.get_by_label("密码").fill(seeded.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/home")

    assert page.locator("h1").inner_text() == seeded.area.name
    assert page.get_by_role("link", name="业主名册").is_visible()
    assert page.get_by_role("button", name="退出登录").is_visible()
    assert "业主委员会" in page.locator(".user-role").inner_text()
    assert page.evaluate(NO_OVERFLOW), "the home page scrolls sideways on a phone"


def test_phone_operator_table_scrolls_inside_its_box(
    live_server: str, seeded: Any, page: Any
) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill(seeded.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/home")
    assert page.locator("table.data").is_visible()
    assert page.evaluate(NO_OVERFLOW), "a wide table widens the page on a phone"


def test_phone_page_loads_without_csp_violations(live_server: str, page: Any) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.goto(f"{live_server}/login")
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"  # CSS applied
    assert not [p for p in problems if "Content Security Policy" in p]
