"""Benchmark: print-ready card PDFs for a large batch, with one worker and with all cores.

    python bench/bench_card_printing.py [--cards 10000] [--qr-sample 1000]

Prints the QR-only cost per card (encoding a payload into a QR path, in this process), then
for each worker count the wall time, cards per second, pages and PDF size. The PDFs are built
in memory and thrown away; the seeds are random and never written anywhere.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voting.cards.printing import (
    CardFace,
    mask_name,
    qr_code,
    render_cards_pdf,
    resolve_cjk_font,
)

NAMES = ["王小明", "李娜", "欧阳小明", "陈静", "张伟"]


def make_cards(count: int) -> list[CardFace]:
    cards = []
    for index in range(count):
        number = f"NHXY-{index:06d}"
        seed = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        houses = [f"{index % 30 + 1}号楼 {unit}-{index % 33 + 1:02d}01" for unit in range(1, 3)]
        cards.append(
            CardFace(
                number,
                mask_name(NAMES[index % len(NAMES)]),
                houses[: 1 + index % 2],
                "南海花园小区",
                f"https://vote.example.org/card#v1.{number}.{seed}",
            )
        )
    return cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--qr-sample", type=int, default=1_000)
    args = parser.parse_args()

    cards = make_cards(args.cards)
    cores = len(os.sched_getaffinity(0))
    font = resolve_cjk_font()
    print(f"{args.cards} cards, {cores} cores available, CJK font {font}")
    print("load average before: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))

    sample = [card.qr_payload for card in cards[: args.qr_sample]]
    start, cpu = time.perf_counter(), time.process_time()
    for payload in sample:
        qr_code(payload)
    qr_ms = (time.perf_counter() - start) / len(sample) * 1000
    qr_cpu_ms = (time.process_time() - cpu) / len(sample) * 1000
    print(f"QR only (1 process): {qr_ms:.2f} ms/card wall, {qr_cpu_ms:.2f} ms/card CPU")

    for workers in sorted({1, cores}):
        buffer = io.BytesIO()
        before = _cpu_seconds()
        start = time.perf_counter()
        pages = render_cards_pdf(cards, buffer, workers=workers, font=font)
        elapsed = time.perf_counter() - start
        main_cpu, workers_cpu = (
            now - then for now, then in zip(_cpu_seconds(), before, strict=True)
        )
        size = len(buffer.getvalue()) / 1e6
        print(
            f"workers={workers}: {elapsed:6.1f} s wall, {args.cards / elapsed:6.0f} cards/s, "
            f"CPU {main_cpu:.1f} s main + {workers_cpu:.1f} s workers, "
            f"{pages} pages, {size:.1f} MB"
        )


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
