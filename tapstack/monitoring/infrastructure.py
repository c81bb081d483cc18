"""One region's alarms, their notification topic, and its dashboard."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from tapstack.compliance import acknowledge
from tapstack.config import MonitoringConfig
from tapstack.failover.model import S3_RTC_SECONDS
from tapstack.loader.runtime import contract
from tapstack.naming import Names, Role

Missing = cloudwatch.TreatMissingData
Op = cloudwatch.ComparisonOperator


class AlarmTopic(Construct):
    """The SNS topic every alarm of the region notifies, encrypted with the
    region's key, TLS-only, with the configured e-mail subscription.

    Attributes:
        topic: the topic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        key: kms.IKey,
        email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=names.alarm_topic,
            display_name=f"{names.prefix} alarms ({names.region})",
            master_key=key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": names.config.account}},
            )
        )
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class Monitoring(Construct):
    """Alarms for every part of one region, all notifying ``topic`` on ALARM
    and on OK, and a dashboard of the region. Call the ``watch_*`` methods for
    the parts the region has, then ``add_dashboard``.

    A first deploy is quiet (nothing pages while nothing is wrong):

    * counters that are simply absent when nothing happens (5xx, errors,
      throttles, queue depth) treat missing data as fine;
    * gauges that only start reporting once their resource runs (database
      storage, memory, replica lag) treat missing data as missing: an alarm
      evaluates at once on creation, and "breaching" would page before the
      first datapoint arrives;
    * the healthy-hosts and health-check alarms wait longer than an instance
      takes to boot;
    * recoveries notify only on ALARM -> OK (an EventBridge rule): an alarm's
      own OK action also fires on INSUFFICIENT_DATA -> OK, which every new
      alarm goes through.

    Attributes:
        alarms: every alarm created, by short name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        settings: MonitoringConfig,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.names = names
        self.settings = settings
        self.topic = topic
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._widgets: dict[str, list[cloudwatch.IWidget]] = {}
        self.alarm_name_prefix = f"{names.prefix}-{names.region}-"
        self.recoveries = events.Rule(
            self,
            "Recoveries",
            description=f"{self.alarm_name_prefix}* alarms back to OK from ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": [{"prefix": self.alarm_name_prefix}],
                    "previousState": {"value": ["ALARM"]},
                    "state": {"value": ["OK"]},
                },
            ),
        )
        self.recoveries.add_target(targets.SnsTopic(self.topic))

    # --- helpers ---------------------------------------------------------

    def _alarm(
        self,
        short: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        missing: cloudwatch.TreatMissingData,
        comparison: cloudwatch.ComparisonOperator = Op.GREATER_THAN_THRESHOLD,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        notify: bool = True,
    ) -> cloudwatch.Alarm:
        if short in self.alarms:
            raise ValueError(f"alarm {short!r} already exists")
        alarm = cloudwatch.Alarm(
            self,
            "".join(part.capitalize() for part in short.split("-")),
            alarm_name=f"{self.names.prefix}-{self.names.region}-{short}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=missing,
            actions_enabled=notify,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        if not notify:
            acknowledge(
                alarm,
                "NIST.800.53.R5-CloudWatchAlarmAction",
                "Its actions are switched off by configuration until the name it watches can "
                "resolve (monitoring.notify_other_region_health): the alarm keeps its state "
                "on the dashboard and pages nobody while nothing is wrong",
            )
        self.alarms[short] = alarm
        return alarm

    def _graph(self, section: str, title: str, *metrics: cloudwatch.IMetric) -> None:
        self._widgets.setdefault(section, []).append(
            cloudwatch.GraphWidget(title=title, left=list(metrics), width=8, height=6)
        )

    # --- parts -----------------------------------------------------------

    def watch_web(
        self,
        *,
        auto_scaling_group_name: str,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> None:
        cpu = self._watch_web_cpu(auto_scaling_group_name)
        elb_5xx, target_5xx = self._watch_web_errors(load_balancer, target_group)
        healthy, unhealthy = self._watch_web_hosts(target_group)
        latency = target_group.metrics.target_response_time(
            period=Duration.minutes(5), statistic="p95"
        )
        threshold = self.settings.target_response_time_alarm_seconds
        self._alarm(
            "target-response-time",
            metric=latency,
            threshold=threshold,
            evaluation_periods=3,
            description=f"p95 response time above {threshold} s",
            missing=Missing.NOT_BREACHING,  # absent without traffic
        )
        requests = load_balancer.metrics.request_count(period=Duration.minutes(5), statistic="Sum")
        self._graph("Traffic", "Requests", requests)
        self._graph("Traffic", "Errors (5xx)", elb_5xx, target_5xx)
        self._graph("Traffic", "Latency p95 (s)", latency)
        self._graph("Capacity", "Web CPU (%)", cpu)
        self._graph("Capacity", "Hosts", healthy, unhealthy)

    def _watch_web_cpu(self, auto_scaling_group_name: str) -> cloudwatch.Metric:
        percent = self.settings.cpu_alarm_percent
        cpu = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions_map={"AutoScalingGroupName": auto_scaling_group_name},
            statistic="Average",
            period=Duration.minutes(5),
        )
        self._alarm(
            "web-cpu-high",
            metric=cpu,
            threshold=percent,
            evaluation_periods=3,
            description=f"Web tier average CPU above {percent}% for 15 minutes "
            "(scaling is not keeping up, or the group is at its maximum)",
            missing=Missing.MISSING,  # no instances is caught by the healthy-hosts alarm
        )
        return cpu

    def _watch_web_errors(
        self,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> tuple[cloudwatch.Metric, cloudwatch.Metric]:
        elb_5xx = load_balancer.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=Duration.minutes(5), statistic="Sum"
        )
        self._alarm(
            "alb-5xx",
            metric=elb_5xx,
            threshold=self.settings.alb_5xx_alarm_count,
            description="Load balancer answered 5xx itself (no healthy target, timeouts)",
            missing=Missing.NOT_BREACHING,  # the metric is absent when there are none
        )
        target_5xx = target_group.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=Duration.minutes(5), statistic="Sum"
        )
        self._alarm(
            "target-5xx",
            metric=target_5xx,
            threshold=self.settings.alb_5xx_alarm_count,
            description="Web servers answered 5xx",
            missing=Missing.NOT_BREACHING,
        )
        return elb_5xx, target_5xx

    def _watch_web_hosts(
        self, target_group: elbv2.ApplicationTargetGroup
    ) -> tuple[cloudwatch.Metric, cloudwatch.Metric]:
        minute = Duration.minutes(1)
        unhealthy = target_group.metrics.unhealthy_host_count(period=minute, statistic="Maximum")
        self._alarm(
            "unhealthy-hosts",
            metric=unhealthy,
            threshold=1,
            comparison=Op.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            description="At least one web server failed its /livez check for 3 minutes",
            missing=Missing.NOT_BREACHING,
        )
        healthy = target_group.metrics.healthy_host_count(period=minute, statistic="Minimum")
        self._alarm(
            "no-healthy-hosts",
            metric=healthy,
            threshold=1,
            comparison=Op.LESS_THAN_THRESHOLD,
            # Longer than an instance takes to boot and pass its first checks.
            evaluation_periods=5,
            description="No healthy web server behind the load balancer for 5 minutes: "
            "the region is down",
            missing=Missing.BREACHING,  # no data = no targets reporting at all
        )
        return healthy, unhealthy

    def watch_database(self, instance: rds.IDatabaseInstance, *, replica: bool) -> None:
        s = self.settings
        five_min = Duration.minutes(5)
        cpu = instance.metric_cpu_utilization(period=five_min, statistic="Average")
        self._alarm(
            "db-cpu-high",
            metric=cpu,
            threshold=s.rds_cpu_alarm_percent,
            evaluation_periods=3,
            description=f"Database CPU above {s.rds_cpu_alarm_percent}% for 15 minutes",
            missing=Missing.MISSING,
        )
        storage = instance.metric_free_storage_space(period=five_min, statistic="Minimum")
        self._alarm(
            "db-free-storage-low",
            metric=storage,
            threshold=s.rds_free_storage_alarm_gib * 1024**3,
            comparison=Op.LESS_THAN_THRESHOLD,
            description=f"Database free storage below {s.rds_free_storage_alarm_gib} GiB",
            missing=Missing.MISSING,  # reports only once the instance runs
        )
        memory = instance.metric_freeable_memory(period=five_min, statistic="Minimum")
        self._alarm(
            "db-free-memory-low",
            metric=memory,
            threshold=s.rds_free_memory_alarm_mib * 1024**2,
            comparison=Op.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            description=f"Database freeable memory below {s.rds_free_memory_alarm_mib} MiB",
            missing=Missing.MISSING,  # reports only once the instance runs
        )
        connections = instance.metric_database_connections(period=five_min, statistic="Maximum")
        self._alarm(
            "db-connections-high",
            metric=connections,
            threshold=s.rds_connections_alarm,
            description=f"More than {s.rds_connections_alarm} database connections",
            missing=Missing.MISSING,
        )
        self._graph("Database", "Database CPU (%)", cpu)
        self._graph("Database", "Free storage (bytes) and memory", storage, memory)
        self._graph("Database", "Connections", connections)
        if replica:
            lag = instance.metric("ReplicaLag", period=Duration.minutes(1), statistic="Maximum")
            self._alarm(
                "replica-lag-high",
                metric=lag,
                threshold=s.replica_lag_alarm_seconds,
                evaluation_periods=5,
                description=f"Cross-region replica more than {s.replica_lag_alarm_seconds} s "
                "behind the writer database: the database RPO is growing",
                # Reports only once replication has started (a new replica takes a while).
                missing=Missing.MISSING,
            )
            self._graph("Replication", "Replica lag (s)", lag)

    def watch_loader(self, function: lambda_.IFunction, dead_letter_queue: sqs.IQueue) -> None:
        five_min = Duration.minutes(5)
        errors = function.metric_errors(period=five_min, statistic="Sum")
        self._alarm(
            "loader-errors",
            metric=errors,
            threshold=0,
            description="The loader failed on an object (it will retry, then dead-letter)",
            missing=Missing.NOT_BREACHING,
        )
        throttles = function.metric_throttles(period=five_min, statistic="Sum")
        self._alarm(
            "loader-throttles",
            metric=throttles,
            threshold=0,
            description="Loader invocations throttled by its reserved concurrency",
            missing=Missing.NOT_BREACHING,
        )
        depth = dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=five_min, statistic="Maximum"
        )
        self._alarm(
            "loader-dead-letters",
            metric=depth,
            threshold=0,
            description="Events the loader gave up on are waiting in its dead-letter queue",
            missing=Missing.NOT_BREACHING,
        )

        def loader_metric(name: str) -> cloudwatch.Metric:
            """One of the loader's own EMF metrics (see its runtime's observability module)."""
            return cloudwatch.Metric(
                namespace=contract.METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={contract.ROLE_DIMENSION: self.names.role.value},
                statistic="Sum",
                period=five_min,
            )

        quarantined = loader_metric(contract.METRIC_OBJECTS_QUARANTINED)
        self._alarm(
            "loader-quarantined",
            metric=quarantined,
            threshold=0,
            description="An object under incoming/ could not be parsed at all and was moved "
            "to quarantine/ (nothing from it was loaded)",
            missing=Missing.NOT_BREACHING,  # emitted only when it happens
        )
        failures: list[cloudwatch.IMetric] = [errors, throttles, depth]
        if self.names.role is Role.WRITER:
            # Only a writer emits it: a standby skips while its database is read-only.
            read_only = loader_metric(contract.METRIC_READ_ONLY_WRITER)
            self._alarm(
                "loader-read-only-writer",
                metric=read_only,
                threshold=0,
                description="The writer's database was read-only when the loader ran "
                "(maintenance, a switchover, or ROLE no longer matches the database): the "
                "object was not loaded; Lambda retries it, then dead-letters it",
                missing=Missing.NOT_BREACHING,  # emitted only when it happens
            )
            failures.append(read_only)
        rows = [
            loader_metric(name)
            for name in (
                contract.METRIC_ROWS_INSERTED,
                contract.METRIC_ROWS_UPDATED,
                contract.METRIC_RECORDS_REJECTED,
            )
        ]
        self._graph("Loader", "Loader rows", *rows, quarantined)
        self._graph("Loader", "Loader errors, throttles, dead letters", *failures)

    def watch_replication(
        self, *, source_bucket: str, destination_bucket: str, rule_id: str
    ) -> None:
        dims = {
            "SourceBucket": source_bucket,
            "DestinationBucket": destination_bucket,
            "RuleId": rule_id,
        }
        failed = cloudwatch.Metric(
            namespace="AWS/S3",
            metric_name="OperationsFailedReplication",
            dimensions_map=dims,
            statistic="Sum",
            period=Duration.minutes(5),
        )
        self._alarm(
            "s3-replication-failures",
            metric=failed,
            threshold=0,
            description="Objects failed to replicate to the other region",
            missing=Missing.NOT_BREACHING,
        )
        latency = cloudwatch.Metric(
            namespace="AWS/S3",
            metric_name="ReplicationLatency",
            dimensions_map=dims,
            statistic="Maximum",
            period=Duration.minutes(5),
        )
        self._alarm(
            "s3-replication-latency",
            metric=latency,
            threshold=S3_RTC_SECONDS,
            evaluation_periods=2,
            description="S3 replication slower than its 15-minute RTC target: "
            "the objects' RPO is at risk",
            missing=Missing.NOT_BREACHING,  # emitted only while objects are pending
        )
        self._graph("Replication", "S3 replication latency (s), failures", latency, failed)

    def watch_health_check(
        self, short: str, health_check_id: str, description: str, *, notify: bool = True
    ) -> None:
        """Route 53 health-check status (metrics exist in us-east-1 only).

        ``notify=False`` keeps the alarm (its state shows on the dashboard) without actions."""
        status = cloudwatch.Metric(
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions_map={"HealthCheckId": health_check_id},
            statistic="Minimum",
            period=Duration.minutes(1),
        )
        self._alarm(
            f"{short}-health-check",
            metric=status,
            threshold=1,
            comparison=Op.LESS_THAN_THRESHOLD,
            evaluation_periods=5,  # longer than the first instances take to boot
            description=description,
            missing=Missing.BREACHING,
            notify=notify,
        )
        self._graph("Traffic", f"Route 53: {short}", status)

    def watch_scaling_events(self, auto_scaling_group_name: str) -> events.Rule:
        """Failed launches and terminations of the group, sent to the topic.

        Through EventBridge rather than the group's own notification settings:
        those publish as the Auto Scaling service-linked role, which the
        encrypted topic's key would have to trust by a role ARN that may not
        exist yet in a new account.
        """
        rule = events.Rule(
            self,
            "ScalingEvents",
            description=f"{auto_scaling_group_name}: failed instance launches and terminations",
            event_pattern=events.EventPattern(
                source=["aws.autoscaling"],
                # Failures only: the launches of a first deploy and routine scaling
                # are no news (they show on the dashboard).
                detail_type=[
                    "EC2 Instance Launch Unsuccessful",
                    "EC2 Instance Terminate Unsuccessful",
                ],
                detail={"AutoScalingGroupName": [auto_scaling_group_name]},
            ),
        )
        rule.add_target(targets.SnsTopic(self.topic))
        return rule

    def add_dashboard(self) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self.names.prefix}-{self.names.region}",
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# {self.names.prefix} - {self.names.region} ({self.names.role})",
                width=24,
                height=1,
            )
        )
        for section, widgets in self._widgets.items():
            dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"## {section}", width=24, height=1)
            )
            dashboard.add_widgets(*widgets)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                alarms=list(self.alarms.values()), width=24, title="Alarms"
            )
        )
        return dashboard
