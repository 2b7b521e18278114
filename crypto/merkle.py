"""Merkle tree hashing, proofs and proof verification as in RFC 9162 §2.1.

Leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left || right)``; the tree
over n leaves splits at the largest power of two smaller than n. The distinct prefixes keep a
leaf from ever hashing like an interior node (second-preimage resistance).

Proof generation reads subtree hashes through a ``SubtreeHash`` callable, ``(start, end) ->
MTH(D[start:end])``. Every range the RFC algorithms ask for is a run of complete, aligned
subtrees, so a database that stores the hash of each complete subtree [j * 2**h, (j + 1) * 2**h)
can serve any proof with O(log n) reads; ``MerkleTree`` is the in-memory form of that store.

Verification follows the RFC's algorithms step by step and raises ``MalformedProof`` or
``ProofMismatch`` (both ``InvalidProof``) instead of returning False, so a failed check cannot be
ignored by accident.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

from crypto.errors import MalformedProof, ProofMismatch

HASH_SIZE = 32
#: MTH of the empty tree: the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """Hash of a log entry as a leaf: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree that keeps the hash of every complete, aligned subtree.

    ``levels[h][j]`` is the hash of leaves [j * 2**h, (j + 1) * 2**h). Appending costs amortised
    two hashes; any root, subtree hash or proof for any size up to the current one is served
    from stored hashes.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for item in leaf_hashes:
            self.append(item)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash (not an entry: hash entries with ``leaf_hash`` first)."""
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
        levels = self.levels
        levels[0].append(leaf)
        index, height, current = len(levels[0]) - 1, 0, leaf
        while index & 1:
            current = node_hash(levels[height][index - 1], current)
            index >>= 1
            height += 1
            if height == len(levels):
                levels.append([])
            levels[height].append(current)

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for 0 <= start < end <= size."""
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range [{start}, {end}) is not inside a tree of {self.size}")
        count = end - start
        if count & (count - 1) == 0 and start % count == 0:
            height = count.bit_length() - 1
            return self.levels[height][start >> height]
        middle = start + _split(count)
        return node_hash(self.subtree_hash(start, middle), self.subtree_hash(middle, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if size == 0:
            return EMPTY_ROOT
        return self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.subtree_hash)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        return consistency_proof(size1, self.size if size2 is None else size2, self.subtree_hash)


def root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 §2.1.1)."""
    return MerkleTree(leaf_hashes).root()


def subtree_hasher(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    """A ``SubtreeHash`` over an in-memory sequence of leaf hashes."""
    return MerkleTree(leaf_hashes).subtree_hash


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            proof.append(subtree(middle, end))
            end = middle
        else:
            proof.append(subtree(start, middle))
            start = middle
    proof.reverse()
    return proof


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(size1, D[0:size2]) of RFC 9162 §2.1.4.1; empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    proof: list[bytes] = []
    start, end, complete = 0, size2, True
    while end != size1:
        middle = start + _split(end - start)
        if size1 <= middle:
            proof.append(subtree(middle, end))
            end = middle
        else:
            proof.append(subtree(start, middle))
            start, complete = middle, False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise MalformedProof(f"{what} must be {HASH_SIZE} bytes")


def _check_size(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedProof(f"{what} must be a non-negative integer")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. The proof binds the index and size only as far as the root does: take
    ``size`` and ``root`` from one signed checkpoint, never from the party that sent the proof.
    """
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root hash")
    for element in proof:
        _check_hash(element, "proof element")
    if index >= size:
        raise MalformedProof(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise MalformedProof("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProof("inclusion proof is shorter than the tree is deep")
    if not hmac.compare_digest(r, root):
        raise ProofMismatch("inclusion proof leads to another root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2, with the edge rules of the RFC's definition (0 < size1 < size2 for a
    proof): a proof from the empty tree is always an error, and for equal sizes the proof must
    be empty and the roots equal.
    """
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
    if size1 > size2:
        raise MalformedProof(f"first size {size1} is larger than second size {size2}")
    if size1 == 0:
        raise MalformedProof("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise MalformedProof("trees of equal size need an empty consistency proof")
        if not hmac.compare_digest(root1, root2):
            raise ProofMismatch("trees of equal size have different roots")
        return
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    for element in proof:
        _check_hash(element, "proof element")
    if not proof:
        raise MalformedProof("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MalformedProof("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MalformedProof("consistency proof is shorter than needed")
    if not hmac.compare_digest(fr, root1) or not hmac.compare_digest(sr, root2):
        raise ProofMismatch("consistency proof leads to other roots")
