"""Benchmark of `voting verify` on a synthetic election record (prints figures, asserts
nothing).

Builds, directly with `crypto/` and `voting.domain.record` (no database), the record of one
meeting: VOTERS holders each voting on MOTIONS yes/no motions (100,000 ballots by default),
with their certificates, the log leaves, audit paths, a signed checkpoint, the results and
the anchored manifest, and writes it to a folder. Then it times `voting verify` on it in a
fresh interpreter (as an observer would run it) and, in the same run, the raw Ed25519
verification rate of all cores: the same signatures through PyNaCl in a process pool, with
nothing else to do. The verifier's rate is signatures checked (ballots and certificates) per
second of its whole run, reading and every other check included. Goal: at least 80 % of raw.

Usage: python bench/bench_verify.py [--voters N] [--motions N] [--jobs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere, package installed or not
    sys.path.insert(0, str(REPO))

import nacl.signing  # noqa: E402

from crypto.canonical import canonical_bytes  # noqa: E402
from crypto.certificates import issue_certificate  # noqa: E402
from crypto.checkpoint import NoteVerifier, sign_checkpoint  # noqa: E402
from crypto.keys import CardKey  # noqa: E402
from crypto.merkle import MerkleTree, leaf_hash  # noqa: E402
from crypto.statements import format_time  # noqa: E402
from voting.domain import record as rec  # noqa: E402
from voting.domain.procedure import MeetingState, MotionSpec, RulesOfProcedure  # noqa: E402
from voting.domain.tally import MotionKind, UnitShare  # noqa: E402
from voting.domain.verify import verify_record  # noqa: E402
from voting.domain.verify_results import CountedInput, result_document  # noqa: E402

PLATFORM = "vote.example.org"
AREA = "BENCH"
MEETING = 1
T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
OPENS = T0 + dt.timedelta(days=15)
CLOSES = OPENS + dt.timedelta(days=7)
CHOICES = ("yes", "yes", "yes", "no", "abstain")


class Log:
    """The area's log as it is built: entries, leaf hashes."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []

    def append(self, kind: str, data: dict[str, Any], at: dt.datetime) -> int:
        seq = len(self.entries)
        value = {"v": 1, "area": AREA, "seq": seq, "kind": kind, "time": format_time(at)}
        self.entries.append(canonical_bytes({**value, "data": data}))
        return seq


def build(voters: int, motions: int, seed: int = 7) -> tuple[dict[str, bytes], bytes, int]:
    """The record's files, the log's public key and the number of ballots."""
    rng = random.Random(seed)
    issuer = CardKey(hashlib.sha256(b"bench issuer").digest())
    log_key = CardKey(hashlib.sha256(b"bench log").digest())
    log = Log()
    units = [
        rec.RollUnit(
            f"{1 + n // 100}号楼",
            f"{n % 100 + 101}",
            rng.randrange(4000, 16000),
            "registry",
            "sold",
            False,
            f"H{n:06d}",
            False,
        )
        for n in range(voters)
    ]
    roll_hash = rec.roll_sha256(units)
    # Cards and certificates.
    cards: list[tuple[CardKey, str, bytes]] = []  # key, fingerprint, holder
    certificates = []
    for n, unit in enumerate(units):
        key = CardKey(hashlib.sha256(b"card %d" % n).digest())
        certificate = issue_certificate(
            issuer,
            card_number=f"{AREA}-{n + 1:06d}",
            holder_id=unit.holder,
            area_code=AREA,
            card_key=key.public_key,
            not_before=T0 - dt.timedelta(days=2),
            not_after=T0 + dt.timedelta(days=365),
        )
        seq = log.append(
            "card.issue",
            {
                "card": certificate.card_number,
                "holder": unit.holder,
                "public_key": key.public_key.hex(),
                "certificate": certificate.fingerprint,
                "kind": "printed",
            },
            T0 - dt.timedelta(days=2),
        )
        certificates.append(rec.CertificateRecord(certificate.data, certificate.signature, seq))
        cards.append((key, certificate.fingerprint, unit.holder.encode()))
    # The meeting and its motions.
    rules = RulesOfProcedure(notice_days=15)
    specs = [
        MotionSpec(matter=4, kind=MotionKind.YES_NO, title=f"议题 {i + 1}", text="表决事项")
        for i in range(motions)
    ]
    motion_ids = list(range(1, motions + 1))
    motion_log = []
    for position, (motion_id, spec) in enumerate(zip(motion_ids, specs, strict=True), 1):
        motion_log.append(
            log.append(
                "motion.add",
                {
                    "meeting": MEETING,
                    "motion": motion_id,
                    "position": position,
                    "content_sha256": rec.motion_content_sha256(spec),
                },
                T0 - dt.timedelta(days=1),
            )
        )
    notice = log.append(
        "meeting.notice",
        {
            "meeting": MEETING,
            "window_opens_at": format_time(OPENS),
            "window_closes_at": format_time(CLOSES),
            "rules": rules.to_dict(),
            "motions": [
                {"position": p, "content_sha256": rec.motion_content_sha256(s)}
                for p, s in enumerate(specs, 1)
            ],
            "by": None,
        },
        T0,
    )
    opened = log.append(
        "meeting.open",
        {"meeting": MEETING, "roll_version": 1, "roll_sha256": roll_hash, "by": None},
        OPENS,
    )
    # Ballots: every voter on every motion, one minute apart per voter.
    ballots = []
    votes: dict[int, list[tuple[str, str, str]]] = {m: [] for m in motion_ids}
    for n, (key, fingerprint, holder) in enumerate(cards):
        at = OPENS + dt.timedelta(hours=1, seconds=n)
        time_text = format_time(at)
        for motion_id in motion_ids:
            choice = rng.choice(CHOICES)
            statement = canonical_bytes(
                {
                    "type": "ballot",
                    "platform": PLATFORM,
                    "area": AREA,
                    "meeting": MEETING,
                    "motion": motion_id,
                    "roll": roll_hash,
                    "voter": holder.decode(),
                    "credential": fingerprint,
                    "choice": choice,
                    "nonce": rng.randbytes(16).hex(),
                    "time": time_text,
                }
            )
            signature = key.sign(statement)
            ballot_hash = hashlib.sha256(statement).hexdigest()
            seq = log.append(
                "ballot",
                {
                    "meeting": MEETING,
                    "motion": motion_id,
                    "voter": holder.decode(),
                    "ballot": ballot_hash,
                    "signature": base64.b64encode(signature).decode(),
                    "proxy": None,
                },
                at,
            )
            ballots.append(rec.BallotRecord(seq, statement, signature, True))
            votes[motion_id].append((holder.decode(), choice, ballot_hash))
    shares = [
        UnitShare(f"{u.building}/{u.unit}", u.building, u.area_centi, u.holder) for u in units
    ]
    results = []
    for position, (motion_id, spec) in enumerate(zip(motion_ids, specs, strict=True), 1):
        document, _result = result_document(
            meeting=MEETING,
            motion=motion_id,
            position=position,
            spec=spec,
            parking_counts=rules.parking_counts,
            units=shares,
            counted=CountedInput(votes[motion_id], []),
            roll_sha256=roll_hash,
            tallied_at=format_time(CLOSES),
        )
        digest = hashlib.sha256(canonical_bytes(document)).hexdigest()
        seq = log.append(
            "tally", {"meeting": MEETING, "motion": motion_id, "result_sha256": digest}, CLOSES
        )
        results.append(rec.ResultRecord(motion_id, seq, document))
    closed = log.append("meeting.close", {"meeting": MEETING, "by": None}, CLOSES)
    published_at = CLOSES + dt.timedelta(hours=1)
    published = log.append(
        "meeting.publish", {"meeting": MEETING, "late": False, "by": None}, published_at
    )
    meeting = rec.MeetingRecord(
        platform=PLATFORM,
        area=AREA,
        log_origin=f"{PLATFORM}/log/{AREA}",
        id=MEETING,
        title="基准测试会议",
        state=MeetingState.published,
        notice_posted_at=format_time(T0),
        window_opens_at=format_time(OPENS),
        window_closes_at=format_time(CLOSES),
        opened_at=format_time(OPENS),
        closed_at=format_time(CLOSES),
        published_at=format_time(published_at),
        annulled_at=None,
        roll_version=1,
        roll_sha256=roll_hash,
        rules=rules,
        motions=tuple(
            rec.MotionRecord(i, p, s)
            for p, (i, s) in enumerate(zip(motion_ids, specs, strict=True), 1)
        ),
        log=rec.MeetingLog(notice, opened, closed, published, None, tuple(motion_log)),
    )
    verifier = NoteVerifier(PLATFORM, log_key.public_key)
    files = {
        rec.MEETING: meeting.encode(),
        rec.ROLL: rec.encode_roll(units),
        rec.CERTIFICATES: rec.encode_certificates([issuer.public_key.hex()], certificates),
        rec.REVOCATIONS: rec.encode_revocations([]),
        rec.BALLOTS: rec.encode_ballots(ballots),
        rec.PROXIES: rec.encode_proxies([]),
        rec.PAPER: rec.encode_paper([]),
        rec.RESULTS: rec.encode_results(results),
        rec.LEAVES: rec.encode_leaves(
            rec.LeafRecord(i, entry) for i, entry in enumerate(log.entries)
        ),
        rec.LOG_KEY: rec.encode_log_key(verifier.encode()),
    }
    manifest = rec.Manifest.of(AREA, MEETING, files).encode()
    anchor = log.append(
        rec.EXPORT_KIND,
        {"meeting": MEETING, "manifest_sha256": hashlib.sha256(manifest).hexdigest()},
        published_at,
    )
    tree = MerkleTree(leaf_hash(entry) for entry in log.entries)
    size = tree.size
    ranges = rec.audit_ranges(list(range(size)), size)
    files[rec.MANIFEST] = manifest
    files[rec.ANCHOR] = rec.encode_anchor(rec.LeafRecord(anchor, log.entries[anchor]))
    files[rec.PROOFS] = rec.Proofs.of(size, ranges, tree.subtree_hash).encode()
    files[rec.CHECKPOINT] = sign_checkpoint(
        meeting.log_origin, size, tree.root(), PLATFORM, log_key
    )
    return files, log_key.public_key.raw, len(ballots)


def _raw_chunk(chunk: list[tuple[bytes, bytes, bytes]]) -> int:
    for key, message, signature in chunk:
        nacl.signing.VerifyKey(key).verify(message, signature)
    return len(chunk)


def raw_rate(files: dict[str, bytes], jobs: int) -> tuple[int, float]:
    """Verify the record's signatures (ballots and certificates) with nothing else to do,
    on `jobs` processes: (signatures, seconds)."""
    _keys, certificates = rec.decode_certificates(files[rec.CERTIFICATES])
    issuer = bytes.fromhex(_keys[0])
    card_keys = {}
    tasks: list[tuple[bytes, bytes, bytes]] = []
    for certificate in certificates:
        fields = rec.loads(certificate.data)
        card_keys[hashlib.sha256(certificate.data).hexdigest()] = bytes.fromhex(
            str(fields["card_key"])
        )
        tasks.append((issuer, certificate.data, certificate.signature))
    credential = re.compile(rb'"credential":"([0-9a-f]{64})"')
    for ballot in rec.decode_ballots(files[rec.BALLOTS]):
        found = credential.search(ballot.statement)
        assert found is not None
        tasks.append((card_keys[found.group(1).decode()], ballot.statement, ballot.signature))
    chunks = [tasks[i : i + 1024] for i in range(0, len(tasks), 1024)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_raw_chunk, chunks[:jobs]))  # start the workers before timing
        started = time.perf_counter()
        done = sum(pool.map(_raw_chunk, chunks))
        elapsed = time.perf_counter() - started
    return done, elapsed


def children_cpu() -> float:
    """CPU seconds used so far by this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_verify(folder: Path, key: bytes, jobs: int) -> tuple[float, str]:
    """`voting verify` in a fresh interpreter: (wall seconds, output)."""
    command = [sys.executable, "-m", "voting.cli", "verify", str(folder), "--log-key", key.hex()]
    command += ["--jobs", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        raise SystemExit(f"verify failed with status {done.returncode}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=10_000)
    parser.add_argument("--motions", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="write the record here and keep it")
    args = parser.parse_args()
    started = time.perf_counter()
    files, key, ballots = build(args.voters, args.motions)
    built = time.perf_counter() - started
    size = sum(len(data) for data in files.values())
    print(
        f"record: {args.voters:,} voters x {args.motions} motions = {ballots:,} ballots, "
        f"{size / 1e6:.1f} MB in {len(files)} files, built in {built:.1f} s"
    )
    report = verify_record(files, log_key=key) if ballots <= 2000 else None
    if report is not None and not report.ok:
        raise SystemExit(f"the synthetic record does not verify: {report.failures[:3]}")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-verify-")) / "record"
    try:
        rec_folder = Path(folder)
        rec_folder.mkdir(parents=True)
        for name, data in files.items():
            (rec_folder / name).write_bytes(data)
        before = children_cpu()
        signatures, raw_seconds = raw_rate(files, args.jobs)
        raw_cpu = children_cpu() - before
        raw = signatures / raw_seconds
        before = children_cpu()
        wall, output = run_verify(rec_folder, key, args.jobs)
        verify_cpu = children_cpu() - before
        rate = signatures / wall
        print(output.strip().splitlines()[-2])
        print(
            f"raw Ed25519 (PyNaCl, {args.jobs} processes): {signatures:,} signatures in "
            f"{raw_seconds:.2f} s = {raw:,.0f} signatures/s ({raw_cpu:.1f} s CPU)"
        )
        print(
            f"voting verify (whole run, fresh interpreter): {signatures:,} signatures in "
            f"{wall:.2f} s = {rate:,.0f} signatures/s = {100 * rate / raw:.0f} % of raw "
            f"(goal: 80 %); {verify_cpu:.1f} s CPU = {100 * raw_cpu / verify_cpu:.0f} % "
            "of it spent as raw verification would"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(Path(folder).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
