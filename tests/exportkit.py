"""A closed meeting with every kind of record item, exported, for the export and verify tests
(importable from every test folder: `from exportkit import ...`).

    setup = closed_meeting(db)              # not exported yet
    made = make_record(db)                  # ballots (a changed vote), a proxy and the
                                            # owner's override, a revoked card, paper sheets
    report = verify(made.files)             # verify_record with the test log key, inline
    files = rewrite(made.files, BALLOTS, edit)   # a tampered copy (edit: bytes -> bytes)

The log key is the PROTOCOL test key (seed 40 41 … 5f); the platform is ballotkit's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ballotkit import CLOSES, PLATFORM, VOTING, VotingSetup, cast, open_meeting_setup
from paperkit import HASH_A, HASH_B, HASH_C, staff
from proxykit import authorise, card_of, proxy_cast
from sqlalchemy.orm import Session

from crypto.keys import CardKey
from voting.domain.verify import Report, verify_record
from voting.services.cards import revoke_card
from voting.services.export import ExportedRecord, export_record
from voting.services.logtree import LogSigner
from voting.services.meetings import close_meeting, publish_meeting
from voting.services.paper import enter_paper, resolve_paper

LOG_KEY = CardKey(bytes(range(0x40, 0x60)))
SIGNER = LogSigner(PLATFORM, LOG_KEY)
PUBLISHED = CLOSES + dt.timedelta(hours=1)
EXPORTED_AT = CLOSES + dt.timedelta(hours=2)


@dataclass
class MadeRecord:
    setup: VotingSetup
    exported: ExportedRecord

    @property
    def files(self) -> dict[str, bytes]:
        return dict(self.exported.files)


def make_record(db: Session) -> MadeRecord:
    """`closed_meeting`, exported at EXPORTED_AT with the test log key."""
    setup = closed_meeting(db)
    exported = export_record(db, setup.meeting, signer=SIGNER, now=EXPORTED_AT)
    return MadeRecord(setup, exported)


def closed_meeting(db: Session) -> VotingSetup:
    """A meeting (vote changes allowed) closed at CLOSES with: 王伟 voting yes then no on the
    yes/no motion and on the election; 李娜 voting yes, and on the lift motion for herself
    and as 陈静's proxy (instructed), then 陈静 overriding in person; 李娜's card revoked
    after she voted; paper: 赵磊's sheet entered twice alike, the company's sheet entered
    differently and resolved. Closed at CLOSES (which records the results) and published."""
    setup = open_meeting_setup(db, allow_vote_change=True)
    wang, li, chen = card_of(setup, "王伟"), card_of(setup, "李娜"), card_of(setup, "陈静")
    zhao = card_of(setup, "赵磊")
    company = card_of(setup, "北京望京商贸有限公司")
    later = VOTING + dt.timedelta(minutes=10)
    cast(db, setup, wang, setup.yes_no, "yes")
    cast(db, setup, li, setup.yes_no, "yes")
    cast(db, setup, wang, setup.election, ["Candidate 1", "Candidate 3"])
    granted = authorise(db, setup, chen, li.holder_ref, {setup.choice.id: "Contractor A"})
    proxy_cast(db, setup, li, chen, setup.choice, "Contractor A", granted.statement_hash)
    cast(db, setup, li, setup.choice, "Contractor B")
    cast(db, setup, wang, setup.yes_no, "no", now=later)
    cast(db, setup, chen, setup.choice, "Contractor B", now=later)
    revoke_card(
        db, setup.card_row(db, li), reason="lost", user_id=None, now=later + dt.timedelta(hours=1)
    )
    first, second, third = staff(db, setup.area, 3)
    paper_time = VOTING + dt.timedelta(hours=3)
    for user in (first, second):
        enter_paper(
            db,
            setup.meeting,
            zhao.holder_ref,
            {setup.yes_no.id: "yes"},
            HASH_A,
            user.id,
            paper_time,
        )
    enter_paper(
        db, setup.meeting, company.holder_ref, {setup.yes_no.id: "no"}, HASH_B, first.id, paper_time
    )
    enter_paper(
        db,
        setup.meeting,
        company.holder_ref,
        {setup.yes_no.id: "abstain"},
        HASH_C,
        second.id,
        paper_time,
    )
    resolve_paper(
        db, setup.meeting, company.holder_ref, "first", "sheet re-read", third.id, paper_time
    )
    close_meeting(db, setup.meeting, now=CLOSES)
    publish_meeting(db, setup.meeting, now=PUBLISHED)
    return setup


def verify(files: dict[str, bytes], log_key: bytes | None = LOG_KEY.public_key.raw) -> Report:
    """verify_record with the test log key, signatures checked inline."""
    return verify_record(files, log_key=log_key)


def rewrite(files: dict[str, bytes], name: str, edit: Callable[[bytes], bytes]) -> dict[str, bytes]:
    """A copy of the record with one file edited."""
    changed = dict(files)
    changed[name] = edit(files[name])
    return changed


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def messages(report: Report) -> str:
    """Every failure as one text, for `in` assertions."""
    return "\n".join(f"[{f.check}] {f.message}" for f in report.failures)
