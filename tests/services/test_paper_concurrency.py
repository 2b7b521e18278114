"""Entries of one sheet made at the same moment by several staff members, each in its own
thread and database session (as separate web workers would): exactly two are stored, the
rest are refused, and the log stays gapless."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ballotkit import VOTING, open_meeting_setup
from paperkit import HASH_A, WANG, staff
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.database import get_database
from voting.domain.paper import SheetStatus
from voting.models import LogEntry, PaperEntry, PaperSheet
from voting.services.paper import PaperRefused, counted_paper, enter_paper, find_voter


def test_paper_concurrent_entries_store_exactly_two(app: Any, db: Session) -> None:
    setup = open_meeting_setup(db)
    admins = staff(db, setup.area, 4)
    holder = find_voter(db, setup.meeting, WANG)
    assert holder is not None
    choices = {setup.yes_no.id: "yes"}
    sessionmaker = get_database(app).sessionmaker
    start = threading.Barrier(len(admins))

    def run(user_id: int) -> Any:
        start.wait()
        with sessionmaker() as session:
            try:
                return enter_paper(
                    session, setup.meeting, holder.ref, choices, HASH_A, user_id, VOTING
                ).status
            except PaperRefused as refusal:
                return refusal.reason

    with ThreadPoolExecutor(max_workers=len(admins)) as pool:
        results = list(pool.map(run, [user.id for user in admins]))
    assert sorted(map(str, results)) == sorted(["pending", "matched", "complete", "complete"])
    db.rollback()
    assert db.scalar(select(func.count()).select_from(PaperEntry)) == 2
    sheet = db.scalar(select(PaperSheet))
    assert sheet is not None and sheet.status is SheetStatus.matched
    assert counted_paper(db, setup.yes_no) == [(holder.ref, "yes")]
    seqs = list(db.scalars(select(LogEntry.seq).order_by(LogEntry.seq)))
    assert seqs == list(range(len(seqs)))
