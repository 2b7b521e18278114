"""The meeting page and the result notice over HTTP: turnout while open without any choice,
results with charts after the close, the per-building table, the public published result,
the annulment banner, the late publication note, and the notice PDF (Chinese text, house
numbers, never names)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from resultskit import NAMES, staged_meeting
from sqlalchemy.orm import Session

from voting.domain.procedure import MeetingState, ResultDetail
from voting.services.results import results, turnout

STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle=", re.IGNORECASE)


def _page(client: Any, setup: Any, query: str = "") -> tuple[int, str]:
    response = client.get(f"/meetings/{setup.area.code}/{setup.meeting.id}{query}")
    return response.status_code, response.get_data(as_text=True)


def _no_names(text: str, setup: Any) -> None:
    for name in NAMES:
        assert name not in text
    for card in setup.cards:
        assert card.holder_ref not in text


def test_meetings_turnout_while_open_shows_no_choice(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.open, vote=True)
    login(client, "committee_admin")
    status, html = _page(client, setup, "?lang=en")
    assert status == 200
    assert "Turnout so far" in html and "results-bar" in html
    for word in ("Contractor A", "Contractor B", "Candidate 1", "In favour", "Against"):
        assert word not in html
    assert "results-option" not in html and "By building" not in html
    # 5 of 6 owners took part on the first motion: 745.92 of 889.80 m².
    assert "745.92 m² of 889.80 m²" in html and "Owners: 5 of 6 (83.3%)" in html
    assert "Threshold met" in html
    assert not STYLE_ATTRIBUTE.search(html)
    reply = client.get(f"/api/v1/meetings/{setup.meeting.id}/turnout")
    if reply.status_code == 200:  # served by voting.web.api
        text = reply.get_data(as_text=True)
        for word in ("Contractor", "Candidate", '"counts"', '"yes"', "abstain"):
            assert word not in text
        store.rollback()
        assert reply.get_json() == turnout(store, setup.meeting)
    assert client.get(f"/api/v1/meetings/{setup.meeting.id}/results").status_code == 409


def test_meetings_results_after_close_in_english(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.closed, vote=True)
    login(client, "observer")
    status, html = _page(client, setup, "?lang=en")
    assert status == 200 and 'lang="en"' in html
    assert "The committee must publish the result within 3 days" in html
    # Three motions: participation and options, two bars each, with threshold lines.
    assert html.count('class="results-bar results-bar-2"') == 3 + (3 + 3 + 4)
    assert 'x1="50.00"' in html and 'x1="75.00"' in html and 'x1="66.67"' in html
    assert "Passed" in html and "Elected: Candidate 1" in html
    assert "No decision: no option alone reached the majority" in html
    assert "By building" in html and "counts in the headcount of each building" in html
    assert "地下车库" in html and "10号楼" in html
    assert "1号楼 1-101" in html  # the per-unit list
    assert "Result notice (PDF, for posting)" in html
    assert not STYLE_ATTRIBUTE.search(html)
    _no_names(html, setup)


def test_meetings_results_in_chinese(client: Any, store: Session, seeded: Any, login: Any) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.published, vote=True)
    status, html = _page(client, setup)  # anonymous: a published result is public
    assert status == 200 and 'lang="zh-CN"' in html
    for text in (
        "表决结果",
        "按楼栋",
        "参与表决",
        "同意",
        "反对",
        "弃权",
        "通过",
        "当选：Candidate 1",
    ):
        assert text in html, text
    assert "1号楼" in html and "m²" in html
    _no_names(html, setup)


def test_meetings_per_building_table_and_totals_only(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    setup = staged_meeting(
        store, seeded.area, MeetingState.closed, vote=True, result_detail=ResultDetail.totals
    )
    login(client, "street_office")
    status, html = _page(client, setup, "?lang=en")
    assert status == 200
    assert "1号楼 1-101" not in html and "Per unit" not in html
    table = html.split('class="data results-buildings"', 1)[1].split("</table>", 1)[0]
    row = table.split('<th scope="row">1号楼</th>', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    # took part 419.10 of 419.10 m², 3 of 3; yes 299.05 / 2; no 120.05 / 1; abstain 0.00 / 0
    assert cells == ["419.10 / 419.10", "3 / 3", "299.05", "2", "120.05", "1", "0.00", "0"]
    store.rollback()
    found = results(store, setup.meeting)
    assert "units" not in found["motions"][0]


def test_meetings_anonymous_needs_a_login_until_published(
    client: Any, store: Session, seeded: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.closed)
    status, html = _page(client, setup, "?lang=en")
    assert (
        status == 401 and "text/html" in client.get(f"/meetings/{setup.area.code}/1").content_type
    )
    assert 'href="/card"' in html and f"/login?next=/meetings/{setup.area.code}" in html
    assert client.get(f"/meetings/{setup.area.code}/999999").status_code == 401


def test_meetings_annulled_banner(client: Any, store: Session, seeded: Any, login: Any) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.annulled)
    status, html = _page(client, setup, "?lang=en")
    assert status == 200  # published before it was annulled: still public
    assert "This meeting's decision has been annulled" in html and 'role="alert"' in html
    assert "程序违法" not in html  # the reason is for staff and owners
    login(client, "residents_committee")
    status, html = _page(client, setup, "?lang=en")
    assert status == 200 and "程序违法：未通知居委会" in html


def test_meetings_published_late_note(client: Any, store: Session, seeded: Any) -> None:
    late = staged_meeting(store, seeded.area, MeetingState.published, late=True)
    on_time = staged_meeting(store, seeded.area, MeetingState.published, title="按时公示的会议")
    assert "Published late" in _page(client, late, "?lang=en")[1]
    assert "Published late" not in _page(client, on_time, "?lang=en")[1]


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_meetings_notice_pdf_in_chinese_without_names(
    client: Any, store: Session, seeded: Any, app: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.published, vote=True)
    reply = client.get(f"/meetings/{setup.area.code}/{setup.meeting.id}/notice.pdf?lang=en")
    assert reply.status_code == 200 and reply.mimetype == "application/pdf"
    text = _pdf_text(reply.data)
    compact = re.sub(r"\s+", "", text)
    for expected in (
        "业主大会会议表决结果公告",
        app.config["VOTING_PLATFORM_NAME"],
        setup.area.name,
        setup.meeting.title,
        "表决结果：通过",
        "公示日期：2026-12-2311:00",
        "第二百七十八条",
        "第三十七条",
        "1-101",
        "89.50",
        "同意",
    ):
        assert re.sub(r"\s+", "", expected) in compact, expected
    _no_names(text, setup)
    assert PdfReader(io.BytesIO(reply.data)).pages[0].mediabox.width == pytest.approx(595.28, 0.1)


def test_meetings_notice_pdf_before_the_close(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.open)
    login(client, "committee_admin")
    reply = client.get(f"/meetings/{setup.area.code}/{setup.meeting.id}/notice.pdf?lang=en")
    assert reply.status_code == 409
    assert "once voting has closed" in reply.get_data(as_text=True)


def test_meetings_results_json_equals_the_service(
    client: Any, store: Session, seeded: Any, login: Any
) -> None:
    setup = staged_meeting(store, seeded.area, MeetingState.closed, vote=True)
    login(client, "committee_admin")
    reply = client.get(f"/api/v1/meetings/{setup.meeting.id}/results")
    if reply.status_code == 404 and reply.get_json().get("error") == "not_available":
        pytest.skip("voting.web.api does not serve results")
    assert reply.status_code == 200
    store.rollback()
    assert reply.get_json() == results(store, setup.meeting)
