"""Pages anyone may see."""

from __future__ import annotations

from flask import Blueprint, render_template

from voting.web.auth import current_user

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return render_template("public/landing.html", user=current_user())


@bp.get("/healthz")
def healthz() -> tuple[str, int, dict[str, str]]:
    """Liveness for load balancers; touches nothing, so it is also the load test's baseline."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
