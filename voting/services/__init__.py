"""Use cases. Each public service function is one transaction: it commits on success and
rolls back on any error, so a refused action leaves the database exactly as it was."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.db import begin_write

P = ParamSpec("P")
R = TypeVar("R")


class ServiceError(Exception):
    """A refused use case; the message is meant for the user (already translated text or
    plain English for the command line)."""


class NotFound(ServiceError):
    pass


def use_case(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run `fn(session, …)` as one transaction: commit on return, roll back on error."""

    @functools.wraps(fn)
    def wrapper(session: Session, *args: P.args, **kwargs: P.kwargs) -> R:
        begin_write(session)
        try:
            result = fn(session, *args, **kwargs)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result

    return wrapper


M = TypeVar("M")


def reload_locked(session: Session, model: type[M], row_id: int, missing: str) -> M:
    """The row re-read inside the current transaction, row-locked on PostgreSQL, so that its
    state is current for the checks that follow; `missing` is the NotFound message."""
    found = session.scalar(
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound(missing)
    return found
