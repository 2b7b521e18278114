"""Configuration: environment variables, secrets, and the SQLite settings that keep data."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from voting import create_app
from voting.config import ConfigError, load_config
from voting.database import get_database


def test_config_reads_prefixed_environment_variables() -> None:
    config = load_config(environ={"VOTING_SESSION_LIFETIME_MINUTES": "30", "OTHER": "x"})
    assert config["SESSION_LIFETIME_MINUTES"] == 30
    assert "OTHER" not in config


def test_config_rejects_a_non_numeric_number() -> None:
    with pytest.raises(ConfigError, match="VOTING_MAX_UPLOAD_MB"):
        load_config(environ={"VOTING_MAX_UPLOAD_MB": "lots"})


def test_config_rejects_an_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="VOTING_ENV"):
        load_config(environ={"VOTING_ENV": "staging"})


def test_config_production_without_secret_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VOTING_SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": None, "INSTANCE_PATH": str(tmp_path)})


def test_config_production_with_short_secret_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        create_app({"ENV": "production", "SECRET_KEY": "short", "INSTANCE_PATH": str(tmp_path)})


def test_config_development_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    first = create_app({"SECRET_KEY": None, "INSTANCE_PATH": str(tmp_path)})
    second = create_app({"SECRET_KEY": None, "INSTANCE_PATH": str(tmp_path)})
    key_file = tmp_path / "secret-key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    other = create_app({"SECRET_KEY": None, "INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_config_default_database_is_sqlite_in_instance_folder(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": None})
    assert app.config["VOTING_DATABASE_URL"] == f"sqlite:///{tmp_path / 'voting.sqlite'}"


def test_config_plain_postgresql_url_uses_psycopg(tmp_path: Path) -> None:
    app = create_app(
        {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/x"}
    )
    assert app.config["VOTING_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_config_sqlite_uses_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": None})
    engine = get_database(app).engine
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_config_wsgi_module_exposes_an_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setenv("VOTING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("VOTING_DATABASE_URL", raising=False)
    sys.modules.pop("wsgi", None)
    module = importlib.import_module("wsgi")
    assert module.app.name == "voting"
    sys.modules.pop("wsgi", None)
