"""One pricer per billed CloudFormation type (registered in ``tapstack.cost.items.PRICERS``).

Each reads the resource's properties and returns its line items; usage-based items say
which :class:`tapstack.cost.usage.Usage` assumption they use.
"""

from __future__ import annotations

import re
from typing import Any

from tapstack.config import BURSTABLE_FAMILIES
from tapstack.cost.items import Context, LineItem, monthly_hours, monthly_requests, prices

GB = 1_000_000_000
MB_PER_GB = 1024
DAYS_PER_MONTH = 30.42
#: vCPUs of the burstable types the price file knows (surplus credits bill per vCPU-hour).
VCPUS = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8}
#: Metrics S3 publishes for a replication rule with metrics on, billed as custom metrics
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html).
REPLICATION_METRICS = 4
#: An ALB's new-connections dimension: 25 new connections a second make one LCU
#: (https://aws.amazon.com/elasticloadbalancing/pricing/); each request is counted as a new
#: connection, as each Route 53 checker's request is.
NEW_CONNECTIONS_PER_LCU = 25


# --- compute ------------------------------------------------------------------------------


@prices("AWS::AutoScaling::AutoScalingGroup")
def auto_scaling_group(ctx: Context) -> list[LineItem]:
    """The group's desired instances, their root volumes and (unlimited) surplus credits."""
    count = int(ctx.props.get("DesiredCapacity") or ctx.props["MinSize"])
    template = ctx.resource_by_ref(ctx.props["LaunchTemplate"]["LaunchTemplateId"])
    data = template["Properties"]["LaunchTemplateData"]
    itype = data["InstanceType"]
    items = [
        ctx.item(f"{count} x {itype} instance-hours", monthly_hours(count), f"ec2.instance.{itype}")
    ]
    for device in data.get("BlockDeviceMappings", []):
        ebs = device.get("Ebs", {})
        volume = ebs.get("VolumeType", "gp3")
        items.append(
            ctx.item(
                f"{count} x {ebs['VolumeSize']} GiB {volume} root volume",
                count * ebs["VolumeSize"],
                f"ebs.{volume}",
            )
        )
    family, size = itype.split(".", 1)
    mode = data.get("CreditSpecification", {}).get("CpuCredits")
    mode = mode or ("standard" if family == "t2" else "unlimited")
    if family in BURSTABLE_FAMILIES and mode == "unlimited":
        hours = ctx.usage.surplus_vcpu_hours_per_instance * count
        items.append(
            ctx.item(
                f"surplus CPU credits (unlimited mode, {VCPUS.get(size, 2)} vCPUs each)",
                hours,
                f"ec2.surplus_credits.{family}",
                assumption=f"{ctx.usage.surplus_vcpu_hours_per_instance:g} vCPU-hours above the "
                "baseline a month per instance (surplus_vcpu_hours_per_instance)",
            )
        )
    return items


# --- network ------------------------------------------------------------------------------


@prices("AWS::EC2::NatGateway")
def nat_gateway(ctx: Context) -> list[LineItem]:
    gb = ctx.usage.nat_gb_per_gateway
    return [
        ctx.item("NAT gateway-hours", monthly_hours(), "vpc.nat_gateway.hours"),
        ctx.item(
            "NAT data processed",
            gb,
            "vpc.nat_gateway.data",
            assumption=f"{gb:g} GB a month per gateway (nat_gb_per_gateway)",
        ),
    ]


@prices("AWS::EC2::EIP")
def elastic_ip(ctx: Context) -> list[LineItem]:
    return [ctx.item("public IPv4 address-hours", monthly_hours(), "vpc.public_ipv4.hours")]


@prices("AWS::EC2::VPCEndpoint")
def vpc_endpoint(ctx: Context) -> list[LineItem]:
    """Interface endpoints bill per AZ (one network interface per subnet); gateway ones
    (S3) are free."""
    if ctx.props.get("VpcEndpointType", "Gateway") != "Interface":
        return []
    service = _service_name(ctx.props.get("ServiceName"))
    zones = len(ctx.props.get("SubnetIds", [])) or 1
    gb = ctx.usage.endpoint_gb
    return [
        ctx.item(
            f"{service} endpoint, {zones} AZ-hours",
            monthly_hours(zones),
            "vpc.interface_endpoint.hours",
        ),
        ctx.item(
            f"{service} endpoint data processed",
            gb,
            "vpc.interface_endpoint.data",
            assumption=f"{gb:g} GB a month per endpoint (endpoint_gb)",
        ),
    ]


def _service_name(value: Any) -> str:
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1]
    return "service"


@prices("AWS::ElasticLoadBalancingV2::LoadBalancer")
def load_balancer(ctx: Context) -> list[LineItem]:
    """Hours, LCUs at the region's request rate, one public IPv4 address per AZ, and the
    responses' data transfer to the internet."""
    rps = ctx.requests_per_second.get(ctx.region, 0.0)
    zones = len(ctx.props.get("Subnets", [])) or 2
    lcu = rps / NEW_CONNECTIONS_PER_LCU
    load = f"{rps:.2f} requests/s (page_requests_per_second plus Route 53 checkers)"
    sent_gb = monthly_requests(rps) * ctx.usage.response_bytes / GB
    return [
        ctx.item("ALB-hours", monthly_hours(), "elb.alb.hours"),
        ctx.item(
            "LCU-hours", monthly_hours(lcu), "elb.alb.lcu", assumption=f"{lcu:.3f} LCU: {load}"
        ),
        ctx.item(
            f"public IPv4 address-hours ({zones} AZs)",
            monthly_hours(zones),
            "vpc.public_ipv4.hours",
        ),
        ctx.item(
            "data transfer out to the internet",
            sent_gb,
            "transfer.internet_out",
            assumption=f"{load}, {ctx.usage.response_bytes:,} bytes each (response_bytes)",
        ),
    ]


# --- database ------------------------------------------------------------------------------


@prices("AWS::RDS::DBInstance")
def db_instance(ctx: Context) -> list[LineItem]:
    props = ctx.props
    cls = props["DBInstanceClass"]
    multi_az = bool(props.get("MultiAZ"))
    suffix = ".multi_az" if multi_az else ""
    storage = int(props.get("AllocatedStorage") or _source_storage(ctx))
    kind = props.get("StorageType", "gp3")
    layout = "Multi-AZ" if multi_az else "single-AZ"
    items = [
        ctx.item(f"{cls} {layout} instance-hours", monthly_hours(), f"rds.instance.{cls}{suffix}"),
        ctx.item(f"{storage} GB {kind} storage ({layout})", storage, f"rds.storage.{kind}{suffix}"),
        ctx.item(
            "backup storage beyond the free allowance",
            0,
            "rds.backup_storage",
            assumption="automated backups stay within the free allowance (100% of the "
            "provisioned storage in the region)",
        ),
    ]
    source = props.get("SourceDBInstanceIdentifier")
    if isinstance(source, str) and source.startswith("arn:"):
        gb = ctx.usage.database_replication_gb
        items.append(
            ctx.item(
                "replication from the source region",
                gb,
                "transfer.inter_region",
                assumption=f"{gb:g} GB of binary log a month (database_replication_gb)",
                region=source.split(":")[3],
            )
        )
    if props.get("MonitoringInterval"):
        items.append(_log_ingest(ctx, "Enhanced Monitoring logs", ctx.usage.other_log_gb))
    return items


def _source_storage(ctx: Context) -> int:
    """A read replica's storage is its source's: found by identifier in another stack."""
    source = str(ctx.props.get("SourceDBInstanceIdentifier", "")).rsplit(":", 1)[-1]
    for stack in ctx.stacks:
        for resource in stack.template.get("Resources", {}).values():
            props = resource.get("Properties", {})
            if props.get("DBInstanceIdentifier") == source and props.get("AllocatedStorage"):
                return int(props["AllocatedStorage"])
    return 20  # RDS MySQL's smallest gp3 allocation


@prices("AWS::SecretsManager::Secret")
def secret(ctx: Context) -> list[LineItem]:
    calls = ctx.usage.secret_calls
    return [
        ctx.item("secret-month", 1, "secretsmanager.secret"),
        ctx.item(
            "API calls",
            calls / 10_000,
            "secretsmanager.api",
            assumption=f"{calls:,} calls a month (secret_calls)",
        ),
    ]


# --- DNS and WAF ---------------------------------------------------------------------------


@prices("AWS::Route53::HostedZone")
def hosted_zone(ctx: Context) -> list[LineItem]:
    return [ctx.item("hosted zone-month", 1, "route53.hosted_zone")]


@prices("AWS::Route53::HealthCheck")
def health_check(ctx: Context) -> list[LineItem]:
    """The check, and each optional feature it uses, priced as an AWS endpoint's (the
    load balancers are AWS resources of the account)."""
    config = ctx.props["HealthCheckConfig"]
    items = [ctx.item("health check (AWS endpoint)", 1, "route53.health_check.aws")]
    options = [
        ("HTTPS", config.get("Type", "").startswith("HTTPS")),
        ("fast interval (10 s)", config.get("RequestInterval", 30) == 10),
        ("latency measurement", bool(config.get("MeasureLatency"))),
        ("string matching", config.get("Type", "").endswith("STR_MATCH")),
    ]
    for name, used in options:
        if used:
            items.append(
                ctx.item(f"health check option: {name}", 1, "route53.health_check.option.aws")
            )
    return items


@prices("AWS::Route53::RecordSet")
def record_set(ctx: Context) -> list[LineItem]:
    queries = ctx.usage.dns_queries
    if "AliasTarget" in ctx.props:
        return [
            ctx.item(
                "DNS queries (alias to a load balancer: free)",
                0,
                "route53.queries.standard",
                assumption=f"{queries:,} queries a month (dns_queries), free: Route 53 does "
                "not charge alias queries to Elastic Load Balancing",
            )
        ]
    return [
        ctx.item(
            "DNS queries",
            queries / 1_000_000,
            "route53.queries.standard",
            assumption=f"{queries:,} queries a month (dns_queries)",
        )
    ]


@prices("AWS::WAFv2::WebACL")
def web_acl(ctx: Context) -> list[LineItem]:
    rules = len(ctx.props.get("Rules", []))
    rps = ctx.requests_per_second.get(ctx.region, 0.0)
    return [
        ctx.item("web ACL-month", 1, "waf.web_acl"),
        ctx.item(f"{rules} rules", rules, "waf.rule"),
        ctx.item(
            "requests inspected",
            monthly_requests(rps) / 1_000_000,
            "waf.requests",
            assumption=f"{rps:.2f} requests/s (page_requests_per_second plus Route 53 checkers)",
        ),
    ]


# --- storage ------------------------------------------------------------------------------


@prices("AWS::S3::Bucket")
def bucket(ctx: Context) -> list[LineItem]:
    name = str(ctx.props.get("BucketName", ctx.logical_id))
    is_logs = "-logs-" in name or "Log" in ctx.logical_id
    gb = ctx.usage.log_bucket_gb if is_logs else ctx.usage.data_bucket_gb
    field = "log_bucket_gb" if is_logs else "data_bucket_gb"
    usage = ctx.usage
    items = [
        ctx.item("Standard storage", gb, "s3.standard.storage", assumption=f"{gb:g} GB ({field})"),
        ctx.item(
            "PUT/COPY/POST/LIST requests",
            usage.put_requests / 1000,
            "s3.requests.put",
            assumption=f"{usage.put_requests:,} a month (put_requests)",
        ),
        ctx.item(
            "GET requests",
            usage.get_requests / 1000,
            "s3.requests.get",
            assumption=f"{usage.get_requests:,} a month (get_requests)",
        ),
    ]
    for rule in ctx.props.get("ReplicationConfiguration", {}).get("Rules", []):
        items += _replication(ctx, rule)
    return items


def _replication(ctx: Context, rule: dict[str, Any]) -> list[LineItem]:
    destination = rule.get("Destination", {})
    gb = ctx.usage.replicated_gb
    written = f"{gb:g} GB written a month (replicated_gb)"
    items = [
        ctx.item(
            "replication transfer to the other region",
            gb,
            "transfer.inter_region",
            assumption=written,
        )
    ]
    if destination.get("ReplicationTime", {}).get("Status") == "Enabled":
        items.append(ctx.item("Replication Time Control", gb, "s3.rtc", assumption=written))
    if destination.get("Metrics", {}).get("Status") == "Enabled":
        items.append(ctx.item("replication metrics", REPLICATION_METRICS, "cloudwatch.metric"))
    return items


@prices("AWS::KMS::Key")
def kms_key(ctx: Context) -> list[LineItem]:
    requests = ctx.usage.kms_requests
    return [
        ctx.item("customer managed key-month", 1, "kms.key"),
        ctx.item(
            "requests",
            requests / 10_000,
            "kms.requests",
            assumption=f"{requests:,} a month (kms_requests)",
        ),
    ]


@prices("AWS::Backup::BackupPlan")
def backup_plan(ctx: Context) -> list[LineItem]:
    """Recovery points of the database and the data bucket in this region's vault and,
    for each copy action, in the other region's (stored: one full copy plus each day's
    change for the retention period)."""
    items = []
    for rule in ctx.props["BackupPlan"]["BackupPlanRule"]:
        days = rule.get("Lifecycle", {}).get("DeleteAfterDays", 35)
        items += _recovery_points(ctx, days, ctx.region, "this region's vault")
        for copy in rule.get("CopyActions", []):
            region = copy["DestinationBackupVaultArn"].split(":")[3]
            copy_days = copy.get("Lifecycle", {}).get("DeleteAfterDays", days)
            items += _recovery_points(ctx, copy_days, region, f"copies in {region}")
            change = ctx.usage.backup_daily_change_gb * DAYS_PER_MONTH * 2
            items.append(
                ctx.item(
                    f"copy transfer to {region}",
                    change,
                    "transfer.inter_region",
                    assumption=f"{ctx.usage.backup_daily_change_gb:g} GB a day changed in the "
                    "database and in the bucket (backup_daily_change_gb)",
                )
            )
    return items


def _recovery_points(ctx: Context, days: int, region: str, where: str) -> list[LineItem]:
    usage = ctx.usage
    database_gb = _writer_storage(ctx)
    change = usage.backup_daily_change_gb * days
    why = (
        f"{days} days kept: one full copy plus {usage.backup_daily_change_gb:g} GB a day "
        "(backup_daily_change_gb)"
    )
    return [
        ctx.item(
            f"RDS recovery points, {where}",
            database_gb + change,
            "backup.rds",
            assumption=f"{database_gb} GB database, {why}",
            region=region,
        ),
        ctx.item(
            f"S3 recovery points, {where}",
            usage.data_bucket_gb + change,
            "backup.s3",
            assumption=f"{usage.data_bucket_gb:g} GB bucket (data_bucket_gb), {why}",
            region=region,
        ),
    ]


def _writer_storage(ctx: Context) -> int:
    for resource in ctx.stack.template["Resources"].values():
        if resource["Type"] == "AWS::RDS::DBInstance" and resource["Properties"].get(
            "AllocatedStorage"
        ):
            return int(resource["Properties"]["AllocatedStorage"])
    return 20


# --- serverless, monitoring ---------------------------------------------------------------------


@prices("AWS::Lambda::Function")
def function(ctx: Context) -> list[LineItem]:
    usage = ctx.usage
    arch = (ctx.props.get("Architectures") or ["x86_64"])[0]
    memory_gb = int(ctx.props.get("MemorySize", 128)) / MB_PER_GB
    seconds = usage.loader_invocations * usage.loader_seconds
    load = f"{usage.loader_invocations:,} invocations a month (loader_invocations)"
    return [
        ctx.item(
            "requests", usage.loader_invocations / 1_000_000, "lambda.requests", assumption=load
        ),
        ctx.item(
            f"duration at {int(memory_gb * MB_PER_GB)} MB ({arch})",
            seconds * memory_gb,
            f"lambda.duration.{arch}",
            assumption=f"{load}, {usage.loader_seconds:g} s each (loader_seconds)",
        ),
    ]


@prices("AWS::SQS::Queue")
def queue(ctx: Context) -> list[LineItem]:
    requests = ctx.usage.sqs_requests
    return [
        ctx.item(
            "requests",
            requests / 1_000_000,
            "sqs.requests",
            assumption=f"{requests:,} a month (sqs_requests)",
        )
    ]


@prices("AWS::SNS::Topic")
def topic(ctx: Context) -> list[LineItem]:
    sent = ctx.usage.notifications
    return [
        ctx.item(
            "e-mail notifications",
            sent / 100_000,
            "sns.email",
            assumption=f"{sent:,} a month (notifications)",
        )
    ]


@prices("AWS::CloudWatch::Alarm")
def alarm(ctx: Context) -> list[LineItem]:
    """An alarm bills per metric it evaluates; a metric an application publishes (any
    namespace not ``AWS/``) bills as a custom metric too."""
    metrics = [m for m in ctx.props.get("Metrics", []) if "MetricStat" in m]
    namespaces = [m["MetricStat"]["Metric"].get("Namespace", "") for m in metrics]
    if not metrics:
        namespaces = [ctx.props.get("Namespace", "")]
    count = len(namespaces)
    items = [
        ctx.item(f"alarm ({count} metric{'s' if count > 1 else ''})", count, "cloudwatch.alarm")
    ]
    custom = [n for n in namespaces if not str(n).startswith("AWS/")]
    if custom:
        items.append(ctx.item("custom metric", len(custom), "cloudwatch.metric"))
    return items


@prices("AWS::CloudWatch::Dashboard")
def dashboard(ctx: Context) -> list[LineItem]:
    return [ctx.item("dashboard-month", 1, "cloudwatch.dashboard")]


@prices("AWS::Logs::LogGroup")
def log_group(ctx: Context) -> list[LineItem]:
    """Ingestion at the group's assumed volume, and storage of what its retention keeps."""
    name = str(ctx.props.get("LogGroupName", ctx.logical_id))
    gb, why, vended = _log_volume(ctx, name)
    days = int(ctx.props.get("RetentionInDays", 3653))
    stored = gb * days / DAYS_PER_MONTH
    key = "cloudwatch.logs.vended" if vended else "cloudwatch.logs.ingest"
    return [
        ctx.item("log ingestion", gb, key, assumption=why),
        ctx.item(
            f"log storage ({days}-day retention)",
            stored,
            "cloudwatch.logs.storage",
            assumption=f"{why}, kept {days} days (uncompressed: an upper bound)",
        ),
    ]


def _log_volume(ctx: Context, name: str) -> tuple[float, str, bool]:
    usage = ctx.usage
    if name.startswith("aws-waf-logs-"):
        rps = ctx.requests_per_second.get(ctx.region, 0.0)
        gb = monthly_requests(rps) * usage.waf_log_bytes_per_request / GB
        return (
            gb,
            f"{rps:.2f} requests/s x {usage.waf_log_bytes_per_request:,} bytes "
            "(waf_log_bytes_per_request)",
            True,
        )
    if re.search(r"flow-logs?$", name):
        return usage.flow_log_gb, f"{usage.flow_log_gb:g} GB a month (flow_log_gb)", True
    if name.startswith("/aws/lambda/"):
        return usage.lambda_log_gb, f"{usage.lambda_log_gb:g} GB a month (lambda_log_gb)", False
    return usage.other_log_gb, f"{usage.other_log_gb:g} GB a month (other_log_gb)", False


def _log_ingest(ctx: Context, what: str, gb: float) -> LineItem:
    return ctx.item(
        what, gb, "cloudwatch.logs.ingest", assumption=f"{gb:g} GB a month (other_log_gb)"
    )
