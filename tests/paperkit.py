"""Staff users, image hashes and a meeting open now, for the paper ballot tests
(importable from every test folder: `from paperkit import ...`).

    admins = staff(db, setup.area, 3)           # three committee admins of the area
    HASH_A, HASH_B                              # SHA-256 of two scanned sheets
    meeting = open_meeting_now(store, area)     # for web tests: the window is open today
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.domain.procedure import ResultDetail, RulesOfProcedure
from voting.models import Meeting, PropertyArea, Role, RollEntry, User, utcnow
from voting.services.meetings import (
    add_motion,
    create_meeting,
    open_meeting,
    post_notice,
    set_rules,
)
from voting.services.roll import current_version, import_roll

SAMPLE = Path(__file__).resolve().parent / "data" / "rolls" / "sample_zh.csv"
HASH_A = hashlib.sha256(b"scan of sheet A").hexdigest()
HASH_B = hashlib.sha256(b"scan of sheet B").hexdigest()
HASH_C = hashlib.sha256(b"scan of sheet C").hexdigest()
# Houses of the sample roll (tests/data/rolls/sample_zh.csv).
WANG = "1号楼 1-101"  # 王伟: also 1-102 and a parking space; in every scope
LI = "1号楼 1-201"  # 李娜
COMPANY = "2号楼 1-101"  # 北京望京商贸有限公司: outside the scope of the lift motion
ZHAO = "10号楼 2-1501"  # 赵磊


def staff(
    db: Session, area: PropertyArea, count: int = 3, role: Role = Role.committee_admin
) -> list[User]:
    """`count` staff users of `role` bound to `area` (no usable password: services only)."""
    users = []
    existing = db.scalar(select(func.count()).select_from(User)) or 0
    for index in range(count):
        number = existing + index + 1
        user = User(
            username=f"{role.value}-{number}",
            display_name=f"{role.value} {number}",
            password_hash="!",
            role=role,
            property_area_id=area.id,
        )
        db.add(user)
        db.flush()
        users.append(user)
    db.commit()
    return users


def open_meeting_now(store: Session, area: PropertyArea, *, title: str = "纸质表决测试") -> Meeting:
    """A meeting of `area` whose window is open now (the web uses the real clock): noticed 16
    days ago, open since yesterday, closing in 6 days. The sample roll is imported first
    unless the area's current roll already has units (the web fixture's version 2 has none)."""
    from ballotkit import CHOICE, ELECTION, YES_NO

    now = utcnow().replace(microsecond=0)
    t0 = now - dt.timedelta(days=16)
    version = current_version(store, area)
    has_units = version is not None and store.scalar(
        select(func.count()).select_from(RollEntry).where(RollEntry.roll_version_id == version.id)
    )
    if not has_units:
        import_roll(
            store,
            area,
            "roll.csv",
            SAMPLE.read_bytes(),
            "paper-key",
            expected_base_version=None if version is None else version.number,
        )
    set_rules(
        store,
        area,
        RulesOfProcedure(
            notice_days=15,
            allow_vote_change=False,
            proxy_cap=2,
            parking_counts=True,
            result_detail=ResultDetail.per_unit,
        ),
        now=t0 - dt.timedelta(days=1),
    )
    meeting = create_meeting(store, area, title, now=t0 - dt.timedelta(days=1))
    for spec in (YES_NO, CHOICE, ELECTION):
        add_motion(store, meeting, spec)
    post_notice(store, meeting, t0 + dt.timedelta(days=15), now + dt.timedelta(days=6), now=t0)
    open_meeting(store, meeting, now=t0 + dt.timedelta(days=15))
    store.refresh(meeting)
    return meeting
