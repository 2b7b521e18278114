"""Owners' assembly voting platform (业主大会电子表决平台)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app; see `voting.app.create_app`.

    Imported lazily so that the pure packages (`voting.domain`) load without Flask.
    """
    factory = importlib.import_module("voting.app").create_app
    app: Flask = factory(config)
    return app


__all__ = ["create_app"]
