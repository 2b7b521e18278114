"""Stored tree nodes: built incrementally, and every root and proof served from them equals
crypto.merkle's from the leaves."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logkit import grow, leaves, new_area
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.merkle import MerkleTree, verify_consistency, verify_inclusion
from voting.models import LogNode, PropertyArea
from voting.services.logtree import (
    StoredTree,
    aligned_pieces,
    consistency_proof_at,
    inclusion_proof_at,
    log_size,
    nodes_cover,
    prepare_proofs,
    refresh_nodes,
    root_at,
    stored_size,
    update_nodes,
)


def _area(db: Session) -> PropertyArea:
    return new_area(db)


def _leaves(db: Session, area: PropertyArea) -> list[bytes]:
    return leaves(db, area)


def _stored(db: Session, area: PropertyArea) -> dict[tuple[int, int], bytes]:
    rows = db.execute(
        select(LogNode.level, LogNode.index, LogNode.hash).where(
            LogNode.property_area_id == area.id
        )
    )
    return {(level, index): value for level, index, value in rows}


def _expected_nodes(tree: MerkleTree, size: int) -> dict[tuple[int, int], bytes]:
    return {
        (level, index): value
        for level in range(1, len(tree.levels))
        for index, value in enumerate(tree.levels[level])
        if (index + 1) << level <= size
    }


def test_logtree_nodes_grow_incrementally(db: Session) -> None:
    area = _area(db)
    rng = random.Random(7)
    for _step in range(12):
        grow(db, area, rng.randint(1, 23))
        covered = refresh_nodes(db, area)
        size = log_size(db, area)
        assert covered == size & ~1 == stored_size(db, area)
        tree = MerkleTree(_leaves(db, area))
        assert _stored(db, area) == _expected_nodes(tree, size)
        assert nodes_cover(db, area, size)


def test_logtree_proofs_equal_merkle(db: Session) -> None:
    area = _area(db)
    rng = random.Random(1)
    grow(db, area, 37)
    update_nodes(db, area, 20)  # partly stored: the rest is built lazily
    db.commit()
    grow(db, area, 60)
    size = log_size(db, area)
    prepare_proofs(db, area, size)
    tree = MerkleTree(_leaves(db, area))
    for n in range(size + 1):
        assert root_at(db, area, n) == tree.root(n)
    for _ in range(200):
        n = rng.randint(1, size)
        index = rng.randrange(n)
        proof = inclusion_proof_at(db, area, index, n)
        assert proof == tree.inclusion_proof(index, n)
        verify_inclusion(tree.levels[0][index], index, n, proof, tree.root(n))
        m = rng.randint(1, n)
        proof = consistency_proof_at(db, area, m, n)
        assert proof == tree.consistency_proof(m, n)
        verify_consistency(m, n, tree.root(m), tree.root(n), proof)


def test_logtree_proofs_read_twice_at_most(db: Session) -> None:
    area = _area(db)
    grow(db, area, 100)
    refresh_nodes(db, area)
    tree = MerkleTree(_leaves(db, area))
    for index, size in ((0, 100), (63, 100), (99, 100), (5, 77)):
        stored = StoredTree(db, area.id, size)
        assert stored.inclusion_proof(index) == tree.inclusion_proof(index, size)
        assert stored.reads <= 2
    for size1, size2 in ((1, 100), (33, 100), (64, 99), (7, 13)):
        stored = StoredTree(db, area.id, size2)
        assert stored.consistency_proof(size1) == tree.consistency_proof(size1, size2)
        assert stored.reads <= 2


def test_logtree_missing_node_is_rebuilt(db: Session) -> None:
    area = _area(db)
    grow(db, area, 16)
    refresh_nodes(db, area)
    db.execute(LogNode.__table__.delete().where(LogNode.level == 3))
    db.commit()
    tree = MerkleTree(_leaves(db, area))
    assert root_at(db, area, 16) == tree.root()
    assert inclusion_proof_at(db, area, 3, 13) == tree.inclusion_proof(3, 13)


@given(st.integers(0, 40), st.integers(0, 2**20), st.data())
def test_logtree_aligned_pieces_cover_the_range(
    height: int, block: int, data: st.DataObject
) -> None:
    """The ranges PATH and SUBPROOF ask for start at a multiple of a power of two at least
    their length; they split into at most height + 1 aligned complete subtrees."""
    start, count = block << height, data.draw(st.integers(1, 1 << height))
    pieces = aligned_pieces(start, start + count)
    position = start
    for level, index in pieces:
        assert index << level == position
        position += 1 << level
    assert position == start + count
    assert len(pieces) <= height + 1


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.tuples(st.integers(1, 40), st.booleans()), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_logtree_any_schedule_serves_merkle_proofs(
    db: Session, steps: list[tuple[int, bool]], rng: random.Random
) -> None:
    """Whatever sizes the nodes were brought up to on the way, the proofs served from them
    are crypto.merkle's (a fresh area per example)."""
    area = _area(db)
    for count, refresh in steps:
        grow(db, area, count)
        if refresh:
            refresh_nodes(db, area)
    size = log_size(db, area)
    prepare_proofs(db, area, size)
    tree = MerkleTree(_leaves(db, area))
    assert _stored(db, area) == _expected_nodes(tree, size)
    for _ in range(20):
        n = rng.randint(1, size)
        m = rng.randint(1, n)
        index = rng.randrange(n)
        assert root_at(db, area, n) == tree.root(n)
        assert inclusion_proof_at(db, area, index, n) == tree.inclusion_proof(index, n)
        assert consistency_proof_at(db, area, m, n) == tree.consistency_proof(m, n)
