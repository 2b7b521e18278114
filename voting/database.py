"""The database as seen from the app: one engine, one session per request or command."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from voting.db import make_engine, make_sessionmaker

EXTENSION = "voting.database"


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, **engine_kwargs)
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(self.engine)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self
        app.teardown_appcontext(_close_session)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def db_session() -> Session:
    """The session of the current request or command; closed when its app context ends."""
    session: Session | None = g.get("_voting_db_session")
    if session is None:
        session = get_database().sessionmaker()
        g._voting_db_session = session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("_voting_db_session", None)
    if session is not None:
        session.close()
