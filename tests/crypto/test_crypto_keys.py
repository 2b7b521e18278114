"""Ed25519 keys: lengths, small-order and mixed-order keys, non-canonical signatures."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.bindings
import pytest

from crypto.errors import CryptoError, InsecureKeyFile, InvalidKey, InvalidSignature
from crypto.keys import (
    GROUP_ORDER,
    CardKey,
    PublicKey,
    load_or_create_seed_file,
    load_seed_file,
)

SEED = bytes(range(32))
MESSAGE = b"owners' assembly"

# Every encoding of the eight points of order 1, 2, 4 and 8: the canonical ones, those with the
# sign bit set on x = 0, and those with y >= p (y + p still fits in 255 bits only for y in {0, 1}).
SMALL_ORDER_ENCODINGS = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "0100000000000000000000000000000000000000000000000000000000000080",  # identity, sign bit
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2 (y = -1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # order 2, sign bit
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4 (y = 0)
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4, other x
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p (= 0)
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # y = p, sign bit
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1 (= 1)
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # y = p + 1, sign bit
]


def test_keys_seed_gives_known_public_key() -> None:
    key = CardKey(SEED)
    assert key.public_key.hex() == (
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    )
    assert key.seed == SEED


def test_keys_sign_and_verify_round_trip() -> None:
    key = CardKey.generate()
    signature = key.sign(MESSAGE)
    assert len(signature) == 64
    key.public_key.verify(MESSAGE, signature)


def test_keys_generate_gives_distinct_seeds() -> None:
    assert CardKey.generate().seed != CardKey.generate().seed


def test_keys_repr_does_not_show_seed() -> None:
    assert SEED.hex() not in repr(CardKey(SEED))


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "0" * 32, bytearray(32)])
def test_keys_reject_wrong_seed(seed: bytes) -> None:
    with pytest.raises(InvalidKey, match="seed must be 32 bytes"):
        CardKey(seed)


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33), "ab" * 32])
def test_keys_reject_wrong_public_key_length(raw: bytes) -> None:
    with pytest.raises(InvalidKey, match="32 bytes"):
        PublicKey(raw)


@pytest.mark.parametrize("encoding", SMALL_ORDER_ENCODINGS)
def test_keys_reject_small_order_public_key(encoding: str) -> None:
    with pytest.raises(InvalidKey, match="prime-order"):
        PublicKey(bytes.fromhex(encoding))


def test_keys_reject_mixed_order_public_key() -> None:
    honest = CardKey(SEED).public_key.raw
    mixed = nacl.bindings.crypto_core_ed25519_add(honest, bytes.fromhex(SMALL_ORDER_ENCODINGS[6]))
    with pytest.raises(InvalidKey):
        PublicKey(mixed)


def test_keys_reject_point_not_on_curve() -> None:
    with pytest.raises(InvalidKey):
        PublicKey(bytes.fromhex("02" + "00" * 31))


@pytest.mark.parametrize(
    "text",
    [
        "03A107BFF3CE10BE1D70DD18E74BC09967E4D6309BA50D5F1DDC8664125531B8",
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b",
        " 03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
    ],
)
def test_keys_from_hex_rejects_other_forms(text: str) -> None:
    with pytest.raises(InvalidKey, match="lowercase hex"):
        PublicKey.from_hex(text)


def test_keys_key_id_is_short_hash() -> None:
    assert CardKey(SEED).public_key.key_id == "56475aa75463474c"


def test_keys_reject_signature_with_s_plus_group_order() -> None:
    key = CardKey(SEED)
    signature = key.sign(MESSAGE)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + GROUP_ORDER).to_bytes(32, "little")
    with pytest.raises(InvalidSignature, match="non-canonical"):
        key.public_key.verify(MESSAGE, malleated)


def test_keys_reject_signature_with_s_equal_group_order() -> None:
    key = CardKey(SEED)
    forged = key.sign(MESSAGE)[:32] + GROUP_ORDER.to_bytes(32, "little")
    with pytest.raises(InvalidSignature, match="non-canonical"):
        key.public_key.verify(MESSAGE, forged)


@pytest.mark.parametrize("cut", [0, 1, 32, 63])
def test_keys_reject_truncated_signature(cut: int) -> None:
    key = CardKey(SEED)
    with pytest.raises(InvalidSignature, match="64 bytes"):
        key.public_key.verify(MESSAGE, key.sign(MESSAGE)[:cut])


def test_keys_reject_long_signature() -> None:
    key = CardKey(SEED)
    with pytest.raises(InvalidSignature, match="64 bytes"):
        key.public_key.verify(MESSAGE, key.sign(MESSAGE) + b"\x00")


def test_keys_reject_small_order_r() -> None:
    key = CardKey(SEED)
    forged = bytes.fromhex(SMALL_ORDER_ENCODINGS[0]) + bytes(32)
    with pytest.raises(InvalidSignature, match="does not verify"):
        key.public_key.verify(MESSAGE, forged)


def test_keys_reject_signature_by_other_key() -> None:
    with pytest.raises(InvalidSignature, match="does not verify"):
        CardKey(SEED).public_key.verify(MESSAGE, CardKey.generate().sign(MESSAGE))


def test_keys_reject_flipped_message_bit() -> None:
    key = CardKey(SEED)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(b"owners' assemblz", key.sign(MESSAGE))


@pytest.mark.parametrize("signature", ["00" * 64, None, bytearray(64)])
def test_keys_reject_signature_of_wrong_type(signature: bytes) -> None:
    with pytest.raises(InvalidSignature):
        CardKey(SEED).public_key.verify(MESSAGE, signature)


def test_keys_errors_are_value_errors() -> None:
    assert issubclass(InvalidSignature, CryptoError)
    assert issubclass(CryptoError, ValueError)


def test_keys_seed_file_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    key = load_or_create_seed_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == key.seed
    assert load_or_create_seed_file(path).seed == key.seed
    assert sorted(item.name for item in tmp_path.iterdir()) == ["log.key"]


def test_keys_seed_file_mode_ignores_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_or_create_seed_file(tmp_path / "log.key")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "log.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_keys_seed_file_refused_when_others_can_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(SEED)
    path.chmod(mode)
    with pytest.raises(InsecureKeyFile, match="0600"):
        load_or_create_seed_file(path)
    assert path.read_bytes() == SEED


@pytest.mark.parametrize("content", [b"", SEED[:31], SEED + b"\n"])
def test_keys_seed_file_refused_with_wrong_length(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(InvalidKey, match="exactly 32 bytes"):
        load_seed_file(path)


def test_keys_seed_file_refuses_directory(tmp_path: Path) -> None:
    target = tmp_path / "log.key"
    target.mkdir(mode=0o700)
    with pytest.raises((InsecureKeyFile, IsADirectoryError)):
        load_or_create_seed_file(target)


def test_keys_seed_file_missing_is_not_created_by_load(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_seed_file(tmp_path / "absent.key")
    assert not (tmp_path / "absent.key").exists()
