"""Owner cards against a real database: issuance, no secret left behind, PIN counter and
lock (also under parallel attempts), unlock, revocation, reissue, and chip cards on SoftHSM2.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import LargeBinary, String, Text, func, select
from sqlalchemy.orm import Session

from crypto.certificates import verify_certificate
from crypto.keys import PublicKey
from crypto.statements import sign_statement, verify_statement
from tests.cards.conftest import softhsm  # noqa: F401  (the SoftHSM2 token fixture)
from voting.database import get_database
from voting.models import Base, Card, CardKind, CardStatus, LogEntry, PropertyArea, WebSession
from voting.services import NotFound, ServiceError
from voting.services.cards import (
    MAX_PIN_ATTEMPTS,
    MAX_PUK_ATTEMPTS,
    CardConflict,
    IssuedCard,
    active_card_of_holder,
    card_by_number,
    cards_of_area,
    check_pin,
    issue_cards,
    load_issuer,
    lock_by_admin,
    pending_holders,
    register_issuer,
    reissue_card,
    revoke_card,
    unlock_by_admin,
    unlock_with_puk,
)
from voting.services.roll import import_roll
from voting.services.tenancy import AreaPath, ensure_property_area

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
BASE_URL = "https://vote.example.org/"
PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-004", "望京街道"),
    community=("110105-004-012", "南湖西园社区"),
    area=("NHXY", "南湖西园小区"),
)
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def make_area(session: Session, path: AreaPath = PATH) -> PropertyArea:
    area = ensure_property_area(session, path)
    import_roll(
        session, area, "roll.csv", SAMPLE.read_bytes(), "cards-test-key", expected_base_version=None
    )
    return area


@pytest.fixture
def area(db: Session) -> PropertyArea:
    return make_area(db)


@pytest.fixture
def issuer(app: Any) -> Any:
    return load_issuer(app)


@pytest.fixture
def issued(db: Session, area: PropertyArea, issuer: Any) -> list[IssuedCard]:
    return issue_cards(db, area, issuer, base_url=BASE_URL, now=NOW)


def log_kinds(session: Session, area: PropertyArea) -> list[str]:
    return list(
        session.scalars(
            select(LogEntry.kind).where(LogEntry.property_area_id == area.id).order_by(LogEntry.seq)
        )
    )


def wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**6:06d}"


# --- issuance ------------------------------------------------------------------------------


def test_issue_cards_for_every_holder(
    db: Session, area: PropertyArea, issuer: Any, issued: list[IssuedCard]
) -> None:
    assert len(issued) == 6
    assert [card.number for card in issued] == [f"NHXY-{n:06d}" for n in range(1, 7)]
    wang = next(card for card in issued if card.holder_name == "王伟")
    assert wang.houses == ("1号楼 1-101", "1号楼 1-102", "地下车库 B1-001")
    for card in issued:
        assert card.qr_url and card.qr_url.startswith("https://vote.example.org/card#1.NHXY-")
        assert card.backup_code and card.seed and len(card.pin) == 6 and len(card.puk) == 8
        assert "seed" not in repr(card) and card.pin not in repr(card)
    rows = cards_of_area(db, area)
    assert {row.number for row in rows} == {card.number for card in issued}
    registered = register_issuer(db, issuer)
    for row in rows:
        assert row.kind is CardKind.printed and row.status is CardStatus.active
        certificate = verify_certificate(
            PublicKey.from_hex(registered.public_key),
            row.certificate,
            row.certificate_signature,
            at=NOW + dt.timedelta(days=1),
        )
        assert certificate.card_number == row.number
        assert certificate.holder_id == row.holder.ref
        assert certificate.card_key.hex() == row.public_key
        assert row.not_after == NOW + dt.timedelta(days=3650)
    assert log_kinds(db, area).count("card.issue") == 6
    entry = db.scalars(select(LogEntry).where(LogEntry.kind == "card.issue")).first()
    assert entry is not None and "王伟".encode() not in entry.entry
    # Everyone has a card now: a second run issues nothing.
    assert pending_holders(db, area) == []
    assert issue_cards(db, area, issuer, base_url=BASE_URL) == []
    holder_id = rows[0].holder_id
    assert active_card_of_holder(db, holder_id) == rows[0]
    assert card_by_number(db, rows[0].number) == rows[0]


def _searchable(session: Session) -> list[bytes]:
    """Every text and blob value of every table, as bytes."""
    values: list[bytes] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, LargeBinary))]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for value in row:
                if isinstance(value, str):
                    values.append(value.encode())
                elif isinstance(value, bytes):
                    values.append(value)
    return values


def secrets_of(card: IssuedCard) -> list[bytes]:
    assert card.seed is not None and card.backup_code is not None
    seed_b64 = base64.urlsafe_b64encode(card.seed).rstrip(b"=")
    return [
        card.seed,
        card.seed.hex().encode(),
        seed_b64,
        card.backup_code.encode(),
        card.backup_code.replace("-", "").encode(),
        card.pin.encode(),
        card.puk.encode(),
    ]


def assert_no_secrets(
    session: Session, folder: Path, issued: list[IssuedCard], skip: tuple[str, ...] = ()
) -> None:
    values = _searchable(session)
    files = [
        path.read_bytes() for path in folder.rglob("*") if path.is_file() and path.name not in skip
    ]
    for card in issued:
        for secret in secrets_of(card):
            assert not any(secret in value for value in values), "secret in the database"
            assert not any(secret in data for data in files), "secret in the instance folder"


def test_issuance_leaves_no_secret_behind(db: Session, app: Any, issued: list[IssuedCard]) -> None:
    assert_no_secrets(db, Path(app.instance_path), issued)
    key_file = Path(app.instance_path) / "issuer-key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_issue_named_holders_and_refusals(db: Session, area: PropertyArea, issuer: Any) -> None:
    refs = pending_holders(db, area)
    (card,) = issue_cards(db, area, issuer, base_url=BASE_URL, holder_refs=[refs[0]])
    assert card.holder_ref == refs[0]
    with pytest.raises(NotFound, match="no holder H-NOPE"):
        issue_cards(db, area, issuer, base_url=BASE_URL, holder_refs=["H-NOPE"])
    with pytest.raises(CardConflict, match="revoke it first"):
        issue_cards(db, area, issuer, base_url=BASE_URL, holder_refs=[refs[1], refs[0]])
    assert db.scalar(select(func.count()).select_from(Card)) == 1


def test_bad_area_code_and_no_roll(db: Session, issuer: Any) -> None:
    lower = ensure_property_area(
        db, AreaPath(PATH.district, PATH.street, PATH.community, ("110105-x", "小区"))
    )
    with pytest.raises(ServiceError, match="cannot start a card number"):
        issue_cards(db, lower, issuer, base_url=BASE_URL)
    empty = ensure_property_area(
        db, AreaPath(PATH.district, PATH.street, PATH.community, ("EMPTY", "空小区"))
    )
    with pytest.raises(ServiceError, match="no owner roll"):
        issue_cards(db, empty, issuer, base_url=BASE_URL)


def test_issuer_key_from_config(app: Any, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere-key"
    app.config["VOTING_ISSUER_KEY_PATH"] = str(path)
    key = load_issuer(app)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_issuer(app).public_key == key.public_key
    assert not (Path(app.instance_path) / "issuer-key").exists()


def test_large_batch_hashes_in_workers(db: Session, area: PropertyArea) -> None:
    from crypto.pin import verify_pin, verify_puk
    from voting.services.cards import POOL_THRESHOLD, hash_codes

    pairs = [(f"{i:06d}", f"{i:08d}") for i in range(POOL_THRESHOLD + 1)]
    seen: list[int] = []
    hashed = hash_codes(pairs, seen.append)
    assert seen[-1] == len(pairs)
    for (pin, puk), (pin_hash, puk_hash) in list(zip(pairs, hashed, strict=True))[::50]:
        assert verify_pin(pin_hash, pin) and verify_puk(puk_hash, puk)


# --- PIN counter and lock --------------------------------------------------------------------


def test_wrong_pins_lock_the_card(
    db: Session, area: PropertyArea, issued: list[IssuedCard]
) -> None:
    card = card_by_number(db, issued[0].number)
    assert card is not None
    pin = issued[0].pin
    result = check_pin(db, card, wrong(pin))
    db.commit()
    assert (result.ok, result.reason, result.remaining) == (False, "wrong", 4)
    assert check_pin(db, card, pin).ok
    db.commit()
    assert card.failed_pins == 0
    for attempt in range(MAX_PIN_ATTEMPTS):
        result = check_pin(db, card, "12ab" if attempt == 0 else wrong(pin))
        db.commit()
    assert (result.reason, result.remaining) == ("wrong", 0)
    assert card.locked_at is not None and card.failed_pins == MAX_PIN_ATTEMPTS
    assert check_pin(db, card, pin).reason == "locked"
    db.commit()
    assert card.failed_pins == MAX_PIN_ATTEMPTS
    assert log_kinds(db, area)[-1] == "card.lock"
    entry = db.scalars(select(LogEntry).where(LogEntry.kind == "card.lock")).one()
    assert b"5 wrong PINs" in entry.entry


def test_parallel_wrong_pins_lock_the_card(app: Any, db: Session, issued: list[IssuedCard]) -> None:
    number, pin = issued[0].number, issued[0].pin
    maker = get_database(app).sessionmaker
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def attempt() -> None:
        try:
            with maker() as session:
                card = card_by_number(session, number)
                assert card is not None
                barrier.wait()
                result = check_pin(session, card, wrong(pin))
                session.commit()
                results.append(result.reason)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == 10
    with maker() as session:
        card = card_by_number(session, number)
        assert card is not None
        assert card.locked_at is not None and card.failed_pins >= MAX_PIN_ATTEMPTS
        assert check_pin(session, card, pin).reason == "locked"
        session.commit()
        locks = session.scalar(
            select(func.count()).select_from(LogEntry).where(LogEntry.kind == "card.lock")
        )
        assert locks == 1


def lock(db: Session, issued: IssuedCard) -> Card:
    card = card_by_number(db, issued.number)
    assert card is not None
    for _ in range(MAX_PIN_ATTEMPTS):
        check_pin(db, card, wrong(issued.pin))
        db.commit()
    assert card.locked_at is not None
    return card


def test_admin_unlock(db: Session, area: PropertyArea, issued: list[IssuedCard]) -> None:
    card = lock(db, issued[0])
    with pytest.raises(ServiceError, match="reason is required"):
        unlock_by_admin(db, card, reason="  ", user_id=1)
    unlock_by_admin(db, card, reason="owner came to the office with ID", user_id=1)
    assert card.locked_at is None and card.failed_pins == 0
    assert check_pin(db, card, issued[0].pin).ok
    db.commit()
    with pytest.raises(CardConflict, match="not locked"):
        unlock_by_admin(db, card, reason="again", user_id=1)
    lock_by_admin(db, card, reason="reported lost", user_id=1)
    assert check_pin(db, card, issued[0].pin).reason == "locked"
    db.commit()
    with pytest.raises(CardConflict, match="already locked"):
        lock_by_admin(db, card, reason="again", user_id=1)
    entries = db.scalars(select(LogEntry.entry).where(LogEntry.kind == "card.unlock")).all()
    assert len(entries) == 1 and b"by admin" not in entries[0] and b'"admin"' in entries[0]
    assert log_kinds(db, area)[-1] == "card.lock"


def test_puk_unlock_sets_a_new_pin(db: Session, issued: list[IssuedCard]) -> None:
    card = card_by_number(db, issued[0].number)
    assert card is not None
    with pytest.raises(CardConflict, match="not locked"):
        unlock_with_puk(db, card, issued[0].puk, "654321")
    card = lock(db, issued[0])
    with pytest.raises(ServiceError, match="6 digits"):
        unlock_with_puk(db, card, issued[0].puk, "12345")
    bad = "0" * 8 if issued[0].puk != "0" * 8 else "1" * 8
    assert unlock_with_puk(db, card, bad, "654321") is False
    assert card.failed_pins == MAX_PIN_ATTEMPTS + 1
    new_pin = "654321" if issued[0].pin != "654321" else "123456"
    assert unlock_with_puk(db, card, issued[0].puk, new_pin) is True
    assert card.locked_at is None and card.failed_pins == 0
    assert check_pin(db, card, issued[0].pin).reason == "wrong"
    db.commit()
    assert check_pin(db, card, new_pin).ok
    db.commit()
    unlock = db.scalars(select(LogEntry.entry).where(LogEntry.kind == "card.unlock")).one()
    assert b'"PUK"' in unlock
    assert new_pin.encode() not in b"".join(_searchable(db))


def test_wrong_puks_revoke_the_card(db: Session, issued: list[IssuedCard]) -> None:
    card = lock(db, issued[0])
    bad = "1" * 8 if issued[0].puk != "1" * 8 else "2" * 8
    for _ in range(MAX_PUK_ATTEMPTS):
        assert unlock_with_puk(db, card, bad, "654321") is False
    assert card.status is CardStatus.revoked
    assert card.revoke_reason == f"{MAX_PUK_ATTEMPTS} wrong PUKs"
    with pytest.raises(CardConflict, match="revoked"):
        unlock_with_puk(db, card, issued[0].puk, "654321")


# --- revocation and reissue -----------------------------------------------------------------


def test_revoke_ends_sessions(db: Session, area: PropertyArea, issued: list[IssuedCard]) -> None:
    card = card_by_number(db, issued[0].number)
    other = card_by_number(db, issued[1].number)
    assert card is not None and other is not None
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    db.add(WebSession(id=uuid.uuid4().hex, card_id=card.id, expires_at=expires))
    db.add(WebSession(id=uuid.uuid4().hex, card_id=other.id, expires_at=expires))
    db.commit()
    with pytest.raises(ServiceError, match="reason"):
        revoke_card(db, card, reason="", user_id=None)
    revoke_card(db, card, reason="card lost", user_id=None)
    assert card.status is CardStatus.revoked and card.revoke_reason == "card lost"
    assert card.revoked_at is not None
    assert db.scalars(select(WebSession.card_id)).all() == [other.id]
    assert check_pin(db, card, issued[0].pin).reason == "revoked"
    db.commit()
    with pytest.raises(CardConflict, match="already revoked"):
        revoke_card(db, card, reason="again", user_id=None)
    assert log_kinds(db, area)[-1] == "card.revoke"
    # The holder has no active card now, so a plain issuance run gives them a new one.
    assert pending_holders(db, area) == [issued[0].holder_ref]


def test_reissue(
    app: Any, db: Session, area: PropertyArea, issuer: Any, issued: list[IssuedCard]
) -> None:
    old = card_by_number(db, issued[0].number)
    assert old is not None
    new = reissue_card(db, old, issuer, reason="card damaged", user_id=None, base_url=BASE_URL)
    assert new.number == "NHXY-000007" and new.holder_ref == issued[0].holder_ref
    assert new.seed != issued[0].seed and new.houses == issued[0].houses
    assert old.status is CardStatus.revoked
    row = card_by_number(db, new.number)
    assert row is not None and row.replaces_id == old.id and row.public_key != old.public_key
    assert active_card_of_holder(db, old.holder_id) == row
    assert log_kinds(db, area)[-3:] == ["card.revoke", "card.issue", "card.reissue"]
    # Reissuing the revoked card again is refused: the holder has an active card.
    with pytest.raises(CardConflict, match="revoke it first"):
        reissue_card(db, old, issuer, reason="again", user_id=None, base_url=BASE_URL)
    assert_no_secrets(db, Path(app.instance_path), [new])


# --- chip cards on SoftHSM2 -------------------------------------------------------------------


def test_chip_card_on_softhsm(db: Session, issuer: Any, softhsm: Any) -> None:  # noqa: F811
    from voting.cards.chip import ChipToken

    # A fresh area code per run: the token keeps its keys, labelled by card number.
    code = "C" + uuid.uuid4().hex[:8].upper()
    area = make_area(db, AreaPath(PATH.district, PATH.street, PATH.community, (code, "芯片小区")))
    refs = pending_holders(db, area)
    with ChipToken(softhsm.module, softhsm.token_label, softhsm.user_pin) as token:
        (card,) = issue_cards(
            db, area, issuer, base_url=BASE_URL, holder_refs=refs[:1], chip=token, now=NOW
        )
        assert card.seed is None and card.backup_code is None and card.qr_url is None
        row = card_by_number(db, card.number)
        assert row is not None and row.kind is CardKind.chip
        assert bytes.fromhex(row.public_key) == token.public_key(card.number)
        certificate = verify_certificate(
            issuer.public_key, row.certificate, row.certificate_signature, at=NOW
        )
        assert certificate.card_key.raw == token.public_key(card.number)

        class _TokenSigner:
            public_key = certificate.card_key

            def sign(self, message: bytes) -> bytes:
                return token.sign(card.number, message)

        statement = {
            "type": "login",
            "card_number": card.number,
            "nonce": "00" * 16,
            "platform": "vote.example.org",
            "time": "2026-11-25T09:00:00Z",
        }
        data, signature = sign_statement(_TokenSigner(), statement)  # type: ignore[arg-type]
        assert verify_statement(certificate.card_key, data, signature, expected_type="login")
