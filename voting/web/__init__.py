"""Web layer: blueprints per audience; each handler loads, checks permission (through
`voting.web.auth.require`, which asks `voting.permissions`), calls a service and renders.

Pages extend `templates/base.html` (its blocks are documented at its top).
"""

from __future__ import annotations

import importlib
import importlib.util

from flask import Flask, get_flashed_messages

from voting.database import db_session

# Modules with a blueprint `bp`, registered in this order.
BLUEPRINTS: tuple[str, ...] = (
    "voting.web.public",
    "voting.web.auth",
    "voting.web.home",
    "voting.web.owner",
    "voting.web.admin_cards",
)
# Blueprints written alongside this shell: registered once their module exists.
OPTIONAL_BLUEPRINTS: tuple[str, ...] = (
    "voting.web.admin_roll",
    "voting.web.admin_meetings",  # rules of procedure, meetings, motions, lifecycle (staff)
    "voting.web.meetings",  # meeting pages, turnout, results, result notice PDF
    "voting.web.vote",  # the owner's voting pages and receipts
    "voting.web.proxies",  # proxy authorisations
    "voting.web.paper",  # paper ballot double entry
    "voting.web.api",  # JSON API /api/v1 and its OpenAPI document
    "voting.web.observer",  # log endpoints and the observer page
)


def init_web(app: Flask) -> None:
    from voting.web.auth import current_card, current_user
    from voting.web.errors import init_errors
    from voting.web.i18n import init_i18n
    from voting.web.security import init_security
    from voting.web.sessions import DatabaseSessionInterface

    app.session_interface = DatabaseSessionInterface()
    init_security(app)
    init_i18n(app)
    init_errors(app)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)
    for name in OPTIONAL_BLUEPRINTS:
        if importlib.util.find_spec(name) is not None:
            app.register_blueprint(importlib.import_module(name).bp)
    app.jinja_env.globals.update(
        current_user=current_user, current_card=current_card, flashed=get_flashed_messages
    )
    app.teardown_request(_end_transaction)


def _end_transaction(_exc: BaseException | None) -> None:
    """End the request's database transaction with the request (services commit their own
    work). The app context, and so the session, may outlive the request: under test, or
    when a command runs requests."""
    db_session().rollback()
