"""Lambda entry point: ``loader.handler.handler``.

* S3 ``ObjectCreated`` events: load the objects (see ``loader``). Returns a summary per
  object; raises on real failures (database unreachable, S3 errors, lock timeouts) so Lambda
  retries the event and, after the retries, sends it to the dead-letter queue.
* ``{"tapstack_action": "bootstrap"}``: create the schema and the IAM loader user
  (see ``bootstrap``).

Clients, the TLS context and the loader (with its open database connection) are created on
first use and reused by later invocations of the same execution environment. Every log line of
an invocation carries its Lambda context and, as ``correlation_id``, the request id of the S3
upload behind the event (Powertools' ``inject_lambda_context``).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from .bootstrap import run_bootstrap
from .config import Settings
from .connections import connection_factory, iam_token_provider, tls_context
from .loader import Loader
from .observability import loader_logger, loader_metrics

__all__ = ["CORRELATION_ID_PATH", "handler", "logger"]

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_lock = threading.Lock()
_cache: dict[str, Any] = {}

#: Module level, as ``inject_lambda_context`` needs; its level follows ``LOG_LEVEL`` once the
#: settings are parsed.
logger = loader_logger()
#: The request id of the S3 upload: first record of a notification, or the EventBridge form.
CORRELATION_ID_PATH = 'Records[0].responseElements."x-amz-request-id" || detail."request-id"'


def _settings() -> Settings:
    if "settings" not in _cache:
        _cache["settings"] = Settings.from_env()
    return _cache["settings"]  # type: ignore[no-any-return]


def _tls() -> Any:
    if "tls" not in _cache:
        _cache["tls"] = tls_context()
    return _cache["tls"]


def _loader(settings: Settings) -> Loader:
    if "loader" not in _cache:
        rds = boto3.client("rds", region_name=settings.region, config=_BOTO_CONFIG)
        connect = connection_factory(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=iam_token_provider(
                rds,
                host=settings.db_host,
                port=settings.db_port,
                user=settings.db_user,
                region=settings.region,
            ),
            database=settings.db_name,
            ssl_context=_tls(),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
        _cache["loader"] = Loader(
            connect=connect,
            s3=boto3.client("s3", region_name=settings.region, config=_BOTO_CONFIG),
            role=settings.role,
            batch_size=settings.batch_size,
            batch_max_bytes=settings.batch_max_bytes,
            max_record_bytes=settings.max_record_bytes,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            logger=logger,
            metrics=loader_metrics(settings.role),
        )
    return _cache["loader"]  # type: ignore[no-any-return]


#: GET_LOCK waits on the server without sending anything, so the client must keep reading
#: for longer than the wait: a wait up to the read timeout would end in "Lost connection"
#: (2013) instead of a clean ``LockTimeout``.
LOCK_WAIT_READ_MARGIN = 5.0


def _lock_timeout(context: Any, settings: Settings) -> float:
    """Wait for a concurrent loader of the same object key at most half the remaining time,
    and at most the database read timeout minus ``LOCK_WAIT_READ_MARGIN``."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    budget = remaining_ms() / 2000.0 if callable(remaining_ms) else 60.0
    if settings.lock_timeout is not None:
        budget = min(budget, settings.lock_timeout)
    budget = min(budget, settings.read_timeout - LOCK_WAIT_READ_MARGIN)
    return max(1.0, budget)


def _bootstrap(settings: Settings) -> dict[str, Any]:
    if not settings.master_secret_id:
        raise ValueError("the bootstrap action needs DB_MASTER_SECRET_ID")

    def connect_as(username: str, password: str) -> Any:
        return connection_factory(
            host=settings.db_host,
            port=settings.db_port,
            user=username,
            password=lambda: password,
            database=None,
            ssl_context=_tls(),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            autocommit=True,
        )()

    secrets = boto3.client("secretsmanager", region_name=settings.region, config=_BOTO_CONFIG)
    return run_bootstrap(
        secrets_client=secrets,
        secret_arn=settings.master_secret_id,
        connect_as=connect_as,
        database=settings.db_name,
        loader_user=settings.db_user,
        reader_user=settings.db_read_user,
    )


@logger.inject_lambda_context(correlation_id_path=CORRELATION_ID_PATH, clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    with _lock:  # one invocation at a time per environment; guards the lazy cache
        settings = _settings()
        logger.setLevel(settings.log_level)
        if isinstance(event, dict) and "tapstack_action" in event:
            action = event["tapstack_action"]
            if action != "bootstrap":
                raise ValueError(f"unknown tapstack_action {action!r} (known: bootstrap)")
            result = _bootstrap(settings)
            logger.info("bootstrap finished", **result)
            return result
        loader = _loader(settings)
        return loader.handle_event(event, lock_timeout=_lock_timeout(context, settings))
