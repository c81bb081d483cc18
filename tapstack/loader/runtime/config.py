"""The loader's settings: a typed model of its environment variables (no secrets: see
``handler``).

Each field of ``Settings`` names its variable (from ``contract``), and its type, default,
minimum and allowed values say how the variable is read; ``Settings.from_env`` parses them all
generically and reports every problem at once, naming the variable, the value and what is
allowed. A plain frozen dataclass rather than pydantic: the function package is built by
copying pure-Python packages, and pydantic needs the compiled ``pydantic-core`` wheel.

Required: ``DB_HOST`` (the RDS endpoint: the certificate must match it), ``DB_NAME``,
``DB_USER`` (IAM authentication), ``ROLE`` (``writer`` or ``standby``, the ``Role`` metric
dimension) and ``AWS_REGION`` (set by Lambda; signs the IAM tokens). Everything else has the
default shown on its field.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compression import DEFAULT_MAX_DECOMPRESSED_BYTES
from .contract import (
    ENV_AWS_REGION,
    ENV_BATCH_MAX_BYTES,
    ENV_BATCH_SIZE,
    ENV_DB_CONNECT_TIMEOUT,
    ENV_DB_HOST,
    ENV_DB_MASTER_SECRET_ID,
    ENV_DB_NAME,
    ENV_DB_PORT,
    ENV_DB_READ_TIMEOUT,
    ENV_DB_READ_USER,
    ENV_DB_USER,
    ENV_LOCK_TIMEOUT_SECONDS,
    ENV_LOG_LEVEL,
    ENV_MAX_DECOMPRESSED_BYTES,
    ENV_MAX_RECORD_BYTES,
    ENV_ROLE,
    ROLES,
)
from .formats import DEFAULT_MAX_RECORD_BYTES
from .loader import DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_SIZE

__all__ = ["LOG_LEVELS", "Settings", "SettingsError"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_REQUIRED = dataclasses.MISSING


class SettingsError(ValueError):
    """The environment does not describe a usable loader configuration."""


def setting(
    env: str,
    default: Any = _REQUIRED,
    *,
    minimum: float | None = None,
    choices: tuple[str, ...] | None = None,
    upper: bool = False,
) -> Any:
    """A field read from the variable ``env``; without ``default`` the variable is required.
    ``upper`` upper-cases the value before it is checked against ``choices``."""
    metadata = {"env": env, "minimum": minimum, "choices": choices, "upper": upper}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """What the loader reads from its environment, typed and checked."""

    #: RDS endpoint; TLS verifies that the server certificate names it.
    db_host: str = setting(ENV_DB_HOST)
    #: Database holding the ``events`` and manifest tables.
    db_name: str = setting(ENV_DB_NAME)
    #: Loader database user (IAM authentication).
    db_user: str = setting(ENV_DB_USER)
    #: What this region's loader is: the value of the ``Role`` metric dimension.
    role: str = setting(ENV_ROLE, choices=ROLES)
    #: Set by Lambda; signs the IAM authentication tokens.
    region: str = setting(ENV_AWS_REGION)
    db_port: int = setting(ENV_DB_PORT, 3306, minimum=1)
    #: The web tier's read-only account, which ``bootstrap`` creates (unset: it does not).
    db_read_user: str | None = setting(ENV_DB_READ_USER, None)
    #: Master-user secret, by name (replicated to both regions); only ``bootstrap`` reads it.
    master_secret_id: str | None = setting(ENV_DB_MASTER_SECRET_ID, None)
    #: Records per transaction.
    batch_size: int = setting(ENV_BATCH_SIZE, DEFAULT_BATCH_SIZE, minimum=1)
    #: Also flush a batch at this many bytes of encoded rows (a statement holds at most a batch).
    batch_max_bytes: int = setting(ENV_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_BYTES, minimum=1024)
    #: Longest accepted line / array element, in bytes.
    max_record_bytes: int = setting(ENV_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_BYTES, minimum=64)
    #: Most bytes a gzip object may decompress to (a gzip bomb is quarantined beyond it).
    max_decompressed_bytes: int = setting(
        ENV_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES, minimum=1024
    )
    #: Seconds.
    connect_timeout: float = setting(ENV_DB_CONNECT_TIMEOUT, 10.0, minimum=0.1)
    #: Seconds per statement read.
    read_timeout: float = setting(ENV_DB_READ_TIMEOUT, 300.0, minimum=1)
    #: Longest wait, in seconds, for another invocation loading the same object key; unset:
    #: half of the invocation's remaining time. Never more than ``read_timeout`` minus 5 s.
    lock_timeout: float | None = setting(ENV_LOCK_TIMEOUT_SECONDS, None, minimum=0)
    log_level: str = setting(ENV_LOG_LEVEL, "INFO", choices=LOG_LEVELS, upper=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse ``environ`` (``os.environ`` by default); raises ``SettingsError`` naming
        every missing or invalid variable."""
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        missing: list[str] = []
        problems: list[str] = []
        for field in dataclasses.fields(cls):
            name = field.metadata["env"]
            raw = env.get(name, "").strip()
            if not raw:
                if field.default is _REQUIRED:
                    missing.append(name)
                continue  # the field's default applies
            try:
                values[field.name] = _parse(raw, _base_type(hints[field.name]), field.metadata)
            except ValueError as problem:
                problems.append(f"{name} {problem}, got {raw!r}")
        if missing:
            problems.insert(0, "missing environment variable(s): " + ", ".join(missing))
        if problems:
            raise SettingsError("; ".join(problems))
        return cls(**values)


def _base_type(hint: Any) -> type:
    """``int`` for ``int``, ``float`` for ``float | None``: the type a present value has."""
    if isinstance(hint, types.UnionType):
        (base,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return typing.cast(type, base)
    return typing.cast(type, hint)


_KINDS = {int: "an integer", float: "a number"}


def _parse(raw: str, kind: type, rules: Mapping[str, Any]) -> Any:
    """``raw`` as ``kind``; raises ``ValueError`` saying what is allowed."""
    if kind in _KINDS:
        minimum = rules["minimum"]
        allowed = _KINDS[kind] + ("" if minimum is None else f" of at least {minimum}")
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be {allowed}") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum):
            raise ValueError(f"must be {allowed}")
        return value
    value = raw.upper() if rules["upper"] else raw
    choices = rules["choices"]
    if choices is not None and value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}")
    return value
