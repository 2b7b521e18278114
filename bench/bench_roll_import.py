"""Benchmark: check and import a 50,000-unit roll.

    python bench/bench_roll_import.py [--units 50000]

Prints, in one run: the time the csv module takes merely to read the file (the floor),
reading it into rows, validating it (parse + rules + keyed hashes), the whole check against
an empty area, and the import into a fresh SQLite database; then a re-import of the same
roll with 1% of the units changed (difference + write). With VOTING_DATABASE_URL set
(PostgreSQL), the imports are repeated in a throw-away database on that server.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from voting.db import make_engine, make_sessionmaker
from voting.domain.roll import parse_roll
from voting.migrate import upgrade
from voting.rollfile import read_roll_file
from voting.services.roll import check_roll_file, import_roll
from voting.services.tenancy import AreaPath, ensure_property_area

T = TypeVar("T")
KEY = "bench-id-hash-key-" + "k" * 32
HEADER = ("楼栋", "房号", "建筑面积", "面积来源", "状态", "业主姓名", "证件号码", "手机", "车位")
PATH = AreaPath(("B01", "区"), ("B01-1", "街道"), ("B01-1-1", "社区"), ("BENCH", "基准小区"))


def _id_number(n: int) -> str:
    seq, n = n % 1000, n // 1000
    day, n = n % 28, n // 28
    month, n = n % 12, n // 12
    body = f"110105{1940 + n % 60}{1 + month:02d}{1 + day:02d}{seq:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def make_rows(units: int, seed: int = 7) -> list[tuple[str, ...]]:
    """`units` rows: 1 in 20 buyers holds two units, 1 in 50 units is the developer's."""
    rng = random.Random(seed)
    rows: list[tuple[str, ...]] = []
    person = 0
    for i in range(units):
        building = f"{1 + i // 500}号楼"
        unit = f"{1 + (i % 500) // 100}-{1 + (i % 100) // 4:02d}{1 + i % 4:02d}"
        area = f"{rng.randint(5000, 16000) // 100}.{rng.randint(0, 99):02d}"
        if i % 50 == 49:
            rows.append((building, unit, area, "测绘", "未售", "", "", "", "否"))
            continue
        if i % 20 != 19:
            person += 1
        n = person  # unique per person; every 20th unit is the previous buyer's second
        rows.append(
            (building, unit, area, "不动产登记", "已售", f"业主{person}", _id_number(n),
             f"139{person:08d}", "否")
        )  # fmt: skip
    return rows


def to_csv(rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def timed(label: str, fn: Callable[[], T], repeat: int = 1) -> T:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"  {label:<52} {best * 1000:9.1f} ms")
    return result  # type: ignore[no-any-return]


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    admin_url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"voting_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_database(label: str, url: str, content: bytes, changed: bytes) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            area = ensure_property_area(session, PATH)
            print(f"{label}:")
            timed(
                "check against an empty area (read+validate+diff)",
                lambda: check_roll_file(session, area, "roll.csv", content, KEY),
            )
            session.rollback()
            version = timed(
                "import version 1 (check + write, one transaction)",
                lambda: import_roll(
                    session, area, "roll.csv", content, KEY, expected_base_version=None
                ),
            )
            print(f"    -> {version.unit_count} units, headcount {version.headcount}")
            version = timed(
                "import version 2 (1% of units changed)",
                lambda: import_roll(
                    session, area, "roll2.csv", changed, KEY, expected_base_version=1
                ),
            )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50_000)
    args = parser.parse_args()
    rows = make_rows(args.units)
    content = to_csv(rows)
    for i in range(0, len(rows), 100):
        building, unit, _area, *rest = rows[i]
        rows[i] = (building, unit, "77.77", *rest)
    changed = to_csv(rows)
    size = len(content) / 1e6
    print(f"Roll of {args.units} units, {size:.1f} MB CSV (Python {sys.version.split()[0]})")
    print("Parsing and validation (best of 3):")
    timed(
        "csv module: read all rows (floor)",
        lambda: list(csv.reader(io.StringIO(content.decode()))),
        3,
    )
    table = timed(
        "read_roll_file: decode + csv rows", lambda: read_roll_file("roll.csv", content), 3
    )
    parsed = timed("parse_roll: header, rules, keyed hashes", lambda: parse_roll(table, KEY), 3)
    assert not parsed.errors, parsed.errors[:3]
    with tempfile.TemporaryDirectory() as folder:
        bench_database("SQLite (fresh file, WAL, synchronous=FULL)",
                       f"sqlite:///{folder}/bench.sqlite", content, changed)  # fmt: skip
    pg_url = os.environ.get("VOTING_DATABASE_URL", "")
    if pg_url.startswith("postgres"):
        with postgres_database(pg_url) as url:
            bench_database("PostgreSQL (fresh database)", url, content, changed)


if __name__ == "__main__":
    main()
