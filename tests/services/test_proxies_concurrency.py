"""Proxy authorisations sent in parallel, from real threads each with its own database
session (as separate web workers would): the cap per proxy holder and the one authorisation
in force per owner hold, and a refused request stores nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ballotkit import NONCE_KEY, PLATFORM, SAMPLE, VOTING, open_meeting_setup, sign
from proxykit import card_of, proxy_statement
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.database import get_database
from voting.models import LogEntry, Proxy
from voting.services.proxies import Authorisation, ProxyRefused, authorise_proxy

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
OWNERS = 12


def _id_number(serial: int) -> str:
    body = f"110105198001{serial:05d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _roll(holders: int) -> bytes:
    """The sample's columns: `holders` owners of one flat each in 1号楼."""
    header = SAMPLE.read_text(encoding="utf-8").splitlines()[0].split(",")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for n in range(1, holders + 1):
        row = ["1号楼", f"1-{100 + n}", "88.00", "不动产登记", "已售", "个人", f"业主{n:03d}"]
        writer.writerow([*row, _id_number(n), "", "否", "", ""])
    return buffer.getvalue().encode("utf-8")


def _parallel(app: Any, jobs: list[Callable[[Session], Any]]) -> list[Any]:
    sessionmaker = get_database(app).sessionmaker
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[Session], Any]) -> Any:
        start.wait()
        with sessionmaker() as session:
            try:
                return job(session)
            except ProxyRefused as refusal:
                return refusal

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _job(card_id: int, data: bytes, signature: bytes) -> Callable[[Session], Any]:
    def job(session: Session) -> Any:
        return authorise_proxy(
            session, data, signature, card_id=card_id, platform=PLATFORM, key=NONCE_KEY, now=VOTING
        )

    return job


def _stored(db: Session) -> tuple[int, list[int]]:
    db.rollback()
    proxies = db.scalar(select(func.count()).select_from(Proxy)) or 0
    seqs = list(db.scalars(select(LogEntry.seq).order_by(LogEntry.seq)))
    return proxies, seqs


def test_proxies_cap_holds_under_parallel_requests(db: Session, app: Any) -> None:
    cap = 3
    setup = open_meeting_setup(db, proxy_cap=cap, roll=_roll(OWNERS + 1))
    proxy, owners = setup.cards[0], setup.cards[1 : OWNERS + 1]
    jobs = []
    for owner in owners:
        data, signature = sign(owner, proxy_statement(db, setup, owner, proxy.holder_ref))
        jobs.append(_job(owner.card_id, data, signature))
    db.rollback()
    before = _stored(db)[0]
    results = _parallel(app, jobs)
    outcomes = Counter(
        "ok" if isinstance(r, Authorisation) else (r.status, r.reason) for r in results
    )
    assert outcomes == {"ok": cap, (409, "cap"): OWNERS - cap}
    proxies, seqs = _stored(db)
    assert proxies == before + cap
    assert seqs == list(range(len(seqs)))  # one log entry per stored authorisation, no gap


def test_proxies_one_in_force_per_owner_under_parallel_requests(db: Session, app: Any) -> None:
    setup = open_meeting_setup(db, proxy_cap=5)
    wang = card_of(setup, "王伟")
    others = [card_of(setup, name) for name in ("李娜", "陈静", "赵磊")]
    jobs = []
    for other in others:
        data, signature = sign(wang, proxy_statement(db, setup, wang, other.holder_ref))
        jobs.append(_job(wang.card_id, data, signature))
    db.rollback()
    results = _parallel(app, jobs)
    outcomes = Counter(
        "ok" if isinstance(r, Authorisation) else (r.status, r.reason) for r in results
    )
    assert outcomes == {"ok": 1, (409, "already_authorised"): 2}
    assert _stored(db)[0] == 1
