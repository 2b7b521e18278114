"""Inclusion of many record leaves under one checkpoint (voting.domain.verify_log): the audit
path table, the batch check against one-by-one RFC 9162 verification, and log entries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import canonical_bytes
from crypto.errors import InvalidProof
from crypto.merkle import MerkleTree, inclusion_proof, leaf_hash, verify_inclusion
from voting.domain.record import Proofs, audit_ranges
from voting.domain.verify_log import (
    LeafError,
    ballot_leaf_time,
    check_inclusion,
    parse_leaf,
    proof_of,
)


def _tree(size: int) -> tuple[dict[int, bytes], MerkleTree]:
    entries = {i: f"entry {i}".encode() for i in range(size)}
    return entries, MerkleTree(leaf_hash(entries[i]) for i in range(size))


def _path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []

    def record(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return b"\x00" * 32

    inclusion_proof(index, size, record)
    return ranges


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 80).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_record_audit_ranges_are_the_union_of_the_paths(case: tuple[int, set[int]]) -> None:
    size, indices = case
    union = {r for index in indices for r in _path_ranges(index, size)}
    # In the order of a depth-first walk: start ascending, then end descending.
    assert audit_ranges(sorted(indices), size) == sorted(union, key=lambda r: (r[0], -r[1]))


def _hashes(tree: MerkleTree, indices: list[int], size: int) -> bytes:
    return Proofs.of(size, audit_ranges(indices, size), tree.subtree_hash).hashes


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 70).flatmap(
        lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1), st.data())
    )
)
def test_record_inclusion_batch_agrees_with_one_by_one(case: tuple[int, set[int], Any]) -> None:
    size, chosen, data = case
    entries, tree = _tree(size)
    indices = sorted(chosen)
    leaves = {i: entries[i] for i in indices}
    hashes = _hashes(tree, indices, size)
    table = Proofs(size, hashes).table(indices)
    root = tree.root()
    assert check_inclusion(leaves, size, root, hashes) == []
    for index in indices:
        assert proof_of(index, size, table) == tree.inclusion_proof(index)
    # Damage one stored hash or one leaf: the walk fails exactly when a leaf's own proof
    # fails, and names those leaves.
    if hashes and data.draw(st.booleans()):
        at = 32 * data.draw(st.integers(0, len(hashes) // 32 - 1))
        hashes = hashes[:at] + bytes(32) + hashes[at + 32 :]
        table = Proofs(size, hashes).table(indices)
    else:
        victim = data.draw(st.sampled_from(indices))
        leaves[victim] = b"forged"
    failing = []
    for index in indices:
        try:
            proof = proof_of(index, size, table)
            verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)
        except InvalidProof:
            failing.append(index)
    problems = check_inclusion(leaves, size, root, hashes)
    assert failing and sorted(i for i, _ in problems if i is not None) == failing


def test_record_inclusion_names_a_wrong_count_and_leaves_outside() -> None:
    entries, tree = _tree(9)
    hashes = _hashes(tree, [2, 5], 9)
    leaves = {2: entries[2], 5: entries[5]}
    assert check_inclusion(leaves, 9, tree.root(), hashes) == []
    problems = check_inclusion(leaves, 9, tree.root(), hashes[:-32])
    assert problems == [(None, "holds 6 audit-path hashes; the leaves need 7")]
    problems = check_inclusion(leaves, 9, tree.root(), hashes + bytes(32))
    assert problems == [(None, "holds 8 audit-path hashes; the leaves need 7")]
    problems = check_inclusion({2: entries[2], 12: b"x"}, 9, tree.root(), _hashes(tree, [2], 9))
    assert problems == [(12, "leaf 12 is not below the checkpoint's tree size 9")]


ENTRY = {
    "v": 1,
    "area": "NHXY",
    "seq": 42,
    "kind": "ballot",
    "time": "2026-12-16T03:00:00Z",
    "data": {
        "meeting": 1,
        "motion": 2,
        "voter": "HABC",
        "ballot": "ab" * 32,
        "signature": "q+/=",
        "proxy": None,
    },
}


@pytest.mark.parametrize("proxy", [None, "cd" * 32])
def test_record_ballot_leaf_fast_match_is_the_canonical_entry(proxy: str | None) -> None:
    value: dict[str, Any] = {**ENTRY, "data": {**ENTRY["data"], "proxy": proxy}}  # type: ignore[dict-item]
    entry = canonical_bytes(value)
    expected = dict(
        area="NHXY",
        seq=42,
        meeting=1,
        motion=2,
        voter="HABC",
        ballot="ab" * 32,
        signature="q+/=",
        proxy=proxy,
    )
    assert ballot_leaf_time(entry, **expected) == "2026-12-16T03:00:00Z"  # type: ignore[arg-type]
    assert parse_leaf(42, entry, "NHXY").data == value["data"]
    for changed in (
        entry.replace(b'"seq":42', b'"seq":43'),
        entry.replace(b'"v":1', b'"v":2'),
        entry + b" ",
        entry.replace(b"03:00:00Z", b"03:00:00+00:00"),
    ):
        assert ballot_leaf_time(changed, **expected) is None  # type: ignore[arg-type]
    assert ballot_leaf_time(entry, **{**expected, "voter": "HABD"}) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"area": "OTHER"}, "belongs to area"),
        ({"seq": 41}, "says it is entry 41"),
        ({"v": 2}, "version"),
        ({"time": "2026-12-16 03:00:00"}, "YYYY-MM-DD"),
        ({"data": []}, "malformed kind or data"),
    ],
)
def test_record_leaf_parse_refuses_other_entries(change: dict[str, Any], message: str) -> None:
    with pytest.raises(LeafError, match=message):
        parse_leaf(42, canonical_bytes({**ENTRY, **change}), "NHXY")
    with pytest.raises(LeafError, match="not canonical"):
        parse_leaf(42, canonical_bytes(ENTRY) + b"\n", "NHXY")
