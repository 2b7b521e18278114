"""Owners' assembly voting platform (业主大会电子表决平台)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app; see `voting.app.create_app`."""
    from voting.app import create_app as _create_app

    return _create_app(config)


__all__ = ["create_app"]
