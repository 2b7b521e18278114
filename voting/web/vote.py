"""The owner's voting pages and the public receipt pages.

    GET /vote                      the owner's meetings: open, not yet open, past (card login)
    GET /vote/<meeting id>         the motions, the ballot form, the owner's own ballots
    GET /receipts                  look up a receipt by its ballot hash (?hash=…)
    GET /receipts/<ballot hash>    a ballot's public receipt, with a QR code of its address

The ballot itself is made on the phone by static/js/vote.js: it asks the JSON API
(voting.web.api) for a challenge, builds each statement from the fields this page shows
(checking the challenge against them), signs it with the card key and posts it. The card
key is kept only in the memory of the page that uses it (docs/PROTOCOL.md 6.2), so this
page asks for the card again — backup code, or the card's QR code where the browser can
scan — before signing. The server never sees the seed, and never signs for an owner.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import segno
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response

from crypto.canonical import JSONValue
from voting.cards.printing import mask_name
from voting.database import db_session
from voting.domain.procedure import BEIJING, MeetingState
from voting.domain.tally import MotionKind, Rule, rule_for_matter
from voting.models import Card, HolderKind, Meeting, Motion, PropertyArea, utcnow
from voting.services import NotFound
from voting.services.owner_votes import (
    VoteState,
    motions_for,
    own_ballots,
    owner_meeting,
    owner_meetings,
    proxies_held,
    receipt_details,
    vote_states,
    voting_is_open,
)
from voting.web.auth import card_required, current_card

bp = Blueprint("vote", __name__)

_HASH = re.compile(r"[0-9a-f]{64}")
_HASH_ANY_CASE = re.compile(r"[0-9a-fA-F]{64}")

# Civil Code art. 278: the matters owners decide together.
MATTERS: dict[int, Any] = {
    1: _l("Rules of procedure of the owners' assembly"),
    2: _l("Management covenant"),
    3: _l("Electing or replacing owners' committee members"),
    4: _l("Hiring or dismissing the property service company"),
    5: _l("Using the building maintenance fund"),
    6: _l("Raising the building maintenance fund"),
    7: _l("Rebuilding or renovating buildings and their facilities"),
    8: _l("Changing the use of common parts or running a business on them"),
    9: _l("Other major matters"),
}
RULES: dict[Rule, Any] = {
    Rule.ORDINARY: _l("Passes with more than half of the participating area and owners"),
    Rule.SPECIAL: _l("Passes with three quarters of the participating area and owners"),
}
STATES: dict[MeetingState, Any] = {
    MeetingState.draft: _l("Draft"),
    MeetingState.noticed: _l("Not yet open"),
    MeetingState.open: _l("Open for voting"),
    MeetingState.closed: _l("Voting has ended"),
    MeetingState.published: _l("Result published"),
    MeetingState.annulled: _l("Decision annulled"),
}
BAD_HASH = _l("A ballot hash is 64 characters: the digits 0-9 and the letters a-f.")
UNKNOWN_HASH = _l(
    "No ballot with this hash has been recorded. Please check that the hash is complete."
)


def now() -> dt.datetime:
    """The time of this request (one place, so that tests can set the clock)."""
    return utcnow()


def beijing(moment: dt.datetime | None) -> str:
    """A time as Beijing wall-clock time, 2026-12-16 10:00 (the platform's time zone)."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def beijing_seconds(moment: dt.datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_filter("beijing")
def _beijing_filter(moment: dt.datetime | None) -> str:
    return beijing(moment)


def _owner() -> Card:
    card = current_card()
    assert card is not None  # @card_required has sent everyone else to the card login
    return card


def _state_label(meeting: Meeting, at: dt.datetime) -> str:
    """The meeting's state in a word, as the owner sees it now (an open meeting whose
    window has ended takes no more ballots, although staff have not closed it yet)."""
    if meeting.state is MeetingState.open and not voting_is_open(meeting, at):
        return str(STATES[MeetingState.closed])
    return str(STATES[meeting.state])


def _window_label(meeting: Meeting, at: dt.datetime) -> str:
    """What the owner can do about the meeting now, in one sentence."""
    opens, closes = beijing(meeting.window_opens_at), beijing(meeting.window_closes_at)
    if voting_is_open(meeting, at):
        return str(_("Voting is open until %(closes)s (Beijing time).", closes=closes))
    if meeting.state is MeetingState.noticed:
        return str(
            _(
                "Voting has not opened yet. Voting period: %(opens)s to %(closes)s (Beijing time).",
                opens=opens,
                closes=closes,
            )
        )
    if meeting.state is MeetingState.open:
        return str(_("The voting period ended at %(closes)s (Beijing time).", closes=closes))
    return str(STATES[meeting.state])


@bp.get("/vote")
@card_required
def index() -> str:
    card = _owner()
    session = db_session()
    at = now()
    meetings = owner_meetings(session, card)
    current = [m for m in meetings if m.state in (MeetingState.open, MeetingState.noticed)]
    past = [m for m in meetings if m.state not in (MeetingState.open, MeetingState.noticed)]
    return render_template(
        "vote/index.html",
        area=session.get(PropertyArea, card.property_area_id),
        current=current,
        past=past,
        open_now={m.id for m in meetings if voting_is_open(m, at)},
        window_label=lambda m: _window_label(m, at),
        state_label=lambda m: _state_label(m, at),
    )


@dataclass(frozen=True)
class MotionView:
    """One motion as the ballot form shows it, for the owner or an owner they represent."""

    motion: Motion
    matter: str
    rule: str
    options: list[str]
    voted: bool  # a ballot counts for this voter and motion
    note: str  # who cast it and what can still be done, when voted
    can_vote: bool  # a ballot may be cast now (first vote, over a proxy's, or a change)
    change: bool  # the counted ballot is this card's and may be changed: behind a button
    instruction: JSONValue | None  # a proxy's instructed choice, if the owner gave one
    instruction_words: str

    @property
    def kind(self) -> str:
        return self.motion.kind.value

    def fixed(self, value: str) -> bool:
        """Whether the instruction leaves this input to be checked (and the others not)."""
        chosen = self.instruction
        return chosen == value or (isinstance(chosen, list) and value in chosen)


@dataclass(frozen=True)
class VoterGroup:
    """The motions of one voter: the card's holder, or an owner who authorised them."""

    key: str  # prefix of the element ids: "" for the holder, "p<proxy id>-" for an owner
    voter: str  # the voter's holder ref, as the ballot names it
    proxy: str  # the authorisation's statement hash ("" for the holder's own ballots)
    title: str
    motions: list[MotionView]


def choice_words(value: JSONValue) -> str:
    """A choice in words, as the confirmation step shows it."""
    if value == "abstain":
        return str(_("Abstain"))
    if value == "yes":
        return str(_("In favour"))
    if value == "no":
        return str(_("Against"))
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    return str(value)


def _voted_note(state: VoteState | None, for_owner: bool, change: bool) -> str:
    if state is None:
        return ""
    if for_owner:
        if state.in_person:
            return str(_("The owner has voted on this motion, so a proxy can no longer vote."))
        if change:
            return str(_("You may change this vote until voting ends; the latest ballot counts."))
        return str(_("Your ballot for this owner counts. The rules do not allow changing it."))
    if not state.in_person:
        return str(
            _(
                "Your proxy has voted for you. If you vote yourself, your own ballot "
                "replaces the proxy's."
            )
        )
    if change:
        return str(_("You may change your vote until voting ends; only your latest ballot counts."))
    return str(_("Your ballot counts. The rules of procedure do not allow changing it."))


def _motion_views(
    motions: list[Motion],
    states: dict[int, VoteState],
    meeting: Meeting,
    open_now: bool,
    instructions: dict[int, JSONValue] | None = None,
) -> list[MotionView]:
    """`instructions` is given (maybe empty) for an owner the card's holder represents."""
    allow_change = bool(meeting.rules_allow_vote_change)
    for_owner = instructions is not None
    views = []
    for motion in motions:
        state = states.get(motion.id)
        # A proxy may not vote once the owner has; an owner may always outvote their proxy.
        blocked = for_owner and state is not None and state.in_person
        ours = state is not None and state.in_person != for_owner
        change = open_now and ours and allow_change
        instruction = (instructions or {}).get(motion.id)
        views.append(
            MotionView(
                motion=motion,
                matter=str(MATTERS[motion.matter]),
                rule=str(RULES[rule_for_matter(motion.matter)]),
                options=[option.label for option in motion.options],
                voted=state is not None,
                note=_voted_note(state, for_owner, change),
                can_vote=open_now and not blocked and (not ours or allow_change),
                change=change,
                instruction=instruction,
                instruction_words="" if instruction is None else choice_words(instruction),
            )
        )
    return views


def _proxy_groups(meeting: Meeting, card: Card, open_now: bool) -> list[VoterGroup]:
    session = db_session()
    groups = []
    for held in proxies_held(session, meeting, card.holder_id):
        owner = held.owner
        motions = motions_for(session, meeting, owner.id)
        name = mask_name(owner.name, entity=owner.kind is not HolderKind.person)
        houses = "、".join(held.houses)
        groups.append(
            VoterGroup(
                key=f"p{held.proxy.id}-",
                voter=owner.ref,
                proxy=held.proxy.statement_hash,
                title=str(
                    _("As proxy for %(name)s (%(houses)s)", name=name, houses=houses)
                    if houses
                    else _("As proxy for %(name)s", name=name)
                ),
                motions=_motion_views(
                    motions,
                    vote_states(session, motions, owner.id),
                    meeting,
                    open_now,
                    held.instructions,
                ),
            )
        )
    return groups


@bp.get("/vote/<int:meeting_id>")
@card_required
def meeting(meeting_id: int) -> str:
    card = _owner()
    session = db_session()
    try:
        found = owner_meeting(session, card, meeting_id)
    except NotFound:
        abort(404)
    area = session.get(PropertyArea, found.property_area_id)
    assert area is not None
    at = now()
    open_now = voting_is_open(found, at)
    motions = motions_for(session, found, card.holder_id)
    own = VoterGroup(
        key="",
        voter=card.holder.ref,
        proxy="",
        title=str(_("My vote")),
        motions=_motion_views(
            motions, vote_states(session, motions, card.holder_id), found, open_now
        ),
    )
    proxies = _proxy_groups(found, card, open_now)
    groups = [own, *proxies]
    proxy_page = None
    if "proxies.owner_page" in current_app.view_functions and found.state in (
        MeetingState.noticed,
        MeetingState.open,
    ):
        proxy_page = url_for("proxies.owner_page", meeting_id=found.id)
    return render_template(
        "vote/meeting.html",
        meeting=found,
        area=area,
        card=card,
        own=own,
        proxies=proxies,
        open_now=open_now,
        any_votable=any(view.can_vote for group in groups for view in group.motions),
        window_label=_window_label(found, at),
        state_label=_state_label(found, at),
        ballots=own_ballots(session, found, card.holder_id),
        titles={motion.id: motion for motion in found.motions},
        beijing_seconds=beijing_seconds,
        platform=str(current_app.config["VOTING_PLATFORM_ID"]),
        credential=hashlib.sha256(card.certificate).hexdigest(),
        kinds=MotionKind,
        proxy_page=proxy_page,
    )


@bp.get("/receipts")
def lookup() -> Response | str | tuple[str, int]:
    raw = request.args.get("hash")
    if raw is None:
        return render_template("vote/lookup.html", value="", error=None)
    value = "".join(raw.split())
    if not _HASH_ANY_CASE.fullmatch(value):
        return render_template("vote/lookup.html", value=raw[:200], error=BAD_HASH), 400
    return redirect(url_for("vote.receipt", ballot_hash=value.lower()))


def _qr_svg(url: str, title: str) -> Markup:
    """The receipt's address as an inline SVG QR code (no inline style: the CSP allows it)."""
    symbol = segno.make(url, error="m", micro=False)
    svg = symbol.svg_inline(scale=4, omitsize=True, svgclass="qr-code", lineclass=None, title=title)
    return Markup(svg)  # segno escapes the title; the rest is its own markup


@bp.get("/receipts/<ballot_hash>")
def receipt(ballot_hash: str) -> Response | str | tuple[str, int]:
    if not _HASH.fullmatch(ballot_hash):
        if _HASH_ANY_CASE.fullmatch(ballot_hash):
            return redirect(url_for("vote.receipt", ballot_hash=ballot_hash.lower()))
        return render_template("vote/lookup.html", value="", error=BAD_HASH), 400
    details = receipt_details(db_session(), ballot_hash)
    if details is None:
        return render_template("vote/lookup.html", value=ballot_hash, error=UNKNOWN_HASH), 404
    meeting = db_session().get(Meeting, details.receipt.meeting)
    assert meeting is not None
    url = url_for("vote.receipt", ballot_hash=ballot_hash, _external=True)
    return render_template(
        "vote/receipt.html",
        details=details,
        receipt=details.receipt,
        time=beijing_seconds(details.receipt.cast_at),
        state_label=_state_label(meeting, now()),
        qr=_qr_svg(url, _("QR code of this receipt's address")),
        url=url,
    )
