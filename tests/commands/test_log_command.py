"""`voting log check`: recompute an area's log and compare it with the stored leaf hashes,
nodes, checkpoints, ballots and proxies; 0 all holds, 1 names the first bad index or
checkpoint, 2 bad input. Tampering is simulated with raw SQL (the append-only trigger of the
log is dropped first, as an attacker with database access would)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from ballotkit import VOTING, VotingSetup, cast, open_meeting_setup
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crypto.canonical import canonical_bytes
from crypto.encoding import b64_encode
from crypto.keys import CardKey
from crypto.merkle import leaf_hash
from voting.cli import main
from voting.models import Ballot, Card, Holder, LogEntry, Proxy
from voting.services import use_case
from voting.services.log import append
from voting.services.tenancy import ensure_property_area

OK = re.compile(r"log NHXY: (\d+) entries, root [0-9a-f]{64}, .*: all consistent")


@pytest.fixture
def run(database_url: str, instance_path: Path) -> Any:
    env = {"VOTING_DATABASE_URL": database_url, "VOTING_INSTANCE_PATH": str(instance_path)}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


@use_case
def _add_proxy(session: Session, setup: VotingSetup) -> Proxy:
    """An owner's signed authorisation and its log entry, as the proxies service stores
    them (kind "proxy", data: meeting, owner, proxy, statement hash, signature)."""
    owner_card, proxy_card = setup.cards[0], setup.cards[1]
    owner = session.get(Holder, session.get(Card, owner_card.card_id).holder_id)  # type: ignore[union-attr]
    holder = session.get(Holder, session.get(Card, proxy_card.card_id).holder_id)  # type: ignore[union-attr]
    assert owner is not None and holder is not None and owner_card.seed is not None
    statement = canonical_bytes(
        {"type": "proxy", "meeting": setup.meeting.id, "owner": owner.ref, "proxy": holder.ref}
    )
    signature = CardKey(owner_card.seed).sign(statement)
    digest = hashlib.sha256(statement).hexdigest()
    entry = append(
        session,
        setup.area,
        "proxy",
        {
            "meeting": setup.meeting.id,
            "owner": owner.ref,
            "proxy": holder.ref,
            "statement": digest,
            "signature": b64_encode(signature),
        },
        at=VOTING,
    )
    proxy = Proxy(
        property_area_id=setup.area.id,
        meeting_id=setup.meeting.id,
        owner_holder_id=owner.id,
        proxy_holder_id=holder.id,
        owner_card_id=owner_card.card_id,
        statement=statement,
        signature=signature,
        statement_hash=digest,
        created_at=VOTING,
        log_seq=entry.seq,
    )
    session.add(proxy)
    return proxy


@pytest.fixture
def voted(db: Session, run: Any) -> VotingSetup:
    """Area NHXY with ballots, a proxy, a checkpoint (and so stored nodes), then more
    entries after the checkpoint."""
    setup = open_meeting_setup(db)
    cast(db, setup, setup.cards[0], setup.yes_no, "yes")
    cast(db, setup, setup.cards[1], setup.yes_no, "no")
    _add_proxy(db, setup)
    signed = run("log", "checkpoint", "--area", "NHXY")
    assert signed.exit_code == 0, signed.output
    cast(db, setup, setup.cards[2], setup.yes_no, "abstain")
    return setup


def _unprotect(db: Session) -> None:
    """Drop the append-only protection of log_entries, as a tamperer would."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE log_entries DISABLE TRIGGER log_entries_append_only"))
    else:
        db.execute(text("DROP TRIGGER log_entries_no_update"))
    db.commit()


def _entry(db: Session, seq: int) -> LogEntry:
    row = db.scalar(select(LogEntry).where(LogEntry.seq == seq))
    assert row is not None
    return row


def _bad(result: Any, index: int | None = None, checkpoint: int | None = None) -> None:
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    if index is not None:
        assert f"first bad index {index}" in result.output
    if checkpoint is not None:
        assert f"first bad checkpoint of size {checkpoint}" in result.output


def test_log_check_all_consistent(run: Any, voted: VotingSetup, db: Session) -> None:
    result = run("log", "check", "--area", "NHXY")
    assert result.exit_code == 0, result.output
    match = OK.search(result.output)
    assert match, result.output
    assert "3 ballot(s), 1 proxy(ies)" in result.output and "1 checkpoint(s)" in result.output
    key = run("log", "key")
    assert key.exit_code == 0
    again = run("log", "check", "--area", "NHXY", "--key", key.output.strip())
    assert again.exit_code == 0, again.output


def test_log_check_unknown_area_and_bad_key(run: Any, voted: VotingSetup) -> None:
    result = run("log", "check", "--area", "NOPE")
    assert result.exit_code == 2 and "no property area" in result.output
    result = run("log", "check", "--area", "NHXY", "--key", "not-a-key")
    assert result.exit_code == 2 and "--key" in result.output


def test_log_check_other_key_fails_the_checkpoints(
    run: Any, voted: VotingSetup, db: Session
) -> None:
    from crypto.checkpoint import NoteVerifier

    size = db.scalar(text("SELECT size FROM checkpoints"))
    other = NoteVerifier("voting.example", CardKey(bytes(32)).public_key).encode()
    result = run("log", "check", "--area", "NHXY", "--key", other)
    _bad(result, checkpoint=size)
    assert "no signature by a known key" in result.output


def test_log_check_finds_an_edited_entry(run: Any, voted: VotingSetup, db: Session) -> None:
    _unprotect(db)
    row = _entry(db, 3)
    edited = row.entry.replace(b'"kind":"', b'"kind":"x')
    db.execute(
        text("UPDATE log_entries SET entry = :e WHERE id = :id"), {"e": edited, "id": row.id}
    )
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    _bad(result, index=3)
    assert "entry 3: the stored leaf hash does not match" in result.output


def test_log_check_finds_an_entry_rehashed_by_the_tamperer(
    run: Any, voted: VotingSetup, db: Session
) -> None:
    """Entry and leaf hash edited together: the stored nodes and the checkpoint tell."""
    _unprotect(db)
    row = _entry(db, 5)
    edited = row.entry.replace(b'"kind":"', b'"kind":"x')
    db.execute(
        text("UPDATE log_entries SET entry = :e, leaf_hash = :h WHERE id = :id"),
        {"e": edited, "h": leaf_hash(edited), "id": row.id},
    )
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    _bad(result, index=4)  # the stored node over entries 4–5 is the lowest that differs
    assert "stored node (level 1, index 2) over entries 4–5 does not match" in result.output
    assert "its root is not the root of the first" in result.output


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("signature", b"\x00" * 64, "the signature is not the logged one"),
        ("statement", b"{}", "the statement does not hash to the logged ballot hash"),
        ("choice", '"no"', "the stored choice or nonce differs from the signed statement"),
    ],
)
def test_log_check_finds_an_edited_ballot(
    run: Any, voted: VotingSetup, db: Session, column: str, value: Any, problem: str
) -> None:
    ballot = db.scalars(select(Ballot).order_by(Ballot.id)).first()
    assert ballot is not None
    db.execute(
        text(f"UPDATE ballots SET {column} = :v WHERE id = :id"), {"v": value, "id": ballot.id}
    )
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    _bad(result, index=ballot.log_seq)
    assert f"ballot {ballot.id} (log index {ballot.log_seq}): {problem}" in result.output


def test_log_check_finds_an_edited_proxy(run: Any, voted: VotingSetup, db: Session) -> None:
    proxy = db.scalar(select(Proxy))
    assert proxy is not None
    db.execute(
        text("UPDATE proxies SET signature = :v WHERE id = :id"),
        {"v": b"\x01" * 64, "id": proxy.id},
    )
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    _bad(result, index=proxy.log_seq)
    assert f"proxy {proxy.id} (log index {proxy.log_seq}): the signature" in result.output


def test_log_check_finds_an_edited_checkpoint(run: Any, voted: VotingSetup, db: Session) -> None:
    note = db.execute(text("SELECT size, note FROM checkpoints")).one()
    forged = note.note.replace(b"\n\n", b"\nextension\n\n")
    db.execute(text("UPDATE checkpoints SET note = :n"), {"n": forged})
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    _bad(result, checkpoint=note.size)
    assert f"checkpoint of size {note.size}: signature by voting.example does not verify" in (
        result.output
    )


def test_log_check_of_an_empty_log(run: Any, db: Session) -> None:
    from voting.demo import DEMO_PATH

    ensure_property_area(db, DEMO_PATH)
    db.commit()
    result = run("log", "check", "--area", "NHXY")
    assert result.exit_code == 0 and "0 entries" in result.output
