"""The log endpoints (public JSON) and the observer page: proofs that verify against signed
checkpoints, strict parameters with 4xx messages, nodes built lazily, OpenAPI fragments."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from logkit import grow, leaves
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.checkpoint import NoteVerifier, open_checkpoint
from crypto.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from voting.models import Checkpoint, LogNode
from voting.services.logtree import stored_size
from voting.web import observer

JSON = {"Content-Type": "application/json"}


def _api(seeded: Any, path: str) -> str:
    return f"/api/v1/areas/{seeded.area.code}/log/{path}"


def _sign(client: Any, seeded: Any) -> dict[str, Any]:
    response = client.post(_api(seeded, "checkpoint"), data="{}", headers=JSON)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _open(client: Any, seeded: Any, body: dict[str, Any]) -> Any:
    key = client.get(_api(seeded, "key")).get_json()
    verifier = NoteVerifier.parse(key["key"])
    return open_checkpoint(body["note"].encode(), [verifier], origin=key["origin"])


def test_observer_key_is_public_and_matches_the_log_key(client: Any, seeded: Any) -> None:
    response = client.get(_api(seeded, "key"))
    assert response.status_code == 200
    body = response.get_json()
    verifier = NoteVerifier.parse(body["key"])
    assert verifier.name == body["name"] == "voting.example"
    assert verifier.public_key.hex() == body["public_key"]
    assert verifier.key_id.hex() == body["key_id"]
    assert body["origin"] == f"voting.example/log/{seeded.area.code}"


def test_observer_checkpoint_post_signs_without_csrf_token(
    client: Any, seeded: Any, store: Session
) -> None:
    grow(store, seeded.area, 5)
    assert client.get(_api(seeded, "checkpoint")).status_code == 404
    body = _sign(client, seeded)
    checkpoint = _open(client, seeded, body)
    assert checkpoint.size == body["size"] == 5
    assert checkpoint.root_hash.hex() == body["root"]
    assert checkpoint.root_hash == MerkleTree(leaves(store, seeded.area)).root()
    latest = client.get(_api(seeded, "checkpoint"))
    assert latest.status_code == 200 and latest.get_json() == body
    assert latest.headers["Cache-Control"] == "no-store"
    # Asked again at once: the same checkpoint, nothing new stored.
    grow(store, seeded.area, 1)
    assert _sign(client, seeded) == body
    assert store.scalar(select(func.count()).select_from(Checkpoint)) == 1


@pytest.mark.parametrize(
    ("data", "headers", "status", "reason"),
    [
        ("{}", {"Content-Type": "application/x-www-form-urlencoded"}, 415, None),
        ("", {}, 415, None),
        ("[1]", JSON, 400, "invalid_body"),
        ('{"size": 3}', JSON, 400, "invalid_body"),
        ("{", JSON, 400, "invalid_body"),
        ("x" * 2000, JSON, 413, "too_large"),
    ],
)
def test_observer_checkpoint_post_refusals(
    client: Any,
    seeded: Any,
    store: Session,
    data: str,
    headers: dict[str, str],
    status: int,
    reason: str | None,
) -> None:
    response = client.post(_api(seeded, "checkpoint"), data=data, headers=headers)
    assert response.status_code == status
    body = response.get_json()
    assert body["message"]
    assert reason is None or body["error"] == reason
    assert store.scalar(select(func.count()).select_from(Checkpoint)) == 0


def test_observer_proofs_verify_against_checkpoints(
    client: Any, seeded: Any, store: Session
) -> None:
    grow(store, seeded.area, 6)
    old = _open(client, seeded, _sign(client, seeded))
    grow(store, seeded.area, 17)
    new = _checkpoint_after_a_second(client, seeded, store)
    proof = client.get(_api(seeded, f"consistency?from={old.size}&to={new.size}")).get_json()
    assert (proof["from"], proof["to"]) == (6, 23)
    verify_consistency(
        6, 23, old.root_hash, new.root_hash, [bytes.fromhex(p) for p in proof["proof"]]
    )
    same = client.get(_api(seeded, "consistency?from=23&to=23")).get_json()
    assert same["proof"] == []
    hashes = leaves(store, seeded.area)
    for query in (f"index=4&size={new.size}", f"leaf={hashes[4].hex()}&size={new.size}"):
        answer = client.get(_api(seeded, f"inclusion?{query}")).get_json()
        assert answer["index"] == 4 and answer["leaf"] == hashes[4].hex()
        verify_inclusion(
            hashes[4], 4, new.size, [bytes.fromhex(p) for p in answer["proof"]], new.root_hash
        )
    upper = client.get(_api(seeded, f"inclusion?leaf={hashes[4].hex().upper()}&size=5"))
    assert upper.status_code == 200 and upper.get_json()["index"] == 4


def _checkpoint_after_a_second(client: Any, seeded: Any, store: Session) -> Any:
    """A new checkpoint although the last one is younger than a second: backdate it."""
    from voting.models import utcnow

    store.execute(Checkpoint.__table__.update().values(created_at=utcnow().replace(year=2000)))
    store.commit()
    return _open(client, seeded, _sign(client, seeded))


def test_observer_nodes_are_built_lazily(client: Any, seeded: Any, store: Session) -> None:
    area = seeded.area
    grow(store, area, 40)
    assert store.scalar(select(func.count()).select_from(LogNode)) == 0  # not on append
    assert client.get(_api(seeded, "consistency?from=3&to=20")).status_code == 200
    store.rollback()  # a fresh snapshot
    assert stored_size(store, area) == 40  # brought up to the whole log
    grow(store, area, 10)
    assert client.get(_api(seeded, "inclusion?index=1&size=40")).status_code == 200
    store.rollback()
    assert stored_size(store, area) == 40  # covered: nothing written
    assert client.get(_api(seeded, "inclusion?index=1&size=50")).status_code == 200
    store.rollback()
    assert stored_size(store, area) == 50


def test_observer_entries_in_pages(
    client: Any, seeded: Any, store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert observer.MAX_ENTRIES == 1000
    monkeypatch.setattr(observer, "MAX_ENTRIES", 4)
    grow(store, seeded.area, 10)
    first = client.get(_api(seeded, "entries?start=0")).get_json()
    assert (first["start"], first["end"], first["size"]) == (0, 4, 10)
    assert [item["index"] for item in first["entries"]] == [0, 1, 2, 3]
    for item in first["entries"]:
        assert leaf_hash(base64.b64decode(item["entry"])).hex() == item["leaf"]
    assert first["next"] == f"/api/v1/areas/{seeded.area.code}/log/entries?start=4&end=10"
    cut = client.get(_api(seeded, "entries?start=2&end=10")).get_json()
    assert (cut["end"], len(cut["entries"])) == (6, 4)
    assert cut["next"].endswith("entries?start=6&end=10")
    last = client.get(_api(seeded, "entries?start=8&end=10")).get_json()
    assert len(last["entries"]) == 2 and last["next"] is None
    assert client.get(_api(seeded, "entries?start=10")).get_json()["entries"] == []


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("consistency?from=1", "missing_parameter"),
        ("consistency?from=0&to=3", "empty_tree"),
        ("consistency?from=4&to=3", "from_after_to"),
        ("consistency?from=1&to=9", "beyond_log"),
        ("consistency?from=-1&to=3", "bad_number"),
        ("consistency?from=1.0&to=3", "bad_number"),
        ("consistency?from=%201&to=3", "bad_number"),
        ("consistency?from=1&to=99999999999999999999", "beyond_log"),
        ("inclusion?size=3", "missing_parameter"),
        ("inclusion?index=1", "missing_parameter"),
        ("inclusion?index=3&size=3", "index_beyond_size"),
        ("inclusion?index=0&size=0", "index_beyond_size"),
        ("inclusion?index=1&size=4", "beyond_log"),
        ("inclusion?leaf=abc&size=3", "bad_leaf"),
        (f"inclusion?leaf={'00' * 32}&index=1&size=3", "leaf_or_index"),
        ("entries", "missing_parameter"),
        ("entries?start=4", "beyond_log"),
        ("entries?start=0&end=4", "beyond_log"),
        ("entries?start=2&end=1", "bad_range"),
        ("entries?start=x", "bad_number"),
    ],
)
def test_observer_bad_parameters(
    client: Any, seeded: Any, store: Session, path: str, reason: str
) -> None:
    grow(store, seeded.area, 3)
    response = client.get(_api(seeded, path))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == reason and body["message"]


def test_observer_unknown_leaf_and_area(client: Any, seeded: Any, store: Session) -> None:
    grow(store, seeded.area, 3)
    unknown = client.get(_api(seeded, f"inclusion?leaf={'00' * 32}&size=3"))
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_leaf"
    later = leaves(store, seeded.area)[2].hex()
    assert client.get(_api(seeded, f"inclusion?leaf={later}&size=2")).status_code == 404
    for path in ("checkpoint", "key", "consistency?from=1&to=1", "inclusion?index=0&size=1"):
        response = client.get(f"/api/v1/areas/NO-SUCH/log/{path}")
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"
    response = client.post("/api/v1/areas/NO-SUCH/log/checkpoint", data="{}", headers=JSON)
    assert response.status_code == 404


def test_observer_openapi_paths_match_the_routes(app: Any) -> None:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("observer.") and rule.rule.startswith("/api/v1/"):
            path = rule.rule.replace("<code>", "{code}")
            routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    documented = {
        path: {method.upper() for method in item if method != "parameters"}
        for path, item in observer.OPENAPI_PATHS.items()
    }
    assert routes == documented
    for item in observer.OPENAPI_PATHS.values():
        for method, operation in item.items():
            if method != "parameters":
                assert operation["security"] == [] and "200" in operation["responses"]


def test_observer_page_shows_checkpoint_and_key(
    client: Any, seeded: Any, store: Session, login: Any
) -> None:
    grow(store, seeded.area, 7)
    body = _sign(client, seeded)
    assert login(client, "observer").status_code == 302
    page = client.get(f"/observer/{seeded.area.code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert body["root"] in html and body["key"] in html
    assert 'id="observer"' in html and "js/observer.js" in html
    assert f'data-api="/api/v1/areas/{seeded.area.code}/log"' in html
    home = client.get("/observer/")
    assert home.status_code == 302
    assert home.headers["Location"].endswith(f"/observer/{seeded.area.code}")
