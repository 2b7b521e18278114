"""Load test: signed ballots per second through gunicorn, next to a trivial endpoint.

    python bench/bench_ballots.py [--voters 1000] [--motions 4] [--workers 2]
                                  [--clients 4] [--seconds 15] [--database-url URL]

Prepares a property area in a temporary instance folder (SQLite by default), opens a
meeting, starts gunicorn on 127.0.0.1, logs every voter in with their card, and has each
sign a ballot per motion (client side, before the clock starts). Then, with the same
number of client processes against the same server in the same run, it measures:

- GET /healthz (does nothing: the server's ceiling for a request), and
- POST /api/v1/ballots (parse, certificate and signature checks, nonce, window, roll,
  eligibility, scope, the one-counted-ballot rule, the log append and a durable commit).

It prints requests per second with p50/p99 latency for both and the ratio; the goal is a
ratio of 0.5 or more. Every ballot response must be 201: anything else is reported and
fails the run. Everything stops by itself after --seconds per phase.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from serverkit import (
    Gunicorn,
    SignedBallot,
    log_in_all,
    post_ballot,
    prepare,
    request,
    sign_all,
)


def _trivial(args: tuple[str, float]) -> tuple[list[float], int]:
    host, deadline = args
    latencies: list[float] = []
    failures = 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        status, _data, _response = request(host, "GET", "/healthz")
        latencies.append(time.perf_counter() - start)
        failures += status != 200
    return latencies, failures


def _ballots(args: tuple[str, float, list[SignedBallot]]) -> tuple[list[float], int]:
    host, deadline, ballots = args
    latencies: list[float] = []
    failures = 0
    for ballot in ballots:
        if time.monotonic() >= deadline:
            break
        start = time.perf_counter()
        status, data = post_ballot(host, ballot)
        latencies.append(time.perf_counter() - start)
        if status != 201:
            failures += 1
            if failures == 1:
                print(f"  unexpected {status}: {data[:200]!r}", file=sys.stderr)
    return latencies, failures


def _run(pool: multiprocessing.pool.Pool, work: list, worker) -> tuple[float, list[float], int]:  # type: ignore[type-arg, no-untyped-def]
    start = time.perf_counter()
    results = pool.map(worker, work)
    elapsed = time.perf_counter() - start
    latencies = sorted(latency for part, _f in results for latency in part)
    return elapsed, latencies, sum(failures for _l, failures in results)


def _report(name: str, elapsed: float, latencies: list[float], failures: int) -> float:
    rate = len(latencies) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(
        f"{name:<28} {len(latencies):>7} requests in {elapsed:5.1f} s  {rate:8.0f}/s"
        f"  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  failures {failures}"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--motions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        started = time.perf_counter()
        prepared = prepare(instance, args.database_url, voters=args.voters, motions=args.motions)
        print(f"prepared {args.voters} voters in {time.perf_counter() - started:.1f} s")
        with Gunicorn(instance, args.database_url, workers=args.workers) as server:
            started = time.perf_counter()
            ballots = sign_all(server.url, prepared, log_in_all(server.url, prepared))
            print(
                f"logged in and signed {len(ballots)} ballots in "
                f"{time.perf_counter() - started:.1f} s"
            )
            print(
                f"gunicorn: {args.workers} sync workers; {args.clients} client processes; "
                f"database: {args.database_url or 'SQLite (WAL, synchronous=FULL)'}"
            )
            with multiprocessing.Pool(args.clients) as pool:
                deadline = time.monotonic() + args.seconds
                trivial = _report(
                    "GET /healthz (trivial)",
                    *_run(pool, [(server.url, deadline)] * args.clients, _trivial),
                )
                deadline = time.monotonic() + args.seconds
                slices = [
                    (server.url, deadline, ballots[i :: args.clients]) for i in range(args.clients)
                ]
                elapsed, latencies, failures = _run(pool, slices, _ballots)
                full = _report("POST /api/v1/ballots", elapsed, latencies, failures)
    print(f"ballot path / trivial endpoint: {full / trivial:.2f} (goal: 0.50 or more)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
