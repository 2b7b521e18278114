"""Meetings of the seeded area in every state around the real clock, for the staff meeting
page tests (test_admin_meetings*.py, access_admin_meetings.py).

The web pages read the clock; these helpers set up each state through the services with
`now=` times far enough from it (days), so that no test waits or races the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from voting.domain.procedure import BEIJING, MotionSpec
from voting.domain.tally import MotionKind
from voting.models import Meeting, PropertyArea, utcnow
from voting.services.meetings import (
    add_motion,
    close_meeting,
    create_meeting,
    open_meeting,
    post_notice,
    publish_meeting,
)

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The seeded area's roll snapshot hash (tests/web/conftest.py).
ROLL_SHA256 = "1" * 64

YES_NO = MotionSpec(
    matter=4,
    kind=MotionKind.YES_NO,
    title="续聘物业服务企业",
    text="续聘现物业服务企业三年。",
)


def now() -> dt.datetime:
    return utcnow().replace(microsecond=0)


def local(moment: dt.datetime) -> str:
    """`moment` as a datetime-local form value in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def shown(moment: dt.datetime) -> str:
    """`moment` as the pages show it: Beijing time to the minute."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def draft(
    store: Session,
    area: PropertyArea,
    title: str = "第一次业主大会会议",
    motions: tuple[MotionSpec, ...] = (YES_NO,),
    at: dt.datetime | None = None,
) -> Meeting:
    at = at or now()
    meeting = create_meeting(store, area, title, now=at)
    for spec in motions:
        add_motion(store, meeting, spec, now=at)
    return meeting


def noticed_future(store: Session, area: PropertyArea, title: str = "未来的会议") -> Meeting:
    """Notice posted now; voting opens in 20 days."""
    at = now()
    meeting = draft(store, area, title, at=at)
    return post_notice(store, meeting, at + 20 * DAY, at + 27 * DAY, at)


def noticed_in_window(store: Session, area: PropertyArea, title: str = "可开始的会议") -> Meeting:
    """Notice posted 20 days ago; the window opened an hour ago and lasts a week."""
    at = now()
    meeting = draft(store, area, title, at=at - 20 * DAY)
    return post_notice(store, meeting, at - HOUR, at + 7 * DAY, at - 20 * DAY)


def open_now(store: Session, area: PropertyArea, title: str = "表决中的会议") -> Meeting:
    meeting = noticed_in_window(store, area, title)
    return open_meeting(store, meeting, now())


def window_ended(store: Session, area: PropertyArea, title: str = "已到期的会议") -> Meeting:
    """Open, with a window that ended an hour ago (ready to close)."""
    at = now()
    meeting = draft(store, area, title, at=at - 30 * DAY)
    post_notice(store, meeting, at - 10 * DAY, at - HOUR, at - 30 * DAY)
    return open_meeting(store, meeting, at - 5 * DAY)


def closed(store: Session, area: PropertyArea, title: str = "已结束的会议") -> Meeting:
    return close_meeting(store, window_ended(store, area, title), now() - 30 * MINUTE)


def published(store: Session, area: PropertyArea, title: str = "已公示的会议") -> Meeting:
    return publish_meeting(store, closed(store, area, title), now() - 10 * MINUTE)


def token(client: Any) -> str:
    """The CSRF token of the client's session (from the logout form of any staff page)."""
    page = client.get("/home").get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on /home"
    return match.group(1)
