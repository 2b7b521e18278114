"""What each role's home page shows: its scope only, and the area's roll summary."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from voting.demo import DEMO_PATH as AREA_A
from voting.services.tenancy import ensure_property_area

ADMIN_ROLL_LINK = '<a class="button" href="/admin/roll">业主名册</a>'


def _home(client: Any, login: Any, username: str) -> str:
    login(client, username)
    response = client.get("/home")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_home_committee_admin_sees_roll_summary_and_roll_link(
    client: Any, seeded: Any, login: Any
) -> None:
    html = _home(client, login, "committee_admin")
    assert f"<h1>{seeded.area.name}</h1>" in html
    for text in ("第 2 版", "1,152", "1,087", "105,234.56", "专有部分总面积（m²）"):
        assert text in html
    assert ADMIN_ROLL_LINK in html
    assert seeded.other.name not in html


def test_home_observer_sees_summary_without_roll_link(client: Any, seeded: Any, login: Any) -> None:
    html = _home(client, login, "observer")
    assert seeded.area.name in html
    assert "第 2 版" in html
    assert "/admin/roll" not in html


def test_home_operator_lists_every_area(client: Any, seeded: Any, login: Any) -> None:
    html = _home(client, login, "operator")
    assert seeded.area.name in html
    assert seeded.other.name in html
    assert seeded.area.community.street.district.name in html  # the district column
    assert "尚无名册" in html  # the other area has no roll yet
    assert 'class="table-scroll"' in html


def test_home_street_office_lists_its_street_only(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    # Another community in the same street.
    nearby = replace(
        AREA_A, community=("110105-004-020", "望花路东里社区"), area=("WHLDL", "望花路东里小区")
    )
    ensure_property_area(store, nearby)
    html = _home(client, login, "street_office")
    assert seeded.area.name in html
    assert "望花路东里小区" in html
    assert seeded.other.name not in html
    assert "您的管辖范围内共有 2 个物业管理区域" in html


def test_home_residents_committee_lists_its_community(client: Any, seeded: Any, login: Any) -> None:
    html = _home(client, login, "residents_committee")
    assert seeded.area.name in html
    assert seeded.other.name not in html
    assert "1,152" in html


def test_home_area_page_for_an_area_in_scope(client: Any, seeded: Any, login: Any) -> None:
    login(client, "street_office")
    html = client.get(f"/areas/{seeded.area.code}").get_data(as_text=True)
    community = seeded.area.community
    assert f"{community.street.name} · {community.name}" in html
    assert "/admin/roll" not in html


def test_home_landing_offers_home_when_logged_in(client: Any, seeded: Any, login: Any) -> None:
    login(client, "observer")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/home"' in html
    assert "进入我的主页" in html
