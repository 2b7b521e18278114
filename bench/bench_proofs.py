"""Benchmark of proofs served from stored subtree nodes (prints figures, asserts nothing).

A log of 1,000,000 leaves is written straight into a migrated SQLite file in a temporary
folder — entries and leaf hashes into `log_entries`, every complete subtree (height ≥ 1)
into `log_nodes` — then random inclusion and consistency proofs (and roots) are served
through `voting.services.logtree.StoredTree`, each from a fresh reader so that no hash is
reused between proofs, next to the same proofs from an in-memory `crypto.merkle.MerkleTree`
in the same run. A sample of the stored proofs is compared with the in-memory ones. Last, the
cost of bringing the nodes up to date after a batch of appends (`update_nodes`).

Usage: python bench/bench_proofs.py [--leaves N] [--proofs N] [--appended N] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere, package installed or not
    sys.path.insert(0, str(REPO))

from crypto.merkle import MerkleTree, leaf_hash  # noqa: E402
from voting.db import make_engine, make_sessionmaker  # noqa: E402
from voting.demo import DEMO_PATH  # noqa: E402
from voting.migrate import upgrade  # noqa: E402
from voting.services.logtree import StoredTree, update_nodes  # noqa: E402
from voting.services.tenancy import ensure_property_area  # noqa: E402

T = TypeVar("T")
_STAMP = "2026-12-01 02:00:00.000000"
_BATCH = 50_000


def timed(label: str, action: Callable[[], T]) -> tuple[T, float]:
    wall = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - wall
    print(f"  {label:<52} {elapsed:8.3f} s")
    return value, elapsed


def entry(area: str, seq: int) -> bytes:
    """A canonical log entry (keys sorted, no spaces) like `voting.services.log.append`'s."""
    return (
        f'{{"area":"{area}","data":{{"n":{seq}}},"kind":"bench.event","seq":{seq},'
        f'"time":"2026-12-01T02:00:00Z","v":1}}'
    ).encode()


def entry_rows(area_id: int, code: str, start: int, end: int) -> Iterator[tuple[object, ...]]:
    for seq in range(start, end):
        data = entry(code, seq)
        yield (area_id, seq, "bench.event", data, leaf_hash(data), _STAMP)


def write_log(path: Path, area_id: int, code: str, count: int) -> MerkleTree:
    """Entries and every complete node straight into the file; the in-memory tree."""
    tree = MerkleTree()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        for start in range(0, count, _BATCH):
            rows = list(entry_rows(area_id, code, start, min(count, start + _BATCH)))
            conn.executemany(
                "INSERT INTO log_entries (property_area_id, seq, kind, entry, leaf_hash,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            for row in rows:
                tree.append(row[4])  # type: ignore[arg-type]
        conn.execute(
            "INSERT INTO log_heads (property_area_id, size) VALUES (?, ?)", (area_id, count)
        )
        conn.executemany(
            'INSERT INTO log_nodes (property_area_id, level, "index", hash) VALUES (?, ?, ?, ?)',
            (
                (area_id, level, index, value)
                for level in range(1, len(tree.levels))
                for index, value in enumerate(tree.levels[level])
            ),
        )
    return tree


def rate(label: str, count: int, seconds: float) -> float:
    per_second = count / seconds if seconds else float("inf")
    print(f"  {label:<52} {per_second:10,.0f} /s")
    return per_second


def bench(leaves: int, proofs: int, appended: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench_proofs_") as name:
        path = Path(name) / "log.sqlite"
        url = f"sqlite:///{path}"
        print(f"log of {leaves:,} leaves in {path}")
        timed("migrate an empty database", lambda: upgrade(url))
        engine = make_engine(url)
        session = make_sessionmaker(engine)()
        area = ensure_property_area(session, DEMO_PATH)
        session.commit()
        tree, _s = timed(
            "write entries, leaf hashes and nodes",
            lambda: write_log(path, area.id, area.code, leaves),
        )
        size_mb = path.stat().st_size / 2**20
        nodes = sum(len(level) for level in tree.levels[1:])
        print(f"  {nodes:,} stored nodes, database file {size_mb:,.0f} MiB")

        inclusions = []
        for _ in range(proofs):
            size = rng.randint(1, leaves)
            inclusions.append((rng.randrange(size), size))
        consistencies = []
        for _ in range(proofs):
            size2 = rng.randint(2, leaves)
            consistencies.append((rng.randint(1, size2 - 1), size2))

        def stored_inclusions() -> list[list[bytes]]:
            return [
                StoredTree(session, area.id, size).inclusion_proof(index)
                for index, size in inclusions
            ]

        def stored_consistencies() -> list[list[bytes]]:
            return [
                StoredTree(session, area.id, size2).consistency_proof(size1)
                for size1, size2 in consistencies
            ]

        def stored_roots() -> list[bytes]:
            return [StoredTree(session, area.id, size).root() for _i, size in inclusions]

        print(f"{proofs:,} random proofs of each kind")
        served_inc, inc_s = timed("inclusion proofs from stored nodes", stored_inclusions)
        served_con, con_s = timed("consistency proofs from stored nodes", stored_consistencies)
        _roots, root_s = timed("roots from stored nodes", stored_roots)
        memory_inc, mem_inc_s = timed(
            "inclusion proofs from the in-memory tree",
            lambda: [tree.inclusion_proof(index, size) for index, size in inclusions],
        )
        memory_con, mem_con_s = timed(
            "consistency proofs from the in-memory tree",
            lambda: [tree.consistency_proof(size1, size2) for size1, size2 in consistencies],
        )
        assert served_inc == memory_inc and served_con == memory_con, "proofs differ"
        print("  stored and in-memory proofs are identical")
        print("rates")
        rate("inclusion, stored nodes (SQLite)", proofs, inc_s)
        rate("inclusion, in-memory MerkleTree", proofs, mem_inc_s)
        rate("consistency, stored nodes (SQLite)", proofs, con_s)
        rate("consistency, in-memory MerkleTree", proofs, mem_con_s)
        rate("root, stored nodes (SQLite)", proofs, root_s)
        session.rollback()

        if appended:
            print(f"update_nodes after {appended:,} appended leaves")
            with sqlite3.connect(path) as conn:
                conn.executemany(
                    "INSERT INTO log_entries (property_area_id, seq, kind, entry, leaf_hash,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    entry_rows(area.id, area.code, leaves, leaves + appended),
                )
                conn.execute(
                    "UPDATE log_heads SET size = ? WHERE property_area_id = ?",
                    (leaves + appended, area.id),
                )
            session.rollback()  # reading area.id above began a read: see the appends

            def update() -> int:
                covered = update_nodes(session, area)
                session.commit()
                return covered

            covered, update_s = timed("bring the stored nodes up to date", update)
            rate("appended leaves covered", appended, update_s)
            print(f"  nodes now cover {covered:,} leaves")
        session.close()
        engine.dispose()


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2_000)
    parser.add_argument("--appended", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=9162)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    bench(args.leaves, args.proofs, args.appended, args.seed)


if __name__ == "__main__":
    main_bench()
