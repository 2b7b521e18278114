"""Known-answer vectors (data/vectors.json) against the library and docs/PROTOCOL.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crypto import merkle, pin
from crypto.canonical import canonical_bytes, parse_canonical
from crypto.certificates import issue_certificate, verify_certificate
from crypto.checkpoint import Checkpoint, NoteVerifier, open_checkpoint, sign_checkpoint
from crypto.keys import CardKey
from crypto.statements import sign_statement, verify_statement

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "vectors.json").read_text(encoding="utf-8")
)
PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"


@pytest.mark.parametrize("row", VECTORS["keys"], ids=lambda row: row["name"])
def test_vectors_seed_to_public_key_and_signature(row: dict[str, str]) -> None:
    key = CardKey(bytes.fromhex(row["seed"]))
    assert key.public_key.hex() == row["public_key"]
    assert key.public_key.key_id == row["key_id"]
    assert key.sign(b"").hex() == row["signature_of_empty_message"]
    key.public_key.verify(b"", bytes.fromhex(row["signature_of_empty_message"]))


def test_vectors_include_rfc8032_test_1() -> None:
    (row,) = [row for row in VECTORS["keys"] if row["name"] == "rfc8032-test-1"]
    assert row["public_key"] == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert row["signature_of_empty_message"] == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


@pytest.mark.parametrize("row", VECTORS["canonical"], ids=lambda row: row["name"])
def test_vectors_canonical_encoding(row: dict[str, Any]) -> None:
    expected = row["canonical"].encode("utf-8")
    assert canonical_bytes(row["value"]) == expected
    assert parse_canonical(expected) == row["value"]


@pytest.mark.parametrize("row", VECTORS["statements"], ids=lambda row: row["name"])
def test_vectors_signed_statement(row: dict[str, Any]) -> None:
    key = CardKey(bytes.fromhex(row["seed"]))
    data, signature = sign_statement(key, row["statement"])
    assert data.decode("utf-8") == row["data"]
    assert signature.hex() == row["signature"]
    statement = verify_statement(
        key.public_key, data, signature, expected_type=row["statement"]["type"]
    )
    assert statement == row["statement"]


def test_vectors_certificate() -> None:
    row = VECTORS["certificate"]
    issuer = CardKey(bytes.fromhex(row["issuer_seed"]))
    card = CardKey(bytes.fromhex(row["card_seed"]))
    data, signature = row["data"].encode("utf-8"), bytes.fromhex(row["signature"])
    at = datetime(2027, 1, 1, tzinfo=UTC)
    certificate = verify_certificate(issuer.public_key, data, signature, at=at)
    assert certificate.card_key == card.public_key
    assert certificate.fingerprint == row["fingerprint"]
    reissued = issue_certificate(
        issuer,
        card_number=certificate.card_number,
        holder_id=certificate.holder_id,
        area_code=certificate.area_code,
        card_key=certificate.card_key,
        not_before=certificate.not_before,
        not_after=certificate.not_after,
    )
    assert (reissued.data, reissued.signature) == (data, signature)
    ballot = next(row for row in VECTORS["statements"] if row["name"] == "ballot")
    assert ballot["statement"]["credential"] == certificate.fingerprint


def test_vectors_merkle() -> None:
    row = VECTORS["merkle"]
    leaves = [merkle.leaf_hash(bytes.fromhex(entry)) for entry in row["entries"]]
    assert [leaf.hex() for leaf in leaves] == row["leaf_hashes"]
    tree = merkle.MerkleTree(leaves)
    assert [tree.root(size).hex() for size in range(len(leaves) + 1)] == row["roots"]
    inclusion = row["inclusion"]
    proof = [bytes.fromhex(item) for item in inclusion["proof"]]
    assert tree.inclusion_proof(inclusion["index"], inclusion["size"]) == proof
    merkle.verify_inclusion(
        leaves[inclusion["index"]],
        inclusion["index"],
        inclusion["size"],
        proof,
        bytes.fromhex(row["roots"][inclusion["size"]]),
    )
    consistency = row["consistency"]
    proof = [bytes.fromhex(item) for item in consistency["proof"]]
    size1, size2 = consistency["size1"], consistency["size2"]
    assert tree.consistency_proof(size1, size2) == proof
    merkle.verify_consistency(
        size1, size2, bytes.fromhex(row["roots"][size1]), bytes.fromhex(row["roots"][size2]), proof
    )


def test_vectors_checkpoint() -> None:
    row = VECTORS["checkpoint"]
    key = CardKey(bytes.fromhex(row["seed"]))
    verifier = NoteVerifier.parse(row["verifier_key"])
    assert verifier.public_key == key.public_key
    root = bytes.fromhex(row["root"])
    note = sign_checkpoint(row["origin"], row["size"], root, row["origin"], key)
    assert note.decode("utf-8") == row["note"]
    assert open_checkpoint(note, [verifier], origin=row["origin"]) == Checkpoint(
        row["origin"], row["size"], root
    )


def test_vectors_pin_hash() -> None:
    row = VECTORS["pin"]
    assert (row["opslimit"], row["memlimit"]) == (pin.OPSLIMIT, pin.MEMLIMIT)
    assert pin.verify_pin(row["hash"], row["pin"]) is True
    assert pin.verify_pin(row["hash"], "654321") is False


def _documented_values(node: Any, key: str = "") -> Iterator[str]:
    """Every value a reader needs to check an implementation against, as it must be quoted."""
    if key in {"name", "value", "statement", "entries", "pin"}:
        return
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from _documented_values(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _documented_values(child, key)
    elif isinstance(node, str) and key == "canonical":
        yield node.encode("utf-8").hex()
    elif isinstance(node, str):
        yield from (line for line in node.split("\n") if line)


def test_vectors_are_quoted_in_protocol_document() -> None:
    document = PROTOCOL.read_text(encoding="utf-8")
    missing = [value for value in _documented_values(VECTORS) if value not in document]
    assert missing == []
