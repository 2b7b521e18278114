"""Pages anyone may see."""

from __future__ import annotations

from flask import Blueprint, render_template

from voting.web.auth import current_user

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/landing.html", user=current_user())
