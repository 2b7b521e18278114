"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when
VOTING_DATABASE_URL is set), an app bound to it, and a logged-in client helper.

Each test gets its own copy of a database migrated once per session: a file copy on SQLite,
`CREATE DATABASE … TEMPLATE` on PostgreSQL. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("VOTING_DATABASE_URL", "")
TEST_SECRET = "test-secret-key-" + "x" * 32


def _pg_admin_url() -> str:
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database="postgres").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """A database migrated to the newest schema, copied for every test."""
    from voting.migrate import upgrade

    if PG_URL:
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        name = f"voting_tpl_{worker_id}_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _with_database(_pg_admin_url(), name)
        upgrade(url)
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite"
        upgrade(f"sqlite:///{path}")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield str(path)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker id, or 'main' without xdist."""
    config: Any = request.config
    return str(getattr(config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        tpl = make_url(template_database).database
        name = f"voting_t_{uuid.uuid4().hex[:16]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"'))
        yield _with_database(_pg_admin_url(), name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "voting.sqlite"
        shutil.copyfile(template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app_config(database_url: str, instance_path: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": TEST_SECRET,
        "TESTING": True,
        "ENV": "development",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    from voting import create_app
    from voting.database import get_database

    application = create_app(app_config)
    yield application
    get_database(application).engine.dispose()


@pytest.fixture
def db(app: Any) -> Iterator[Any]:
    """A session on the test database, inside an app context."""
    from voting.database import db_session

    with app.app_context():
        yield db_session()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)
