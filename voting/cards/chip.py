"""Chip owner cards used through PKCS#11: the Ed25519 key is generated on the card and never
leaves it.

A chip card replaces the printed card's seed with a key pair generated on the token
(``CKM_EC_EDWARDS_KEY_PAIR_GEN``); the private key is sensitive and not extractable, so the
only things that ever come out of the card are the 32-byte public key and EdDSA signatures
(``CKM_EDDSA``, pure Ed25519). The server verifies chip ballots exactly as it verifies
software cards: with ``nacl.signing.VerifyKey(public_key).verify(message, signature)``.

The user PIN given to ``ChipToken`` is the token's own PIN, which unlocks the key. Tokens
differ in what they do after wrong PINs: SoftHSM2 never locks, real cards usually lock after a
few tries. The platform's online PIN counter (``crypto.pin``) is the guard that holds for
every kind of card; a token that reports itself locked raises ``ChipPinLocked``.

PKCS#11 logs in per application, not per session: keep one open ``ChipToken`` per token in a
process (opening a second one raises ``ChipError``), and close it when done.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Self

import pkcs11
import pkcs11.exceptions as p11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass

__all__ = [
    "ED25519_NAME_PARAMS",
    "ED25519_OID_PARAMS",
    "SOFTHSM2_MODULE",
    "ChipError",
    "ChipKeyExists",
    "ChipKeyNotFound",
    "ChipModuleError",
    "ChipPinLocked",
    "ChipToken",
    "ChipTokenNotFound",
    "ChipWrongPin",
    "raw_public_key",
]

#: Debian's softhsm2 package puts its module here.
SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

#: CKA_EC_PARAMS for Ed25519 (PKCS#11 3.0, section 2.3.10): the DER of the object identifier
#: id-Ed25519, 1.3.101.112 (RFC 8410) ...
ED25519_OID_PARAMS = bytes.fromhex("06032b6570")
#: ... or the DER of the printable string "edwards25519". SoftHSM2 2.6 accepts both.
ED25519_NAME_PARAMS = b"\x13\x0c" + b"edwards25519"

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class ChipError(Exception):
    """A chip card operation failed; the message says what and on which token or key."""


class ChipModuleError(ChipError):
    """The PKCS#11 module could not be loaded."""


class ChipTokenNotFound(ChipError):
    """No token (or more than one) carries the requested label."""


class ChipWrongPin(ChipError):
    """The token refused the user PIN."""


class ChipPinLocked(ChipError):
    """The token has locked its user PIN after too many wrong tries."""


class ChipKeyNotFound(ChipError):
    """The token holds no key pair with the requested label."""


class ChipKeyExists(ChipError):
    """The token already holds a key with the requested label."""


def raw_public_key(ec_point: bytes) -> bytes:
    """The 32 raw Ed25519 public key bytes from a CKA_EC_POINT value.

    PKCS#11 3.0 wants the point wrapped in a DER OCTET STRING (``04 20`` + 32 bytes), which is
    what SoftHSM2 returns; some tokens return the bare 32 bytes. Both are accepted, nothing
    else.
    """
    if len(ec_point) == PUBLIC_KEY_SIZE:
        return bytes(ec_point)
    if len(ec_point) == PUBLIC_KEY_SIZE + 2 and ec_point[:2] == b"\x04\x20":
        return bytes(ec_point[2:])
    raise ChipError(f"unexpected CKA_EC_POINT for an Ed25519 key: {ec_point.hex()}")


class ChipToken:
    """An open, logged-in session on one PKCS#11 token, found by its label.

    Use as a context manager, or call ``close()``::

        with ChipToken(SOFTHSM2_MODULE, "card-0001", pin) as token:
            public_key = token.generate_card_key("owner-card")
            signature = token.sign("owner-card", message)

    ``ec_params`` is the CKA_EC_PARAMS used for new keys (the OID form by default; use
    ``ED25519_NAME_PARAMS`` for a token that only knows the curve's name).
    """

    def __init__(
        self,
        module_path: str | os.PathLike[str],
        token_label: str,
        user_pin: str,
        *,
        ec_params: bytes = ED25519_OID_PARAMS,
    ) -> None:
        self.token_label = token_label
        self.ec_params = ec_params
        module = os.fspath(module_path)
        try:
            library = pkcs11.lib(module)
        except p11.PKCS11Error as exc:
            raise ChipModuleError(f"cannot load PKCS#11 module {module}: {exc}") from exc
        try:
            token = library.get_token(token_label=token_label)
        except p11.NoSuchToken as exc:
            raise ChipTokenNotFound(f"no token labelled {token_label!r} in {module}") from exc
        except p11.MultipleTokensReturned as exc:
            raise ChipTokenNotFound(
                f"more than one token labelled {token_label!r} in {module}"
            ) from exc
        except p11.PKCS11Error as exc:
            raise ChipError(f"cannot list the tokens of {module}: {_describe(exc)}") from exc
        try:
            self._session: pkcs11.Session | None = token.open(rw=True, user_pin=user_pin)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
            raise ChipWrongPin(f"wrong PIN for token {token_label!r}") from exc
        except p11.PinLocked as exc:
            raise ChipPinLocked(f"the PIN of token {token_label!r} is locked") from exc
        except (p11.UserAlreadyLoggedIn, p11.AnotherUserAlreadyLoggedIn) as exc:
            raise ChipError(
                f"token {token_label!r} is already open in this process; close it first"
            ) from exc
        except p11.PKCS11Error as exc:
            raise ChipError(f"cannot log in to token {token_label!r}: {_describe(exc)}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out and close the session (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except p11.PKCS11Error as exc:
                raise ChipError(
                    f"cannot close the session on token {self.token_label!r}: {_describe(exc)}"
                ) from exc

    @property
    def session(self) -> pkcs11.Session:
        if self._session is None:
            raise ChipError(f"the session on token {self.token_label!r} is closed")
        return self._session

    def _objects(self, object_class: ObjectClass, label: str) -> list[Any]:
        return list(
            self.session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label})
        )

    def _find(self, object_class: ObjectClass, label: str) -> Any:
        objects = self._objects(object_class, label)
        if not objects:
            kind = "private" if object_class == ObjectClass.PRIVATE_KEY else "public"
            raise ChipKeyNotFound(f"no {kind} key labelled {label!r} on token {self.token_label!r}")
        if len(objects) > 1:
            raise ChipError(f"more than one key labelled {label!r} on token {self.token_label!r}")
        return objects[0]

    def _exists(self, label: str) -> bool:
        return any(
            self._objects(object_class, label)
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
        )

    def generate_card_key(self, label: str) -> bytes:
        """Generate an Ed25519 key pair on the token under ``label``; return the public key.

        The private key is created sensitive, not extractable and for signing only; it stays
        on the token for good (CKA_TOKEN). A label already in use raises ``ChipKeyExists``.
        """
        try:
            if self._exists(label):
                raise ChipKeyExists(
                    f"token {self.token_label!r} already has a key labelled {label!r}"
                )
            key_id = label.encode("utf-8")
            public, _private = self.session.generate_keypair(
                KeyType.EC_EDWARDS,
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
                label=label,
                id=key_id,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={
                    Attribute.EC_PARAMS: self.ec_params,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.VERIFY: True,
                },
                private_template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.DECRYPT: False,
                    Attribute.UNWRAP: False,
                    Attribute.DERIVE: False,
                },
            )
            return raw_public_key(public[Attribute.EC_POINT])
        except p11.PKCS11Error as exc:
            raise ChipError(
                f"cannot generate an Ed25519 key {label!r} on token {self.token_label!r}: "
                f"{_describe(exc)}"
            ) from exc

    def public_key(self, label: str) -> bytes:
        """The 32-byte Ed25519 public key stored under ``label``."""
        try:
            public = self._find(ObjectClass.PUBLIC_KEY, label)
            return raw_public_key(public[Attribute.EC_POINT])
        except p11.PKCS11Error as exc:
            raise ChipError(
                f"cannot read public key {label!r} on token {self.token_label!r}: {_describe(exc)}"
            ) from exc

    def sign(self, label: str, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` by the key ``label`` (CKM_EDDSA)."""
        try:
            private = self._find(ObjectClass.PRIVATE_KEY, label)
            signature = private.sign(message, mechanism=Mechanism.EDDSA)
        except p11.PKCS11Error as exc:
            raise ChipError(
                f"cannot sign with key {label!r} on token {self.token_label!r}: {_describe(exc)}"
            ) from exc
        if len(signature) != SIGNATURE_SIZE:
            raise ChipError(
                f"token {self.token_label!r} returned a {len(signature)}-byte signature"
            )
        return bytes(signature)


def _describe(exc: BaseException) -> str:
    """The PKCS#11 error's name, with its message when it has one."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
