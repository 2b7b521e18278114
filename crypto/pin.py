"""PINs (6 digits) and PUKs (8 digits): generation, format checks and argon2id hashing.

A PIN has only 10**6 values, so its hash protects it only together with the online retry
counter; argon2id makes each guess against a stolen hash cost the figures below. The hash
string is the standard PHC/libsodium form "$argon2id$v=19$m=2048,t=2,p=1$<salt>$<hash>" with
a random 16-byte salt per hash.
"""

from __future__ import annotations

import re
import secrets

import nacl.exceptions
import nacl.pwhash.argon2id

from crypto.errors import InvalidPinFormat, InvalidPinHash

PIN_LENGTH = 6
PUK_LENGTH = 8
#: argon2id passes over memory. A PIN is the second factor: nobody gets to try one without
#: first proving possession of the card (a signature with its key), and the online retry
#: counter locks the card after five wrong PINs. A 6-digit PIN has only 10^6 values, so no
#: hash cost could protect a stolen hash anyway; the cost is set so that issuing a district's
#: cards stays fast (about 1.4 ms per hash on one core, bench_crypto.py).
OPSLIMIT = 2
#: argon2id memory in bytes (2 MiB).
MEMLIMIT = 2 * 1024 * 1024
#: Limits on parameters accepted from a stored hash, so a corrupt row cannot exhaust memory.
MAX_OPSLIMIT = 10
MAX_MEMLIMIT = 1024 * 1024 * 1024

_HASH = re.compile(
    r"\$argon2id\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=1"
    r"\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}"
)


def _check_digits(code: str, length: int, what: str) -> str:
    if not isinstance(code, str) or not re.fullmatch(f"[0-9]{{{length}}}", code):
        raise InvalidPinFormat(f"{what} must be exactly {length} digits 0-9")
    return code


def check_pin_format(pin: str) -> str:
    """Return ``pin`` if it is 6 ASCII digits; raise ``InvalidPinFormat`` otherwise."""
    return _check_digits(pin, PIN_LENGTH, "PIN")


def check_puk_format(puk: str) -> str:
    """Return ``puk`` if it is 8 ASCII digits; raise ``InvalidPinFormat`` otherwise."""
    return _check_digits(puk, PUK_LENGTH, "PUK")


def _random_digits(length: int) -> str:
    return f"{secrets.randbelow(10**length):0{length}d}"


def generate_pin() -> str:
    """A uniformly random 6-digit PIN (leading zeros included)."""
    return _random_digits(PIN_LENGTH)


def generate_puk() -> str:
    """A uniformly random 8-digit PUK (leading zeros included)."""
    return _random_digits(PUK_LENGTH)


def _hash(code: str) -> str:
    digest = nacl.pwhash.argon2id.str(code.encode("ascii"), opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    return digest.decode("ascii")


def _parameters(stored: str) -> tuple[int, int]:
    """(opslimit, memlimit in bytes) of a stored hash; refuses anything but our hash form."""
    match = _HASH.fullmatch(stored) if isinstance(stored, str) else None
    if match is None:
        raise InvalidPinHash("stored PIN hash is not an argon2id v19 hash string")
    memory_kib, passes = int(match.group(1)), int(match.group(2))
    if passes > MAX_OPSLIMIT or memory_kib * 1024 > MAX_MEMLIMIT:
        raise InvalidPinHash("stored PIN hash asks for more work than this module allows")
    return passes, memory_kib * 1024


def _verify(stored: str, code: str, length: int) -> bool:
    _parameters(stored)
    try:
        _check_digits(code, length, "code")
        return nacl.pwhash.argon2id.verify(stored.encode("ascii"), code.encode("ascii"))
    except (InvalidPinFormat, nacl.exceptions.InvalidkeyError):
        return False
    except nacl.exceptions.CryptoError as exc:
        raise InvalidPinHash(f"stored PIN hash could not be checked: {exc}") from exc


def hash_pin(pin: str) -> str:
    """argon2id hash string of a 6-digit PIN, for storage."""
    return _hash(check_pin_format(pin))


def hash_puk(puk: str) -> str:
    """argon2id hash string of an 8-digit PUK, for storage."""
    return _hash(check_puk_format(puk))


def verify_pin(stored: str, pin: str) -> bool:
    """True if ``pin`` matches; False for a wrong or malformed PIN. A bad hash raises."""
    return _verify(stored, pin, PIN_LENGTH)


def verify_puk(stored: str, puk: str) -> bool:
    """True if ``puk`` matches; False for a wrong or malformed PUK. A bad hash raises."""
    return _verify(stored, puk, PUK_LENGTH)


def needs_rehash(stored: str) -> bool:
    """True if a valid stored hash uses other parameters than the current constants."""
    return _parameters(stored) != (OPSLIMIT, MEMLIMIT)
