"""Proxy authorisations: authorise, vote by proxy, the owner's override, withdrawal, cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ballotkit import VOTING, VotingSetup, cast, open_meeting_setup
from proxykit import authorise, card_of, holder_of, proxy_cast
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.canonical import parse_canonical
from voting.models import Ballot, CountedBallot, LogEntry, Proxy
from voting.services.ballots import BallotRefused, counted_ballots
from voting.services.proxies import (
    ProxyRefused,
    active_proxy,
    authorisation_for,
    proxies_held,
    proxies_of_meeting,
    withdraw_proxy,
)


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db, proxy_cap=2)


def _count(db: Session, model: Any) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


def _log(db: Session, seq: int) -> dict[str, Any]:
    entry = db.scalar(select(LogEntry).where(LogEntry.seq == seq))
    assert entry is not None
    return dict(parse_canonical(entry.entry))


def test_proxies_authorise_stores_and_logs(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref, {setup.yes_no.id: "yes"})
    assert granted.owner == wang.holder_ref and granted.proxy == li.holder_ref
    assert granted.meeting == setup.meeting.id and granted.instructions == 1
    proxy = db.scalar(select(Proxy))
    assert proxy is not None and proxy.statement_hash == granted.statement_hash
    assert proxy.owner_card_id == wang.card_id and proxy.withdrawn_at is None
    assert proxy.instructions == json.dumps({str(setup.yes_no.id): "yes"}, separators=(",", ":"))
    entry = _log(db, granted.log_index)
    assert entry["kind"] == "proxy"
    assert entry["data"]["meeting"] == setup.meeting.id
    assert entry["data"]["owner"] == wang.holder_ref
    assert entry["data"]["proxy"] == li.holder_ref
    assert entry["data"]["statement"] == granted.statement_hash
    assert "王伟" not in entry["data"].values()
    owner = holder_of(db, wang.holder_ref)
    assert active_proxy(db, setup.meeting.id, owner.id) == proxy
    assert proxies_held(db, setup.meeting.id, proxy.proxy_holder_id) == [proxy]
    assert authorisation_for(db, setup.meeting.id, wang.holder_ref, proxy.proxy_holder_id) == proxy


def test_proxies_proxy_votes_for_the_owner(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref)
    receipt = proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    assert receipt.by_proxy and receipt.counted
    # The proxy's own vote is separate from the owner's.
    cast(db, setup, li, setup.yes_no, "yes")
    assert sorted(counted_ballots(db, setup.yes_no)) == sorted(
        [(wang.holder_ref, "no"), (li.holder_ref, "yes")]
    )
    ballot = db.scalar(select(Ballot).where(Ballot.ballot_hash == receipt.ballot_hash))
    assert ballot is not None and ballot.card_id == li.card_id
    assert ballot.holder_id == holder_of(db, wang.holder_ref).id
    entry = _log(db, receipt.log_index)
    assert entry["data"]["proxy"] == granted.statement_hash
    assert entry["data"]["voter"] == wang.holder_ref


def test_proxies_owner_in_person_overrides_the_proxy(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref)
    proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    own = cast(db, setup, wang, setup.yes_no, "yes")
    assert own.counted and not own.by_proxy
    assert counted_ballots(db, setup.yes_no) == [(wang.holder_ref, "yes")]
    counted = db.scalar(select(CountedBallot))
    assert counted is not None and counted.in_person


def test_proxies_proxy_after_the_owner_is_refused(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref)
    cast(db, setup, wang, setup.yes_no, "yes")
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    assert refused.value.status == 409 and refused.value.reason == "owner_voted"
    assert counted_ballots(db, setup.yes_no) == [(wang.holder_ref, "yes")]
    assert _count(db, Ballot) == 1


def test_proxies_ballot_without_authorisation_refused(db: Session, setup: VotingSetup) -> None:
    wang, li, chen = card_of(setup, "王伟"), card_of(setup, "李娜"), card_of(setup, "陈静")
    granted = authorise(db, setup, wang, li.holder_ref)
    # Another card presenting the authorisation, and a made-up hash.
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, chen, wang, setup.yes_no, "no", granted.statement_hash)
    assert refused.value.status == 403 and refused.value.reason == "proxy"
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, li, wang, setup.yes_no, "no", "f" * 64)
    assert refused.value.reason == "proxy"
    # The authorisation names Wang, not Chen.
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, li, chen, setup.yes_no, "no", granted.statement_hash)
    assert refused.value.reason == "proxy"
    assert _count(db, Ballot) == 0


def test_proxies_instruction_is_enforced(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    instructions = {setup.yes_no.id: "yes", setup.election.id: ["Candidate 1", "Candidate 2"]}
    granted = authorise(db, setup, wang, li.holder_ref, instructions)
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    assert refused.value.status == 403 and refused.value.reason == "instruction"
    with pytest.raises(BallotRefused):
        proxy_cast(db, setup, li, wang, setup.election, ["Candidate 1"], granted.statement_hash)
    assert _count(db, Ballot) == 0
    proxy_cast(db, setup, li, wang, setup.yes_no, "yes", granted.statement_hash)
    proxy_cast(
        db, setup, li, wang, setup.election, ["Candidate 1", "Candidate 2"], granted.statement_hash
    )
    # No instruction on the choice motion: the proxy decides.
    proxy_cast(db, setup, li, wang, setup.choice, "Contractor B", granted.statement_hash)
    assert _count(db, Ballot) == 3


def test_proxies_withdrawn_authorisation_refused(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref)
    withdrawn = withdraw_proxy(db, setup.meeting.id, card_id=wang.card_id, now=VOTING)
    assert withdrawn.withdrawn_at == VOTING
    entry = db.scalar(select(LogEntry).order_by(LogEntry.seq.desc()))
    assert entry is not None and entry.kind == "proxy.withdraw"
    with pytest.raises(BallotRefused) as refused:
        proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    assert refused.value.reason == "proxy"
    # A new authorisation may follow the withdrawn one.
    chen = card_of(setup, "陈静")
    again = authorise(db, setup, wang, chen.holder_ref)
    proxy_cast(db, setup, chen, wang, setup.yes_no, "no", again.statement_hash)
    assert counted_ballots(db, setup.yes_no) == [(wang.holder_ref, "no")]


def test_proxies_withdraw_refused_once_the_proxy_voted(db: Session, setup: VotingSetup) -> None:
    wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
    granted = authorise(db, setup, wang, li.holder_ref)
    proxy_cast(db, setup, li, wang, setup.yes_no, "no", granted.statement_hash)
    with pytest.raises(ProxyRefused) as refused:
        withdraw_proxy(db, setup.meeting.id, card_id=wang.card_id, now=VOTING)
    assert refused.value.status == 409 and refused.value.reason == "proxy_voted"
    db.rollback()
    proxy = db.scalar(select(Proxy))
    assert proxy is not None and proxy.withdrawn_at is None


def test_proxies_withdraw_without_authorisation(db: Session, setup: VotingSetup) -> None:
    wang = card_of(setup, "王伟")
    with pytest.raises(ProxyRefused) as refused:
        withdraw_proxy(db, setup.meeting.id, card_id=wang.card_id, now=VOTING)
    assert refused.value.status == 404


def test_proxies_second_authorisation_for_one_owner_refused(
    db: Session, setup: VotingSetup
) -> None:
    wang, li, chen = card_of(setup, "王伟"), card_of(setup, "李娜"), card_of(setup, "陈静")
    from proxykit import proxy_statement, submit

    # Both challenges before either is used: the second is refused by the store.
    first = proxy_statement(db, setup, wang, li.holder_ref)
    second = proxy_statement(db, setup, wang, chen.holder_ref)
    submit(db, wang, first)
    with pytest.raises(ProxyRefused) as refused:
        submit(db, wang, second)
    assert refused.value.status == 409 and refused.value.reason == "already_authorised"
    assert _count(db, Proxy) == 1


def test_proxies_cap_enforced(db: Session, setup: VotingSetup) -> None:
    li = card_of(setup, "李娜")
    owners = [card_of(setup, name) for name in ("王伟", "陈静", "赵磊")]
    authorise(db, setup, owners[0], li.holder_ref)
    authorise(db, setup, owners[1], li.holder_ref)
    log_size = _count(db, LogEntry)
    with pytest.raises(ProxyRefused) as refused:
        authorise(db, setup, owners[2], li.holder_ref)
    assert refused.value.status == 409 and refused.value.reason == "cap"
    assert _count(db, Proxy) == 2 and _count(db, LogEntry) == log_size
    # A withdrawal frees a place.
    withdraw_proxy(db, setup.meeting.id, card_id=owners[0].card_id, now=VOTING)
    authorise(db, setup, owners[2], li.holder_ref)


def test_proxies_staff_list(db: Session, setup: VotingSetup) -> None:
    wang, li, zhao = card_of(setup, "王伟"), card_of(setup, "李娜"), card_of(setup, "赵磊")
    first = authorise(db, setup, wang, li.holder_ref, {setup.yes_no.id: "yes"})
    authorise(db, setup, zhao, li.holder_ref)
    proxy_cast(db, setup, li, wang, setup.yes_no, "yes", first.statement_hash)
    withdraw_proxy(db, setup.meeting.id, card_id=zhao.card_id, now=VOTING)
    rows = proxies_of_meeting(db, setup.meeting)
    assert [row.owner_houses for row in rows] == [
        ("1号楼 1-101", "1号楼 1-102", "地下车库 B1-001"),
        ("10号楼 2-1501",),
    ]
    assert rows[0].proxy_houses == ("1号楼 1-201",) and not rows[0].named
    assert rows[0].instructions == 1 and rows[0].ballots == 1 and rows[0].withdrawn_at is None
    assert rows[1].instructions == 0 and rows[1].ballots == 0 and rows[1].withdrawn_at == VOTING
