"""RFC 9162 Merkle trees: shared vectors, generation, verification and mutations."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import merkle
from crypto.errors import InvalidProof, MalformedProof, ProofMismatch

VECTORS = Path(__file__).parent / "data" / "merkle"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _mth(leaves: Sequence[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 writes it, recursively, as an independent reference."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


# Reference verifiers: each evaluates the proof by the structure that the RFC's *generation*
# (§2.1.3.1 PATH, §2.1.4.1 SUBPROOF) gives it, instead of the bit-twiddling verification
# algorithm under test. The two must agree on every input, mutated or not.

Expr = tuple[Any, ...]


def _largest_power_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _path_expr(index: int, size: int, labels: itertools.count[int]) -> Expr:
    if size == 1:
        return ("leaf",)
    k = _largest_power_below(size)
    if index < k:
        inner = _path_expr(index, k, labels)
        return ("node", inner, ("proof", next(labels)))
    inner = _path_expr(index - k, size - k, labels)
    return ("node", ("proof", next(labels)), inner)


def _subproof_exprs(
    m: int, n: int, complete: bool, labels: itertools.count[int]
) -> tuple[Expr, Expr]:
    if m == n:
        if complete:
            return ("root1",), ("root1",)
        element = ("proof", next(labels))
        return element, element
    k = _largest_power_below(n)
    if m <= k:
        old, new = _subproof_exprs(m, k, complete, labels)
        return old, ("node", new, ("proof", next(labels)))
    old, new = _subproof_exprs(m - k, n - k, False, labels)
    right = ("proof", next(labels))
    return ("node", right, old), ("node", right, new)


def _evaluate(expr: Expr, values: dict[str, bytes], proof: Sequence[bytes]) -> bytes:
    if expr[0] == "node":
        return merkle.node_hash(
            _evaluate(expr[1], values, proof), _evaluate(expr[2], values, proof)
        )
    if expr[0] == "proof":
        return proof[expr[1]]
    return values[expr[0]]


def _reference_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    if not 0 <= index < size or any(len(h) != 32 for h in (leaf, root, *proof)):
        return False
    labels = itertools.count()
    expr = _path_expr(index, size, labels)
    if next(labels) != len(proof):
        return False
    return _evaluate(expr, {"leaf": leaf}, proof) == root


def _reference_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 < size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if any(len(h) != 32 for h in (root1, root2, *proof)):
        return False
    labels = itertools.count()
    old, new = _subproof_exprs(size1, size2, True, labels)
    if next(labels) != len(proof):
        return False
    values = {"root1": root1}
    return _evaluate(old, values, proof) == root1 and _evaluate(new, values, proof) == root2


def _accepts(verify: Callable[..., None], *args: Any) -> bool:
    """True if ``verify`` (one of merkle's verifiers) accepts ``args``."""
    try:
        verify(*args)
    except InvalidProof:
        return False
    return True


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _inclusion_case(size: int, data: st.DataObject) -> tuple[list[bytes], merkle.MerkleTree, int]:
    """A tree of ``size`` leaves, its leaves and a drawn leaf index."""
    leaves = _leaves(size)
    return leaves, merkle.MerkleTree(leaves), data.draw(st.integers(0, size - 1))


def _consistency_case(size2: int, data: st.DataObject) -> tuple[int, list[bytes], bytes, bytes]:
    """A tree of ``size2`` leaves, a drawn size1 < size2, its proof and both roots."""
    tree = merkle.MerkleTree(_leaves(size2))
    size1 = data.draw(st.integers(1, size2 - 1))
    return size1, tree.consistency_proof(size1), tree.root(size1), tree.root()


def test_merkle_vectors_are_all_present() -> None:
    assert len(VECTOR_FILES) == 196
    assert (VECTORS / "LICENSE").is_file()


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_merkle_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    proof = [_b64(item) for item in case["proof"] or []]
    if "leafIdx" in case:
        args: tuple[Any, ...] = (
            _b64(case["leafHash"]),
            case["leafIdx"],
            case["treeSize"],
            proof,
            _b64(case["root"]),
        )
        accepted = _accepts(merkle.verify_inclusion, *args)
        assert accepted == _reference_inclusion(*args)
    else:
        args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), proof)
        accepted = _accepts(merkle.verify_consistency, *args)
        assert accepted == _reference_consistency(*args)
    assert accepted == (not case["wantErr"]), case["desc"]


def test_merkle_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    # A leaf whose entry is two joined child hashes must not hash like the interior node.
    assert merkle.leaf_hash(left + right) != merkle.node_hash(left, right)
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


def test_merkle_second_preimage_interior_node_cannot_pose_as_leaf() -> None:
    leaves = _leaves(4)
    tree = merkle.MerkleTree(leaves)
    entry = leaves[0] + leaves[1]  # exactly the bytes the interior node over leaves 0-1 hashes
    assert merkle.leaf_hash(entry) != tree.subtree_hash(0, 2)
    # So the four-leaf root cannot be passed off as a two-leaf tree holding that entry.
    with pytest.raises(ProofMismatch):
        merkle.verify_inclusion(
            merkle.leaf_hash(entry), 0, 2, [tree.subtree_hash(2, 4)], tree.root()
        )


def test_merkle_empty_tree_root() -> None:
    assert merkle.root_hash([]) == merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()


@given(st.integers(min_value=0, max_value=140))
def test_merkle_root_matches_rfc_definition(count: int) -> None:
    leaves = _leaves(count)
    tree = merkle.MerkleTree(leaves)
    assert tree.root() == merkle.root_hash(leaves) == _mth(leaves)
    for size in range(count + 1):
        assert tree.root(size) == _mth(leaves[:size])


def test_merkle_tree_refuses_bad_leaf_and_range() -> None:
    tree = merkle.MerkleTree(_leaves(3))
    with pytest.raises(ValueError):
        tree.append(b"short")
    with pytest.raises(ValueError):
        tree.subtree_hash(2, 4)
    with pytest.raises(ValueError):
        tree.subtree_hash(2, 2)
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, 3, tree.subtree_hash)
    with pytest.raises(ValueError):
        merkle.consistency_proof(0, 3, tree.subtree_hash)
    with pytest.raises(ValueError):
        merkle.consistency_proof(3, 2, tree.subtree_hash)


def test_merkle_subtree_hash_of_unaligned_range() -> None:
    leaves = _leaves(11)
    tree = merkle.MerkleTree(leaves)
    for start in range(11):
        for end in range(start + 1, 12):
            assert tree.subtree_hash(start, end) == _mth(leaves[start:end])


def test_merkle_proofs_from_callable_match_tree_methods() -> None:
    leaves = _leaves(37)
    tree = merkle.MerkleTree(leaves)
    subtree = merkle.subtree_hasher(leaves)
    calls: list[tuple[int, int]] = []

    def recording(start: int, end: int) -> bytes:
        calls.append((start, end))
        return subtree(start, end)

    assert merkle.inclusion_proof(20, 37, recording) == tree.inclusion_proof(20)
    assert merkle.consistency_proof(13, 37, recording) == tree.consistency_proof(13)
    # Every requested range is aligned to a power of two, so a store of complete subtrees
    # serves it with a logarithmic number of reads.
    for start, end in calls:
        k = _largest_power_below(end - start) if end - start > 1 else 1
        assert start % k == 0


def test_merkle_equal_sizes_give_empty_consistency_proof() -> None:
    tree = merkle.MerkleTree(_leaves(5))
    assert tree.consistency_proof(5) == []
    merkle.verify_consistency(5, 5, tree.root(), tree.root(), [])


@pytest.mark.parametrize(
    "args",
    [
        (b"\x00" * 32, -1, 4, [], b"\x00" * 32),
        (b"\x00" * 32, 0, True, [], b"\x00" * 32),
        (b"\x00" * 32, "0", 4, [], b"\x00" * 32),
        (b"\x00" * 31, 0, 1, [], b"\x00" * 31),
        (b"\x00" * 32, 0, 2, [b"\x00" * 33], b"\x00" * 32),
    ],
)
def test_merkle_inclusion_rejects_malformed_arguments(args: tuple[Any, ...]) -> None:
    with pytest.raises(MalformedProof):
        merkle.verify_inclusion(*args)


def test_merkle_consistency_rejects_negative_sizes() -> None:
    with pytest.raises(MalformedProof):
        merkle.verify_consistency(-1, 3, b"\x00" * 32, b"\x00" * 32, [])


_sizes = st.integers(min_value=1, max_value=130)


@given(_sizes, st.data())
def test_merkle_every_inclusion_proof_verifies(size: int, data: st.DataObject) -> None:
    leaves, tree, index = _inclusion_case(size, data)
    proof = tree.inclusion_proof(index)
    merkle.verify_inclusion(leaves[index], index, size, proof, tree.root())
    assert _reference_inclusion(leaves[index], index, size, proof, tree.root())


@given(_sizes, st.data())
def test_merkle_every_consistency_proof_verifies(size2: int, data: st.DataObject) -> None:
    tree = merkle.MerkleTree(_leaves(size2))
    size1 = data.draw(st.integers(1, size2))
    proof = tree.consistency_proof(size1)
    merkle.verify_consistency(size1, size2, tree.root(size1), tree.root(), proof)


@given(_sizes, st.data())
def test_merkle_inclusion_rejects_flipped_bits(size: int, data: st.DataObject) -> None:
    leaves, tree, index = _inclusion_case(size, data)
    proof, root, leaf = tree.inclusion_proof(index), tree.root(), leaves[index]
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(ProofMismatch):
        merkle.verify_inclusion(_flip(leaf, bit), index, size, proof, root)
    with pytest.raises(ProofMismatch):
        merkle.verify_inclusion(leaf, index, size, proof, _flip(root, bit))
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        changed = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofMismatch):
            merkle.verify_inclusion(leaf, index, size, changed, root)


@given(_sizes, st.data())
def test_merkle_inclusion_rejects_changed_index(size: int, data: st.DataObject) -> None:
    leaves, tree, index = _inclusion_case(size, data)
    other = data.draw(st.integers(0, 2 * size).filter(lambda i: i != index))
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(
            leaves[index], other, size, tree.inclusion_proof(index), tree.root()
        )


@given(_sizes, st.data())
def test_merkle_inclusion_changed_size_accepted_only_when_rfc_structure_agrees(
    size: int, data: st.DataObject
) -> None:
    # A different size sometimes gives the proof the same shape (leaf 0 of 3 and of 4 are both
    # "hash with the right sibling, twice"); the root then still decides. This is why a verifier
    # takes the size from a signed checkpoint. Everything else must be rejected.
    leaves, tree, index = _inclusion_case(size, data)
    other = data.draw(st.integers(0, 2 * size + 2).filter(lambda n: n != size))
    args = (leaves[index], index, other, tree.inclusion_proof(index), tree.root())
    assert _accepts(merkle.verify_inclusion, *args) == _reference_inclusion(*args)


@given(st.integers(min_value=2, max_value=130), st.data())
def test_merkle_consistency_rejects_flipped_bits(size2: int, data: st.DataObject) -> None:
    size1, proof, root1, root2 = _consistency_case(size2, data)
    bit = data.draw(st.integers(0, 255))
    for args in (
        (size1, size2, _flip(root1, bit), root2, proof),
        (size1, size2, root1, _flip(root2, bit), proof),
    ):
        with pytest.raises(ProofMismatch):
            merkle.verify_consistency(*args)
    position = data.draw(st.integers(0, len(proof) - 1))
    changed = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
    with pytest.raises(ProofMismatch):
        merkle.verify_consistency(size1, size2, root1, root2, changed)


@given(st.integers(min_value=2, max_value=130), st.data())
def test_merkle_consistency_changed_sizes_accepted_only_when_rfc_structure_agrees(
    size2: int, data: st.DataObject
) -> None:
    size1, proof, root1, root2 = _consistency_case(size2, data)
    other1 = data.draw(st.integers(0, 2 * size2))
    other2 = data.draw(st.integers(0, 2 * size2))
    args = (other1, other2, root1, root2, proof)
    accepted = _accepts(merkle.verify_consistency, *args)
    assert accepted == _reference_consistency(*args)
    if accepted and (other1, other2) != (size1, size2):
        # Only sizes whose proofs have the very same structure can pass.
        assert len(merkle.MerkleTree(_leaves(other2)).consistency_proof(other1)) == len(proof)


@given(st.integers(min_value=2, max_value=130), st.data())
def test_merkle_consistency_rejects_truncated_or_extended_proof(
    size2: int, data: st.DataObject
) -> None:
    size1, proof, root1, root2 = _consistency_case(size2, data)
    extra = data.draw(st.binary(min_size=32, max_size=32))
    for changed in (proof[:-1], proof[1:], [*proof, extra], [extra, *proof]):
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(size1, size2, root1, root2, changed)
