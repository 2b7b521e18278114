"""Closing a meeting tallies it and signs the log's checkpoint in the same transaction."""

from __future__ import annotations

from ballotkit import CLOSES, PLATFORM, cast, open_meeting_setup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.checkpoint import open_checkpoint
from crypto.keys import CardKey
from voting.models import Checkpoint, LogEntry, MotionResult
from voting.services.logtree import LogSigner
from voting.services.meetings import close_meeting

SIGNER = LogSigner(PLATFORM, CardKey(bytes(range(64, 96))))


def test_meetings_close_signs_a_checkpoint_covering_the_close(db: Session) -> None:
    setup = open_meeting_setup(db)
    cast(db, setup, setup.cards[0], setup.yes_no, "yes")
    close_meeting(db, setup.meeting, now=CLOSES, signer=SIGNER)
    size = db.scalar(select(func.count()).select_from(LogEntry))
    checkpoint = db.scalar(select(Checkpoint))
    assert checkpoint is not None and checkpoint.size == size
    last = db.scalar(select(LogEntry).where(LogEntry.seq == size - 1))
    assert last is not None and last.kind == "meeting.close"
    opened = open_checkpoint(checkpoint.note, [SIGNER.verifier], origin=SIGNER.origin(setup.area))
    assert opened.size == size
    assert db.scalar(select(func.count()).select_from(MotionResult)) == 3


def test_meetings_close_without_signer_signs_nothing(db: Session) -> None:
    setup = open_meeting_setup(db)
    close_meeting(db, setup.meeting, now=CLOSES)
    assert db.scalar(select(func.count()).select_from(Checkpoint)) == 0
