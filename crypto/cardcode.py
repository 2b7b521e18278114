"""What a printed owner card carries: its number, a typeable backup code, and the QR payload.

The card's 32-byte seed is derived from the backup code (HKDF-SHA-256 with the card number as
context), so an owner who cannot scan the QR code can type the card number and the code
instead and the browser derives the very same key. The code has 100 random bits, enough
that no stretching is needed. The QR payload carries the seed itself, in the URL fragment,
which browsers never send to a server.
"""

from __future__ import annotations

import base64
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import InvalidCardCode

#: Crockford's base32 alphabet: no I, L, O or U, so a typed code is hard to get wrong.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 20  # 100 bits
GROUP = 4
SEED_SALT = b"owner-card-seed/v1"
QR_VERSION = "1"
_CARD_NUMBER = re.compile(r"[A-Z0-9]{1,16}-[0-9]{6}")
_TYPO = str.maketrans({"I": "1", "L": "1", "O": "0"})


def check_card_number(number: str) -> str:
    """Card numbers are the area code, a hyphen and six digits ("NHXY-000123")."""
    if not isinstance(number, str) or not _CARD_NUMBER.fullmatch(number):
        raise InvalidCardCode("a card number is the area code, a hyphen and six digits")
    return number


def new_backup_code() -> str:
    """A fresh code, grouped for printing: "7K3Q-9D2M-..." (five groups of four)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalize_backup_code(text: str) -> str:
    """Upper-case, drop spaces and hyphens, read I/L as 1 and O as 0; refuse anything else."""
    cleaned = re.sub(r"[\s-]", "", text).upper().translate(_TYPO)
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        raise InvalidCardCode(f"a backup code has {CODE_LENGTH} letters and digits")
    return cleaned


def seed_from_backup_code(card_number: str, code: str) -> bytes:
    """HKDF-SHA-256(ikm = normalised code, salt = SEED_SALT, info = card number) → 32 bytes."""
    check_card_number(card_number)
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=SEED_SALT, info=card_number.encode("ascii")
    )
    return hkdf.derive(normalize_backup_code(code).encode("ascii"))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def qr_fragment(card_number: str, seed: bytes) -> str:
    """ "1.<card number>.<base64url seed, unpadded>": goes after the '#' of the card URL."""
    check_card_number(card_number)
    if len(seed) != 32:
        raise InvalidCardCode("a card seed has 32 bytes")
    return f"{QR_VERSION}.{card_number}.{_b64url(seed)}"


def parse_qr_fragment(fragment: str) -> tuple[str, bytes]:
    """The card number and seed of a QR fragment; anything not canonical is refused."""
    parts = fragment.split(".")
    if len(parts) != 3 or parts[0] != QR_VERSION:
        raise InvalidCardCode("not an owner card link")
    number, encoded = check_card_number(parts[1]), parts[2]
    if len(encoded) != 43 or not re.fullmatch(r"[A-Za-z0-9_-]+", encoded):
        raise InvalidCardCode("the card link is damaged")
    seed = base64.urlsafe_b64decode(encoded + "=")
    if _b64url(seed) != encoded:
        raise InvalidCardCode("the card link is damaged")
    return number, seed
