"""CSRF: every POST form needs its token; a missing or wrong one gets a clear 400 page."""

from __future__ import annotations

from typing import Any

CSRF_ZH = "表单已过期或缺少安全校验码"


def test_csrf_login_without_token_is_refused(client: Any, seeded: Any) -> None:
    response = client.post("/login", data={"username": "operator", "password": seeded.password})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert CSRF_ZH in html
    assert "Traceback" not in html
    assert client.get("/home").status_code == 302


def test_csrf_login_with_forged_token_is_refused(client: Any, seeded: Any) -> None:
    client.get("/login")
    data = {"csrf_token": "forged", "username": "operator", "password": seeded.password}
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert client.get("/home").status_code == 302


def test_csrf_token_of_another_session_is_refused(
    app: Any, client: Any, seeded: Any, form_token: Any
) -> None:
    other_token = form_token(app.test_client(), "/login")
    client.get("/login")
    data = {"csrf_token": other_token, "username": "operator", "password": seeded.password}
    assert client.post("/login", data=data).status_code == 400


def test_csrf_logout_without_token_keeps_the_login(client: Any, seeded: Any, login: Any) -> None:
    login(client, "observer")
    response = client.post("/logout")
    assert response.status_code == 400
    assert CSRF_ZH in response.get_data(as_text=True)
    assert client.get("/home").status_code == 200


def test_csrf_refusal_in_english_after_switch(client: Any, seeded: Any) -> None:
    client.get("/?lang=en")
    response = client.post("/login", data={"username": "operator", "password": "x"})
    assert response.status_code == 400
    assert "security code" in response.get_data(as_text=True)


def test_csrf_refusal_as_json_for_json_clients(client: Any) -> None:
    response = client.post("/login", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.is_json
    assert CSRF_ZH in response.get_json()["error"]
