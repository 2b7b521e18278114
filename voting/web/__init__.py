"""Web layer: blueprints per audience; each handler loads, checks permission, calls a
service and renders."""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    from voting.web.public import bp as public_bp

    app.register_blueprint(public_bp)
