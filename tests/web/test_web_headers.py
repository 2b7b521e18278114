"""Security headers on every response, and templates that keep to the CSP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import voting.web

TEMPLATES = Path(voting.web.__file__).parent / "templates"

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CSP_DIRECTIVES = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
}


def _assert_security_headers(response: Any) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    directives = {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}
    assert directives >= CSP_DIRECTIVES
    assert not any("unsafe-inline" in part or "unsafe-eval" in part for part in directives)


@pytest.mark.parametrize("path", ["/", "/login", "/static/style.css", "/no-such-page"])
def test_headers_on_anonymous_responses(client: Any, path: str) -> None:
    _assert_security_headers(client.get(path))


def test_headers_on_logged_in_pages_and_redirects(client: Any, seeded: Any, login: Any) -> None:
    response = login(client, "committee_admin")
    assert response.status_code == 302
    _assert_security_headers(response)
    home = client.get("/home")
    _assert_security_headers(home)
    assert home.headers["Cache-Control"] == "no-store"


def test_headers_on_csrf_refusal(client: Any) -> None:
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    _assert_security_headers(response)


def test_headers_hsts_only_over_tls(client: Any) -> None:
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://voting.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    _assert_security_headers(secure)


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_headers_templates_keep_to_the_csp(template: Path) -> None:
    source = JINJA_COMMENT.sub("", template.read_text(encoding="utf-8"))
    for pattern in (INLINE_SCRIPT, INLINE_STYLE, EVENT_HANDLER, JAVASCRIPT_URL):
        assert not pattern.search(source), f"{template.name}: {pattern.pattern}"
