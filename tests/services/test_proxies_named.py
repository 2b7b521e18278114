"""A named proxy who is not an owner: registered by staff ("PX-<n>", no units), given a card,
authorised by an owner, and voting for that owner only."""

from __future__ import annotations

import pytest
from ballotkit import (
    ISSUER_SEED,
    NONCE_KEY,
    PLATFORM,
    VOTING,
    VotingSetup,
    open_meeting_setup,
    sign,
    statement_for,
)
from proxykit import authorise, card_of, holder_of, proxy_cast
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.keys import CardKey
from voting.models import Card, CardStatus, Holder, LogEntry, RollEntry
from voting.services import NotFound
from voting.services.ballots import BallotRefused, ballot_challenge, cast_ballot, counted_ballots
from voting.services.cards import IssuedCard, issue_cards
from voting.services.proxies import (
    ProxyRefused,
    named_people,
    named_person,
    proxies_of_meeting,
    proxy_challenge,
    register_named_person,
)

ID_KEY = "key"  # the id-hash key ballotkit imports the roll with
PERSON_ID = "110105198001010032"  # a valid mainland ID number not in the sample roll


@pytest.fixture
def setup(db: Session) -> VotingSetup:
    return open_meeting_setup(db, proxy_cap=2)


def _register(db: Session, setup: VotingSetup, name: str, id_number: str) -> IssuedCard:
    return register_named_person(
        db,
        setup.area,
        CardKey(ISSUER_SEED),
        name=name,
        id_number=id_number,
        id_hash_key=ID_KEY,
        base_url="https://vote.example",
        user_id=None,
        now=VOTING,
    )


def test_proxies_named_person_registered_with_a_card(db: Session, setup: VotingSetup) -> None:
    issued = _register(db, setup, " 周  杰 ", PERSON_ID.lower())
    assert issued.holder_ref == "PX-1" and issued.houses == ("PX-1",)
    assert issued.seed is not None and len(issued.pin) == 6
    holder = holder_of(db, "PX-1")
    assert holder.name == "周 杰" and holder.id_last4 == "0032"
    assert holder.id_hash is not None and PERSON_ID not in holder.id_hash
    assert (
        db.scalar(
            select(func.count()).select_from(RollEntry).where(RollEntry.holder_id == holder.id)
        )
        == 0
    )
    card = db.get(Card, issued.card_id)
    assert card is not None and card.holder_id == holder.id and card.status is CardStatus.active
    kinds = list(db.scalars(select(LogEntry.kind).order_by(LogEntry.seq.desc()).limit(2)))
    assert kinds == ["card.issue", "proxy.person"]
    second = _register(db, setup, "吴敏", "110105198001010059")
    assert second.holder_ref == "PX-2"
    assert [h.ref for h in named_people(db, setup.area)] == ["PX-1", "PX-2"]
    assert named_person(db, setup.area, " px-1 ") == holder
    assert named_person(db, setup.area, "H123") is None


def test_proxies_named_person_gets_a_new_card_after_revocation(
    db: Session, setup: VotingSetup
) -> None:
    issued = _register(db, setup, "周杰", PERSON_ID)
    card = db.get(Card, issued.card_id)
    assert card is not None
    card.status = CardStatus.revoked
    db.commit()
    # issue_cards takes holders of the roll only: a named person needs the outside-roll path.
    with pytest.raises(NotFound):
        issue_cards(
            db, setup.area, CardKey(ISSUER_SEED), base_url="https://x", holder_refs=["PX-1"]
        )
    again = _register(db, setup, "周杰", PERSON_ID)
    assert again.holder_ref == "PX-1" and again.card_id != issued.card_id
    assert [h.ref for h in named_people(db, setup.area)] == ["PX-1"]


REFUSED: list[tuple[str, str, int, str]] = [
    ("", PERSON_ID, 400, "name"),
    ("x" * 101, PERSON_ID, 400, "name"),
    ("周杰", "110105198001010033", 400, "id_number"),  # wrong check digit
    ("周杰", "", 400, "id_number"),
    ("王伟", "11010519491231002X", 409, "registered"),  # an owner of the roll
]


def test_proxies_named_person_refused(db: Session, setup: VotingSetup) -> None:
    before = db.scalar(select(func.count()).select_from(Holder))
    for name, id_number, status, reason in REFUSED:
        with pytest.raises(ProxyRefused) as refused:
            _register(db, setup, name, id_number)
        assert (refused.value.status, refused.value.reason) == (status, reason)
        if reason == "registered":
            assert refused.value.detail == card_of(setup, "王伟").holder_ref
        db.rollback()
        assert db.scalar(select(func.count()).select_from(Holder)) == before


def test_proxies_named_person_registered_once(db: Session, setup: VotingSetup) -> None:
    _register(db, setup, "周杰", PERSON_ID)
    with pytest.raises(ProxyRefused) as refused:
        _register(db, setup, "周杰", PERSON_ID)
    assert refused.value.reason == "registered" and refused.value.detail == "PX-1"


def test_proxies_named_person_votes_for_the_owner(db: Session, setup: VotingSetup) -> None:
    person = _register(db, setup, "周杰", PERSON_ID)
    wang = card_of(setup, "王伟")
    granted = authorise(db, setup, wang, "PX-1", {setup.yes_no.id: "no"})
    receipt = proxy_cast(db, setup, person, wang, setup.yes_no, "no", granted.statement_hash)
    assert receipt.by_proxy
    assert counted_ballots(db, setup.yes_no) == [(wang.holder_ref, "no")]
    (row,) = proxies_of_meeting(db, setup.meeting)
    assert row.named and row.proxy_ref == "PX-1" and row.proxy_houses == ()
    # The person has no vote of their own: no nonce for them, and a ballot is refused.
    card = db.get(Card, person.card_id)
    assert card is not None
    own = ballot_challenge(db, card, setup.meeting, platform=PLATFORM, key=NONCE_KEY, now=VOTING)
    assert own.voter == "PX-1" and own.nonces == {}
    statement = statement_for(
        db, setup, person, setup.yes_no, "yes", voter=holder_of(db, wang.holder_ref)
    )
    statement["voter"] = "PX-1"
    data, signature = sign(person, statement)
    with pytest.raises(BallotRefused) as refused:
        cast_ballot(
            db,
            data,
            signature,
            card_id=person.card_id,
            platform=PLATFORM,
            key=NONCE_KEY,
            now=VOTING,
        )
    assert refused.value.reason == "scope"


def test_proxies_named_person_cannot_authorise_a_proxy(db: Session, setup: VotingSetup) -> None:
    person = _register(db, setup, "周杰", PERSON_ID)
    card = db.get(Card, person.card_id)
    assert card is not None
    with pytest.raises(ProxyRefused) as refused:
        proxy_challenge(db, card, setup.meeting, platform=PLATFORM, key=NONCE_KEY, now=VOTING)
    assert (refused.value.status, refused.value.reason) == (403, "not_eligible")
