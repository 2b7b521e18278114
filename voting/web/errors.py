"""Error pages in the user's language, never with a stack trace; JSON for API clients."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from voting.database import db_session

log = logging.getLogger(__name__)

# Code → (title, explanation).
MESSAGES = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Please go back and try again."),
    ),
    403: (_l("Access denied"), _l("Your account is not allowed to open this page.")),
    404: (_l("Page not found"), _l("The page does not exist or has been moved.")),
    405: (_l("Method not allowed"), _l("This page cannot be used this way.")),
    413: (_l("File too large"), _l("The upload is larger than the limit of %(limit)d MB.")),
    429: (_l("Too many requests"), _l("Too many requests. Please wait a moment and try again.")),
    500: (_l("Server error"), _l("Something went wrong on our side. Please try again later.")),
}
CSRF_MESSAGE = _l(
    "This form has expired or is missing its security code. Please go back, reload the page "
    "and submit it again."
)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _message(code: int) -> tuple[str, str]:
    title, text = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    if code == 413:
        limit = int(current_app.config["VOTING_MAX_UPLOAD_MB"])
        return str(title), str(text) % {"limit": limit}
    return str(title), str(text)


def render_error(code: int, text: str | None = None) -> tuple[Response | str, int]:
    title, default_text = _message(code)
    text = text or default_text
    if wants_json():
        return jsonify(error=text), code
    return render_template("errors/error.html", code=code, title=title, text=text), code


def _http_error(error: HTTPException) -> tuple[Response | str, int]:
    return render_error(error.code or 500)


def _csrf_error(_error: CSRFError) -> tuple[Response | str, int]:
    return render_error(400, str(CSRF_MESSAGE))


def _server_error(_error: InternalServerError) -> tuple[Response | str, int]:
    # Flask has logged the exception; the request's transaction is of no further use.
    try:
        db_session().rollback()
        return render_error(500)
    except Exception:  # the database itself may be what failed: answer without it
        log.exception("the error page could not be rendered")
        title, text = _message(500)
        if wants_json():
            return jsonify(error=text), 500
        return Response(f"{title}\n\n{text}\n", mimetype="text/plain"), 500


def init_errors(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(InternalServerError, _server_error)
