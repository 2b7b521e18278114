"""Configuration: defaults, then `VOTING_*` environment variables, then an explicit mapping.

Development mode keeps a random secret key in the instance folder so that sessions survive a
restart; production mode refuses to start without `VOTING_SECRET_KEY`, because a default
secret would let anyone forge session cookies.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "INSTANCE_PATH": None,
    "ID_HASH_KEY": None,
    "SESSION_LIFETIME_MINUTES": 120,
    "MAX_UPLOAD_MB": 50,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "PLATFORM_NAME": "业主共同决定事项公共决策平台",
    "PLATFORM_ID": "voting.example",
    # Card-login challenges one client address may ask for in 10 minutes (a kiosk or a
    # whole estate behind one NAT address may need more).
    "CHALLENGES_PER_ADDRESS": 100,
    "TESTING": False,
}

_INT_KEYS = {"SESSION_LIFETIME_MINUTES", "MAX_UPLOAD_MB", "CHALLENGES_PER_ADDRESS"}
_BOOL_KEYS = {"TESTING"}


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("VOTING_"):
            continue
        key = name.removeprefix("VOTING_")
        if key in _INT_KEYS:
            try:
                values[key] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
        elif key in _BOOL_KEYS:
            values[key] = raw.strip().lower() in {"1", "true", "yes", "on"}
        else:
            values[key] = raw
    return values


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    config = dict(DEFAULTS)
    config.update(_from_environment(os.environ if environ is None else environ))
    if overrides:
        config.update(overrides)
    if config["ENV"] not in {"development", "production"}:
        raise ConfigError(
            f"VOTING_ENV must be 'development' or 'production', not {config['ENV']!r}"
        )
    return config


def instance_path(config: Mapping[str, Any]) -> Path:
    raw = config.get("INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    path = Path(raw).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """A random secret kept in a 0600 file, created atomically on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    value = secrets.token_hex(nbytes)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def resolve_secrets(config: dict[str, Any], folder: Path) -> None:
    """Fill SECRET_KEY and ID_HASH_KEY, or refuse in production."""
    production = config["ENV"] == "production"
    for key, filename in (("SECRET_KEY", "secret-key"), ("ID_HASH_KEY", "id-hash-key")):
        value = config.get(key)
        if value:
            if production and len(str(value)) < 32:
                raise ConfigError(f"VOTING_{key} must be at least 32 characters in production")
            continue
        if production and key == "SECRET_KEY":
            raise ConfigError(
                "VOTING_SECRET_KEY is not set: production mode needs a secret key of at least "
                "32 random characters (python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        # ID_HASH_KEY in production may live in the instance folder shared by all servers.
        config[key] = read_or_create_secret(folder / filename)


def database_url(config: Mapping[str, Any], folder: Path) -> str:
    url = config.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{folder / 'voting.sqlite'}"
    url = str(url)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
