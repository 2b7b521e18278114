"""Staff login and logout: messages, redirects, throttling of wrong passwords."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from voting.models import Role, utcnow
from voting.models.users import LoginFailure
from voting.services.logins import FAILURE_WINDOW, MAX_FAILURES

WRONG_PASSWORD_ZH = "用户名或密码错误"


def test_login_succeeds_and_redirects_home(client: Any, seeded: Any, login: Any) -> None:
    response = login(client, "committee_admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert seeded.users[Role.committee_admin].display_name in home.get_data(as_text=True)


def test_login_wrong_password_shows_chinese_error(client: Any, seeded: Any, login: Any) -> None:
    response = login(client, "committee_admin", "wrong-password")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert WRONG_PASSWORD_ZH in html
    assert "wrong-password" not in html  # the password is never echoed
    assert client.get("/home").status_code == 302


def test_login_unknown_user_gets_the_same_message(client: Any, seeded: Any, login: Any) -> None:
    wrong_password = login(client, "committee_admin", "wrong-password").get_data(as_text=True)
    unknown_user = login(client, "nobody-here", "wrong-password").get_data(as_text=True)
    assert WRONG_PASSWORD_ZH in unknown_user

    def error_of(html: str) -> str:
        return html.split('role="alert">', 1)[1].split("<", 1)[0]

    assert error_of(wrong_password) == error_of(unknown_user)


def test_login_empty_fields_are_explained(client: Any, seeded: Any, login: Any) -> None:
    html = login(client, "", "").get_data(as_text=True)
    assert "请输入用户名" in html
    assert "请输入密码" in html


def test_login_inactive_user_is_refused(client: Any, seeded: Any, login: Any, store: Any) -> None:
    seeded.users[Role.observer].active = False
    store.commit()
    response = login(client, "observer")
    assert WRONG_PASSWORD_ZH in response.get_data(as_text=True)


def test_login_deactivated_user_loses_access(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    login(client, "observer")
    assert client.get("/home").status_code == 200
    seeded.users[Role.observer].active = False
    store.commit()
    assert client.get("/home").status_code == 302


def test_login_throttles_after_too_many_wrong_passwords(
    client: Any, seeded: Any, login: Any, store: Any
) -> None:
    for _ in range(MAX_FAILURES):
        assert login(client, "street_office", "wrong-password").status_code == 200
    # Now even the right password is refused, with its own message.
    response = login(client, "street_office")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302
    # Other usernames are not affected.
    assert login(client, "observer").status_code == 302


def test_login_throttle_window_expires(client: Any, seeded: Any, login: Any, store: Any) -> None:
    old = utcnow() - FAILURE_WINDOW - dt.timedelta(seconds=1)
    store.add_all(
        LoginFailure(username="street_office", created_at=old) for _ in range(MAX_FAILURES)
    )
    store.commit()
    assert login(client, "street_office").status_code == 302


def test_login_success_clears_failures(client: Any, seeded: Any, login: Any, store: Any) -> None:
    for _ in range(3):
        login(client, "observer", "wrong-password")
    count = select(func.count()).where(LoginFailure.username == "observer")
    assert store.scalar(count) == 3
    assert login(client, "observer").status_code == 302
    store.rollback()  # end the read transaction: see what the request committed
    assert store.scalar(count) == 0


def test_login_follows_local_next_only(client: Any, seeded: Any, login: Any) -> None:
    response = login(client, "operator", next=f"/areas/{seeded.other.code}")
    assert response.headers["Location"] == f"/areas/{seeded.other.code}"
    client.post("/logout", data={"csrf_token": _token(client)})
    response = login(client, "operator", next="https://evil.example/")
    assert response.headers["Location"] == "/home"


def test_login_page_redirects_when_logged_in(client: Any, seeded: Any, login: Any) -> None:
    login(client, "operator")
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"


def test_login_required_redirects_anonymous_with_next(client: Any, seeded: Any) -> None:
    response = client.get("/areas/ANY?tab=roll")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/areas/ANY?tab%3Droll"


def test_logout_ends_the_login(client: Any, seeded: Any, login: Any) -> None:
    login(client, "committee_admin")
    response = client.post("/logout", data={"csrf_token": _token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    landing = client.get("/").get_data(as_text=True)
    assert "您已退出登录" in landing
    assert client.get("/home").status_code == 302


def test_logout_is_post_only(client: Any, seeded: Any, login: Any) -> None:
    login(client, "committee_admin")
    assert client.get("/logout").status_code == 405
    assert client.get("/home").status_code == 200


def _token(client: Any) -> str:
    html = client.get("/home").get_data(as_text=True)
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_login_and_logout_while_the_test_holds_an_app_context(
    db: Any, client: Any, seeded: Any, login: Any, form_token: Any
) -> None:
    # With the `db` fixture, every request of the test client shares one app context (and `g`).
    assert login(client, "committee_admin").status_code == 302
    assert client.get("/home").status_code == 200
    assert (
        client.post("/logout", data={"csrf_token": form_token(client, "/home")}).status_code == 302
    )
    assert client.get("/home").status_code == 302
    assert login(client, "observer").status_code == 302
    assert seeded.users[Role.observer].display_name in client.get("/home").get_data(as_text=True)
