"""Staff meeting pages: rules of procedure, meetings and motions, the lifecycle with its
confirmation steps, annulment, the residents' committee's notices; every refused step a 4xx
page with the service's reason that changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask_babel import force_locale
from meetingkit_web import (
    DAY,
    HOUR,
    ROLL_SHA256,
    closed,
    draft,
    local,
    noticed_future,
    noticed_in_window,
    now,
    open_now,
    published,
    shown,
    token,
    window_ended,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.domain.procedure import (
    DEFAULT_RULES,
    MeetingState,
    MotionSpec,
    ProcedureError,
    ResultDetail,
    RulesOfProcedure,
    check_annul,
    check_close,
    check_motion_edit,
    check_notice,
    check_open,
    check_publish,
    check_scope,
    check_transition,
)
from voting.domain.tally import MotionKind
from voting.models import LogEntry, Meeting, Motion, MotionOption, Role, Rules
from voting.services.meetings import create_meeting, get_rules
from voting.web.procedure_text import input_value, parse_local, refusal

BASE = "/admin/meetings"


def _en(client: Any, login: Any, who: str = "committee_admin") -> None:
    """Log `who` in with English pages (the msgids; Chinese is the lead's merge)."""
    client.get("/?lang=en")
    assert login(client, who).status_code == 302


def _fresh(store: Session) -> None:
    """Forget what the test's session has read: end its snapshot, reload every row."""
    store.rollback()
    store.expire_all()


def _snapshot(store: Session) -> tuple[Any, ...]:
    """Everything a refused step must leave as it was."""
    _fresh(store)
    meetings = store.scalars(select(Meeting).order_by(Meeting.id)).all()
    rules = store.scalars(select(Rules).order_by(Rules.property_area_id)).all()
    return (
        store.scalar(select(func.count()).select_from(LogEntry)),
        [{c.key: getattr(m, c.key) for c in Meeting.__table__.columns} for m in meetings],
        [{c.key: getattr(r, c.key) for c in Rules.__table__.columns} for r in rules],
        store.execute(
            select(Motion.id, Motion.position, Motion.title, Motion.text, Motion.scope_json)
        ).all(),
        store.execute(select(MotionOption.motion_id, MotionOption.label)).all(),
    )


def _refused(
    client: Any, store: Session, path: str, data: dict[str, Any], status: int, text: str
) -> None:
    """POST `data` to `path`: refused with `status` and `text`, nothing changed."""
    before = _snapshot(store)
    response = client.post(path, data={"csrf_token": token(client), **data})
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    assert text in html
    assert "Traceback" not in html
    assert _snapshot(store) == before


def _page(client: Any, path: str, status: int = 200) -> str:
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == status, html
    return html


def _meeting_url(seeded: Any, meeting: Meeting, rest: str = "") -> str:
    return f"{BASE}/{seeded.area.code}/{meeting.id}{rest}"


# --- rules of procedure ----------------------------------------------------------------


def test_admin_meetings_rules_view_and_edit(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    path = f"{BASE}/{seeded.area.code}/rules"
    html = _page(client, path)
    assert "15 days" in html and 'name="notice_days"' in html
    data = {
        "csrf_token": token(client),
        "notice_days": "20",
        "allow_vote_change": "1",
        "proxy_cap": "3",
        "result_detail": "totals",
    }
    response = client.post(path, data=data)
    assert response.status_code == 302
    _fresh(store)
    assert get_rules(store, seeded.area) == RulesOfProcedure(
        20, True, 3, False, ResultDetail.totals
    )
    kinds = store.scalars(select(LogEntry.kind).order_by(LogEntry.seq)).all()
    assert kinds[-1] == "rules.update"
    html = _page(client, path)
    assert "20 days" in html and "Totals only" in html


@pytest.mark.parametrize(
    ("days", "cap", "detail", "message"),
    [
        ("14", "1", "per_unit", "at least 15 days"),
        ("366", "1", "per_unit", "at most 365 days"),
        ("abc", "1", "per_unit", "whole number of days"),
        ("15", "0", "per_unit", "from 1 to 10000"),
        ("15", "1", "names", "Choose what the published result shows"),
    ],
)
def test_admin_meetings_rules_refusals_change_nothing(
    client: Any,
    store: Session,
    seeded: Any,
    login: Any,
    days: str,
    cap: str,
    detail: str,
    message: str,
) -> None:
    _en(client, login)
    draft(store, seeded.area)
    data = {"notice_days": days, "proxy_cap": cap, "result_detail": detail}
    _refused(client, store, f"{BASE}/{seeded.area.code}/rules", data, 400, message)
    assert get_rules(store, seeded.area) == DEFAULT_RULES


def test_admin_meetings_rules_read_only_without_manage(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login, "observer")
    path = f"{BASE}/{seeded.area.code}/rules"
    html = _page(client, path)
    assert "15 days" in html and 'name="notice_days"' not in html
    data = {"csrf_token": token(client), "notice_days": "20", "proxy_cap": "1"}
    assert client.post(path, data=data | {"result_detail": "totals"}).status_code == 403
    assert get_rules(store, seeded.area) == DEFAULT_RULES


# --- meetings and motions --------------------------------------------------------------


def test_admin_meetings_create_and_list(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    code = seeded.area.code
    assert "No meeting yet" in _page(client, f"{BASE}/{code}")
    response = client.post(
        f"{BASE}/{code}/new", data={"csrf_token": token(client), "title": " 2027 年度会议 "}
    )
    assert response.status_code == 302
    meeting = store.scalars(select(Meeting)).one()
    assert meeting.title == "2027 年度会议" and meeting.state is MeetingState.draft
    assert response.headers["Location"] == f"{BASE}/{code}/{meeting.id}"
    listing = _page(client, f"{BASE}/{code}")
    assert "2027 年度会议" in listing and "Draft" in listing
    page = _page(client, f"{BASE}/{code}/{meeting.id}")
    assert "No motion yet" in page and "Add a motion" in page
    assert "Post the notice" not in page  # not a legal step without motions


def test_admin_meetings_create_refuses_empty_title(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    draft(store, seeded.area)
    path = f"{BASE}/{seeded.area.code}/new"
    _refused(client, store, path, {"title": "  "}, 400, "Please give the meeting a title")
    _refused(client, store, path, {"title": "x" * 201}, 400, "at most 200 characters")


def _motion_data(**changes: Any) -> dict[str, Any]:
    data = {
        "matter": "4",
        "kind": "yes_no",
        "title": "续聘物业服务企业",
        "text": "续聘现物业服务企业三年。\r\n第二段。",
        "options": "",
        "seats": "",
        "scope": "all",
    }
    return data | changes


def test_admin_meetings_add_edit_remove_motions(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = create_meeting(store, seeded.area, "第一次业主大会会议")
    new = _meeting_url(seeded, meeting, "/motions/new")
    assert "Matter (Civil Code art. 278)" in _page(client, new)
    ok = client.post(new, data={"csrf_token": token(client), **_motion_data()})
    assert ok.status_code == 302
    election = _motion_data(
        matter="3",
        kind="election",
        title="选举业主委员会委员",
        options="候选人甲\r\n 候选人乙 \r\n\r\n候选人丙",
        seats="2",
    )
    assert client.post(new, data={"csrf_token": token(client), **election}).status_code == 302
    _fresh(store)
    first, second = store.scalars(select(Motion).order_by(Motion.position)).all()
    assert first.text == "续聘现物业服务企业三年。\n第二段。"
    assert [o.label for o in second.options] == ["候选人甲", "候选人乙", "候选人丙"]
    assert second.seats == 2
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Hiring or dismissing the property service company" in page
    assert "Electing or replacing owners&#39; committee members" in page
    assert "more than half" in page and "2 seats" in page and "候选人乙" in page
    # Edit: a yes/no motion of matter (7) for selected buildings: options are ignored.
    edit = _meeting_url(seeded, meeting, f"/motions/{first.id}/edit")
    assert "续聘物业服务企业" in _page(client, edit)
    changed = _motion_data(matter="7", title="改造电梯", options="ignored")
    assert client.post(edit, data={"csrf_token": token(client), **changed}).status_code == 302
    _fresh(store)
    assert store.get(Motion, first.id).title == "改造电梯"
    assert store.get(Motion, first.id).options == []
    page = _page(client, _meeting_url(seeded, meeting))
    assert "three quarters" in page and "Rebuilding or renovating" in page
    # Remove asks first.
    remove = _meeting_url(seeded, meeting, f"/motions/{first.id}/remove")
    confirm = _page(client, remove)
    assert "Remove motion 1" in confirm and "Remove the motion" in confirm
    assert client.post(remove, data={"csrf_token": token(client)}).status_code == 302
    _fresh(store)
    assert [(m.id, m.position) for m in store.scalars(select(Motion))] == [(second.id, 1)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "choice", "options": "只有一个"}, "at least two options"),
        ({"kind": "election", "options": "甲", "seats": "1"}, "matter (3)"),
        ({"matter": "3", "kind": "election", "options": "甲", "seats": "2"}, "from 1 to 1"),
        ({"matter": "3", "kind": "election", "options": "甲", "seats": "x"}, "seats as a whole"),
        ({"kind": "choice", "options": "甲\n甲"}, "may appear only once"),
        ({"kind": "choice", "options": "abstain\n甲"}, "always offered"),
        ({"matter": "10"}, "Choose the matter (1)–(9)"),
        ({"kind": "referendum"}, "Choose the kind of motion"),
        ({"title": " "}, "Please give the motion a title"),
        ({"text": ""}, "Please give the text of the motion"),
        ({"scope": "some"}, "Choose at least one building"),
        ({"scope": "some", "buildings": "99号楼"}, "not in the owner roll: 99号楼"),
    ],
)
def test_admin_meetings_motion_form_refusals_change_nothing(
    client: Any,
    store: Session,
    seeded: Any,
    login: Any,
    changes: dict[str, str],
    message: str,
) -> None:
    _en(client, login)
    meeting = draft(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/motions/new")
    _refused(client, store, path, _motion_data(**changes), 400, message)
    edit = _meeting_url(seeded, meeting, f"/motions/{meeting.motions[0].id}/edit")
    _refused(client, store, edit, _motion_data(**changes), 400, message)


def test_admin_meetings_motions_are_fixed_after_notice(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = noticed_future(store, seeded.area)
    motion = meeting.motions[0]
    message = "motions cannot be added, changed or removed once the notice is posted"
    for rest in ("/motions/new", f"/motions/{motion.id}/edit", f"/motions/{motion.id}/remove"):
        assert message in _page(client, _meeting_url(seeded, meeting, rest), 409)
        data = _motion_data(title="偷偷修改") if "remove" not in rest else {}
        _refused(client, store, _meeting_url(seeded, meeting, rest), data, 409, message)
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Add a motion" not in page and "/edit" not in page


def test_admin_meetings_unknown_meeting_or_motion_is_404(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    mine = draft(store, seeded.area)
    theirs = draft(store, seeded.other, "别的小区")
    assert client.get(f"{BASE}/{seeded.area.code}/{theirs.id}").status_code == 404
    other_motion = theirs.motions[0].id
    assert client.get(_meeting_url(seeded, mine, f"/motions/{other_motion}/edit")).status_code == (
        404
    )
    data = {"csrf_token": token(client)}
    remove = _meeting_url(seeded, mine, f"/motions/{other_motion}/remove")
    assert client.post(remove, data=data).status_code == 404


# --- the lifecycle ---------------------------------------------------------------------


def test_admin_meetings_post_notice_with_confirmation(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = draft(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/notice")
    assert "Post the notice" in _page(client, _meeting_url(seeded, meeting))
    form = _page(client, path)
    assert 'type="datetime-local"' in form and "15 days of notice" in form
    opens, closes = now() + 20 * DAY, now() + 27 * DAY
    window = {"opens": local(opens), "closes": local(closes)}
    before = _snapshot(store)
    confirm = client.post(path, data={"csrf_token": token(client), **window})
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert shown(opens) in html and shown(closes) in html and 'name="confirmed"' in html
    assert _snapshot(store) == before  # the first POST only asks
    done = client.post(path, data={"csrf_token": token(client), "confirmed": "1", **window})
    assert done.status_code == 302
    _fresh(store)
    meeting = store.get(Meeting, meeting.id)
    assert meeting.state is MeetingState.noticed
    assert meeting.window_opens_at == opens.replace(second=0)
    assert meeting.rules_notice_days == 15
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Notice posted" in page and shown(opens) in page
    assert "Rules of procedure of this meeting" in page
    assert f"Voting can be opened from {shown(opens)}" in page


@pytest.mark.parametrize("confirmed", ["", "1"])
def test_admin_meetings_notice_sooner_than_the_notice_period_is_refused(
    client: Any, store: Session, seeded: Any, login: Any, confirmed: str
) -> None:
    _en(client, login)
    meeting = draft(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/notice")
    window = {"opens": local(now() + 14 * DAY), "closes": local(now() + 21 * DAY)}
    data = window | {"confirmed": confirmed}
    _refused(client, store, path, data, 400, "cannot open before the 15-day notice period")
    _refused(client, store, path, data, 400, "(Beijing time)")
    backwards = {"opens": local(now() + 21 * DAY), "closes": local(now() + 20 * DAY)}
    _refused(client, store, path, backwards | {"confirmed": confirmed}, 400, "close after it")
    garbage = {"opens": "tomorrow", "closes": "", "confirmed": confirmed}
    _refused(client, store, path, garbage, 400, "Enter when the voting window opens")


def test_admin_meetings_notice_without_motions_is_refused(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = draft(store, seeded.area, motions=())
    window = {"opens": local(now() + 20 * DAY), "closes": local(now() + 27 * DAY)}
    for confirmed in ("", "1"):
        _refused(
            client,
            store,
            _meeting_url(seeded, meeting, "/notice"),
            window | {"confirmed": confirmed},
            409,
            "Add at least one motion",
        )


def test_admin_meetings_opening_before_the_window_is_refused(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = noticed_future(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/open")
    assert "voting window has not begun" in _page(client, path, 409)
    _refused(client, store, path, {}, 409, "voting window has not begun")
    _refused(client, store, path, {}, 409, shown(meeting.window_opens_at))


def test_admin_meetings_open_shows_the_roll_hash(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = noticed_in_window(store, seeded.area)
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Open voting" in page and ROLL_SHA256 not in page
    path = _meeting_url(seeded, meeting, "/open")
    confirm = _page(client, path)
    assert "Open voting now" in confirm and "snapshot" in confirm
    assert client.post(path, data={"csrf_token": token(client)}).status_code == 302
    _fresh(store)
    assert store.get(Meeting, meeting.id).state is MeetingState.open
    page = _page(client, _meeting_url(seeded, meeting))
    assert ROLL_SHA256 in page and "Open for voting" in page
    assert "Voting can be closed when the window ends" in page
    # No early close.
    close = _meeting_url(seeded, meeting, "/close")
    assert "early" in _page(client, close, 409)
    _refused(client, store, close, {}, 409, "Voting cannot be closed early")


def test_admin_meetings_close_publish_and_annul(
    client: Any, store: Session, seeded: Any, login: Any, app: Any
) -> None:
    _en(client, login)
    meeting = window_ended(store, seeded.area)
    for step, state in (("close", MeetingState.closed), ("publish", MeetingState.published)):
        assert "Close voting" in _page(client, _meeting_url(seeded, meeting)) or step != "close"
        path = _meeting_url(seeded, meeting, f"/{step}")
        assert _page(client, path).count('name="csrf_token"') == 2  # logout + confirm
        assert client.post(path, data={"csrf_token": token(client)}).status_code == 302
        _fresh(store)
        assert store.get(Meeting, meeting.id).state is state
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Result published" in page and "after the 3-day deadline" not in page
    assert "Annul the decision" not in page  # the committee cannot annul
    annul = _meeting_url(seeded, meeting, "/annul")
    assert client.get(annul).status_code == 403
    assert client.post(annul, data={"csrf_token": token(client), "reason": "x"}).status_code == 403
    # The street office annuls, with a written reason.
    street = app.test_client()
    _en(street, login, "street_office")
    assert "Annul the decision" in _page(street, _meeting_url(seeded, meeting))
    assert "Written reason" in _page(street, annul)
    _refused(street, store, annul, {"reason": "   "}, 400, "needs a written reason")
    _refused(street, store, annul, {"reason": "x" * 2001}, 400, "at most 2000 characters")
    reason = "表决程序违反议事规则：\n公告期不足。"
    assert street.post(annul, data={"csrf_token": token(street), "reason": reason}).status_code == (
        302
    )
    _fresh(store)
    assert store.get(Meeting, meeting.id).state is MeetingState.annulled
    page = _page(client, _meeting_url(seeded, meeting))
    assert "decision has been annulled" in page and reason in page
    assert seeded.users[Role.street_office].display_name in page
    # Annulled is final.
    _refused(street, store, annul, {"reason": "again"}, 409, "you cannot annul it")


def test_admin_meetings_publish_on_a_closed_meeting_shows_the_deadline(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = closed(store, seeded.area)
    page = _page(client, _meeting_url(seeded, meeting))
    assert "Publish the result before" in page and "Publish the result" in page


@pytest.mark.parametrize(
    ("setup", "step", "message"),
    [
        (draft, "open", "Draft”: you cannot open voting"),
        (draft, "close", "Draft”: you cannot close voting"),
        (draft, "publish", "Draft”: you cannot publish its result"),
        (noticed_future, "close", "Notice posted”: you cannot close voting"),
        (noticed_future, "publish", "Notice posted”: you cannot publish its result"),
        (open_now, "open", "Open for voting”: you cannot open voting"),
        (open_now, "publish", "Open for voting”: you cannot publish its result"),
        (closed, "close", "Voting closed”: you cannot close voting"),
        (published, "publish", "Result published”: you cannot publish its result"),
    ],
)
def test_admin_meetings_illegal_steps_are_refused(
    client: Any, store: Session, seeded: Any, login: Any, setup: Any, step: str, message: str
) -> None:
    _en(client, login)
    meeting = setup(store, seeded.area)
    path = _meeting_url(seeded, meeting, f"/{step}")
    assert message in _page(client, path, 409)
    _refused(client, store, path, {}, 409, message)
    _refused(client, store, path, {}, 409, "Nothing was changed")


@pytest.mark.parametrize("setup", [noticed_future, open_now, closed])
def test_admin_meetings_notice_twice_is_refused(
    client: Any, store: Session, seeded: Any, login: Any, setup: Any
) -> None:
    _en(client, login)
    meeting = setup(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/notice")
    assert "you cannot post its notice" in _page(client, path, 409)
    window = {"opens": local(now() + 20 * DAY), "closes": local(now() + 27 * DAY)}
    for confirmed in ("", "1"):
        data = window | {"confirmed": confirmed}
        _refused(client, store, path, data, 409, "you cannot post its notice")


@pytest.mark.parametrize("setup", [draft, noticed_future, open_now])
def test_admin_meetings_annul_before_close_is_refused(
    client: Any, store: Session, seeded: Any, login: Any, setup: Any
) -> None:
    _en(client, login, "street_office")
    meeting = setup(store, seeded.area)
    path = _meeting_url(seeded, meeting, "/annul")
    assert "you cannot annul it" in _page(client, path, 409)
    _refused(client, store, path, {"reason": "违法"}, 409, "you cannot annul it")
    assert "Annul the decision" not in _page(client, _meeting_url(seeded, meeting))


# --- who may do what -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["observer", "residents_committee", "street_office", "operator"])
def test_admin_meetings_changes_need_manage_meetings(
    app: Any, store: Session, seeded: Any, login: Any, who: str
) -> None:
    meeting = draft(store, seeded.area)
    ready = noticed_in_window(store, seeded.area)
    client = app.test_client()
    _en(client, login, who)
    code = seeded.area.code
    motion = meeting.motions[0].id
    posts = [
        (f"{BASE}/{code}/new", {"title": "x"}),
        (f"{BASE}/{code}/rules", {"notice_days": "20", "proxy_cap": "1"}),
        (_meeting_url(seeded, meeting, "/motions/new"), _motion_data()),
        (_meeting_url(seeded, meeting, f"/motions/{motion}/edit"), _motion_data()),
        (_meeting_url(seeded, meeting, f"/motions/{motion}/remove"), {}),
        (_meeting_url(seeded, meeting, "/notice"), {"opens": "", "closes": ""}),
        (_meeting_url(seeded, ready, "/open"), {}),
    ]
    before = _snapshot(store)
    for path, data in posts:
        response = client.post(path, data={"csrf_token": token(client), **data})
        assert response.status_code == 403, path
    assert _snapshot(store) == before
    page = client.get(_meeting_url(seeded, meeting))
    if who == "operator":
        assert page.status_code == 403
    else:
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "Add a motion" not in html and "/edit" not in html


def test_admin_meetings_other_areas_admin_is_refused(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    theirs = draft(store, seeded.other, "别的小区")
    code = seeded.other.code
    assert client.get(f"{BASE}/{code}").status_code == 403
    assert client.get(f"{BASE}/{code}/{theirs.id}").status_code == 403
    before = _snapshot(store)
    data = {"csrf_token": token(client), "title": "x"}
    assert client.post(f"{BASE}/{code}/new", data=data).status_code == 403
    assert client.post(f"{BASE}/{code}/{theirs.id}/open", data=data).status_code == 403
    assert _snapshot(store) == before


def test_admin_meetings_csrf_is_required(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    _en(client, login)
    meeting = window_ended(store, seeded.area)
    before = _snapshot(store)
    for path, data in [
        (f"{BASE}/{seeded.area.code}/new", {"title": "x"}),
        (f"{BASE}/{seeded.area.code}/rules", {"notice_days": "20", "proxy_cap": "1"}),
        (_meeting_url(seeded, meeting, "/close"), {}),
        (_meeting_url(seeded, meeting, "/close"), {"csrf_token": "forged"}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert "security code" in response.get_data(as_text=True)
    assert _snapshot(store) == before


def test_admin_meetings_anonymous_is_sent_to_login(client: Any, seeded: Any) -> None:
    response = client.get(f"{BASE}/{seeded.area.code}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert client.get(f"{BASE}/").headers["Location"].startswith("/login")


def test_admin_meetings_index_sends_to_own_area(client: Any, seeded: Any, login: Any) -> None:
    _en(client, login)
    response = client.get(f"{BASE}/")
    assert response.headers["Location"] == f"{BASE}/{seeded.area.code}"
    home = _page(client, "/home")
    assert f'href="{BASE}/{seeded.area.code}"' in home


# --- the residents' committee ----------------------------------------------------------


def test_admin_meetings_notices_for_the_residents_committee(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    posted = noticed_future(store, seeded.area, "已公告的会议")
    draft(store, seeded.area, "还在起草的会议")
    noticed_future(store, seeded.other, "别的街道的会议")
    _en(client, login, "residents_committee")
    home = _page(client, "/home")
    assert f'href="{BASE}/notices"' in home
    html = _page(client, f"{BASE}/notices")
    assert "已公告的会议" in html
    assert "还在起草的会议" not in html and "别的街道的会议" not in html
    assert shown(posted.window_opens_at) in html and seeded.area.name in html
    assert _meeting_url(seeded, posted) in html
    assert "已公告的会议" in _page(client, _meeting_url(seeded, posted))


def test_admin_meetings_notices_empty_and_refused_to_the_operator(
    app: Any, store: Session, seeded: Any, login: Any
) -> None:
    client = app.test_client()
    _en(client, login, "residents_committee")
    assert "No meeting notice has been posted yet" in _page(client, f"{BASE}/notices")
    operator = app.test_client()
    _en(operator, login, "operator")
    assert operator.get(f"{BASE}/notices").status_code == 403
    assert f"{BASE}/notices" not in _page(operator, "/home")


# --- times and refusal texts -----------------------------------------------------------


def test_admin_meetings_times_are_beijing_time() -> None:
    moment = dt.datetime(2026, 12, 16, 2, 0, tzinfo=dt.UTC)
    assert input_value(moment) == "2026-12-16T10:00"
    assert parse_local("2026-12-16T10:00") == moment
    assert parse_local("2026-12-16 10:00:30") == moment + dt.timedelta(seconds=30)
    for bad in ("", "2026-12-16", "2026-13-01T10:00", "2026-12-16T10:00+08:00", "x" * 50):
        assert parse_local(bad) is None


def _domain_refusals() -> list[str]:
    """The messages the procedure's checks give, one per kind of refusal."""
    at = now()
    rules = DEFAULT_RULES
    attempts: list[Any] = [
        lambda: check_transition(MeetingState.draft, MeetingState.published),
        lambda: check_motion_edit(MeetingState.open),
        lambda: check_notice(MeetingState.draft, 0, rules, at, at + 20 * DAY, at + 21 * DAY),
        lambda: check_notice(MeetingState.draft, 1, rules, at, at + DAY, at + 2 * DAY),
        lambda: check_notice(MeetingState.draft, 1, rules, at, at + 20 * DAY, at + 20 * DAY),
        lambda: check_open(MeetingState.noticed, at + HOUR, at + DAY, at),
        lambda: check_open(MeetingState.noticed, at - DAY, at - HOUR, at),
        lambda: check_close(MeetingState.open, at + HOUR, at),
        lambda: check_publish(MeetingState.closed, None, at),
        lambda: check_annul(MeetingState.closed, ""),
        lambda: check_annul(MeetingState.closed, "x" * 5000),
        lambda: check_scope(
            MotionSpec(4, MotionKind.YES_NO, "t", "x", scope=frozenset({"9号楼"})), {"1号楼"}
        ),
        lambda: RulesOfProcedure(notice_days=3),
        lambda: RulesOfProcedure(notice_days=999),
        lambda: RulesOfProcedure(proxy_cap=0),
        lambda: MotionSpec(0, MotionKind.YES_NO, "t", "x"),
        lambda: MotionSpec(4, MotionKind.YES_NO, "", "x"),
        lambda: MotionSpec(4, MotionKind.YES_NO, "t" * 201, "x"),
        lambda: MotionSpec(4, MotionKind.YES_NO, "t", " "),
        lambda: MotionSpec(4, MotionKind.YES_NO, "t", "x" * 20001),
        lambda: MotionSpec(4, MotionKind.CHOICE, "t", "x", options=("a" * 201, "b")),
        lambda: MotionSpec(4, MotionKind.CHOICE, "t", "x", options=("abstain", "b")),
        lambda: MotionSpec(4, MotionKind.CHOICE, "t", "x", options=("a", "a")),
        lambda: MotionSpec(4, MotionKind.CHOICE, "t", "x", options=tuple(map(str, range(101)))),
        lambda: MotionSpec(4, MotionKind.CHOICE, "t", "x", options=("a",)),
        lambda: MotionSpec(4, MotionKind.ELECTION, "t", "x", options=("a",), seats=1),
        lambda: MotionSpec(3, MotionKind.ELECTION, "t", "x", options=(), seats=1),
        lambda: MotionSpec(3, MotionKind.ELECTION, "t", "x", options=("a",), seats=2),
        lambda: MotionSpec(3, MotionKind.ELECTION, "t", "x", options=("a", "b"), seats=0),
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises(ProcedureError) as caught:
            attempt()
        messages.append(str(caught.value))
    return messages


def test_admin_meetings_every_procedure_refusal_has_a_text(app: Any) -> None:
    service_messages = [
        "area NHXY has no owner roll: import one before opening",
        "motion 2: the scope names buildings that are not in the owner roll: 9号楼",
        "a meeting needs a title",
        "the meeting title is longer than 200 characters",
    ]
    with app.test_request_context("/"), force_locale("en"):
        for message in _domain_refusals() + service_messages:
            status, text = refusal(message)
            assert 400 <= status < 500
            assert text != message, f"no text for: {message}"
        # An unknown refusal is shown as it is rather than hidden.
        assert refusal("something new") == (409, "something new")
        status, text = refusal(
            "the voting window cannot open before the 15-day notice period has run: "
            "the earliest opening is 2026-12-16T02:00:00.500000+00:00"
        )
        assert status == 400 and "2026-12-16 10:01 (Beijing time)" in text
