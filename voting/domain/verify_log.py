"""Checking the log side of an election record: inclusion of many leaves under one
checkpoint, and reading log entries.

Inclusion (docs/PROTOCOL.md section 11): the record carries, for one tree size, the hash of
every range of every record leaf's RFC 9162 audit path (`voting.domain.record.audit_ranges`).
`check_inclusion` accepts exactly when every leaf's own inclusion proof, read off those
hashes, verifies with `crypto.merkle.verify_inclusion` against the checkpoint's root — but it
hashes each node of the union of the paths once, instead of each path separately, which for a
record of 100,000 ballots is about seventeen times less work. When that check fails, the
leaves are checked one by one with `verify_inclusion` to name those that fail.

Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crypto.errors import CryptoError, InvalidProof
from crypto.merkle import leaf_hash, node_hash, verify_inclusion
from crypto.statements import parse_time
from voting.domain.record import audit_ranges, loads

__all__ = ["Leaf", "LeafError", "check_inclusion", "parse_leaf", "proof_of"]

LOG_VERSION = 1
_LEAF_MEMBERS = frozenset({"v", "area", "seq", "kind", "time", "data"})


def _split(count: int) -> int:
    return 1 << ((count - 1).bit_length() - 1)


def proof_of(index: int, size: int, subtrees: Mapping[tuple[int, int], bytes]) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf `index`, read off a table of subtree hashes
    (KeyError if the table lacks a range of its audit path)."""
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            proof.append(subtrees[(middle, end)])
            end = middle
        else:
            proof.append(subtrees[(start, middle)])
            start = middle
    proof.reverse()
    return proof


def check_inclusion(
    leaves: Mapping[int, bytes], size: int, root: bytes, hashes: bytes
) -> list[tuple[int | None, str]]:
    """Check that every entry of `leaves` (index -> entry bytes) is in the tree of `size`
    leaves with `root`; `hashes` are the audit-path hashes of `Proofs` (the hash of each range
    of `audit_ranges(sorted(leaves), size)`, in that order, concatenated).

    Returns the problems as (leaf index or None, message); empty when all hold.
    """
    indices = sorted(leaves)
    problems: list[tuple[int | None, str]] = [
        (index, f"leaf {index} is not below the checkpoint's tree size {size}")
        for index in indices
        if not 0 <= index < size
    ]
    inside = [index for index in indices if 0 <= index < size]
    if _walk(inside, leaves, size, root, hashes):
        return problems
    ranges = audit_ranges(inside, size)
    if len(hashes) != 32 * len(ranges):
        problems.append(
            (
                None,
                f"holds {len(hashes) // 32} audit-path hashes; the leaves need {len(ranges)}",
            )
        )
        return problems
    table = {r: hashes[32 * i : 32 * i + 32] for i, r in enumerate(ranges)}
    problems.extend(_one_by_one(inside, leaves, size, root, table))
    return problems


def _walk(
    indices: Sequence[int], leaves: Mapping[int, bytes], size: int, root: bytes, hashes: bytes
) -> bool:
    """Recompute the root from the leaves and the audit-path hashes in one pass.

    The walk meets the ranges in the order the hashes are stored. Every node above a record
    leaf is computed from below; every audit-path range is read from the hashes, and where
    such a range also lies above a record leaf (a sibling that is itself in the record) the
    stored hash must equal the computed one. Then each leaf's own proof consists of exactly
    these hashes, and it verifies iff the root does.
    """
    if not indices:
        return not hashes
    position = 0
    agree = True

    def stored() -> bytes:
        nonlocal position
        value = hashes[position : position + 32]
        position += 32
        return value

    def visit(start: int, end: int, low: int, high: int) -> bytes:
        nonlocal agree
        if end - start == 1:
            return leaf_hash(leaves[indices[low]])
        middle = start + _split(end - start)
        cut = bisect_left(indices, middle, low, high)
        if cut > low:
            given = stored() if cut < high else None
            left = visit(start, middle, low, cut)
            if given is not None and given != left:
                agree = False
        else:
            left = stored()
        if cut < high:
            given = stored() if cut > low else None
            right = visit(middle, end, cut, high)
            if given is not None and given != right:
                agree = False
        else:
            right = stored()
        return node_hash(left, right)

    computed = visit(0, size, 0, len(indices))
    return agree and position == len(hashes) and computed == root


def _one_by_one(
    indices: Sequence[int],
    leaves: Mapping[int, bytes],
    size: int,
    root: bytes,
    subtrees: Mapping[tuple[int, int], bytes],
) -> list[tuple[int | None, str]]:
    """Each leaf's own proof through `crypto.merkle.verify_inclusion` (error path only)."""
    problems: list[tuple[int | None, str]] = []
    for index in indices:
        try:
            proof = proof_of(index, size, subtrees)
        except KeyError as missing:
            start, end = missing.args[0]
            problems.append((index, f"the proofs lack subtree [{start}, {end}) of its path"))
            continue
        try:
            verify_inclusion(leaf_hash(leaves[index]), index, size, proof, root)
        except InvalidProof as exc:
            problems.append((index, f"not in the log under the checkpoint: {exc}"))
    if not problems:
        # Every proof holds one by one, so the walk failed on a stored hash that no single
        # proof uses in the same way: name the disagreement instead of passing.
        problems.append((None, "the audit-path hashes contradict each other"))
    return problems


# --- log entries -----------------------------------------------------------------------------


class LeafError(ValueError):
    """A log entry that is not a well-formed entry of this area's log at this index."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """A parsed log entry: {"v": 1, "area", "seq", "kind", "time", "data"} (canonical)."""

    index: int
    kind: str
    time: dt.datetime
    time_text: str
    data: dict[str, Any]


def parse_leaf(index: int, entry: bytes, area: str) -> Leaf:
    """Read a log entry strictly: canonical JSON, exactly the entry members, this area, this
    index, a well-formed time and a data object."""
    try:
        value = loads(entry)
    except CryptoError as exc:
        raise LeafError(f"log entry {index} is not canonical JSON: {exc}") from None
    if set(value) != _LEAF_MEMBERS:
        raise LeafError(f"log entry {index} has members {sorted(value)}")
    if value["v"] != LOG_VERSION:
        raise LeafError(f"log entry {index} has version {value['v']!r}")
    if value["area"] != area:
        raise LeafError(f"log entry {index} belongs to area {value['area']!r}, not {area!r}")
    if value["seq"] != index or isinstance(value["seq"], bool):
        raise LeafError(f"log entry {index} says it is entry {value['seq']!r}")
    kind, time_text, data = value["kind"], value["time"], value["data"]
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise LeafError(f"log entry {index} has a malformed kind or data")
    try:
        time = parse_time(time_text)
    except CryptoError as exc:
        raise LeafError(f"log entry {index}: {exc}") from None
    assert isinstance(time_text, str)
    return Leaf(index, kind, time, time_text, data)


#: The end of a ballot entry after its time: `"time":"<time>","v":1}`.
_BALLOT_TAIL = re.compile(rb'([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)","v":1\}')


def ballot_leaf_time(
    entry: bytes,
    *,
    area: str,
    seq: int,
    meeting: int,
    motion: int,
    voter: str,
    ballot: str,
    signature: str,
    proxy: str | None,
) -> str | None:
    """The time of a "ballot" log entry if `entry` is exactly the canonical entry recording
    these values (section 6.1, the ballot path's log entry), else None.

    A fast exact match for the common case: the values are identifiers, hex and standard
    base64, which canonical JSON writes without escapes, and the members are in canonical
    order, so the expected bytes are the fixed text below. Anything else is read with
    `parse_leaf` by the caller, which then names the difference.
    """
    proxy_text = "null" if proxy is None else f'"{proxy}"'
    prefix = (
        f'{{"area":"{area}","data":{{"ballot":"{ballot}","meeting":{meeting},'
        f'"motion":{motion},"proxy":{proxy_text},"signature":"{signature}",'
        f'"voter":"{voter}"}},"kind":"ballot","seq":{seq},"time":"'
    ).encode()
    if not entry.startswith(prefix):
        return None
    match = _BALLOT_TAIL.fullmatch(entry, len(prefix))
    return None if match is None else match.group(1).decode()
