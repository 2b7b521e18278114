"""Checkpoints in the C2SP signed-note format: round trip, keys and strict parsing."""

from __future__ import annotations

import base64

import pytest

from crypto.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    NoteVerifier,
    note_key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    sign_checkpoint,
    sign_note,
)
from crypto.errors import InvalidCheckpoint, InvalidKey, InvalidSignature, MalformedNote
from crypto.keys import CardKey

ORIGIN = "vote.example.org/log/110101-001"
KEY = CardKey(bytes(range(0x40, 0x60)))
VERIFIER = NoteVerifier(ORIGIN, KEY.public_key)
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()


def _note(body: str, key: CardKey = KEY, name: str = ORIGIN) -> bytes:
    """A note over ``body`` with a valid signature, so only the parser can refuse it."""
    return sign_note(body, name, key)


def test_checkpoint_round_trip() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    body = f"{ORIGIN}\n8\n{ROOT_B64}\n".encode()
    assert note.startswith(body + "\n\u2014 ".encode())
    checkpoint = open_checkpoint(note, [VERIFIER], origin=ORIGIN)
    assert checkpoint == Checkpoint(ORIGIN, 8, ROOT)
    assert checkpoint.body().encode() == body


def test_checkpoint_round_trip_with_extensions_and_zero_size() -> None:
    note = sign_checkpoint(ORIGIN, 0, ROOT, ORIGIN, KEY, extensions=["ext one", "ext\u00e9"])
    checkpoint = open_checkpoint(note, [VERIFIER], origin=ORIGIN)
    assert checkpoint.size == 0
    assert checkpoint.extensions == ("ext one", "ext\u00e9")


def test_checkpoint_signature_line_layout() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    line = note.decode().split("\n")[-2]
    prefix, name, encoded = line.split(" ")
    assert prefix == "\u2014" and name == ORIGIN
    raw = base64.b64decode(encoded)
    assert len(raw) == 68 and raw[:4] == note_key_id(ORIGIN, KEY.public_key)
    KEY.public_key.verify(note[: note.index(b"\n\n") + 1], raw[4:])


def test_checkpoint_verifier_key_round_trip() -> None:
    text = VERIFIER.encode()
    name, key_id, key = text.split("+")
    assert name == ORIGIN and key_id == VERIFIER.key_id.hex()
    assert base64.b64decode(key) == b"\x01" + KEY.public_key.raw
    assert NoteVerifier.parse(text) == VERIFIER


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("+", "+0", 1),  # key ID too long
        lambda t: t.replace(t.split("+")[1], "00000000"),  # wrong key ID
        lambda t: t.replace(t.split("+")[1], t.split("+")[1].upper()),
        lambda t: t.replace("+AS", "+AC"),  # type byte 0x02
        lambda t: t[:-1] + ("e" if t[-1] != "e" else "f"),  # non-canonical base64 / other key
        lambda t: "a b" + t[t.index("+") :],  # space in the name
        lambda t: t.split("+", 1)[1],  # no name
        lambda t: t + "+x",
    ],
)
def test_checkpoint_verifier_key_rejects_malformed(mutate: object) -> None:
    with pytest.raises(InvalidKey):
        NoteVerifier.parse(mutate(VERIFIER.encode()))  # type: ignore[operator]


def test_checkpoint_unknown_signatures_are_ignored() -> None:
    other = CardKey(bytes(32))
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    cosigned = (
        note + _note(f"{ORIGIN}\n8\n{ROOT_B64}\n", other, "witness.example").split(b"\n\n")[1]
    )
    assert open_checkpoint(cosigned, [VERIFIER], origin=ORIGIN).size == 8
    # Same name, other key (so another key ID): unknown, ignored.
    impostor = _note(f"{ORIGIN}\n8\n{ROOT_B64}\n", other).split(b"\n\n")[1]
    assert open_checkpoint(note + impostor, [VERIFIER], origin=ORIGIN).size == 8


def test_checkpoint_rejects_note_signed_only_by_unknown_keys() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, CardKey(bytes(32)))
    with pytest.raises(InvalidSignature, match="no signature by a known key"):
        open_checkpoint(note, [VERIFIER], origin=ORIGIN)


def test_checkpoint_rejects_failing_signature_by_known_key() -> None:
    good = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    body, signature_line = good.split(b"\n\n")
    prefix, encoded = signature_line.rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    broken = prefix + b" " + base64.b64encode(bytes(raw)) + b"\n"
    with pytest.raises(InvalidSignature, match="does not verify"):
        open_checkpoint(body + b"\n\n" + broken, [VERIFIER], origin=ORIGIN)
    # A failing known signature is an error even beside a valid one.
    with pytest.raises(InvalidSignature, match="does not verify"):
        open_checkpoint(good + broken, [VERIFIER], origin=ORIGIN)


def test_checkpoint_rejects_truncated_signature_by_known_key() -> None:
    body = f"{ORIGIN}\n8\n{ROOT_B64}\n"
    raw = VERIFIER.key_id + KEY.sign(body.encode())[:60]
    note = f"{body}\n\u2014 {ORIGIN} {base64.b64encode(raw).decode()}\n".encode()
    with pytest.raises(InvalidSignature, match="wrong length"):
        open_checkpoint(note, [VERIFIER], origin=ORIGIN)


def test_checkpoint_rejects_changed_body() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    with pytest.raises(InvalidSignature):
        open_checkpoint(note.replace(b"\n8\n", b"\n9\n"), [VERIFIER], origin=ORIGIN)


def test_checkpoint_rejects_other_origin() -> None:
    other = "vote.example.org/log/110101-002"
    note = sign_checkpoint(other, 8, ROOT, ORIGIN, KEY)
    with pytest.raises(InvalidCheckpoint, match=r"not 'vote\.example\.org/log/110101-001'"):
        open_checkpoint(note, [VERIFIER], origin=ORIGIN)


def test_checkpoint_rejects_ambiguous_verifier_set() -> None:
    note = sign_checkpoint(ORIGIN, 8, ROOT, ORIGIN, KEY)
    assert open_note(note, [VERIFIER, VERIFIER])  # the same key twice is harmless

    class Colliding(NoteVerifier):
        """Another key whose ID collides with VERIFIER's: must not be resolved silently."""

        @property
        def key_id(self) -> bytes:
            return VERIFIER.key_id

    with pytest.raises(InvalidKey, match="share name"):
        open_note(note, [VERIFIER, Colliding(ORIGIN, CardKey(bytes(32)).public_key)])


SIGNED_BODY = f"{ORIGIN}\n8\n{ROOT_B64}\n"
URLSAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()
SHORT_ROOT = base64.b64encode(bytes(31)).decode()


@pytest.mark.parametrize(
    ("note", "message"),
    [
        pytest.param(_note(SIGNED_BODY).replace("\u2014".encode(), b"-"), "em dash", id="hyphen"),
        pytest.param(
            _note(SIGNED_BODY).replace("\u2014".encode(), b"--"), "em dash", id="double-hyphen"
        ),
        pytest.param(
            _note(SIGNED_BODY).replace("\u2014".encode(), "\u2013".encode()),
            "em dash",
            id="en-dash",
        ),
        pytest.param(
            _note(SIGNED_BODY).replace("\u2014 ".encode(), "\u2014".encode()),
            "em dash",
            id="no-space-after-dash",
        ),
        pytest.param(_note(SIGNED_BODY).replace(b"\n", b"\r\n"), "control", id="crlf"),
        pytest.param(_note(SIGNED_BODY)[:-1], "end with a newline", id="no-final-newline"),
        pytest.param(_note(SIGNED_BODY).replace(b"\n\n", b"\n"), "empty line", id="no-empty-line"),
        pytest.param(SIGNED_BODY.encode() + b"\n", "no signature lines", id="no-signature"),
        pytest.param(_note(SIGNED_BODY)[:-2] + b"\n", "base64", id="unpadded-base64"),
        pytest.param(
            _note(SIGNED_BODY).replace(f" {ORIGIN} ".encode(), b" a+b "),
            "key name",
            id="plus-in-name",
        ),
        pytest.param(
            _note(SIGNED_BODY).replace(f" {ORIGIN} ".encode(), b"  "), "key name", id="empty-name"
        ),
        pytest.param(
            _note(SIGNED_BODY) + "\u2014 x AAAA\n".encode(), "shorter", id="short-signature"
        ),
        pytest.param(_note(SIGNED_BODY) + b"\xff\n", "UTF-8", id="invalid-utf8"),
        pytest.param(_note(SIGNED_BODY) * 1000, "at most", id="oversized"),
    ],
)
def test_checkpoint_note_strict_parse_rejects(note: bytes, message: str) -> None:
    with pytest.raises(MalformedNote, match=message):
        open_checkpoint(note, [VERIFIER], origin=ORIGIN)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(f"{ORIGIN}\n08\n{ROOT_B64}\n", "leading zero", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n+8\n{ROOT_B64}\n", "sign", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n-8\n{ROOT_B64}\n", "sign", id="minus-sign"),
        pytest.param(f"{ORIGIN}\n 8\n{ROOT_B64}\n", "tree size", id="leading-space"),
        pytest.param(f"{ORIGIN}\n8 \n{ROOT_B64}\n", "tree size", id="trailing-space"),
        pytest.param(f"{ORIGIN}\n\n8\n{ROOT_B64}\n", "tree size", id="empty-line-before-size"),
        pytest.param(
            f"{ORIGIN}\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n", "tree size", id="size-too-large"
        ),
        pytest.param(f"{ORIGIN}\n\u0668\n{ROOT_B64}\n", "tree size", id="non-ascii-digit"),
        pytest.param(f"{ORIGIN}\n8\n{ROOT_B64[:-1]}\n", "base64", id="truncated-root"),
        pytest.param(
            f"{ORIGIN}\n8\n{ROOT_B64[:-2]}9=\n", "canonical base64", id="non-canonical-root"
        ),
        pytest.param(f"{ORIGIN}\n8\n{URLSAFE_ROOT}\n", "base64", id="urlsafe-root"),
        pytest.param(f"{ORIGIN}\n8\n{SHORT_ROOT}\n", "32 bytes", id="short-root"),
        pytest.param(f"{ORIGIN}\n8\n", "origin, tree size and root", id="missing-root"),
        pytest.param(f"\n8\n{ROOT_B64}\n", "non-empty", id="empty-origin"),
        pytest.param(f"{ORIGIN}\n8\n{ROOT_B64}\n\n", "non-empty", id="empty-extension"),
        pytest.param(
            f"{ORIGIN}\n8\n{ROOT_B64}\next\n\n", "non-empty", id="trailing-empty-extension"
        ),
        pytest.param(f"{ORIGIN}\t\n8\n{ROOT_B64}\n", "control", id="tab"),
        pytest.param(f"{ORIGIN}\x00\n8\n{ROOT_B64}\n", "control", id="nul"),
    ],
)
def test_checkpoint_body_strict_parse_rejects(body: str, message: str) -> None:
    with pytest.raises(MalformedNote, match=message):
        parse_checkpoint_body(body.encode())
    if "\t" not in body and "\x00" not in body:
        # The same body under a valid signature is refused by the checkpoint parser as well.
        with pytest.raises(MalformedNote, match=message):
            open_checkpoint(_note(body), [VERIFIER], origin=ORIGIN)


def test_checkpoint_body_rejects_missing_final_newline() -> None:
    with pytest.raises(MalformedNote, match="newline"):
        parse_checkpoint_body(f"{ORIGIN}\n8\n{ROOT_B64}".encode())


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 8, ROOT),
        ("a\nb", 8, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, MAX_TREE_SIZE + 1, ROOT),
        (ORIGIN, 8, ROOT[:31]),
    ],
)
def test_checkpoint_sign_refuses_invalid_head(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(MalformedNote):
        sign_checkpoint(origin, size, root, ORIGIN, KEY)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\tb"])
def test_checkpoint_sign_refuses_invalid_key_name(name: str) -> None:
    with pytest.raises(MalformedNote, match="key name"):
        sign_checkpoint(ORIGIN, 8, ROOT, name, KEY)
