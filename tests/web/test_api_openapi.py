"""The OpenAPI document describes exactly the registered /api/v1 routes and methods, and
its references resolve."""

from __future__ import annotations

import re
from typing import Any

from voting.web import api, openapi

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_IGNORED = {"HEAD", "OPTIONS"}


def _routes(app: Any) -> dict[str, set[str]]:
    """Registered /api/v1 rules as OpenAPI paths → methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(api.API_PREFIX):
            path = _CONVERTER.sub(r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(set(rule.methods or ()) - _IGNORED)
    return routes


_METHODS = {"get", "put", "post", "delete", "patch"}


def _documented(document: dict[str, Any]) -> dict[str, set[str]]:
    return {
        path: {method.upper() for method in item if method in _METHODS}
        for path, item in document["paths"].items()
    }


def test_api_openapi_matches_the_routes(client: Any, app: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert _documented(document) == _routes(app)


def test_api_openapi_lists_this_modules_paths() -> None:
    paths = openapi.document()["paths"]
    for path in (
        "/api/v1/meetings",
        "/api/v1/meetings/{meeting_id}",
        "/api/v1/meetings/{meeting_id}/challenge",
        "/api/v1/ballots",
        "/api/v1/receipts/{ballot_hash}",
        "/api/v1/meetings/{meeting_id}/turnout",
        "/api/v1/meetings/{meeting_id}/results",
        "/api/v1/openapi.json",
    ):
        assert path in paths


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def test_api_openapi_references_resolve() -> None:
    document = openapi.document()
    for ref in _refs(document):
        assert ref.startswith("#/")
        node: Any = document
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


def test_api_openapi_operations_have_responses_and_path_parameters() -> None:
    for path, item in openapi.document()["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            assert operation.get("responses"), (path, method)
            declared = {
                p["name"]
                for p in operation.get("parameters", []) + item.get("parameters", [])
                if isinstance(p, dict) and p.get("in") == "path"
            }
            assert declared == names, (path, method)


def test_api_openapi_merges_contributed_paths(monkeypatch: Any) -> None:
    import types

    fake = types.ModuleType("voting.web.fake_contributor")
    fake.OPENAPI_PATHS = {  # type: ignore[attr-defined]
        "/api/v1/extra": {"get": {"responses": {"200": {"description": "ok"}}}},
        "/api/v1/ballots": {"delete": {"responses": {"204": {"description": "gone"}}}},
    }
    monkeypatch.setitem(__import__("sys").modules, "voting.web.fake_contributor", fake)
    monkeypatch.setattr(openapi, "CONTRIBUTORS", ("voting.web.fake_contributor",))
    monkeypatch.setattr(openapi.importlib.util, "find_spec", lambda name: object())
    paths = openapi.document()["paths"]
    assert "/api/v1/extra" in paths
    assert set(paths["/api/v1/ballots"]) == {"post", "delete"}
