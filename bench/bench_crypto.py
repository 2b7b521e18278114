"""Benchmarks of the crypto package; prints figures, asserts nothing.

    python bench/bench_crypto.py [--leaves 1000000] [--proofs 20000]

Figures: Ed25519 verifications per second on one core and on all cores, statement
verifications per second (key check + signature + canonical parse), argon2id time per PIN hash,
time to build a Merkle tree and its root over N leaves, and inclusion / consistency proof
generation plus verification per second, served from the tree's stored subtree hashes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crypto import merkle, pin
from crypto.keys import CardKey, PublicKey
from crypto.statements import sign_statement, verify_statement

SIGNED = 2000


def _signed_messages(count: int) -> tuple[bytes, list[bytes], list[bytes]]:
    key = CardKey(bytes(range(32)))
    messages = [f"ballot {i:08d} for motion 2026-01-03".encode() for i in range(count)]
    return key.public_key.raw, messages, [key.sign(message) for message in messages]


def _verify_all(job: tuple[bytes, list[bytes], list[bytes], int]) -> tuple[int, float]:
    """Verify every signature ``rounds`` times; return (verifications, seconds)."""
    raw, messages, signatures, rounds = job
    key = PublicKey(raw)
    started = time.perf_counter()
    for _ in range(rounds):
        for message, signature in zip(messages, signatures, strict=True):
            key.verify(message, signature)
    return rounds * len(messages), time.perf_counter() - started


def bench_verify_single(rounds: int) -> float:
    raw, messages, signatures = _signed_messages(SIGNED)
    count, seconds = _verify_all((raw, messages, signatures, rounds))
    return count / seconds


def bench_verify_all_cores(rounds: int) -> tuple[int, float]:
    cores = os.cpu_count() or 1
    raw, messages, signatures = _signed_messages(SIGNED)
    with multiprocessing.Pool(cores) as pool:
        results = pool.map(_verify_all, [(raw, messages, signatures, rounds)] * cores)
    total = sum(count for count, _ in results)
    return cores, total / max(seconds for _, seconds in results)


def bench_statements(count: int) -> float:
    key = CardKey(bytes(range(32)))
    signed = [
        sign_statement(key, {"type": "ballot", "motion": "2026-01-03", "nonce": f"{i:032x}"})
        for i in range(count)
    ]
    raw = key.public_key.raw
    started = time.perf_counter()
    for data, signature in signed:
        verify_statement(raw, data, signature, expected_type="ballot")
    return count / (time.perf_counter() - started)


def bench_pin(count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        pin.hash_pin("123456")
    return (time.perf_counter() - started) / count


def _report(label: str, figure: str) -> None:
    print(f"{label:<52}{figure:>16}")


def bench_merkle(leaves: int, proofs: int) -> None:
    started = time.perf_counter()
    hashes = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(leaves)]
    hashed = time.perf_counter()
    tree = merkle.MerkleTree(hashes)
    root = tree.root()
    built = time.perf_counter()
    _report(f"merkle: hash {leaves:,} entries into leaf hashes", f"{hashed - started:.2f} s")
    _report(f"merkle: tree and root of {leaves:,} leaf hashes", f"{built - hashed:.2f} s")

    rng = random.Random(1)
    size = tree.size
    started = time.perf_counter()
    for _ in range(proofs):
        index = rng.randrange(size)
        proof = tree.inclusion_proof(index)
        merkle.verify_inclusion(hashes[index], index, size, proof, root)
    seconds = time.perf_counter() - started
    _report(f"merkle: inclusion proof + verify (n={size:,})", f"{proofs / seconds:,.0f} /s")

    started = time.perf_counter()
    for _ in range(proofs):
        size1 = rng.randrange(1, size)
        proof = tree.consistency_proof(size1)
        merkle.verify_consistency(size1, size, tree.root(size1), root, proof)
    seconds = time.perf_counter() - started
    _report(f"merkle: consistency proof + verify (n={size:,})", f"{proofs / seconds:,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="passes over 2000 signatures")
    args = parser.parse_args()

    _report("ed25519: verify, one core", f"{bench_verify_single(args.rounds):,.0f} /s")
    cores, rate = bench_verify_all_cores(args.rounds)
    _report(f"ed25519: verify, {cores} processes", f"{rate:,.0f} /s")
    _report("statement: key + signature + canonical parse", f"{bench_statements(SIGNED):,.0f} /s")
    _report(
        f"argon2id: PIN hash (t={pin.OPSLIMIT}, m={pin.MEMLIMIT >> 20} MiB)",
        f"{bench_pin(5) * 1000:.1f} ms",
    )
    bench_merkle(args.leaves, args.proofs)


if __name__ == "__main__":
    main()
