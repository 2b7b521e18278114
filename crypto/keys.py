"""Ed25519 keys: a 32-byte seed gives a key pair (RFC 8032).

Owner cards, the credential issuer and the log's checkpoint signer all use the same primitive, so
one ``CardKey`` class serves them all. Public keys are validated once, when a ``PublicKey`` is
built: wrong lengths, non-canonical encodings, small-order and mixed-order points are refused,
so a verifier never accepts a key for which many messages would "verify".
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing

from crypto.encoding import hex_decode
from crypto.errors import InsecureKeyFile, InvalidKey, InvalidSignature

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
#: Order of the Ed25519 base point; a signature's scalar S must be below it (RFC 8032 §5.1.7).
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493

_NACL_ERRORS = (nacl.exceptions.CryptoError, ValueError, TypeError)


def new_seed() -> bytes:
    """A fresh card seed from the operating system's CSPRNG."""
    return os.urandom(SEED_SIZE)


def check_signature_encoding(signature: bytes) -> None:
    """Refuse signatures that are not 64 bytes or whose S is not reduced modulo the group order.

    libsodium refuses S >= L as well; checking here makes the rule explicit and independent of
    the library version.
    """
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature(f"signature must be {SIGNATURE_SIZE} bytes")
    if int.from_bytes(signature[32:], "little") >= GROUP_ORDER:
        raise InvalidSignature("non-canonical signature: S is not below the group order")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A validated Ed25519 public key (32 bytes, prime-order subgroup, canonical encoding)."""

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_SIZE:
            raise InvalidKey(f"public key must be {PUBLIC_KEY_SIZE} bytes")
        # libsodium: canonical y, on the curve, not of small order, in the prime-order subgroup.
        if not nacl.bindings.crypto_core_ed25519_is_valid_point(self.raw):
            raise InvalidKey("public key is not a valid prime-order Ed25519 point")

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """Parse the 64-lowercase-hex-digit form used in statements and certificates."""
        return cls(hex_decode(text, PUBLIC_KEY_SIZE, "public key", InvalidKey))

    def hex(self) -> str:
        return self.raw.hex()

    @property
    def key_id(self) -> str:
        """Short name of the key for statements: first 8 bytes of SHA-256(key), in hex."""
        return hashlib.sha256(self.raw).digest()[:8].hex()

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise ``InvalidSignature`` unless ``signature`` is this key's over ``message``."""
        check_signature_encoding(signature)
        try:
            nacl.signing.VerifyKey(self.raw).verify(message, signature)
        except _NACL_ERRORS as exc:
            raise InvalidSignature("signature does not verify") from exc


class CardKey:
    """An Ed25519 key pair derived from a 32-byte seed.

    The seed is the whole secret: it is what a printed card's QR code carries and what the
    issuer and log key files hold.
    """

    __slots__ = ("_seed", "_signing_key", "public_key")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InvalidKey(f"seed must be {SEED_SIZE} bytes")
        self._seed = seed
        self._signing_key = nacl.signing.SigningKey(seed)
        self.public_key = PublicKey(self._signing_key.verify_key.encode())

    @classmethod
    def generate(cls) -> CardKey:
        return cls(new_seed())

    @property
    def seed(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self._signing_key.sign(message).signature

    def __repr__(self) -> str:
        return f"CardKey(public_key={self.public_key.hex()})"


def load_seed_file(path: str | os.PathLike[str]) -> CardKey:
    """Load a key from a file holding exactly the 32 raw seed bytes.

    The file must be a regular file that neither group nor others can access: a seed that others
    could read cannot be trusted to be secret.
    """
    name = os.fspath(path)
    with open(name, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InsecureKeyFile(f"{name} is not a regular file")
        if info.st_mode & 0o077:
            raise InsecureKeyFile(
                f"{name} has mode {stat.S_IMODE(info.st_mode):04o}; "
                "a key file must be 0600 or stricter"
            )
        data = file.read(SEED_SIZE + 1)
    if len(data) != SEED_SIZE:
        raise InvalidKey(f"{name} must hold exactly {SEED_SIZE} bytes")
    return CardKey(data)


def load_or_create_seed_file(path: str | os.PathLike[str]) -> CardKey:
    """Load the key at ``path``, or create it with a fresh seed and mode 0600.

    The seed is written to a temporary file opened with ``O_CREAT | O_EXCL`` and mode 0600, made
    durable, then hard-linked into place. The link fails if the name exists, so the key file
    never appears half written and a concurrent creator can never be overwritten: the loser of a
    race loads the winner's key.
    """
    target = os.fspath(path)
    try:
        return load_seed_file(target)
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(target))
    temporary = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(8)}.tmp")
    key = CardKey.generate()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            if os.write(fd, key.seed) != SEED_SIZE:
                raise OSError(f"short write to {temporary}")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, target)
        except FileExistsError:
            return load_seed_file(target)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        os.unlink(temporary)
    return key
