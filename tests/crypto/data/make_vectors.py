"""Write the known-answer vectors in vectors.json (run from the repository root).

    python tests/crypto/data/make_vectors.py

Every input is fixed, so the output never changes unless the protocol does; the tests check
the library against the file and docs/PROTOCOL.md quotes the same values. Two groups come from
outside this project: RFC 8032 §7.1 TEST 1 (Ed25519) and the RFC 6962 reference leaves, whose
tree root appears in the shared Merkle vectors too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.bindings

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from crypto import merkle, pin  # noqa: E402
from crypto.canonical import JSONValue, canonical_bytes  # noqa: E402
from crypto.certificates import issue_certificate  # noqa: E402
from crypto.checkpoint import NoteVerifier, sign_checkpoint  # noqa: E402
from crypto.keys import CardKey  # noqa: E402
from crypto.statements import sign_statement  # noqa: E402

OUTPUT = Path(__file__).with_name("vectors.json")

CARD_SEED = bytes(range(0x00, 0x20))
ISSUER_SEED = bytes(range(0x20, 0x40))
LOG_SEED = bytes(range(0x40, 0x60))
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")

# RFC 8785 §3.2.3 sorting example (keys only), §3.2.2.2 string example, plus our own cases.
CANONICAL_CASES: list[tuple[str, JSONValue]] = [
    (
        "rfc8785-sorting",
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        },
    ),
    ("rfc8785-string", {"string": '\u20ac$\u000f\nA\'B"\\\\"/'}),
    ("rfc8785-literals", {"literals": [None, True, False]}),
    (
        "escapes",
        {"s": "\u0000\u0008\u0009\u000a\u000c\u000d\u001f\u007f\u2028\u2029/<>&\u00e9\u4e1a"},
    ),
    ("integers", {"max": 2**53 - 1, "min": -(2**53 - 1), "zero": 0, "area": "89.50"}),
    ("nested", {"b": [{"z": 1, "a": []}, {}], "a": {"y": None, "x": "\u4e1a\u4e3b"}}),
]

TIME = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
PIN_SALT = bytes(range(16))
PIN_VALUE = "123456"
RFC6962_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def _keys() -> list[dict[str, str]]:
    rows = []
    for name, seed in [
        ("card", CARD_SEED),
        ("issuer", ISSUER_SEED),
        ("log", LOG_SEED),
        ("rfc8032-test-1", RFC8032_SEED),
    ]:
        key = CardKey(seed)
        rows.append(
            {
                "name": name,
                "seed": seed.hex(),
                "public_key": key.public_key.hex(),
                "key_id": key.public_key.key_id,
                "signature_of_empty_message": key.sign(b"").hex(),
            }
        )
    return rows


def _certificate_and_statements() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    card, issuer = CardKey(CARD_SEED), CardKey(ISSUER_SEED)
    certificate = issue_certificate(
        issuer,
        card_number="C-000001",
        holder_id="h-7f3a9c21",
        area_code="110101-001",
        card_key=card.public_key,
        not_before=TIME,
        not_after=TIME.replace(year=2027),
    )
    certificate_row = {
        "issuer_seed": ISSUER_SEED.hex(),
        "card_seed": CARD_SEED.hex(),
        "data": _text(certificate.data),
        "signature": certificate.signature.hex(),
        "fingerprint": certificate.fingerprint,
    }
    ballot: dict[str, JSONValue] = {
        "type": "ballot",
        "platform": "vote.example.org",
        "area": "110101-001",
        "meeting": "2026-01",
        "motion": "2026-01-03",
        "roll": hashlib.sha256(b"roll snapshot").hexdigest(),
        "voter": "h-7f3a9c21",
        "credential": certificate.fingerprint,
        "choice": "yes",
        "nonce": bytes(range(16)).hex(),
        "time": "2026-11-25T09:30:00Z",
    }
    login: dict[str, JSONValue] = {
        "type": "login",
        "platform": "vote.example.org",
        "card_number": "C-000001",
        "nonce": bytes(range(16, 32)).hex(),
        "time": "2026-11-25T09:29:40Z",
    }
    statements = []
    for name, statement in [("ballot", ballot), ("login", login)]:
        data, signature = sign_statement(card, statement)
        statements.append(
            {
                "name": name,
                "seed": CARD_SEED.hex(),
                "statement": statement,
                "data": _text(data),
                "signature": signature.hex(),
            }
        )
    return certificate_row, statements


def _merkle() -> dict[str, Any]:
    leaves = [merkle.leaf_hash(bytes.fromhex(entry)) for entry in RFC6962_LEAVES]
    tree = merkle.MerkleTree(leaves)
    return {
        "entries": RFC6962_LEAVES,
        "leaf_hashes": [leaf.hex() for leaf in leaves],
        "roots": [tree.root(size).hex() for size in range(len(leaves) + 1)],
        "inclusion": {
            "index": 5,
            "size": 8,
            "proof": [item.hex() for item in tree.inclusion_proof(5, 8)],
        },
        "consistency": {
            "size1": 3,
            "size2": 7,
            "proof": [item.hex() for item in tree.consistency_proof(3, 7)],
        },
    }


def _checkpoint() -> dict[str, Any]:
    key = CardKey(LOG_SEED)
    origin = "vote.example.org/log/110101-001"
    leaves = [merkle.leaf_hash(bytes.fromhex(entry)) for entry in RFC6962_LEAVES]
    root = merkle.root_hash(leaves)
    note = sign_checkpoint(origin, len(leaves), root, origin, key)
    return {
        "seed": LOG_SEED.hex(),
        "origin": origin,
        "size": len(leaves),
        "root": root.hex(),
        "verifier_key": NoteVerifier(origin, key.public_key).encode(),
        "note": _text(note),
    }


def _pin() -> dict[str, Any]:
    raw = nacl.bindings.crypto_pwhash_alg(
        32,
        PIN_VALUE.encode("ascii"),
        PIN_SALT,
        pin.OPSLIMIT,
        pin.MEMLIMIT,
        nacl.bindings.crypto_pwhash_ALG_ARGON2ID13,
    )

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii").rstrip("=")

    return {
        "pin": PIN_VALUE,
        "salt": PIN_SALT.hex(),
        "opslimit": pin.OPSLIMIT,
        "memlimit": pin.MEMLIMIT,
        "hash": (
            f"$argon2id$v=19$m={pin.MEMLIMIT // 1024},t={pin.OPSLIMIT},p=1"
            f"${b64(PIN_SALT)}${b64(raw)}"
        ),
    }


def build() -> dict[str, Any]:
    certificate, statements = _certificate_and_statements()
    return {
        "keys": _keys(),
        "canonical": [
            {"name": name, "value": value, "canonical": _text(canonical_bytes(value))}
            for name, value in CANONICAL_CASES
        ],
        "statements": statements,
        "certificate": certificate,
        "merkle": _merkle(),
        "checkpoint": _checkpoint(),
        "pin": _pin(),
    }


if __name__ == "__main__":
    OUTPUT.write_text(json.dumps(build(), indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")
