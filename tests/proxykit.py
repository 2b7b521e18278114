"""Proxy authorisations for tests, on top of ballotkit (importable from every test folder).

setup = open_meeting_setup(db, proxy_cap=2)
wang, li = card_of(setup, "王伟"), card_of(setup, "李娜")
granted = authorise(db, setup, wang, li.holder_ref, {setup.yes_no.id: "yes"})
receipt = proxy_cast(db, setup, li, wang, setup.yes_no, "yes", granted.statement_hash)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ballotkit import NONCE_KEY, PLATFORM, VOTING, VotingSetup, cast, sign
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.canonical import JSONValue
from voting.models import Holder, Motion
from voting.services.ballots import Receipt
from voting.services.cards import IssuedCard
from voting.services.proxies import Authorisation, authorise_proxy, proxy_challenge


def card_of(setup: VotingSetup, name: str) -> IssuedCard:
    """The card issued to the holder with this name in the sample roll."""
    return next(card for card in setup.cards if card.holder_name == name)


def holder_of(db: Session, ref: str) -> Holder:
    found = db.scalar(select(Holder).where(Holder.ref == ref))
    assert found is not None
    return found


def proxy_statement(
    db: Session,
    setup: VotingSetup,
    owner: IssuedCard,
    proxy_ref: str,
    instructions: Mapping[int, JSONValue] | None = None,
    *,
    now: dt.datetime = VOTING,
) -> dict[str, JSONValue]:
    """A proxy statement answering a fresh challenge for the owner's card (not signed)."""
    challenge = proxy_challenge(
        db, setup.card_row(db, owner), setup.meeting, platform=PLATFORM, key=NONCE_KEY, now=now
    )
    return challenge.statement(proxy_ref, instructions)


def submit(
    db: Session,
    owner: IssuedCard,
    statement: dict[str, JSONValue],
    *,
    signer: IssuedCard | None = None,
    now: dt.datetime = VOTING,
) -> Authorisation:
    data, signature = sign(signer or owner, statement)
    return authorise_proxy(
        db,
        data,
        signature,
        card_id=owner.card_id,
        platform=PLATFORM,
        key=NONCE_KEY,
        now=now,
    )


def authorise(
    db: Session,
    setup: VotingSetup,
    owner: IssuedCard,
    proxy_ref: str,
    instructions: Mapping[int, JSONValue] | None = None,
    *,
    now: dt.datetime = VOTING,
) -> Authorisation:
    statement = proxy_statement(db, setup, owner, proxy_ref, instructions, now=now)
    return submit(db, owner, statement, now=now)


def proxy_cast(
    db: Session,
    setup: VotingSetup,
    proxy: IssuedCard,
    owner: IssuedCard,
    motion: Motion,
    choice: JSONValue,
    statement_hash: str,
    *,
    now: dt.datetime = VOTING,
    **kwargs: Any,
) -> Receipt:
    """A ballot the proxy's card signs for the owner under the authorisation."""
    return cast(
        db,
        setup,
        proxy,
        motion,
        choice,
        now=now,
        voter=holder_of(db, owner.holder_ref),
        proxy=statement_hash,
        **kwargs,
    )
