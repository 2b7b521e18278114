"""A real gunicorn serving the app on 127.0.0.1 with an open meeting and logged-in voters:
shared by the crash test (tests/web/test_crash_durability.py) and the load test
(bench/bench_ballots.py).

    prepared = prepare(instance, database_url, voters=200, motions=2)
    with Gunicorn(instance, database_url, workers=2) as server:
        voters = log_in_all(server.url, prepared)
        ballots = sign_all(server.url, prepared, voters)
        status, body = post_ballot(server.url, ballots[0])

Everything binds 127.0.0.1; the server is started in its own process group and stopped by
that group's id, so nothing else is touched.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import http.client
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto.canonical import canonical_bytes
from crypto.keys import CardKey
from voting.services.tenancy import AreaPath

ROOT = Path(__file__).resolve().parent.parent
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
AREA_PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-009", "测试街道"),
    community=("110105-009-001", "测试社区"),
    area=("LOAD", "负载测试小区"),
)


@dataclass(frozen=True)
class Voter:
    number: str
    seed: bytes
    pin: str


@dataclass(frozen=True)
class Prepared:
    meeting_id: int
    motion_ids: list[int]
    voters: list[Voter]


@dataclass(frozen=True)
class LoggedIn:
    voter: Voter
    cookie: str


@dataclass(frozen=True)
class SignedBallot:
    cookie: str
    body: bytes
    ballot_hash: str


def environment(instance: Path, database_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["VOTING_INSTANCE_PATH"] = str(instance)
    # Every simulated phone comes from 127.0.0.1.
    env["VOTING_CHALLENGES_PER_ADDRESS"] = "1000000"
    env.pop("VOTING_DATABASE_URL", None)
    if database_url:
        env["VOTING_DATABASE_URL"] = database_url
    return env


def _roll(voters: int) -> bytes:
    """`voters` units in buildings of 500, each held by a different person."""
    from voting import demo

    rng = random.Random(7)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=demo.ROLL_HEADER, lineterminator="\n")
    writer.writeheader()
    seen: set[str] = set()
    for i in range(voters):
        name, id_number, phone = demo._person(rng)
        while id_number in seen:
            name, id_number, phone = demo._person(rng)
        seen.add(id_number)
        row = dict.fromkeys(demo.ROLL_HEADER, "")
        row.update(
            {
                "楼栋": f"{i // 500 + 1}号楼",
                "房号": f"{i % 500 // 20 + 1}-{i % 20 + 1:02d}01",
                "建筑面积": "89.50",
                "面积来源": "不动产登记",
                "状态": "已售",
                "业主类型": "个人",
                "业主姓名": name,
                "证件号码": id_number,
                "手机": phone,
                "车位": "否",
            }
        )
        writer.writerow(row)
    return buffer.getvalue().encode()


def prepare(instance: Path, database_url: str | None, *, voters: int, motions: int) -> Prepared:
    """Migrate, import a roll of `voters` holders, issue their cards and open a meeting of
    `motions` yes/no motions whose window began an hour ago."""
    from voting import create_app
    from voting.database import get_database
    from voting.domain.procedure import MotionSpec
    from voting.domain.tally import MotionKind
    from voting.migrate import upgrade
    from voting.services.cards import issue_cards, load_issuer
    from voting.services.meetings import add_motion, create_meeting, open_meeting, post_notice
    from voting.services.roll import import_roll
    from voting.services.tenancy import ensure_property_area

    config: dict[str, Any] = {"INSTANCE_PATH": str(instance)}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    url = app.config["VOTING_DATABASE_URL"]
    upgrade(url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with app.app_context(), get_database(app).sessionmaker() as session:
        area = ensure_property_area(session, AREA_PATH)
        session.commit()
        import_roll(session, area, "roll.csv", _roll(voters), "key", expected_base_version=None)
        issued = issue_cards(
            session,
            area,
            load_issuer(app),
            base_url="http://127.0.0.1",
            now=now - dt.timedelta(days=20),
        )
        meeting = create_meeting(session, area, "负载测试会议", now=now - dt.timedelta(days=20))
        spec = MotionSpec(matter=4, kind=MotionKind.YES_NO, title="议题", text="表决内容")
        created = [add_motion(session, meeting, spec) for _ in range(motions)]
        post_notice(
            session,
            meeting,
            now - dt.timedelta(hours=1),
            now + dt.timedelta(days=1),
            now=now - dt.timedelta(days=16),
        )
        open_meeting(session, meeting, now=now)
        result = Prepared(
            meeting_id=meeting.id,
            motion_ids=[motion.id for motion in created],
            voters=[Voter(card.number, card.seed or b"", card.pin) for card in issued],
        )
    get_database(app).engine.dispose()
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """gunicorn serving wsgi:app on 127.0.0.1, in a process group of its own."""

    def __init__(
        self, instance: Path, database_url: str | None, *, workers: int = 2, threads: int = 1
    ) -> None:
        self.instance = instance
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            self.url,
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--log-level",
            "warning",
            "wsgi:app",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(self.instance, self.database_url),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.instance / "gunicorn.log", "ab"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.instance / 'gunicorn.log'}")
            try:
                if request(self.url, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def kill(self) -> None:
        """SIGKILL the whole group: master and workers die mid-request."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def request(
    host: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    own = connection is None
    conn = connection or http.client.HTTPConnection(host, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data, response
    finally:
        if own:
            conn.close()


def _cookie(response: http.client.HTTPResponse, previous: str = "") -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        pair = header.split(";", 1)[0]
        if pair.split("=", 1)[1]:
            return pair
    return previous


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def log_in(host: str, voter: Voter) -> LoggedIn:
    """The card login of docs/PROTOCOL.md 6.4, as a phone does it."""
    status, page, response = request(host, "GET", "/card")
    assert status == 200, status
    cookie = _cookie(response)
    match = CSRF_META.search(page.decode())
    assert match, "no CSRF token on /card"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": match.group(1),
        "Cookie": cookie,
    }
    status, data, response = request(
        host, "POST", "/card/challenge", json.dumps({"card": voter.number}).encode(), headers
    )
    assert status == 200, data
    statement = canonical_bytes(json.loads(data)["statement"])
    payload = {
        "statement": b64(statement),
        "signature": b64(CardKey(voter.seed).sign(statement)),
        "pin": voter.pin,
    }
    headers["Cookie"] = _cookie(response, cookie)
    status, data, response = request(
        host, "POST", "/card/login", json.dumps(payload).encode(), headers
    )
    assert status == 200, data
    return LoggedIn(voter, _cookie(response, headers["Cookie"]))


def log_in_all(host: str, prepared: Prepared, threads: int = 8) -> list[LoggedIn]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda voter: log_in(host, voter), prepared.voters))


def _json_headers(cookie: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept": "application/json", "Cookie": cookie}


def sign_ballots(host: str, prepared: Prepared, voter: LoggedIn) -> list[SignedBallot]:
    """Ask for the voter's nonces and sign a "yes" ballot for every motion."""
    status, data, _response = request(
        host,
        "POST",
        f"/api/v1/meetings/{prepared.meeting_id}/challenge",
        b"{}",
        _json_headers(voter.cookie),
    )
    assert status == 200, data
    challenge = json.loads(data)
    key = CardKey(voter.voter.seed)
    ballots = []
    for motion_id in prepared.motion_ids:
        statement = {
            "type": "ballot",
            "platform": challenge["platform"],
            "area": challenge["area"],
            "meeting": challenge["meeting"],
            "motion": motion_id,
            "roll": challenge["roll"],
            "voter": challenge["voter"],
            "credential": challenge["credential"],
            "choice": "yes",
            "nonce": challenge["nonces"][str(motion_id)],
            "time": challenge["time"],
        }
        raw = canonical_bytes(statement)
        body = json.dumps({"statement": b64(raw), "signature": b64(key.sign(raw))}).encode()
        ballots.append(SignedBallot(voter.cookie, body, hashlib.sha256(raw).hexdigest()))
    return ballots


def sign_all(
    host: str, prepared: Prepared, voters: list[LoggedIn], threads: int = 8
) -> list[SignedBallot]:
    with ThreadPoolExecutor(threads) as pool:
        nested = pool.map(lambda voter: sign_ballots(host, prepared, voter), voters)
    return [ballot for group in nested for ballot in group]


def post_ballot(
    host: str, ballot: SignedBallot, connection: http.client.HTTPConnection | None = None
) -> tuple[int, bytes]:
    status, data, _response = request(
        host, "POST", "/api/v1/ballots", ballot.body, _json_headers(ballot.cookie), connection
    )
    return status, data
