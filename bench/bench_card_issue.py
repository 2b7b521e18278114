"""Benchmark: issue 10,000 owner cards into a fresh SQLite database and print them.

    python bench/bench_card_issue.py [--cards 10000]

Prints cards/s for each phase of `issue_cards` (keys and certificates, PIN/PUK hashing on
every core, inserting rows and log entries) and for rendering the card and PIN-letter PDFs,
next to the raw argon2id rate of one core measured in the same run (two hashes per card).
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crypto.keys import CardKey
from crypto.pin import generate_pin, hash_pin
from voting import demo
from voting.cards.printing import render_cards_pdf, render_pin_letters_pdf
from voting.db import make_engine, make_sessionmaker
from voting.migrate import upgrade
from voting.services.cards import card_faces, issue_cards, pin_letters
from voting.services.roll import import_roll
from voting.services.tenancy import ensure_property_area


def roll_csv(count: int) -> bytes:
    """`count` units, each held by a different person."""
    rng = random.Random(7)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=demo.ROLL_HEADER, lineterminator="\n")
    writer.writeheader()
    seen: set[str] = set()
    for i in range(count):
        name, id_number, phone = demo._person(rng)
        while id_number in seen:
            name, id_number, phone = demo._person(rng)
        seen.add(id_number)
        writer.writerow(
            {
                "楼栋": f"{i // 600 + 1}号楼",
                "房号": f"{i % 600 // 24 + 1}-{i % 24 + 1:02d}01",
                "建筑面积": "89.50",
                "面积来源": "不动产登记",
                "状态": "已售",
                "业主类型": "个人",
                "业主姓名": name,
                "证件号码": id_number,
                "手机": phone,
                "车位": "否",
                "共有人": "",
                "监护人": "",
            }
        )
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=10_000)
    args = parser.parse_args()
    n = args.cards

    sample = 200
    start = time.perf_counter()
    for _ in range(sample):
        hash_pin(generate_pin())
    raw_rate = sample / (time.perf_counter() - start)
    print(f"argon2id, one core:          {raw_rate:8.1f} hashes/s = {raw_rate / 2:7.1f} cards/s")
    print(f"cores available:             {len(os.sched_getaffinity(0))}")

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite"
        upgrade(url)
        engine = make_engine(url)
        session = make_sessionmaker(engine)()
        area = ensure_property_area(session, demo.DEMO_PATH)
        import_roll(session, area, "bench.csv", roll_csv(n), "bench", expected_base_version=None)
        issuer = CardKey.generate()
        marks: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if done >= total:
                marks[phase] = time.perf_counter()

        start = time.perf_counter()
        issued = issue_cards(
            session, area, issuer, base_url="https://vote.example.org", progress=progress
        )
        end = time.perf_counter()
        assert len(issued) == n
        phases = [
            ("keys + certificates", start, marks["prepare"]),
            ("PIN/PUK hashing", marks["prepare"], marks["hash"]),
            ("insert cards", marks["hash"], marks["write"]),
            ("log entries + commit", marks["write"], end),
            ("issue_cards in all", start, end),
        ]
        for label, t0, t1 in phases:
            print(f"{label + ':':<28} {n / (t1 - t0):8.1f} cards/s  ({t1 - t0:6.2f} s)")
        start = time.perf_counter()
        render_cards_pdf(card_faces(issued, area.name), io.BytesIO())
        middle = time.perf_counter()
        render_pin_letters_pdf(pin_letters(issued, area.name), io.BytesIO())
        end = time.perf_counter()
        renders = [("render cards PDF", start, middle), ("render PIN letters", middle, end)]
        for label, t0, t1 in renders:
            print(f"{label + ':':<28} {n / (t1 - t0):8.1f} cards/s  ({t1 - t0:6.2f} s)")
        session.close()
        engine.dispose()


if __name__ == "__main__":
    main()
