"""A ballot acknowledged to an owner survives a crash of the server.

Ballots stream into a real gunicorn from several threads; the whole server (master and
workers) is killed with SIGKILL mid-stream and started again on the same database. Every
ballot whose receipt was returned must be there, the log must be gapless and every stored
ballot must be in it. Runs on SQLite (WAL, synchronous=FULL) and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from serverkit import Gunicorn, SignedBallot, log_in_all, post_ballot, prepare, request, sign_all
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow


def _stream(
    host: str, ballots: list[SignedBallot], acknowledged: list[str], lock: threading.Lock
) -> None:
    for ballot in ballots:
        try:
            status, data = post_ballot(host, ballot)
        except OSError:
            return  # the server is gone
        if status == 201:
            with lock:
                acknowledged.append(json.loads(data)["ballot_hash"])


def test_crash_acknowledged_ballots_survive_sigkill(tmp_path: Path, database_url: str) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    prepared = prepare(instance, database_url, voters=60, motions=3)
    acknowledged: list[str] = []
    lock = threading.Lock()
    server = Gunicorn(instance, database_url, workers=2)
    with server:
        ballots = sign_all(server.url, prepared, log_in_all(server.url, prepared))
        streams = [
            threading.Thread(target=_stream, args=(server.url, ballots[i::4], acknowledged, lock))
            for i in range(4)
        ]
        for stream in streams:
            stream.start()
        while len(acknowledged) < 40 and any(stream.is_alive() for stream in streams):
            threading.Event().wait(0.005)
        server.kill()
        for stream in streams:
            stream.join(timeout=60)
    assert 40 <= len(acknowledged) < len(ballots), "the crash did not interrupt the stream"

    with Gunicorn(instance, database_url, workers=1) as restarted:
        for ballot_hash in acknowledged:
            status, data, _response = request(
                restarted.url, "GET", f"/api/v1/receipts/{ballot_hash}"
            )
            assert status == 200, (ballot_hash, data)

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.scalars(text("SELECT ballot_hash FROM ballots")))
            seqs = list(connection.scalars(text("SELECT seq FROM log_entries ORDER BY seq")))
            unlogged = connection.scalar(
                text(
                    "SELECT count(*) FROM ballots b LEFT JOIN log_entries e"
                    " ON e.property_area_id = b.property_area_id AND e.seq = b.log_seq"
                    " WHERE e.id IS NULL OR e.kind <> 'ballot'"
                )
            )
    finally:
        engine.dispose()
    assert set(acknowledged) <= stored
    assert seqs == list(range(len(seqs))), "the log has a gap"
    assert unlogged == 0
