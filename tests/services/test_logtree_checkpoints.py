"""Signed checkpoints: what is signed, when a new one is made, the log key file, and the
variant that runs inside a meeting close's transaction."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading
from typing import Any

import pytest
from logkit import PLATFORM, T0, grow, leaves, new_area, signer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.checkpoint import NoteVerifier, open_checkpoint
from crypto.merkle import EMPTY_ROOT, MerkleTree
from voting.database import get_database
from voting.models import Checkpoint, PropertyArea
from voting.services import use_case
from voting.services.log import append
from voting.services.logtree import (
    checkpoint_at_close,
    checkpoints_of,
    latest_checkpoint,
    load_log_key,
    load_log_signer,
    sign_checkpoint,
    stored_size,
)

SECOND = dt.timedelta(seconds=1)


def _count(db: Session, area: PropertyArea) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(Checkpoint)
            .where(Checkpoint.property_area_id == area.id)
        )
        or 0
    )


def test_logtree_checkpoint_signs_the_whole_log(db: Session) -> None:
    area = new_area(db)
    grow(db, area, 11)
    log = signer()
    row = sign_checkpoint(db, area, log, T0)
    opened = open_checkpoint(row.note, [log.verifier], origin=f"{PLATFORM}/log/{area.code}")
    assert opened.size == row.size == 11
    assert opened.root_hash == row.root_hash == MerkleTree(leaves(db, area)).root()
    assert row.created_at == T0
    assert stored_size(db, area) == 10  # nodes brought up to date on signing
    assert row.note.decode().splitlines()[-1].startswith(f"— {PLATFORM} ")


def test_logtree_checkpoint_of_the_empty_log(db: Session) -> None:
    area = new_area(db)
    row = sign_checkpoint(db, area, signer(), T0)
    assert (row.size, row.root_hash) == (0, EMPTY_ROOT)


def test_logtree_checkpoint_not_resigned_without_growth(db: Session) -> None:
    area = new_area(db)
    grow(db, area, 3)
    first = sign_checkpoint(db, area, signer(), T0)
    again = sign_checkpoint(db, area, signer(), T0 + dt.timedelta(hours=1))
    assert again.id == first.id and _count(db, area) == 1


def test_logtree_checkpoint_at_most_one_per_second(db: Session) -> None:
    area = new_area(db)
    grow(db, area, 3)
    first = sign_checkpoint(db, area, signer(), T0)
    grow(db, area, 2)
    soon = sign_checkpoint(db, area, signer(), T0 + SECOND - dt.timedelta(microseconds=1))
    assert soon.id == first.id and soon.size == 3
    later = sign_checkpoint(db, area, signer(), T0 + SECOND)
    assert later.size == 5 and _count(db, area) == 2
    assert [row.size for row in checkpoints_of(db, area)] == [3, 5]
    assert latest_checkpoint(db, area) == later


def test_logtree_checkpoint_at_close_joins_the_callers_transaction(db: Session) -> None:
    area = new_area(db)
    grow(db, area, 4)
    sign_checkpoint(db, area, signer(), T0)

    @use_case
    def close(session: Session, fail: bool) -> Checkpoint:
        append(session, area, "meeting.close", {"meeting": 1}, at=T0)
        row = checkpoint_at_close(session, area, signer(), T0)  # no rate limit at a close
        if fail:
            raise RuntimeError("close refused")
        return row

    with pytest.raises(RuntimeError):
        close(db, True)
    assert [row.size for row in checkpoints_of(db, area)] == [4]
    row = close(db, False)
    assert row.size == 5
    assert [r.size for r in checkpoints_of(db, area)] == [4, 5]


def test_logtree_checkpoints_signed_concurrently_are_one(app: Any, db: Session) -> None:
    area = new_area(db)
    grow(db, area, 9)
    database = get_database(app)
    results: list[int] = []
    errors: list[BaseException] = []

    def sign() -> None:
        try:
            with database.sessionmaker() as session:
                found = session.get(PropertyArea, area.id)
                assert found is not None
                results.append(sign_checkpoint(session, found, signer(), T0).id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and _count(db, area) == 1


def test_logtree_log_key_file_is_created_once(app: Any) -> None:
    key = load_log_key(app)
    path = os.path.join(app.instance_path, "log-key")
    info = os.stat(path)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_size == 32
    assert load_log_key(app).public_key == key.public_key
    log = load_log_signer(app)
    assert log.platform == app.config["VOTING_PLATFORM_ID"]
    assert log.verifier.encode().startswith(f"{log.platform}+")


def test_logtree_verifier_key_with_plus_in_its_base64() -> None:
    """Base64 may contain "+", the separator of a verifier key's fields: only the first two
    separate (as in Go's golang.org/x/mod/sumdb/note)."""
    log = signer(bytes([8]) * 32)
    text = log.verifier.encode()
    assert "+" in text.split("+", 2)[2]
    assert NoteVerifier.parse(text) == log.verifier
