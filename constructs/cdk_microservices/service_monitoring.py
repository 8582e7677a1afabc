"""ServiceMonitoring: one dashboard and one composite "service health" alarm per service.

Creates:

- ``facade``: a ``cdk_monitoring_constructs.MonitoringFacade`` whose one dashboard
  (``dashboard``, named ``dashboard_name``) gets a section per pattern passed to ``add``;
- ``health_alarm``: a ``aws_cloudwatch.CompositeAlarm`` "<service> health", in ALARM while
  any alarm of the added patterns (and any passed to ``add_alarms``) is in ALARM; it
  notifies ``alarm_topic`` of its ALARM and OK transitions.

What each pattern puts on the dashboard (``add``):

- ``ApiService`` / ``ContainerApi``: API Gateway requests, 4XX/5XX, latency p50/p90/p99;
  each Lambda function (invocations, errors, duration p50/p99, throttles, concurrent
  executions as saturation);
- ``QueueWorker``: queue depth, oldest message age, dead-letter queue depth and age; its
  function;
- ``TableEventPublisher``: its function with the stream's iterator age; its failure queue;
- ``ContainerService``: ALB requests, target and load balancer 5XX, target response time
  p50/p99 (a custom section: the library's Fargate section has none of them), healthy and
  unhealthy tasks, CPU and memory;
- ``ServiceTable``: consumed read/write capacity, throttles, latency;
- ``RelationalDatabase``: Aurora Serverless v2 capacity (ServerlessDatabaseCapacity, and
  ACUUtilization as a custom section), connections, CPU;
- ``Cache``: serverless: hits, misses, hit rate, ECPUs, latency; node-based: per node CPU,
  memory, connections, and hits and misses (a custom section: the library's node section
  has none);
- ``EventBus``: SNS messages published and notifications failed;
- ``StaticSite``: CloudFront requests, 4xx/5xx error rates (read from us-east-1, where
  CloudFront publishes them, whatever the stack's region);
- ``Workflow``: Step Functions executions started, succeeded, failed, timed out, throttled
  and aborted, and their duration;
- ``ScheduledJob``: runs started, refused by the target, dropped and dead-lettered (a
  custom section over the job's schedule group: the library has none for EventBridge
  Scheduler), its dead-letter queue, and its function for a Lambda target;
- ``ManagedFunction``: its function (invocations, errors, duration, throttles).

Each added pattern's alarms (its ``alarms`` attribute) are shown as an alarm status widget
in its section and join the health alarm. The patterns' own alarms keep their actions:
this construct adds none to them and removes none (see the README, "Dashboards").

Rules, checked at synth (``ConstructArgumentError``): something must have been added; the
health alarm watches at most 100 alarms and its rule is at most 10240 characters
(CloudWatch PutCompositeAlarm). Patterns added with no alarm at all (``alarms=False``, or a
``StaticSite`` outside us-east-1) leave the health alarm with the rule ``FALSE`` and a
warning, rather than a health alarm that claims to watch something.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cdk_monitoring_constructs as monitoring
import jsii
from aws_cdk import Annotations, Duration, Names, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IValidation

from cdk_microservices._validation import (
    ConstructArgumentError,
    checked_arguments,
    fail,
    require_service_name,
)
from cdk_microservices.api_service import ApiService
from cdk_microservices.cache import Cache
from cdk_microservices.container_api import ContainerApi
from cdk_microservices.container_service import ContainerService
from cdk_microservices.event_bus import EventBus
from cdk_microservices.managed_function import ManagedFunction
from cdk_microservices.queue_worker import QueueWorker
from cdk_microservices.relational_database import RelationalDatabase
from cdk_microservices.scheduled_job import ScheduledJob
from cdk_microservices.service_table import ServiceTable
from cdk_microservices.static_site import StaticSite
from cdk_microservices.table_event_publisher import TableEventPublisher
from cdk_microservices.workflow import Workflow

MonitoredPattern = (
    ApiService
    | ContainerApi
    | QueueWorker[sqs.IQueue, sqs.Queue | None]
    | TableEventPublisher
    | ContainerService[ecs.ICluster, elbv2.IApplicationLoadBalancer]
    | ServiceTable[dynamodb.ITable]
    | RelationalDatabase[rds.IDatabaseCluster]
    | Cache[secretsmanager.Secret | None]
    | EventBus[sns.ITopic]
    | StaticSite[s3.IBucket]
    | Workflow
    | ScheduledJob
    | ManagedFunction
)
"""What ``ServiceMonitoring.add`` accepts: every pattern of the library but ``AuditTrail``
(an account's trail, not a service's)."""

MAX_CHILD_ALARMS = 100
"""CloudWatch PutCompositeAlarm: a rule "can include as many as 100 underlying alarms"."""
MAX_ALARM_RULE_LENGTH = 10240
"""CloudWatch PutCompositeAlarm: AlarmRule is 1 to 10240 characters."""
_LONGEST_ARN_PREFIX = len("arn:aws-iso-b:cloudwatch:ap-southeast-5:123456789012:alarm:")
_GENERATED_NAME_SUFFIX = len("-ABCDEFGHIJKL") + 1
"""CloudFormation names an unnamed alarm ``<stack name>-<logical id>-<random suffix>``."""
_MAX_ALARM_NAME = 255


@dataclass(frozen=True)
class KeyMetrics:
    """The few metrics that say how a service is doing, for a cross-service overview:
    from its front door (an API, a site, a load balancer, else a queue worker)."""

    requests: cloudwatch.IMetric
    errors: cloudwatch.IMetric
    latency_p99: cloudwatch.IMetric | None
    source: str
    """What they were read from, e.g. ``"API Gateway accounts-dev"``."""


class ServiceMonitoring(Construct):
    """A service's dashboard (cdk-monitoring-constructs) and its composite health alarm.

    Defaults: ``dashboard_name`` is derived from the construct's path (unique in the
    account and region, as CloudWatch requires); the health alarm notifies ``alarm_topic``
    when given (ALARM and OK), nothing otherwise.
    """

    CONSTRUCT = "ServiceMonitoring"

    @checked_arguments("ServiceMonitoring")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        alarm_topic: sns.ITopic | None = None,
        dashboard_name: str | None = None,
        dashboard_range: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, service_name)
        if dashboard_name is not None and not (
            isinstance(dashboard_name, str)
            and 1 <= len(dashboard_name) <= 255
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in dashboard_name)
        ):
            raise fail(
                name,
                "dashboard_name",
                f"is {dashboard_name!r}; it must be 1-255 characters of letters, digits, "
                "'-' and '_'",
            )
        self.service_name = service_name
        self.dashboard_name = dashboard_name or Names.unique_resource_name(
            self, max_length=255, separator="-"
        )
        self.dashboard_factory = monitoring.DefaultDashboardFactory(
            self,
            "Dashboards",
            dashboard_name_prefix=self.dashboard_name,
            create_dashboard=True,
            create_summary_dashboard=False,
            create_alarm_dashboard=False,
            detail_dashboard_range=dashboard_range,
        )
        self.facade = monitoring.MonitoringFacade(
            self, "Facade", dashboard_factory=self.dashboard_factory
        )
        dashboard = self.dashboard_factory.dashboard
        assert dashboard is not None  # create_dashboard=True
        self.dashboard: cloudwatch.Dashboard = dashboard
        self.patterns: list[MonitoredPattern] = []
        self.alarms: list[cloudwatch.IAlarm] = []
        """Every alarm the health alarm watches, in the order added."""
        self.key_metrics: KeyMetrics | None = None
        self._key_rank = len(_KEY_RANKS)

        self.health_alarm = cloudwatch.CompositeAlarm(
            self,
            "HealthAlarm",
            alarm_description=(
                f"{service_name}: one of the service's alarms is in ALARM, so the service "
                "is failing or about to. First: open the service's dashboard "
                f"({self.dashboard_name}), find the alarm in ALARM in its alarm status "
                "widgets and do what its description says first."
            ),
            # Rewritten by every add/add_alarms (see _watch): until then it watches nothing.
            alarm_rule=cloudwatch.AlarmRule.from_boolean(False),
        )
        if alarm_topic is not None:
            action = cloudwatch_actions.SnsAction(alarm_topic)
            self.health_alarm.add_alarm_action(action)
            self.health_alarm.add_ok_action(action)
        self.facade.add_large_header(f"{service_name}")
        self.facade.add_widget(
            cloudwatch.AlarmStatusWidget(
                alarms=[self.health_alarm], title=f"{service_name} health", width=24, height=3
            )
        )
        self.node.add_validation(_Validation(self))

    # -- public API -------------------------------------------------------------------------

    def add(self, *patterns: MonitoredPattern) -> ServiceMonitoring:
        """Put each pattern on the dashboard, and its alarms into the health alarm."""
        for index, pattern in enumerate(patterns):
            self._add_one(pattern, f"patterns[{index}]")
        return self

    def add_alarms(self, *alarms: cloudwatch.IAlarm, title: str = "Other alarms") -> None:
        """Watch more alarms (made outside the patterns) in the health alarm and show them."""
        for index, alarm in enumerate(alarms):
            if not isinstance(alarm, cloudwatch.AlarmBase):
                raise fail(
                    self.CONSTRUCT,
                    f"alarms[{index}]",
                    f"must be an aws_cloudwatch alarm, got {type(alarm).__name__}",
                )
        self._watch(list(alarms), title)

    # -- construction -----------------------------------------------------------------------

    def _watch(self, alarms: Sequence[cloudwatch.IAlarm], title: str) -> None:
        new = [alarm for alarm in alarms if all(alarm is not known for known in self.alarms)]
        self.alarms.extend(new)
        if new:
            rule = cloudwatch.AlarmRule.any_of(
                *(
                    cloudwatch.AlarmRule.from_alarm(alarm, cloudwatch.AlarmState.ALARM)
                    for alarm in self.alarms
                )
            )
            health = self.health_alarm.node.default_child
            assert isinstance(health, cloudwatch.CfnCompositeAlarm)
            health.alarm_rule = rule.render_alarm_rule()
        if alarms:
            self.facade.add_widget(
                cloudwatch.AlarmStatusWidget(
                    alarms=list(alarms),
                    title=f"{title}: alarms",
                    width=24,
                    height=min(2 + len(alarms), 6),
                )
            )

    def _offer_key_metrics(self, rank: str, metrics: KeyMetrics) -> None:
        position = _KEY_RANKS.index(rank)
        if position < self._key_rank:
            self.key_metrics, self._key_rank = metrics, position

    def _add_one(self, pattern: object, where: str) -> None:
        title = pattern.node.path if isinstance(pattern, Construct) else repr(pattern)
        if isinstance(pattern, ApiService | ContainerApi):
            self._add_rest_api(pattern, title)
        elif isinstance(pattern, QueueWorker):
            self.facade.add_medium_header(f"Queue worker {title}")
            self._watch(_alarms_of(pattern), title)
            if pattern.dead_letter_queue is not None:
                self.facade.monitor_sqs_queue_with_dlq(
                    queue=pattern.queue,
                    dead_letter_queue=pattern.dead_letter_queue,
                    human_readable_name=f"{title} queue",
                    alarm_friendly_name=_friendly(f"{title} queue"),
                )
            else:
                self.facade.monitor_sqs_queue(
                    queue=pattern.queue,
                    human_readable_name=title,
                    alarm_friendly_name=_friendly(title),
                )
            self._add_function(pattern.function, title)
            self._offer_key_metrics(
                "worker",
                KeyMetrics(
                    requests=pattern.function.metric_invocations(),
                    errors=pattern.function.metric_errors(),
                    latency_p99=pattern.function.metric_duration(statistic="p99"),
                    source=f"queue worker {title}",
                ),
            )
        elif isinstance(pattern, TableEventPublisher):
            self.facade.add_medium_header(f"Table event publisher {title}")
            self._watch(_alarms_of(pattern), title)
            self._add_function(pattern.function, title, stream=True)
            self.facade.monitor_sqs_queue(
                queue=pattern.failure_queue,
                human_readable_name=f"{title} failed stream batches",
                alarm_friendly_name=_friendly(f"{title} failed stream batches"),
            )
        elif isinstance(pattern, ContainerService):
            self._add_container_service(pattern, title)
        elif isinstance(pattern, ServiceTable):
            self.facade.add_medium_header(f"Table {title}")
            self._watch(_alarms_of(pattern), title)
            self.facade.monitor_dynamo_table(
                table=pattern.table, human_readable_name=title, alarm_friendly_name=_friendly(title)
            )
        elif isinstance(pattern, RelationalDatabase):
            self._add_database(pattern, title)
        elif isinstance(pattern, Cache):
            self._add_cache(pattern, title)
        elif isinstance(pattern, EventBus):
            self.facade.add_medium_header(f"Event bus {title}")
            self._watch(_alarms_of(pattern), title)
            self.facade.monitor_sns_topic(
                topic=pattern.topic, human_readable_name=title, alarm_friendly_name=_friendly(title)
            )
        elif isinstance(pattern, StaticSite):
            self.facade.add_medium_header(f"Static site {title}")
            self._watch(_alarms_of(pattern), title)
            # The library reads CloudFront's metrics in us-east-1 (dimension Region=Global).
            self.facade.monitor_cloud_front_distribution(
                distribution=pattern.distribution,
                human_readable_name=title,
                alarm_friendly_name=_friendly(title),
            )
            self._offer_key_metrics(
                "site",
                KeyMetrics(
                    requests=_cloudfront_metric(pattern, "Requests", "Sum"),
                    errors=_cloudfront_metric(pattern, "5xxErrorRate", "Average"),
                    latency_p99=None,
                    source=f"CloudFront {title}",
                ),
            )
        elif isinstance(pattern, Workflow):
            self.facade.add_medium_header(f"Workflow {title}")
            self._watch(_alarms_of(pattern), title)
            self.facade.monitor_step_function(
                state_machine=pattern.state_machine,
                human_readable_name=title,
                alarm_friendly_name=_friendly(title),
            )
        elif isinstance(pattern, ScheduledJob):
            self._add_scheduled_job(pattern, title)
        elif isinstance(pattern, ManagedFunction):
            self.facade.add_medium_header(f"Function {title}")
            self._watch(_alarms_of(pattern), title)
            self._add_function(pattern.function, title)
        else:
            raise fail(
                self.CONSTRUCT,
                where,
                f"is a {type(pattern).__name__}; allowed are the library's patterns: "
                "ApiService, ContainerApi, QueueWorker, TableEventPublisher, "
                "ContainerService, ServiceTable, RelationalDatabase, Cache, EventBus, "
                "StaticSite, Workflow, ScheduledJob, ManagedFunction",
            )
        self.patterns.append(pattern)

    def _add_rest_api(self, pattern: ApiService | ContainerApi, title: str) -> None:
        api = pattern.rest_api
        stage = api.deployment_stage.stage_name
        self.facade.add_medium_header(f"API {title}")
        self._watch(_alarms_of(pattern), title)
        self.facade.monitor_api_gateway(
            api=api,
            api_stage=stage,
            human_readable_name=title,
            alarm_friendly_name=_friendly(title),
        )
        functions = pattern.functions if isinstance(pattern, ApiService) else {}
        for key, function in functions.items():
            self._add_function(function, f"{title} {key}")
        self._offer_key_metrics(
            "api",
            KeyMetrics(
                requests=api.deployment_stage.metric_count(),
                errors=api.deployment_stage.metric_server_error(),
                latency_p99=api.deployment_stage.metric_latency(statistic="p99"),
                source=f"API {title}",
            ),
        )

    def _add_scheduled_job(self, pattern: ScheduledJob, title: str) -> None:
        # No section of cdk-monitoring-constructs reads EventBridge Scheduler's metrics:
        # they are graphed from the job's schedule group (their only dimension).
        group = pattern.schedule_group
        self.facade.add_medium_header(f"Scheduled job {title}")
        self._watch(_alarms_of(pattern), title)
        self.facade.monitor_custom(
            human_readable_name=f"{title} schedule",
            alarm_friendly_name=_friendly(f"{title} schedule"),
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Runs started", metrics=[group.metric_attempts(statistic="Sum")]
                ),
                monitoring.CustomMetricGroup(
                    title="Failed runs",
                    metrics=[
                        group.metric_target_errors(statistic="Sum"),
                        group.metric_dropped(statistic="Sum"),
                        group.metric_sent_to_dlq(statistic="Sum"),
                    ],
                ),
            ],
        )
        self.facade.monitor_sqs_queue(
            queue=pattern.dead_letter_queue,
            human_readable_name=f"{title} dead-lettered runs",
            alarm_friendly_name=_friendly(f"{title} dead-lettered runs"),
        )
        if pattern.function is not None:
            self._add_function(pattern.function, title)

    def _add_function(self, function: lambda_.IFunction, title: str, stream: bool = False) -> None:
        self.facade.monitor_lambda_function(
            lambda_function=function,
            is_iterator=stream,
            human_readable_name=f"{title} function",
            alarm_friendly_name=_friendly(f"{title} function"),
        )

    def _add_container_service(
        self, pattern: ContainerService[ecs.ICluster, elbv2.IApplicationLoadBalancer], title: str
    ) -> None:
        self.facade.add_medium_header(f"Container service {title}")
        self._watch(_alarms_of(pattern), title)
        target_group = pattern.target_group.metrics
        load_balancer = pattern.load_balancer.metrics
        requests = load_balancer.request_count()
        target_5xx = target_group.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT)
        # Requests, errors and response time: not in the library's Fargate section.
        self.facade.monitor_custom(
            human_readable_name=f"{title} load balancer",
            alarm_friendly_name=_friendly(f"{title} load balancer"),
            metric_groups=[
                monitoring.CustomMetricGroup(title="Requests", metrics=[requests]),
                monitoring.CustomMetricGroup(
                    title="5XX responses",
                    metrics=[
                        target_5xx,
                        load_balancer.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT),
                    ],
                ),
                monitoring.CustomMetricGroup(
                    title="Target response time",
                    metrics=[
                        target_group.target_response_time(statistic="p50", label="p50"),
                        target_group.target_response_time(statistic="p99", label="p99"),
                    ],
                ),
            ],
        )
        self.facade.monitor_fargate_application_load_balancer(
            fargate_service=pattern.service,
            application_load_balancer=pattern.load_balancer,
            application_target_group=pattern.target_group,
            human_readable_name=title,
            alarm_friendly_name=_friendly(title),
        )
        self._offer_key_metrics(
            "load_balancer",
            KeyMetrics(
                requests=requests,
                errors=target_5xx,
                latency_p99=target_group.target_response_time(statistic="p99"),
                source=f"load balancer of {title}",
            ),
        )

    def _add_database(self, pattern: RelationalDatabase[rds.IDatabaseCluster], title: str) -> None:
        self.facade.add_medium_header(f"Database {title}")
        self._watch(_alarms_of(pattern), title)
        cluster = pattern.cluster
        self.facade.monitor_aurora_cluster(
            cluster=cluster, human_readable_name=title, alarm_friendly_name=_friendly(title)
        )
        # ACUUtilization (capacity used against the maximum): not in the library's section.
        self.facade.monitor_custom(
            human_readable_name=f"{title} capacity",
            alarm_friendly_name=_friendly(f"{title} capacity"),
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="ACU utilization (% of max capacity)",
                    metrics=[
                        cloudwatch.Metric(
                            namespace="AWS/RDS",
                            metric_name="ACUUtilization",
                            dimensions_map={"DBClusterIdentifier": cluster.cluster_identifier},
                            statistic="Maximum",
                            period=Duration.minutes(5),
                        )
                    ],
                )
            ],
        )

    def _add_cache(self, pattern: Cache[secretsmanager.Secret | None], title: str) -> None:
        self.facade.add_medium_header(f"Cache {title}")
        self._watch(_alarms_of(pattern), title)
        if pattern.serverless_cache is not None:
            name = pattern.serverless_cache.serverless_cache_name
            self.facade.monitor_serverless_elasti_cache(
                cluster_id=name, human_readable_name=title, alarm_friendly_name=_friendly(title)
            )
            return
        group = pattern.replication_group
        assert group is not None  # mode="node"
        replicas = group.replicas_per_node_group
        nodes = 1 + (replicas if isinstance(replicas, int) else 0)
        hits_and_misses: list[cloudwatch.Metric] = []
        for number in range(1, nodes + 1):
            member = f"{group.ref}-{number:03d}"
            self.facade.monitor_elasti_cache_cluster(
                cluster_id=member,
                cluster_type=monitoring.ElastiCacheClusterType.REDIS,
                human_readable_name=f"{title} node {number}",
                alarm_friendly_name=_friendly(f"{title} node {number}"),
            )
            for metric_name in ("CacheHits", "CacheMisses"):
                hits_and_misses.append(
                    cloudwatch.Metric(
                        namespace="AWS/ElastiCache",
                        metric_name=metric_name,
                        dimensions_map={"CacheClusterId": member},
                        statistic="Sum",
                        label=f"node {number} {metric_name[5:].lower()}",
                        period=Duration.minutes(5),
                    )
                )
        # Node-based hits and misses: not in the library's ElastiCache cluster section.
        self.facade.monitor_custom(
            human_readable_name=f"{title} hits and misses",
            alarm_friendly_name=_friendly(f"{title} hits and misses"),
            metric_groups=[
                monitoring.CustomMetricGroup(title="Hits and misses", metrics=hits_and_misses)
            ],
        )

    # -- synth-time rules -------------------------------------------------------------------

    def estimated_rule_length(self) -> int:
        """The longest the health alarm's rule can be once deployed: each alarm's ARN with
        the longest partition and region, and CloudFormation's generated name when the
        alarm has none of its own."""
        if not self.alarms:
            return len("FALSE")
        total = len("()") + len(" OR ") * (len(self.alarms) - 1)
        for alarm in self.alarms:
            total += len('ALARM("")') + _LONGEST_ARN_PREFIX + _name_length(alarm)
        return total


_KEY_RANKS = ("api", "site", "load_balancer", "worker")


def _cloudfront_metric(
    site: StaticSite[s3.IBucket], metric_name: str, statistic: str
) -> cloudwatch.Metric:
    """A CloudFront metric of ``site``: CloudFront publishes them in us-east-1 only, with
    the dimension Region=Global, whatever region the distribution's stack is in."""
    return cloudwatch.Metric(
        namespace="AWS/CloudFront",
        metric_name=metric_name,
        dimensions_map={
            "DistributionId": site.distribution.distribution_id,
            "Region": "Global",
        },
        region="us-east-1",
        statistic=statistic,
        period=Duration.minutes(5),
    )


def _friendly(title: str) -> str:
    """A section name as cdk-monitoring-constructs wants it when a resource's own name is
    only known at deploy (it names the section's alarms after it; we create none there)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-")


def _alarms_of(pattern: object) -> list[cloudwatch.IAlarm]:
    """A pattern's ``alarms`` attribute (every pattern keeps one; older ones may not)."""
    found = getattr(pattern, "alarms", None)
    if not isinstance(found, list):
        return []
    return [alarm for alarm in found if isinstance(alarm, cloudwatch.AlarmBase)]


def _name_length(alarm: cloudwatch.IAlarm) -> int:
    """The longest ``alarm``'s name can be once deployed."""
    stack = Stack.of(alarm)
    resource = alarm.node.default_child
    if isinstance(resource, cloudwatch.CfnAlarm | cloudwatch.CfnCompositeAlarm):
        name = stack.resolve(resource.alarm_name)
        if isinstance(name, str):
            return len(name)
        logical_id = str(stack.resolve(resource.logical_id))
    else:  # an imported alarm: its name is known
        name = stack.resolve(alarm.alarm_name)
        if isinstance(name, str):
            return len(name)
        logical_id = ""
    generated = len(stack.stack_name) + 1 + len(logical_id) + _GENERATED_NAME_SUFFIX
    return min(generated, _MAX_ALARM_NAME)


@jsii.implements(IValidation)
class _Validation:
    def __init__(self, monitoring_: ServiceMonitoring) -> None:
        self._monitoring = monitoring_

    def validate(self) -> list[str]:
        try:
            check(self._monitoring)
        except ConstructArgumentError as error:
            return [str(error)]
        return []


def check(service: ServiceMonitoring) -> None:
    """The synth-time rules of a ServiceMonitoring (raises ConstructArgumentError)."""
    name = ServiceMonitoring.CONSTRUCT
    if not service.patterns and not service.alarms:
        raise fail(
            name,
            "add",
            f"was never called for '{service.service_name}': a health alarm needs at least "
            "one alarm to watch; add the service's patterns (add) or alarms (add_alarms)",
        )
    if len(service.alarms) > MAX_CHILD_ALARMS:
        raise fail(
            name,
            "add",
            f"gave the health alarm of '{service.service_name}' {len(service.alarms)} alarms "
            f"to watch; a CloudWatch composite alarm watches at most {MAX_CHILD_ALARMS}: split "
            "the service into several ServiceMonitoring constructs",
        )
    length = service.estimated_rule_length()
    if length > MAX_ALARM_RULE_LENGTH:
        raise fail(
            name,
            "add",
            f"makes the health alarm rule of '{service.service_name}' up to {length} "
            f"characters; CloudWatch accepts at most {MAX_ALARM_RULE_LENGTH}: watch fewer "
            "alarms, or give them shorter names",
        )
    if not service.alarms:
        Annotations.of(service).add_warning_v2(
            "cdk-microservices:ServiceMonitoring:no-alarms",
            f"ServiceMonitoring: the patterns added to '{service.service_name}' have no alarm "
            "(alarms=False, or CloudFront metrics outside us-east-1), so its health alarm "
            "watches nothing and stays OK (rule FALSE)",
        )
