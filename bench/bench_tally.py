"""Benchmark of the tally engine and of `voting tally` (prints figures, asserts nothing).

1. A synthetic property area of 1,000,000 units and 800,000 ballots, tallied in process
   (whole area, a scope of half the buildings, an election), next to the time the standard
   `csv` module takes merely to read the same data written as the command's two CSV files,
   and `voting tally` on those files.
2. `voting tally` on 60,000 units end to end: in process through the click entry point, and
   as a fresh interpreter, next to the time `csv` takes to read the same files.

Usage: python bench/bench_tally.py [--units N] [--ballots N] [--command-units N] [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere, package installed or not
    sys.path.insert(0, str(REPO))

from voting.cli import main  # noqa: E402
from voting.domain.area import format_area  # noqa: E402
from voting.domain.tally import (  # noqa: E402
    ABSTAIN,
    NO,
    YES,
    Ballot,
    Motion,
    Rule,
    TallyRequest,
    UnitShare,
    tally,
)

T = TypeVar("T")
CHOICES = (YES, YES, YES, NO, ABSTAIN)


def measure(action: Callable[[], T], repeat: int) -> tuple[T, float, float]:
    """Run `action` `repeat` times: the last value, the best wall-clock and CPU times.

    CPU time (of this process only, so not of a subprocess) is disturbed less than
    wall-clock time by other load on the machine.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        value = action()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return value, best_wall, best_cpu


def timed(label: str, action: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Print the best wall-clock and CPU times of `action`; return its value and the CPU."""
    value, wall, cpu = measure(action, repeat)
    note = f" (best of {repeat})" if repeat > 1 else ""
    print(f"  {label:<48} {wall:7.3f} s wall {cpu:7.3f} s cpu{note}")
    return value, cpu


def synthetic_area(
    unit_count: int, ballot_count: int, seed: int
) -> tuple[list[UnitShare], list[Ballot]]:
    """A roll where about one owner in ten holds two units and 2% of units are unsold."""
    rng = random.Random(seed)
    buildings = [f"{n}号楼" for n in range(1, max(2, unit_count // 5000) + 1)]
    units: list[UnitShare] = []
    holder = 0
    for index in range(unit_count):
        developer = rng.random() < 0.02
        if not developer and not (index and rng.random() < 0.1):
            holder += 1  # a new owner, else the previous owner's second unit
        units.append(
            UnitShare(
                unit_id=f"U{index:07d}",
                building=buildings[index * len(buildings) // unit_count],
                area_centi=rng.randint(5000, 16000),
                holder_id="DEVELOPER" if developer else f"H{holder:07d}",
                developer_held=developer,
            )
        )
    holders = list(dict.fromkeys(unit.holder_id for unit in units))
    voters = rng.sample(holders, min(ballot_count, len(holders)))
    return units, [Ballot(h, rng.choice(CHOICES)) for h in voters]


def write_csv(directory: Path, units: list[UnitShare], ballots: list[Ballot]) -> tuple[Path, Path]:
    """Write the command's REGISTRY.csv and BALLOTS.csv for `units` and `ballots`."""
    registry, ballots_path = directory / "REGISTRY.csv", directory / "BALLOTS.csv"
    with registry.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("unit_id", "building", "area_m2", "owner_id"))
        writer.writerows(
            (u.unit_id, u.building, format_area(u.area_centi), u.holder_id) for u in units
        )
    with ballots_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("owner_id", "choice"))
        writer.writerows((b.holder_id, b.choice) for b in ballots)
    return registry, ballots_path


def read_csv(*paths: Path) -> int:
    """Merely read every row of `paths` with the csv module; return the row count."""
    rows = 0
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for _row in csv.reader(handle):
                rows += 1
    return rows


def command_args(registry: Path, ballots: Path) -> list[str]:
    return ["tally", "--registry", str(registry), "--ballots", str(ballots), "--rule", "ordinary"]


def run_in_process(registry: Path, ballots: Path) -> str:
    """`voting tally` through the click entry point, in this interpreter."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(command_args(registry, ballots), standalone_mode=False)
    return out.getvalue()


def run_subprocess(registry: Path, ballots: Path) -> str:
    """`voting tally` in a fresh interpreter, as an observer would run it."""
    return fresh_interpreter(*command_args(registry, ballots))


def run_help() -> str:
    """`voting tally --help` in a fresh interpreter: the start-up cost alone."""
    return fresh_interpreter("tally", "--help")


def fresh_interpreter(*args: str) -> str:
    """Run `voting ARGS` as `python -c 'from voting.cli import main; main()' ARGS`."""
    code = "from voting.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=REPO
    )
    return done.stdout


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench_tally_") as name:
        yield Path(name)


def bench_engine(unit_count: int, ballot_count: int, seed: int, repeat: int) -> None:
    print(f"engine: {unit_count:,} units, {ballot_count:,} ballots")
    (units, ballots), _ = timed(
        "build the input objects (setup, not timed below)",
        lambda: synthetic_area(unit_count, ballot_count, seed),
    )
    motion = Motion.yes_no(Rule.ORDINARY)
    result, tally_s = timed(
        "tally, all buildings", lambda: tally(TallyRequest(motion, units, ballots)), repeat
    )
    buildings = sorted({u.building for u in units})
    half = frozenset(buildings[: len(buildings) // 2])
    in_half = {u.holder_id for u in units if u.building in half}
    scoped = [b for b in ballots if b.holder_id in in_half]
    timed(
        "tally, half the buildings in scope",
        lambda: tally(TallyRequest(motion, units, scoped, half)),
        repeat,
    )
    election = Motion.election(["甲", "乙", "丙", "丁", "戊"], seats=3)
    rng = random.Random(seed)
    slates = [frozenset(rng.sample(election.options, rng.randint(0, 5))) for _ in range(32)]
    votes = [Ballot(b.holder_id, rng.choice(slates)) for b in ballots]
    timed(
        "tally, election of 3 among 5 candidates",
        lambda: tally(TallyRequest(election, units, votes)),
        repeat,
    )
    print(
        f"  result: {result.outcome.value}, total {format_area(result.total_area_centi)} m² / "
        f"{result.total_headcount:,} persons, participating "
        f"{format_area(result.participating_area_centi)} m² / {result.participating_headcount:,}"
    )
    with scratch() as directory:
        paths = write_csv(directory, units, ballots)
        _, read_s = timed(
            "csv module merely reading the same data as CSV", lambda: read_csv(*paths), repeat
        )
        _, command_s = timed(
            "voting tally on those files, in process", lambda: run_in_process(*paths)
        )
    print(f"  tally / csv read (cpu): {tally_s / read_s:.2f}")
    print(f"  command / csv read (cpu): {command_s / read_s:.2f}")


def bench_command(unit_count: int, seed: int, repeat: int) -> None:
    print(f"command: voting tally on {unit_count:,} units, end to end")
    units, ballots = synthetic_area(unit_count, unit_count * 4 // 5, seed)
    with scratch() as directory:
        paths = write_csv(directory, units, ballots)
        _, read_s = timed(
            "csv module merely reading the two files", lambda: read_csv(*paths), repeat
        )
        output, in_process_s = timed(
            "in process (click entry point)", lambda: run_in_process(*paths), repeat
        )
        for label, action in (
            ("fresh interpreter (python -c ... main())", lambda: run_subprocess(*paths)),
            ("fresh interpreter, `voting tally --help` only", run_help),
        ):
            _, wall, _ = measure(action, repeat)
            print(f"  {label:<48} {wall:7.3f} s wall")
    print(f"  in process / csv read (cpu): {in_process_s / read_s:.2f}")
    print("  output: " + " ".join(output.split()))


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--ballots", type=int, default=800_000)
    parser.add_argument("--command-units", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=278)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of N runs")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    bench_engine(args.units, args.ballots, args.seed, args.repeat)
    bench_command(args.command_units, args.seed, args.repeat)


if __name__ == "__main__":
    main_bench()
