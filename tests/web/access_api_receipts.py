"""Access row of a real ballot's receipt in the JSON API: public (see test_web_access.py).

Kept apart from access_api.py because its `prepare` casts a ballot, which needs a roll,
cards and an open meeting: only this row pays for that.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.domain.procedure import MotionSpec
from voting.domain.tally import MotionKind
from voting.models import Card, Channel, utcnow
from voting.services.ballots import ballot_challenge, cast_ballot
from voting.services.cards import issue_cards
from voting.services.meetings import add_motion, create_meeting, open_meeting, post_notice
from voting.services.roll import import_roll

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
PLATFORM = "p.example"
KEY = b"k" * 32

ROWS: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    # path                                        anon  oper  admin  resid  street  obs
    ("/api/v1/receipts/{api_receipt}",            (200,  200,  200,   200,   200,    200)),
]  # fmt: skip


def prepare(store: Any, seeded: Any) -> dict[str, str]:
    """One ballot cast in the other area (roll, cards, open meeting), for its receipt."""
    now = utcnow().replace(microsecond=0)
    day = dt.timedelta(days=1)
    area = seeded.other
    import_roll(store, area, "roll.csv", SAMPLE.read_bytes(), "key", expected_base_version=None)
    issued = issue_cards(
        store, area, CardKey(bytes(range(32, 64))), base_url="https://x", now=now - 2 * day
    )[0]
    meeting = create_meeting(store, area, "业主大会会议", now=now - 22 * day)
    spec = MotionSpec(matter=4, kind=MotionKind.YES_NO, title="Renew", text="Renew.")
    add_motion(store, meeting, spec)
    post_notice(store, meeting, now - day, now + 6 * day, now=now - 21 * day)
    open_meeting(store, meeting, now=now - day)
    card = store.get(Card, issued.card_id)
    challenge = ballot_challenge(store, card, meeting, platform=PLATFORM, key=KEY, now=now)
    data = canonical_bytes(challenge.statement(next(iter(challenge.nonces)), "yes"))
    assert issued.seed is not None
    receipt = cast_ballot(
        store,
        data,
        CardKey(issued.seed).sign(data),
        card_id=issued.card_id,
        platform=PLATFORM,
        key=KEY,
        channel=Channel.web,
        now=now,
    )
    return {"api_receipt": receipt.ballot_hash}
