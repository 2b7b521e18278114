"""Log checkpoints (C2SP tlog-checkpoint) in the C2SP signed-note format, with Ed25519.

A checkpoint note looks like this (every line ends with "\\n")::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    [extension lines]
    <empty line>
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature over the body)>

Parsing is strict: one accepted text per checkpoint, so a checkpoint's bytes can be compared,
stored and published as evidence. Signatures by unknown keys are ignored (they may be
witnesses' cosignatures); a signature by a known key that fails is an error; a note with no
valid signature by a known key is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crypto.encoding import b64_decode_canonical, b64_encode, hex_decode
from crypto.errors import InvalidCheckpoint, InvalidKey, InvalidSignature, MalformedNote
from crypto.keys import SIGNATURE_SIZE, CardKey, PublicKey
from crypto.merkle import HASH_SIZE

#: Signature type byte of Ed25519 in the signed-note format.
ED25519_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "
#: Largest note accepted, and most signature lines; the spec asks for at least 16.
MAX_NOTE_SIZE = 64 * 1024
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


def _check_text(text: str, what: str) -> None:
    """Notes are UTF-8 without ASCII controls other than newline (signed-note §Format)."""
    if _CONTROL.search(text):
        raise MalformedNote(f"{what} contains a control character")


def _decode_text(data: bytes, what: str) -> str:
    """Decode note or checkpoint text: valid UTF-8, no controls, ending in a newline."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNote(f"{what} is not valid UTF-8") from exc
    _check_text(text, what)
    if not text.endswith("\n"):
        raise MalformedNote(f"{what} does not end with a newline")
    return text


def check_key_name(name: str) -> str:
    """Key names are non-empty and contain neither Unicode spaces nor "+"."""
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(char.isspace() for char in name)
        or _CONTROL.search(name)
    ):
        raise MalformedNote(f"key name {name!r} is empty or contains a space, '+' or a control")
    return name


def note_key_id(name: str, public_key: PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4], as signed-note recommends."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key.raw).digest()
    return digest[:4]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted signer of notes: key name and Ed25519 public key."""

    name: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def key_id(self) -> bytes:
        return note_key_id(self.name, self.public_key)

    def encode(self) -> str:
        """The verifier key string ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        return f"{self.name}+{self.key_id.hex()}+{b64_encode(ED25519_TYPE + self.public_key.raw)}"

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Parse a verifier key string; the key ID must match the name and key."""
        parts = text.split("+", 2) if isinstance(text, str) else []
        if len(parts) != 3:
            raise InvalidKey("verifier key must be <name>+<key ID>+<key>")
        name, key_id, encoded = parts
        try:
            check_key_name(name)
        except MalformedNote as exc:
            raise InvalidKey(str(exc)) from exc
        claimed = hex_decode(key_id, 4, "verifier key ID", InvalidKey)
        raw = b64_decode_canonical(encoded, "verifier key", InvalidKey)
        if raw[:1] != ED25519_TYPE:
            raise InvalidKey("verifier key is not an Ed25519 (type 0x01) key")
        verifier = cls(name, PublicKey(raw[1:]))
        if verifier.key_id != claimed:
            raise InvalidKey("verifier key ID does not match its name and key")
        return verifier


def sign_note(text: str, signer_name: str, key: CardKey) -> bytes:
    """Sign note text (non-empty, ending in newline) and return the complete note."""
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    _check_text(text, "note text")
    verifier = NoteVerifier(signer_name, key.public_key)
    body = text.encode("utf-8")
    signature = b64_encode(verifier.key_id + key.sign(body))
    return body + f"\n{SIGNATURE_PREFIX}{signer_name} {signature}\n".encode()


def open_note(note: bytes, verifiers: Iterable[NoteVerifier]) -> bytes:
    """Return the text of ``note`` once a known key's signature over it has verified."""
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for trusted in verifiers:
        if known.setdefault((trusted.name, trusted.key_id), trusted) != trusted:
            raise InvalidKey(f"two verifier keys share name {trusted.name} and key ID")
    if not isinstance(note, bytes) or len(note) > MAX_NOTE_SIZE:
        raise MalformedNote(f"a note is bytes of at most {MAX_NOTE_SIZE}")
    text = _decode_text(note, "note")
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no empty line before its signatures")
    body, lines = text[: split + 1].encode("utf-8"), text[split + 2 :].split("\n")[:-1]
    if not lines:
        raise MalformedNote("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has more than {MAX_SIGNATURES} signatures")
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNote("signature line does not start with an em dash and a space")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        check_key_name(name)
        signature = b64_decode_canonical(encoded, "note signature", MalformedNote)
        if len(signature) < 5:
            raise MalformedNote("note signature is shorter than a key ID and one byte")
        verifier = known.get((name, signature[:4]))
        if verifier is None:
            continue
        if len(signature) != 4 + SIGNATURE_SIZE:
            raise InvalidSignature(f"signature by {name} has the wrong length")
        try:
            verifier.public_key.verify(body, signature[4:])
        except InvalidSignature as exc:
            raise InvalidSignature(f"signature by {name} does not verify") from exc
        verified = True
    if not verified:
        raise InvalidSignature("note carries no signature by a known key")
    return body


@dataclass(frozen=True)
class Checkpoint:
    """The signed head of a log: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for line in (self.origin, *self.extensions):
            if not isinstance(line, str) or not line or "\n" in line:
                raise MalformedNote("checkpoint lines must be non-empty single lines")
            _check_text(line, "checkpoint line")
        if not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedNote(f"tree size must be an integer in [0, {MAX_TREE_SIZE}]")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedNote(f"root hash must be {HASH_SIZE} bytes")

    def body(self) -> str:
        """The note text: the lines that the log's signature covers."""
        lines = [self.origin, str(self.size), b64_encode(self.root_hash), *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint_body(body: bytes) -> Checkpoint:
    """Parse checkpoint note text strictly; ``Checkpoint(...).body()`` gives back ``body``."""
    text = _decode_text(body, "checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedNote("checkpoint needs origin, tree size and root hash lines")
    origin, size, root, *extensions = lines
    if not _TREE_SIZE.fullmatch(size) or int(size) > MAX_TREE_SIZE:
        raise MalformedNote(f"tree size {size!r} is not a decimal without sign or leading zero")
    root_hash = b64_decode_canonical(root, "root hash", MalformedNote)
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(
    origin: str,
    size: int,
    root: bytes,
    signer_name: str,
    signing_key: CardKey,
    extensions: Sequence[str] = (),
) -> bytes:
    """The signed checkpoint note for a tree head."""
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    return sign_note(checkpoint.body(), signer_name, signing_key)


def open_checkpoint(note: bytes, verifiers: Iterable[NoteVerifier], *, origin: str) -> Checkpoint:
    """Verify a checkpoint note and check that it belongs to the log named ``origin``.

    The origin is required so that a checkpoint of one property area's log can never be
    presented as the head of another's.
    """
    checkpoint = parse_checkpoint_body(open_note(note, verifiers))
    if checkpoint.origin != origin:
        raise InvalidCheckpoint(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
