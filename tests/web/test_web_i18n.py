"""Languages: Chinese by default, English on request; catalogs complete and compiled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "voting" / "translations"
LOCALES = ("zh_CN", "en")
KEYWORDS = ("-k", "_l", "-k", "lazy_gettext")


def _read_po(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _po(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _ids(catalog: Catalog) -> set[Any]:
    return {message.id for message in catalog if message.id}


# --- the pages ---------------------------------------------------------------------------


def test_i18n_chinese_by_default(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "工作人员登录" in html
    assert "业主一卡通登录" in html
    assert ">English</a>" in html


def test_i18n_lang_argument_switches_and_is_remembered(client: Any) -> None:
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Staff login" in html
    assert "工作人员登录" not in html
    # Remembered for the next pages, without the argument.
    login_page = client.get("/login").get_data(as_text=True)
    assert "Username" in login_page
    assert ">中文</a>" in login_page


def test_i18n_switch_link_returns_to_the_page(client: Any) -> None:
    response = client.get("/language/en?next=/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "Password" in client.get("/login").get_data(as_text=True)
    client.get("/language/zh_CN?next=/")
    assert "密码" in client.get("/login").get_data(as_text=True)


def test_i18n_switch_link_in_header_drops_the_old_choice(client: Any) -> None:
    html = client.get("/login?lang=en&next=/home").get_data(as_text=True)
    link = html.split('class="lang-switch" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = client.get(link)
    assert response.headers["Location"] == "/login?next=%2Fhome"
    assert "密码" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil", "/\r\nSet-Cookie: x=1"]
)
def test_i18n_switch_refuses_foreign_next(client: Any, target: str) -> None:
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_i18n_unknown_language_is_ignored(client: Any) -> None:
    client.get("/language/fr?next=/")
    assert "工作人员登录" in client.get("/?lang=xx").get_data(as_text=True)


def test_i18n_choice_survives_login(client: Any, seeded: Any, login: Any) -> None:
    client.get("/?lang=en")
    login(client, "committee_admin")
    html = client.get("/home").get_data(as_text=True)
    assert "Owners&#39; committee" in html
    assert "Log out" in html


def test_i18n_home_in_chinese_names_roles_naturally(client: Any, seeded: Any, login: Any) -> None:
    expected = {
        "operator": "平台管理员",
        "committee_admin": "业主委员会",
        "residents_committee": "社区居委会",
        "street_office": "街道办事处",
        "observer": "观察员",
    }
    for username, label in expected.items():
        fresh = client.application.test_client()
        login(fresh, username)
        html = fresh.get("/home").get_data(as_text=True)
        assert f'<span class="user-role">{label}</span>' in html
        assert "退出登录" in html


# --- the catalogs ------------------------------------------------------------------------


def test_i18n_every_message_has_chinese() -> None:
    template = _read_po(TRANSLATIONS / "messages.pot")
    chinese = _read_po(_po("zh_CN"))
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = chinese.get(message.id)
        strings = translated.string if translated else None
        ok = all(strings) if isinstance(strings, tuple) else bool(strings)
        if not ok or (translated is not None and translated.fuzzy):
            missing.append(message.id)
    assert missing == [], "add the Chinese to zh_CN/LC_MESSAGES/messages.po"


@pytest.mark.parametrize("locale", LOCALES)
def test_i18n_catalog_has_the_template_messages(locale: str) -> None:
    template = _read_po(TRANSLATIONS / "messages.pot")
    assert _ids(_read_po(_po(locale))) == _ids(template), "run pybabel update"


def test_i18n_template_is_up_to_date_with_the_sources() -> None:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    method_map = [("voting/**.py", "python"), ("voting/web/templates/**.html", "jinja2")]
    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, keywords=keywords)
        if message[2]
    }
    template = {
        message_id if isinstance(message_id, str) else message_id[0]
        for message_id in _ids(_read_po(TRANSLATIONS / "messages.pot"))
    }
    assert sorted(found - template) == [], "run pybabel extract (see voting/web/i18n.py)"
    assert sorted(template - found) == [], "run pybabel extract (see voting/web/i18n.py)"


def _mo_messages(path: Path) -> dict[Any, Any]:
    def key(value: Any) -> Any:
        return tuple(value) if isinstance(value, list | tuple) else value

    with path.open("rb") as handle:
        return {key(m.id): key(m.string) for m in read_mo(handle) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_i18n_compiled_catalogs_are_up_to_date(locale: str, tmp_path: Path) -> None:
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as handle:
        write_mo(handle, _read_po(_po(locale)))  # what `pybabel compile` writes
    shipped = _po(locale).with_suffix(".mo")
    assert _mo_messages(shipped) == _mo_messages(fresh), (
        "run pybabel compile -d voting/translations"
    )
