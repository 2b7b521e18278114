"""Paper ballot pages: entry by two staff members, mismatch messages, resolution with a
confirmation step, refusals, roles and CSRF."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from paperkit import COMPANY, HASH_A, HASH_B, WANG, open_meeting_now
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voting.domain.paper import SheetStatus
from voting.models import Meeting, Motion, PaperEntry, PaperSheet, Role
from voting.services.meetings import close_meeting
from voting.services.paper import counted_paper, find_voter
from voting.services.users import ensure_user


@dataclass
class Paper:
    meeting: Meeting
    yes_no: Motion
    choice: Motion
    election: Motion
    ref: str  # 王伟's holder ref
    base: str  # /admin/meetings/<area>/<id>/paper


@pytest.fixture
def paper(store: Session, seeded: Any) -> Paper:
    meeting = open_meeting_now(store, seeded.area)
    for username in ("admin2", "admin3"):
        ensure_user(
            store,
            username,
            seeded.password,
            Role.committee_admin,
            f"业委会 {username}",
            property_area_id=seeded.area.id,
        )
    store.commit()
    holder = find_voter(store, meeting, WANG)
    assert holder is not None
    yes_no, choice, election = meeting.motions
    return Paper(
        meeting,
        yes_no,
        choice,
        election,
        holder.ref,
        f"/admin/meetings/{seeded.area.code}/{meeting.id}/paper",
    )


def _client(app: Any, login: Any, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    client.get("/language/en?next=/")
    return client


def _form(paper: Paper, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "voter": paper.ref,
        f"choice-{paper.yes_no.id}": "yes",
        f"choice-{paper.choice.id}": "Contractor B",
        f"choice-{paper.election.id}": ["Candidate 3", "Candidate 1"],
        "image_sha256": HASH_A,
    }
    data.update(overrides)
    return data


def _post(client: Any, form_token: Any, paper: Paper, data: dict[str, Any]) -> Any:
    token = form_token(client, f"{paper.base}/enter?voter={paper.ref}")
    return client.post(f"{paper.base}/enter", data={"csrf_token": token, **data})


def _sheet(store: Session) -> PaperSheet | None:
    store.rollback()  # end the test's read transaction: see what the requests committed
    return store.scalar(select(PaperSheet))


def _entries(store: Session) -> int:
    store.rollback()
    return store.scalar(select(func.count()).select_from(PaperEntry)) or 0


def _text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_paper_web_double_entry_matches_and_counts(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    form = admin.get(f"{paper.base}/enter", query_string={"voter": "1号楼 1-101"})
    assert form.status_code == 200
    html = _text(form)
    assert paper.ref in html and "王伟" in html and "Contractor B" in html
    first = _post(admin, form_token, paper, _form(paper))
    assert first.status_code == 302 and first.headers["Location"].endswith("/paper/enter")
    assert "Entry saved for" in _text(admin.get(first.headers["Location"]))
    second = _post(_client(app, login, "admin2"), form_token, paper, _form(paper))
    assert second.status_code == 302
    sheet = _sheet(store)
    assert sheet is not None and sheet.status is SheetStatus.matched
    assert counted_paper(store, paper.election) == [
        (paper.ref, frozenset({"Candidate 1", "Candidate 3"}))
    ]
    listing = _text(admin.get(paper.base))
    assert (
        "Matched: counts" in listing and HASH_A in listing and "Candidate 1、Candidate 3" in listing
    )


def test_paper_web_second_entry_by_the_same_user_is_refused(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    assert _post(admin, form_token, paper, _form(paper)).status_code == 302
    again = _post(admin, form_token, paper, _form(paper))
    assert again.status_code == 409
    assert "The second entry must be made by another staff member." in _text(again)
    assert _entries(store) == 1
    form = _text(admin.get(f"{paper.base}/enter?voter={paper.ref}"))
    assert "You have entered this sheet." in form and "paper-form" not in form


def test_paper_web_pending_entry_is_not_shown_to_the_second_staff_member(
    app: Any, login: Any, form_token: Any, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    _post(admin, form_token, paper, _form(paper))
    other = _client(app, login, "admin2")
    for path in (
        paper.base,
        f"{paper.base}/enter?voter={paper.ref}",
        f"{paper.base}/{paper.ref}/resolve",
    ):
        html = _text(other.get(path))
        assert HASH_A not in html and "Contractor B" not in html.split("<form", 1)[0]
    assert "Yours is the second entry" in _text(other.get(f"{paper.base}/enter?voter={paper.ref}"))


def test_paper_web_mismatch_names_the_motions_that_differ(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    _post(_client(app, login, "committee_admin"), form_token, paper, _form(paper))
    admin2 = _client(app, login, "admin2")
    differ = _form(paper, **{f"choice-{paper.yes_no.id}": "no", "image_sha256": HASH_B})
    response = _post(admin2, form_token, paper, differ)
    assert response.status_code == 302
    message = _text(admin2.get(response.headers["Location"]))
    assert "Entries differ for" in message
    assert "Motion 1 «Renew the property service contract»; the image hash" in message
    assert "Motion 2" not in message
    sheet = _sheet(store)
    assert sheet is not None and sheet.status is SheetStatus.mismatch
    assert counted_paper(store, paper.yes_no) == [] and counted_paper(store, paper.choice) == []
    listing = _text(admin2.get(paper.base))
    assert "Entries differ: to be resolved" in listing


def test_paper_web_resolve_asks_for_confirmation(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    _post(admin, form_token, paper, _form(paper))
    differ = _form(paper, **{f"choice-{paper.yes_no.id}": "no"})
    _post(_client(app, login, "admin2"), form_token, paper, differ)
    resolve = f"{paper.base}/{paper.ref}/resolve"
    # Whoever made an entry may not resolve.
    own = admin.post(
        resolve,
        data={"csrf_token": form_token(admin, resolve), "decision": "first", "reason": "mine"},
    )
    assert own.status_code == 403 and "made neither entry" in _text(own)
    third = _client(app, login, "admin3")
    page = _text(third.get(resolve))
    assert "In favour" in page and "Against" in page and "paper-differs" in page
    token = form_token(third, resolve)
    review = third.post(
        resolve,
        data={
            "csrf_token": token,
            "step": "review",
            "decision": "second",
            "reason": "sheet says no",
        },
    )
    assert review.status_code == 200 and "Please confirm" in _text(review)
    assert 'name="step" value="confirm"' in _text(review)
    sheet = _sheet(store)
    assert sheet is not None and sheet.status is SheetStatus.mismatch  # nothing done yet
    done = third.post(
        resolve,
        data={
            "csrf_token": token,
            "step": "confirm",
            "decision": "second",
            "reason": "sheet says no",
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/paper")
    sheet = _sheet(store)
    assert sheet is not None and sheet.status is SheetStatus.resolved
    assert counted_paper(store, paper.yes_no) == [(paper.ref, "no")]
    listing = _text(third.get(paper.base))
    assert "second entry accepted" in listing and "sheet says no" in listing


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"reason": "x"}, 400, "Please choose which entry is right"),
        ({"decision": "first"}, 400, "Please give a reason."),
        ({"decision": "first", "reason": "x" * 501}, 400, "at most 500 characters"),
        ({"decision": "both", "reason": "x"}, 400, "Please choose which entry is right"),
    ],
)
def test_paper_web_resolve_bad_input_is_400(
    app: Any,
    login: Any,
    form_token: Any,
    store: Session,
    paper: Paper,
    data: dict[str, str],
    status: int,
    message: str,
) -> None:
    _post(_client(app, login, "committee_admin"), form_token, paper, _form(paper))
    _post(_client(app, login, "admin2"), form_token, paper, _form(paper, image_sha256=HASH_B))
    third = _client(app, login, "admin3")
    resolve = f"{paper.base}/{paper.ref}/resolve"
    response = third.post(
        resolve, data={"csrf_token": form_token(third, resolve), "step": "confirm", **data}
    )
    assert response.status_code == status and message in _text(response)
    sheet = _sheet(store)
    assert sheet is not None and sheet.status is SheetStatus.mismatch


@pytest.mark.parametrize(
    ("override", "status", "message"),
    [
        ({"image_sha256": "not-a-hash"}, 400, "exactly 64 hexadecimal digits"),
        ({"image_sha256": ""}, 400, "exactly 64 hexadecimal digits"),
        ({"election": ["abstain", "Candidate 1"]}, 400, "abstain and candidates are both marked"),
        ({"election": ["Candidate 1", "Candidate 2", "Candidate 3"]}, 400, "is not valid"),
        ({"yes_no": ["yes", "no"]}, 400, "one choice only"),
        ({"choice": "Contractor Z"}, 400, "The choice on Motion 2"),
        ({"choice-abc": "yes"}, 400, "not on this meeting&#39;s agenda"),
        ({"choice-999999": "yes"}, 400, "not on this meeting&#39;s agenda"),
        ({"voter": "HNOSUCHREF"}, 404, "No voter with this house number"),
        ({"all_unmarked": True}, 400, "Mark at least one motion"),
    ],
)
def test_paper_web_bad_entries_are_refused(
    app: Any,
    login: Any,
    form_token: Any,
    store: Session,
    paper: Paper,
    override: dict[str, Any],
    status: int,
    message: str,
) -> None:
    admin = _client(app, login, "committee_admin")
    names = {"yes_no": paper.yes_no, "choice": paper.choice, "election": paper.election}
    data = _form(paper)
    for key, value in override.items():
        if key == "all_unmarked":
            for motion in names.values():
                data[f"choice-{motion.id}"] = ""
        elif key in names:
            data[f"choice-{names[key].id}"] = value
        else:
            data[key] = value
    response = _post(admin, form_token, paper, data)
    assert response.status_code == status
    assert message in _text(response)
    assert _entries(store) == 0


def test_paper_web_out_of_scope_choice_is_refused(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    company = find_voter(store, paper.meeting, COMPANY)
    assert company is not None
    form = _text(admin.get(f"{paper.base}/enter", query_string={"voter": COMPANY}))
    assert f"choice-{paper.choice.id}" not in form  # the lift motion is not offered
    data = {
        "voter": company.ref,
        f"choice-{paper.choice.id}": "Contractor A",
        "image_sha256": HASH_A,
    }
    response = _post(admin, form_token, paper, data)
    assert response.status_code == 403
    assert "no unit in the scope of Motion 2" in _text(response)
    assert _entries(store) == 0


def test_paper_web_refused_after_the_close(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    token = form_token(admin, f"{paper.base}/enter?voter={paper.ref}")
    meeting = store.get(Meeting, paper.meeting.id)
    assert meeting is not None and meeting.window_closes_at is not None
    close_meeting(store, meeting, now=meeting.window_closes_at)
    response = admin.post(f"{paper.base}/enter", data={"csrf_token": token, **_form(paper)})
    assert response.status_code == 409
    assert "only while voting is open" in _text(response)
    assert _entries(store) == 0
    listing = _text(admin.get(paper.base))
    assert "Enter a paper ballot" not in listing and "only while voting is open" in listing


@pytest.mark.parametrize(
    "username", ["residents_committee", "street_office", "observer", "operator"]
)
def test_paper_web_other_roles_cannot_post(
    app: Any, login: Any, form_token: Any, store: Session, paper: Paper, username: str
) -> None:
    client = _client(app, login, username)
    token = form_token(client, "/home")
    entry = client.post(f"{paper.base}/enter", data={"csrf_token": token, **_form(paper)})
    assert entry.status_code == 403
    resolve = client.post(
        f"{paper.base}/{paper.ref}/resolve",
        data={"csrf_token": token, "step": "confirm", "decision": "discard", "reason": "x"},
    )
    assert resolve.status_code == 403
    assert _entries(store) == 0 and _sheet(store) is None


def test_paper_web_posts_need_the_csrf_token(
    app: Any, login: Any, store: Session, paper: Paper
) -> None:
    admin = _client(app, login, "committee_admin")
    response = admin.post(f"{paper.base}/enter", data=_form(paper))
    assert response.status_code == 400
    resolve = admin.post(
        f"{paper.base}/{paper.ref}/resolve",
        data={"step": "confirm", "decision": "discard", "reason": "x"},
    )
    assert resolve.status_code == 400
    assert _entries(store) == 0


def test_paper_web_the_scanned_file_is_never_uploaded(app: Any, login: Any, paper: Paper) -> None:
    admin = _client(app, login, "committee_admin")
    html = _text(admin.get(f"{paper.base}/enter?voter={paper.ref}"))
    file_input = re.search(r"<input id=\"image-file\"[^>]*>", html, re.S)
    assert file_input is not None and "name=" not in file_input.group(0)
    assert 'enctype="multipart' not in html
    assert "/static/js/paper.js" in html
    assert admin.get("/static/js/paper.js").status_code == 200


def test_paper_web_chinese_by_default(app: Any, login: Any, paper: Paper) -> None:
    client = app.test_client()
    assert login(client, "committee_admin").status_code == 302
    html = _text(client.get(f"{paper.base}/enter?voter={paper.ref}"))
    assert '<html lang="zh-CN">' in html
