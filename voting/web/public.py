"""Pages anyone may see."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return "业主共同决定事项公共决策平台"
