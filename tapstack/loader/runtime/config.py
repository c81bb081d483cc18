"""Loader configuration, from environment variables only (no secrets: see ``handler``).

Required:
    DB_HOST                 RDS endpoint (the certificate must match it: use the endpoint name)
    DB_NAME                 database holding the ``events`` and manifest tables
    DB_USER                 loader database user (IAM authentication)
    AWS_REGION              set by Lambda; used to sign IAM authentication tokens

Optional:
    DB_PORT                 default 3306
    DB_MASTER_SECRET_ID     master-user secret, by name (replicated to both regions);
                            only the bootstrap action reads it
    BATCH_SIZE              records per transaction, default 5000
    BATCH_MAX_BYTES         also flush a batch at this many bytes of SQL, default 2 MiB
    MAX_RECORD_BYTES        longest accepted line / array element, default 1 MiB
    DB_CONNECT_TIMEOUT      seconds, default 10
    DB_READ_TIMEOUT         seconds per statement read, default 300
    LOCK_TIMEOUT_SECONDS    longest wait for another invocation loading the same object;
                            default: half of the invocation's remaining time; never more
                            than DB_READ_TIMEOUT minus 5 seconds
    LOG_LEVEL               DEBUG, INFO (default), WARNING or ERROR
    FUNCTION_ROLE           value of the FunctionRole metric dimension, default ``loader``
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .formats import DEFAULT_MAX_RECORD_BYTES
from .loader import DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_SIZE

__all__ = ["ConfigError", "Settings"]


class ConfigError(ValueError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class Settings:
    db_host: str
    db_name: str
    db_user: str
    region: str
    db_port: int = 3306
    master_secret_id: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    lock_timeout: float | None = None
    log_level: str = "INFO"
    function_role: str = "loader"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        missing = [n for n in ("DB_HOST", "DB_NAME", "DB_USER", "AWS_REGION") if not get(n)]
        if missing:
            raise ConfigError("missing environment variable(s): " + ", ".join(missing))

        def number(name: str, kind: Callable[[str], Any], default: Any, minimum: float) -> Any:
            raw = get(name)
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
            return value

        level = (get("LOG_LEVEL") or "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return cls(
            db_host=get("DB_HOST"),
            db_name=get("DB_NAME"),
            db_user=get("DB_USER"),
            region=get("AWS_REGION"),
            db_port=number("DB_PORT", int, 3306, 1),
            master_secret_id=get("DB_MASTER_SECRET_ID") or None,
            batch_size=number("BATCH_SIZE", int, DEFAULT_BATCH_SIZE, 1),
            batch_max_bytes=number("BATCH_MAX_BYTES", int, DEFAULT_BATCH_MAX_BYTES, 1024),
            max_record_bytes=number("MAX_RECORD_BYTES", int, DEFAULT_MAX_RECORD_BYTES, 64),
            connect_timeout=number("DB_CONNECT_TIMEOUT", float, 10.0, 0.1),
            read_timeout=number("DB_READ_TIMEOUT", float, 300.0, 1),
            lock_timeout=number("LOCK_TIMEOUT_SECONDS", float, None, 0),
            log_level=level,
            function_role=get("FUNCTION_ROLE") or "loader",
        )
