"""boto3 clients for the operator commands: one factory, one retry policy."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

#: ``client(service, region)``
ClientFactory = Callable[[str, str], Any]


def client_factory(env: Mapping[str, str] | None = None) -> ClientFactory:
    """``client(service, region)`` for the target that ``env`` (default: this process's
    environment) describes: an endpoint such as the embedded emulator's, with the credentials
    given beside it, or else the ambient AWS configuration (profile, SSO, instance role).

    Standard retry mode, 3 attempts, 5 s to connect and 30 s per read: a command that cannot
    reach AWS says so within seconds instead of hanging.
    """
    import boto3
    from botocore.config import Config

    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL")
    config = Config(
        retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
    )
    # A session of its own: boto3's module-level default session caches the credentials it
    # resolved first, which would outlive a change of environment within one process.
    session = boto3.session.Session()
    if not endpoint:
        return lambda service, region: session.client(service, region_name=region, config=config)

    def client(service: str, region: str) -> Any:
        return session.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            # None when absent: boto3's credential chain decides, and says when it finds none.
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
            config=config,
        )

    return client
