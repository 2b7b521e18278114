"""Chip cards through PKCS#11, against a real SoftHSM2 token (see conftest.py)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import nacl.exceptions
import nacl.signing
import pytest
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11.exceptions import AttributeReadOnly, AttributeSensitive

from crypto.errors import InvalidSignature
from crypto.keys import PublicKey
from voting.cards.chip import (
    ED25519_NAME_PARAMS,
    ED25519_OID_PARAMS,
    ChipError,
    ChipKeyExists,
    ChipKeyNotFound,
    ChipModuleError,
    ChipToken,
    ChipTokenNotFound,
    ChipWrongPin,
    raw_public_key,
)

if TYPE_CHECKING:
    from tests.cards.conftest import SoftHsm

MESSAGE = b'{"ballot":"yes","card":"NHXY-000123"}'


def _label() -> str:
    return f"card-{uuid.uuid4().hex[:12]}"


def _open(hsm: SoftHsm, ec_params: bytes = ED25519_OID_PARAMS) -> ChipToken:
    return ChipToken(hsm.module, hsm.token_label, hsm.user_pin, ec_params=ec_params)


def test_softhsm_is_2_6_with_ed25519(softhsm: SoftHsm) -> None:
    assert softhsm.version >= (2, 6), softhsm.version
    with _open(softhsm) as token:
        mechanisms = token.session.token.slot.get_mechanisms()
    assert Mechanism.EC_EDWARDS_KEY_PAIR_GEN in mechanisms
    assert Mechanism.EDDSA in mechanisms


@pytest.mark.parametrize(
    "ec_params", [ED25519_OID_PARAMS, ED25519_NAME_PARAMS], ids=["oid", "name"]
)
def test_generated_key_signs_and_pynacl_verifies(softhsm: SoftHsm, ec_params: bytes) -> None:
    label = _label()
    with _open(softhsm, ec_params=ec_params) as token:
        public = token.generate_card_key(label)
        signature = token.sign(label, MESSAGE)
        assert token.public_key(label) == public
        # Ed25519 is deterministic (RFC 8032): the token must agree with itself.
        assert token.sign(label, MESSAGE) == signature

    assert len(public) == 32
    assert len(signature) == 64
    # The server's verification, exactly as for software cards.
    nacl.signing.VerifyKey(public).verify(MESSAGE, signature)
    PublicKey(public).verify(MESSAGE, signature)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(public).verify(MESSAGE + b" ", signature)
    with pytest.raises(InvalidSignature):
        PublicKey(public).verify(MESSAGE, bytes([signature[0] ^ 1]) + signature[1:])


def test_key_stays_on_the_token_across_sessions(softhsm: SoftHsm) -> None:
    label = _label()
    with _open(softhsm) as token:
        public = token.generate_card_key(label)
    with _open(softhsm) as token:
        assert token.public_key(label) == public
        signature = token.sign(label, b"later")
    nacl.signing.VerifyKey(public).verify(b"later", signature)


def test_private_key_never_leaves_the_token(softhsm: SoftHsm) -> None:
    label = _label()
    with _open(softhsm) as token:
        token.generate_card_key(label)
        (private,) = token.session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
        )
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.LOCAL] is True  # generated on the token, not imported
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DECRYPT] is False
        assert private[Attribute.DERIVE] is False
        with pytest.raises(AttributeSensitive):
            private[Attribute.VALUE]
        # Neither flag can be turned back.
        with pytest.raises(AttributeReadOnly):
            private[Attribute.EXTRACTABLE] = True
        with pytest.raises(AttributeReadOnly):
            private[Attribute.SENSITIVE] = False


def test_wrong_pin_is_a_clear_error(softhsm: SoftHsm) -> None:
    with pytest.raises(ChipWrongPin, match="wrong PIN for token 'test-card'"):
        ChipToken(softhsm.module, softhsm.token_label, "654321")
    # SoftHSM2 never locks the PIN: the right one still works afterwards.
    with _open(softhsm) as token:
        assert token.session is not None


def test_unknown_token_is_a_clear_error(softhsm: SoftHsm) -> None:
    with pytest.raises(ChipTokenNotFound, match="no token labelled 'no-such-card'"):
        ChipToken(softhsm.module, "no-such-card", softhsm.user_pin)


def test_missing_module_is_a_clear_error() -> None:
    with pytest.raises(ChipModuleError, match=r"cannot load PKCS#11 module /nonexistent/p11\.so"):
        ChipToken("/nonexistent/p11.so", "test-card", "123456")


def test_missing_key_is_a_clear_error(softhsm: SoftHsm) -> None:
    with _open(softhsm) as token:
        with pytest.raises(ChipKeyNotFound, match="no private key labelled 'absent'"):
            token.sign("absent", MESSAGE)
        with pytest.raises(ChipKeyNotFound, match="no public key labelled 'absent'"):
            token.public_key("absent")


def test_label_in_use_is_refused(softhsm: SoftHsm) -> None:
    label = _label()
    with _open(softhsm) as token:
        public = token.generate_card_key(label)
        with pytest.raises(ChipKeyExists, match=f"already has a key labelled '{label}'"):
            token.generate_card_key(label)
        assert token.public_key(label) == public


def test_closed_token_and_second_login(softhsm: SoftHsm) -> None:
    token = _open(softhsm)
    with pytest.raises(ChipError, match="already open in this process"):
        _open(softhsm)
    token.close()
    token.close()  # idempotent
    with pytest.raises(ChipError, match="session on token 'test-card' is closed"):
        token.public_key("anything")


def test_raw_public_key_accepts_der_and_bare_points() -> None:
    point = bytes(range(32))
    assert raw_public_key(b"\x04\x20" + point) == point
    assert raw_public_key(point) == point
    for bad in (b"", b"\x04\x20" + point[:31], b"\x03\x20" + point, b"\x04\x21" + point + b"x"):
        with pytest.raises(ChipError, match="unexpected CKA_EC_POINT"):
            raw_public_key(bad)
