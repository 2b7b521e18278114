"""Staff login and logout, and the helpers every handler uses to know who is asking.

    current_user() -> User | None        the logged-in, active staff user
    current_card() -> Card | None        the owner's active card, for an owner's session
    @login_required                      anonymous → redirect to the login page
    @card_required                       no owner logged in → redirect to the card login page
    require(action, area=None)           anonymous → login page; not allowed → 403

A session is either a staff login or an owner's card login: staff pages see no user in an
owner's session and owner pages see no card in a staff session.

Handlers follow: load → `require(...)` (rules live in `voting.permissions` only) → call a
service → render.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from voting.database import db_session
from voting.models import Card, CardStatus, PropertyArea, User
from voting.permissions import Action, can
from voting.services.logins import FAILURE_WINDOW, staff_login
from voting.web.i18n import safe_next

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

bp = Blueprint("auth", __name__)

_NO_USER = object()
_USER_ATTRIBUTE = "_voting_user"
_CARD_ATTRIBUTE = "_voting_card"


def current_user() -> User | None:
    """The staff user of this request's session, if logged in and still active."""
    return _cached(_USER_ATTRIBUTE, _load_user)


def _cached(attribute: str, load: Callable[[], T]) -> T:
    # Cached on the request (not `g`, which may outlive it when an app context is reused).
    cached: object = getattr(request, attribute, _NO_USER)
    if cached is not _NO_USER:
        return cast(T, cached)
    value = load()
    setattr(request, attribute, value)
    return value


def _load_user() -> User | None:
    user_id = getattr(session, "user_id", None)
    user = None if user_id is None else db_session().get(User, user_id)
    return user if user is not None and user.active else None


def current_card() -> Card | None:
    """The owner's card of this request's session, if logged in with a card still active.

    Revoking a card deletes its sessions; the status check also covers a login that was
    being stored while the card was revoked.
    """
    return _cached(_CARD_ATTRIBUTE, _load_card)


def _load_card() -> Card | None:
    card_id = getattr(session, "card_id", None)
    card = None if card_id is None else db_session().get(Card, card_id)
    return card if card is not None and card.status is CardStatus.active else None


def _remember_user(user: User | None) -> None:
    setattr(request, _USER_ATTRIBUTE, user)


def session_restarted(user: User | None = None, card: Card | None = None) -> None:
    """Call after `session.log_in…`/`log_out`: forget what this request cached of the old
    session's login."""
    _remember_user(user)
    setattr(request, _CARD_ATTRIBUTE, card)
    # Flask-WTF caches the form token of the old session in `g`: forget it.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _login_redirect() -> Response:
    here = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect(url_for("auth.login", next=here))


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Send anonymous visitors to the login page, then back here."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_user() is None:
            return _login_redirect()
        return view(*args, **kwargs)

    return wrapper


def card_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Send visitors without an owner's card login to the card login page."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if current_card() is None:
            return redirect(url_for("owner.card"))
        return view(*args, **kwargs)

    return wrapper


def require(action: Action, area: PropertyArea | None = None) -> None:
    """Stop the request unless the current user may do `action` (in `area`)."""
    user = current_user()
    if user is None:
        abort(_login_redirect())
    if not can(user, action, area):
        abort(403)


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField(
        _l("Username"),
        validators=[DataRequired(message=_l("Please enter your username.")), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Log in"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    target = safe_next(request.args.get("next"), default=url_for("home.index"))
    if current_user() is not None:
        return redirect(target)
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    result = staff_login(db_session(), form.username.data, form.password.data)
    if result.throttled:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        message = _(
            "Too many failed attempts for this username. Please try again in %(minutes)d minutes.",
            minutes=minutes,
        )
        return render_template("auth/login.html", form=form, error=message), 429
    if result.user is None:
        message = _("Incorrect username or password.")
        return render_template("auth/login.html", form=form, error=message)
    session.log_in(result.user.id)  # type: ignore[attr-defined]
    session_restarted(user=result.user)
    return redirect(target)


@bp.post("/logout")
def logout() -> Response:
    session.log_out()  # type: ignore[attr-defined]
    session_restarted()
    flash(_("You have logged out."), "info")
    return redirect(url_for("public.index"))
