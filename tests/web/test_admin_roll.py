"""The owner roll pages: upload → check → confirm, errors with line numbers, who may do what."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from voting.models import Base, Holder, RollUpload, RollVersion

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "rolls" / "sample_zh.csv"
# Seeded area A already has version 2 (without units): an import here becomes version 3.
NEXT = 3
ID_NUMBERS = ("11010519491231002X", "110105198001010016", "91110105MA01ABCD2X")


def counts(store: Session) -> dict[str, int]:
    """Row counts of every table, read in a transaction of its own (on SQLite an open
    transaction holds the write lock, so it must not outlive the reading)."""
    store.rollback()
    try:
        return {
            name: store.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in Base.metadata.tables
        }
    finally:
        store.rollback()


def edited(changes: dict[tuple[int, int], str]) -> bytes:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = [list(r) for r in csv.reader(handle)]
    for (line, column), value in changes.items():
        rows[line - 1][column] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def upload(client: Any, form_token: Any, code: str, content: bytes, name: str = "roll.csv") -> Any:
    token = form_token(client, f"/admin/roll/{code}/upload")
    data = {"csrf_token": token, "file": (io.BytesIO(content), name)}
    return client.post(f"/admin/roll/{code}/upload", data=data, content_type="multipart/form-data")


def apply(client: Any, form_token: Any, code: str, content: bytes) -> Any:
    """Upload, open the check page and confirm: the confirm response."""
    staged = upload(client, form_token, code, content)
    action, token = confirm_form(client.get(staged.headers["Location"]).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token})


def confirm_form(html: str) -> tuple[str, str]:
    action = re.search(r'action="([^"]+/confirm)"', html)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert action and token, "no confirm form on the page"
    return action.group(1), token.group(1)


@pytest.fixture
def admin(client: Any, seeded: Any, login: Any) -> Any:
    assert login(client, "committee_admin").status_code == 302
    return client


def test_admin_roll_upload_check_confirm(
    admin: Any, seeded: Any, store: Session, form_token: Any
) -> None:
    code = seeded.area.code
    response = upload(admin, form_token, code, SAMPLE.read_bytes(), "名册.csv")
    assert response.status_code == 302
    check_url = response.headers["Location"]
    assert re.fullmatch(rf"/admin/roll/{code}/uploads/\d+", check_url)
    # Checked but not applied: only the upload waits, encrypted.
    assert counts(store)["roll_versions"] == 1 and counts(store)["roll_uploads"] == 1
    page = admin.get(check_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "名册.csv" in html and "1号楼 1-101" in html
    assert f"/admin/roll/{code}/uploads/" in html and "/confirm" in html
    action, token = confirm_form(html)
    applied = admin.post(action, data={"csrf_token": token})
    assert applied.status_code == 302
    assert applied.headers["Location"] == f"/admin/roll/{code}"
    overview = admin.get(applied.headers["Location"]).get_data(as_text=True)
    assert "889.80" in overview
    store.rollback()
    version = store.scalars(select(RollVersion).where(RollVersion.number == NEXT)).one()
    assert (version.unit_count, version.headcount, version.source_name) == (11, 6, "名册.csv")
    assert store.scalar(select(func.count()).select_from(RollUpload)) == 0
    store.rollback()
    version_page = admin.get(f"/admin/roll/{code}/versions/{NEXT}")
    assert version_page.status_code == 200
    body = version_page.get_data(as_text=True)
    assert "王伟" in body  # the committee may see names (view_roll_details)
    for number in ID_NUMBERS:
        assert number not in html and number not in body


def test_admin_roll_bad_file_shows_every_error_and_writes_nothing(
    admin: Any, seeded: Any, store: Session, form_token: Any
) -> None:
    before = counts(store)
    content = edited({(2, 2): "-5", (4, 4): "出租", (6, 1): "1-102", (6, 0): "1号楼"})
    response = upload(admin, form_token, seeded.area.code, content)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "第 2 行" in html or "Line 2" in html
    assert "第 4 行" in html or "Line 4" in html
    assert "第 6 行" in html or "Line 6" in html
    assert "/confirm" not in html
    assert counts(store) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100),
        ("picture.csv", b"\x89PNG\r\n\x1a\n\xff\xfe\x00"),
    ],
)
def test_admin_roll_unreadable_file_is_a_4xx(
    admin: Any, seeded: Any, store: Session, form_token: Any, name: str, content: bytes
) -> None:
    before = counts(store)
    response = upload(admin, form_token, seeded.area.code, content, name)
    assert response.status_code == 422
    assert counts(store) == before


def test_admin_roll_missing_file_is_400(admin: Any, seeded: Any, form_token: Any) -> None:
    code = seeded.area.code
    token = form_token(admin, f"/admin/roll/{code}/upload")
    response = admin.post(f"/admin/roll/{code}/upload", data={"csrf_token": token})
    assert response.status_code == 400


def test_admin_roll_upload_without_csrf_is_refused(admin: Any, seeded: Any, store: Session) -> None:
    before = counts(store)
    data = {"file": (io.BytesIO(SAMPLE.read_bytes()), "roll.csv")}
    response = admin.post(
        f"/admin/roll/{seeded.area.code}/upload", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert counts(store) == before


def test_admin_roll_unchanged_file_is_409(
    admin: Any, seeded: Any, store: Session, form_token: Any
) -> None:
    code = seeded.area.code
    assert apply(admin, form_token, code, SAMPLE.read_bytes()).status_code == 302
    before = counts(store)
    again = upload(admin, form_token, code, SAMPLE.read_bytes())
    assert again.status_code == 409
    assert counts(store) == before


def test_admin_roll_confirm_after_roll_moved_on_is_refused(
    admin: Any, seeded: Any, store: Session, form_token: Any
) -> None:
    code = seeded.area.code
    first = upload(admin, form_token, code, SAMPLE.read_bytes())
    second = upload(admin, form_token, code, edited({(2, 2): "91.00"}))
    first_action, token = confirm_form(admin.get(first.headers["Location"]).get_data(as_text=True))
    second_action, _ = confirm_form(admin.get(second.headers["Location"]).get_data(as_text=True))
    assert admin.post(first_action, data={"csrf_token": token}).status_code == 302
    before = counts(store)
    # The second file was checked against the old version: its page no longer offers to
    # confirm, and a confirm sent anyway is refused.
    stale = admin.get(second.headers["Location"]).get_data(as_text=True)
    assert "/confirm" not in stale
    refused = admin.post(second_action, data={"csrf_token": token})
    assert refused.status_code == 409
    assert counts(store) == before


def test_admin_roll_discard(admin: Any, seeded: Any, store: Session, form_token: Any) -> None:
    code = seeded.area.code
    response = upload(admin, form_token, code, SAMPLE.read_bytes())
    upload_id = response.headers["Location"].rsplit("/", 1)[1]
    token = form_token(admin, response.headers["Location"])
    done = admin.post(f"/admin/roll/{code}/uploads/{upload_id}/discard", data={"csrf_token": token})
    assert done.status_code == 302
    assert counts(store)["roll_uploads"] == 0
    assert admin.get(response.headers["Location"]).status_code == 404
    gone = admin.post(f"/admin/roll/{code}/uploads/{upload_id}/confirm", data={"csrf_token": token})
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/upload")
    assert counts(store)["roll_versions"] == 1


def test_admin_roll_index_redirects_to_own_area(admin: Any, seeded: Any) -> None:
    response = admin.get("/admin/roll/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/roll/{seeded.area.code}"


@pytest.mark.parametrize(
    ("who", "overview", "upload_page"),
    [
        ("committee_admin", 200, 200),
        ("observer", 200, 403),
        ("residents_committee", 200, 403),
        ("street_office", 200, 403),
        ("operator", 200, 403),
    ],
)
def test_admin_roll_access_in_own_area(
    client: Any, seeded: Any, login: Any, who: str, overview: int, upload_page: int
) -> None:
    login(client, who)
    code = seeded.area.code
    assert client.get(f"/admin/roll/{code}").status_code == overview
    assert client.get(f"/admin/roll/{code}/upload").status_code == upload_page


@pytest.mark.parametrize("who", ["committee_admin", "observer", "residents_committee"])
def test_admin_roll_other_area_is_403(
    client: Any, seeded: Any, login: Any, form_token: Any, who: str
) -> None:
    login(client, who)
    code = seeded.other.code
    assert client.get(f"/admin/roll/{code}").status_code == 403
    assert client.get(f"/admin/roll/{code}/upload").status_code == 403
    token = form_token(client, f"/admin/roll/{seeded.area.code}")
    data = {"csrf_token": token, "file": (io.BytesIO(SAMPLE.read_bytes()), "roll.csv")}
    posted = client.post(
        f"/admin/roll/{code}/upload", data=data, content_type="multipart/form-data"
    )
    assert posted.status_code == 403


def test_admin_roll_observer_cannot_upload_or_confirm(
    client: Any, seeded: Any, login: Any, store: Session, form_token: Any
) -> None:
    admin = client.application.test_client()
    login(admin, "committee_admin")
    staged = upload(admin, form_token, seeded.area.code, SAMPLE.read_bytes())
    login(client, "observer")
    before = counts(store)
    token = form_token(client, f"/admin/roll/{seeded.area.code}")
    data = {"csrf_token": token, "file": (io.BytesIO(SAMPLE.read_bytes()), "roll.csv")}
    assert (
        client.post(
            f"/admin/roll/{seeded.area.code}/upload", data=data, content_type="multipart/form-data"
        ).status_code
        == 403
    )
    location = staged.headers["Location"]
    assert client.get(location).status_code == 403
    assert client.post(location + "/confirm", data={"csrf_token": token}).status_code == 403
    assert counts(store) == before


def test_admin_roll_names_only_with_roll_details(
    client: Any, seeded: Any, login: Any, form_token: Any
) -> None:
    admin = client.application.test_client()
    login(admin, "committee_admin")
    assert apply(admin, form_token, seeded.area.code, SAMPLE.read_bytes()).status_code == 302
    login(client, "observer")
    page = client.get(f"/admin/roll/{seeded.area.code}/versions/{NEXT}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1-101" in html and "89.50" in html
    for name in ("王伟", "李娜", "北京南湖置业有限公司", "张强"):
        assert name not in html


def test_admin_roll_anonymous_goes_to_login(client: Any, seeded: Any) -> None:
    for path in (f"/admin/roll/{seeded.area.code}", f"/admin/roll/{seeded.area.code}/upload"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_admin_roll_unknown_area_and_version_are_404(admin: Any, seeded: Any) -> None:
    assert admin.get("/admin/roll/NO-SUCH-AREA").status_code == 404
    assert admin.get(f"/admin/roll/{seeded.area.code}/versions/99").status_code == 404
    assert admin.get(f"/admin/roll/{seeded.area.code}/uploads/12345").status_code == 404


def test_admin_roll_stored_upload_holds_no_plain_id(
    admin: Any, seeded: Any, store: Session, form_token: Any
) -> None:
    upload(admin, form_token, seeded.area.code, SAMPLE.read_bytes())
    store.rollback()
    stored = store.scalars(select(RollUpload)).one()
    for number in ID_NUMBERS:
        assert number.encode() not in stored.content
        assert number not in (stored.summary or "")
    assert store.scalar(select(func.count()).select_from(Holder)) == 0
