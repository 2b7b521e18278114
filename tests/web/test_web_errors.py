"""Error pages: in the user's language, without stack traces; JSON for API clients."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError


@pytest.fixture
def failing_app(app: Any) -> Any:
    def fail() -> str:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/test-failure", "test_failure", fail)
    app.add_url_rule("/api/test-failure", "api_test_failure", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def _assert_no_leak(html: str) -> None:
    for leak in ("Traceback", "secret internal detail", "RuntimeError", "werkzeug", 'File "'):
        assert leak not in html


def test_errors_404_in_chinese(client: Any) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "页面不存在" in html
    assert '<html lang="zh-CN">' in html


def test_errors_404_in_english_after_switch(client: Any) -> None:
    client.get("/?lang=en")
    html = client.get("/no-such-page").get_data(as_text=True)
    assert "Page not found" in html
    assert "页面不存在" not in html


def test_errors_405_page(client: Any) -> None:
    response = client.put("/login")
    assert response.status_code == 405
    assert "不支持的操作" in response.get_data(as_text=True)


def test_errors_403_page(client: Any, seeded: Any, login: Any) -> None:
    login(client, "observer")
    response = client.get(f"/areas/{seeded.other.code}")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "无权访问" in html
    assert seeded.other.name not in html


def test_errors_413_page(app: Any, client: Any) -> None:
    app.config["VOTING_MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    response = client.post("/login", data={"username": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "1 MB" in response.get_data(as_text=True)
    assert "文件过大" in response.get_data(as_text=True)


def test_errors_500_page_does_not_leak(failing_app: Any) -> None:
    response = failing_app.test_client().get("/test-failure")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "系统出现故障" in html
    _assert_no_leak(html)


def test_errors_500_page_when_the_database_is_down(
    failing_app: Any,
    seeded: Any,
    login: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    client = failing_app.test_client()
    login(client, "observer")
    monkeypatch.setattr("voting.web.auth.db_session", broken)
    response = client.get("/test-failure")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "系统出现故障" in text
    _assert_no_leak(text)
    assert "connection refused" not in text
    assert "the error page could not be rendered" in caplog.text


def test_errors_500_as_json_for_api_paths(failing_app: Any) -> None:
    response = failing_app.test_client().get("/api/test-failure")
    assert response.status_code == 500
    assert response.is_json
    assert set(response.get_json()) == {"error"}
    _assert_no_leak(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api/no-such-thing", {}), ("/no-such-page", {"Accept": "application/json"})],
)
def test_errors_json_clients_get_json(client: Any, path: str, headers: dict[str, str]) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json() == {"error": "您访问的页面不存在或已被移除。"}


def test_errors_browsers_get_html(client: Any) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/no-such-page", headers={"Accept": accept})
    assert response.mimetype == "text/html"
