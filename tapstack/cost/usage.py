"""What the estimate assumes about usage, stated once: every usage-based line item names
the assumption it used, and the README lists them all.

Fixed charges (hours a resource exists, keys, alarms, health checks) are read from the
templates. Usage-based charges (data processed, requests, storage that grows) cannot be:
they are priced here at a modest, stated load, and their unit price is always shown, so
that anyone can scale them to their own traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Hours in a month as AWS's pricing pages count them (365 x 24 / 12).
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

#: Route 53 health checkers probing each endpoint: "The health checkers are run on 16
#: redundant availability zones" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-check-latency.html).
HEALTH_CHECKERS = 16


@dataclass(frozen=True)
class Usage:
    """The load a month of TapStack is priced at (see each field's comment)."""

    #: Page requests a second reaching each region's load balancer (besides health checks).
    page_requests_per_second: float = 1.0
    #: Bytes of each response sent to the internet (the page is about 2 KB; headers added).
    response_bytes: int = 3_000
    #: Bytes WAF logs for each request it inspects (one JSON record per request).
    waf_log_bytes_per_request: int = 1_500
    #: GB each NAT gateway processes a month (package updates, AWS APIs not behind endpoints).
    nat_gb_per_gateway: float = 10.0
    #: GB each interface endpoint processes a month (SSM agent, Secrets Manager calls).
    endpoint_gb: float = 1.0
    #: vCPU-hours a month each instance bursts above its baseline in unlimited mode
    #: (0: the server idles far below the 10% baseline; bench/web.py measures it).
    surplus_vcpu_hours_per_instance: float = 0.0
    #: GB stored in each data bucket, and in each access-log bucket.
    data_bucket_gb: float = 10.0
    log_bucket_gb: float = 5.0
    #: GB written to the data bucket a month, and so replicated to the other region.
    replicated_gb: float = 2.0
    #: Object writes and reads a month per bucket.
    put_requests: int = 20_000
    get_requests: int = 100_000
    #: Loader invocations a month and seconds each.
    loader_invocations: int = 1_000
    loader_seconds: float = 5.0
    #: GB the database's binary log ships to the cross-region replica a month.
    database_replication_gb: float = 2.0
    #: GB a day the database and the data bucket change (incremental backups).
    backup_daily_change_gb: float = 0.2
    #: GB of VPC flow logs per VPC, of each Lambda's logs, of each other log group, a month.
    flow_log_gb: float = 2.0
    lambda_log_gb: float = 0.1
    other_log_gb: float = 0.05
    #: KMS requests a month per key, Secrets Manager calls per secret, SQS requests per queue.
    kms_requests: int = 20_000
    secret_calls: int = 1_000
    sqs_requests: int = 10_000
    #: Alarm notifications (e-mails) a month per topic.
    notifications: int = 100
    #: DNS queries a month per record.
    dns_queries: int = 1_000_000

    def describe(self) -> list[tuple[str, str]]:
        """``(field, value)`` for every assumption, for the report."""
        return [(f.name, f"{getattr(self, f.name):,}") for f in fields(self)]
