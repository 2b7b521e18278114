"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from voting.config import database_url, instance_path, load_config, resolve_secrets
from voting.database import Database

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    folder = instance_path(settings)
    resolve_secrets(settings, folder)
    settings["DATABASE_URL"] = database_url(settings, folder)

    app = Flask(
        "voting",
        instance_path=str(folder),
        instance_relative_config=False,
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update({f"VOTING_{k}": v for k, v in settings.items()})
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        TESTING=bool(settings["TESTING"]),
        MAX_CONTENT_LENGTH=int(settings["MAX_UPLOAD_MB"]) * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["ENV"] == "production",
        WTF_CSRF_TIME_LIMIT=None,
    )
    Database(settings["DATABASE_URL"]).init_app(app)

    from voting.web import init_web

    init_web(app)

    from voting.dbcli import db_group

    app.cli.add_command(db_group)
    return app
