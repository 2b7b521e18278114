r"""Languages: Chinese (zh_CN) by default, English on request.

The choice comes from `?lang=` on any page (and is then remembered in the session), or from
the session; the header links to `/language/<code>` to switch. Source strings are English;
the Chinese lives in `voting/translations/zh_CN/LC_MESSAGES/messages.po`.

Catalog upkeep (from the repository root):

    pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
        -o voting/translations/messages.pot .
    pybabel update -i voting/translations/messages.pot -d voting/translations \
        --ignore-obsolete --no-fuzzy-matching
    # translate the new entries in zh_CN/LC_MESSAGES/messages.po, then:
    pybabel compile -d voting/translations

`tests/web/test_web_i18n.py` fails while a string lacks its Chinese or a .mo is stale.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from babel.support import NullTranslations, Translations
from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from flask_babel import Babel, Domain, format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from voting.config import DEFAULTS
from voting.models import Role

# Code → the language's own name, shown on the switch link (never translated).
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}

ROLE_LABELS = {
    Role.operator: _l("Platform operator"),
    Role.committee_admin: _l("Owners' committee"),
    Role.residents_committee: _l("Residents' committee"),
    Role.street_office: _l("Street office"),
    Role.observer: _l("Observer"),
}

_DEFAULT_PLATFORM_NAME = _l("Public decision platform for owners' common matters")

bp = Blueprint("i18n", __name__)


class CatalogDomain(Domain):  # type: ignore[misc]
    """Finds the `zh_CN` catalog although Babel names that locale `zh_Hans_CN`.

    Catalogs are looked up as language_SCRIPT_TERRITORY, language_TERRITORY, language.
    """

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        if locale is None:
            return NullTranslations()
        key = str(locale)
        if key not in self.cache:
            names = [key]
            if locale.territory:
                names.append(f"{locale.language}_{locale.territory}")
            names.append(locale.language)
            (directory,) = self.translation_directories
            self.cache[key] = Translations.load(directory, names, self.domain[0])
        return self.cache[key]  # type: ignore[no-any-return]


def _default_locale() -> str:
    return str(current_app.config["VOTING_BABEL_DEFAULT_LOCALE"])


def select_locale() -> str:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    remembered = session.get("lang")
    if remembered in LANGUAGES:
        return str(remembered)
    return _default_locale()


def _remember_lang_argument() -> None:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and session.get("lang") != chosen:
        session["lang"] = chosen


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(char) < 32 for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@bp.get("/language/<code>")
def switch(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


def language_links() -> list[tuple[str, str, str]]:
    """(code, name, url) of the languages other than the current one."""
    current = select_locale()
    here = request.path
    if request.method == "GET":
        query = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        if query:
            here += "?" + urlencode(query)
    return [
        (code, name, url_for("i18n.switch", code=code, next=here))
        for code, name in LANGUAGES.items()
        if code != current
    ]


def html_lang() -> str:
    locale = get_locale()
    if locale is None or not locale.territory:
        return str(locale or "zh-CN")
    return f"{locale.language}-{locale.territory}"


def platform_name() -> str:
    """The configured platform name; the default one is translated."""
    configured = str(current_app.config["VOTING_PLATFORM_NAME"])
    if configured == DEFAULTS["PLATFORM_NAME"]:
        return str(_DEFAULT_PLATFORM_NAME)
    return configured


def role_label(role: Role | str) -> str:
    return str(ROLE_LABELS[Role(role)])


def format_area(centi: int) -> str:
    """Hundredths of a square metre as an exact decimal with two places: 12,345.67."""
    return str(format_decimal(Decimal(centi).scaleb(-2), format="#,##0.00"))


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["VOTING_BABEL_DEFAULT_LOCALE"])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = CatalogDomain()
    app.before_request(_remember_lang_argument)
    app.register_blueprint(bp)
    app.jinja_env.filters["area"] = format_area
    app.jinja_env.globals.update(
        language_links=language_links,
        html_lang=html_lang,
        platform_name=platform_name,
        role_label=role_label,
    )
