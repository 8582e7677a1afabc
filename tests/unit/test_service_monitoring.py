"""ServiceMonitoring: each pattern's widgets and metrics, the composite health alarm, rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import (
    ApiRoute,
    ApiService,
    Cache,
    ConstructArgumentError,
    ContainerApi,
    ContainerService,
    EventBus,
    EventContract,
    ManagedFunction,
    QueueWorker,
    RelationalDatabase,
    ScheduledJob,
    ServiceMonitoring,
    ServiceTable,
    StaticSite,
    TableEventPublisher,
    Workflow,
)
from cdk_microservices.service_monitoring import MAX_ALARM_RULE_LENGTH, MAX_CHILD_ALARMS
from stacks.compliance import add_compliance_checks

OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})
IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"


def _stack(app: App | None = None, region: str = "us-east-1") -> Stack:
    return Stack(app or new_app(), "Test", env=Environment(account="111111111111", region=region))


def _render(value: Any) -> str:
    """A template string expression as text, each reference shown as ``<LogicalId>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return f"<{target[0]}.{target[1]}>"
    # Any other expression (Fn::Select of a listener's ARN...): JSON-safe, recognisable.
    return "<" + re.sub(r"[^A-Za-z0-9:./-]", "", json.dumps(value)) + ">"


def _dashboards(template: Template) -> list[dict[str, Any]]:
    return [
        json.loads(_render(body["Properties"]["DashboardBody"]))
        for body in template.find_resources("AWS::CloudWatch::Dashboard").values()
    ]


def _metric_names(widgets: list[dict[str, Any]]) -> set[str]:
    """The (namespace, metric name) pairs graphed by ``widgets``, as 'Namespace/Name'."""
    found: set[str] = set()
    for widget in widgets:
        for metric in widget.get("properties", {}).get("metrics", []):
            names = [item for item in metric if isinstance(item, str)]
            if len(names) >= 2 and names[0].startswith("AWS/"):
                found.add(f"{names[0]}/{names[1]}")
            elif len(names) >= 1 and names[0] == "...":
                continue
    return found


def _section(dashboard: dict[str, Any], header: str) -> list[dict[str, Any]]:
    """The widgets from the header widget whose text contains ``header`` to the next
    medium header (``## ``)."""
    widgets = dashboard["widgets"]
    start = next(
        index
        for index, widget in enumerate(widgets)
        if widget["type"] == "text" and header in widget["properties"]["markdown"]
    )
    section: list[dict[str, Any]] = []
    for widget in widgets[start + 1 :]:
        if widget["type"] == "text" and widget["properties"]["markdown"].startswith("## "):
            break
        section.append(widget)
    return section


def _alarm_arns(widgets: list[dict[str, Any]]) -> set[str]:
    return {
        arn
        for widget in widgets
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    }


class Everything:
    """One stack with every pattern kind, monitored by one ServiceMonitoring."""

    def __init__(self, code_dir: Path) -> None:
        self.stack = _stack()
        stack = self.stack
        vpc = three_tier_vpc(stack)
        pool = cognito.UserPool(stack, "Users")
        self.topic = sns.Topic(stack, "Alarms", enforce_ssl=True)
        self.api = ApiService(
            stack,
            "Api",
            service_name="items",
            code=code_dir,
            routes=[ApiRoute(method="GET", path="/items/{id}", handler="read.handler")],
            user_pool=pool,
            stage_name="api",
            alarm_topic=self.topic,
        )
        self.service = ContainerService(
            stack,
            "Service",
            service_name="items",
            image=ecs.ContainerImage.from_registry(IMAGE),
            vpc=vpc,
            load_balancer_access="explicit",
            alarm_topic=self.topic,
        )
        self.container_api = ContainerApi(
            stack,
            "ContainerApi",
            service=self.service,
            user_pool=pool,
            path_prefixes=["/items"],
            alarm_topic=self.topic,
        )
        self.worker = QueueWorker(
            stack,
            "Worker",
            service_name="items",
            code=code_dir,
            handler="consumer.handler",
            alarm_topic=self.topic,
        )
        self.table = ServiceTable(stack, "Table", stream="NEW_IMAGE")
        self.bus = EventBus(stack, "Bus", domain="items", contracts=[OPENED])
        self.publisher = TableEventPublisher(
            stack,
            "Publisher",
            service_name="items",
            table=self.table,
            bus=self.bus,
            event_types=["AccountOpened"],
            code=code_dir,
            handler="create.handler",
            alarm_topic=self.topic,
        )
        self.database = RelationalDatabase(
            stack, "Database", vpc=vpc, database_name="items", alarm_topic=self.topic
        )
        self.cache = Cache(stack, "Cache", vpc=vpc, alarm_topic=self.topic)
        self.node_cache = Cache(stack, "NodeCache", vpc=vpc, mode="node", replicas_per_node_group=1)
        self.site = StaticSite(stack, "Site")
        self.extra = cloudwatch.Alarm(
            stack,
            "Extra",
            metric=cloudwatch.Metric(namespace="Items", metric_name="Lost"),
            threshold=1,
            evaluation_periods=1,
            alarm_description="items: an item was lost. First: find it.",
        )
        self.monitoring = ServiceMonitoring(
            stack, "Monitoring", service_name="items", alarm_topic=self.topic
        )
        self.monitoring.add(
            self.api,
            self.container_api,
            self.service,
            self.worker,
            self.table,
            self.publisher,
            self.bus,
            self.database,
            self.cache,
            self.node_cache,
            self.site,
        )
        self.monitoring.add_alarms(self.extra, title="Items")
        self.template = Template.from_stack(stack)
        [self.dashboard] = _dashboards(self.template)

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="module")
def everything(code_dir: Path) -> Everything:
    return Everything(code_dir)


def test_one_dashboard_named_and_no_summary_or_alarm_dashboards(everything: Everything) -> None:
    dashboards = everything.template.find_resources("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    [dashboard] = dashboards.values()
    assert dashboard["Properties"]["DashboardName"] == everything.monitoring.dashboard_name
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", everything.monitoring.dashboard_name)


def test_the_api_section_shows_traffic_errors_latency_and_each_function(
    everything: Everything,
) -> None:
    section = _section(everything.dashboard, "API Test/Api")
    names = _metric_names(section)
    assert {
        "AWS/ApiGateway/Count",
        "AWS/ApiGateway/4XXError",
        "AWS/ApiGateway/5XXError",
        "AWS/ApiGateway/Latency",
        "AWS/Lambda/Invocations",
        "AWS/Lambda/Errors",
        "AWS/Lambda/Duration",
        "AWS/Lambda/Throttles",
        "AWS/Lambda/ConcurrentExecutions",
    } <= names
    text = json.dumps(section)
    # API Gateway's metrics are keyed by API name and stage (not the library's default "prod").
    stage = everything.logical_id(everything.api.rest_api.deployment_stage)
    assert f'"ApiName", "items", "Stage", "<{stage}>"' in text
    assert '"stat": "p99"' in text
    assert '"stat": "p50"' in text
    function_id = everything.logical_id(everything.api.functions["GET /items/{id}"])
    assert f"<{function_id}>" in text


def test_the_container_api_section_shows_its_api(everything: Everything) -> None:
    names = _metric_names(_section(everything.dashboard, "API Test/ContainerApi"))
    assert {"AWS/ApiGateway/Count", "AWS/ApiGateway/5XXError", "AWS/ApiGateway/Latency"} <= names


def test_the_container_section_shows_requests_errors_latency_tasks_and_saturation(
    everything: Everything,
) -> None:
    section = _section(everything.dashboard, "Container service Test/Service")
    names = _metric_names(section)
    assert {
        "AWS/ApplicationELB/RequestCount",
        "AWS/ApplicationELB/HTTPCode_Target_5XX_Count",
        "AWS/ApplicationELB/HTTPCode_ELB_5XX_Count",
        "AWS/ApplicationELB/TargetResponseTime",
        "AWS/ApplicationELB/HealthyHostCount",
        "AWS/ECS/CPUUtilization",
        "AWS/ECS/MemoryUtilization",
    } <= names
    text = json.dumps(section)
    assert '"stat": "p50"' in text
    assert '"stat": "p99"' in text


def test_the_worker_section_shows_queue_depth_age_dead_letters_and_its_function(
    everything: Everything,
) -> None:
    section = _section(everything.dashboard, "Queue worker Test/Worker")
    names = _metric_names(section)
    assert {
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/SQS/ApproximateAgeOfOldestMessage",
        "AWS/Lambda/Invocations",
        "AWS/Lambda/Errors",
    } <= names
    text = json.dumps(section)
    dead_letter_name = f"<{everything.logical_id(everything.worker.dead_letter_queue)}.QueueName>"
    assert dead_letter_name in text


def test_the_publisher_section_shows_iterator_age_and_its_failure_queue(
    everything: Everything,
) -> None:
    section = _section(everything.dashboard, "Table event publisher Test/Publisher")
    names = _metric_names(section)
    assert {
        "AWS/Lambda/IteratorAge",
        "AWS/Lambda/Errors",
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
    } <= names
    failure_queue = f"<{everything.logical_id(everything.publisher.failure_queue)}.QueueName>"
    assert failure_queue in json.dumps(section)


def test_the_table_section_shows_capacity_throttles_and_latency(everything: Everything) -> None:
    section = _section(everything.dashboard, "Table Test/Table")
    assert {
        "AWS/DynamoDB/ConsumedReadCapacityUnits",
        "AWS/DynamoDB/ConsumedWriteCapacityUnits",
        "AWS/DynamoDB/ReadThrottleEvents",
        "AWS/DynamoDB/WriteThrottleEvents",
    } <= _metric_names(section)
    # Latency is a SEARCH over the table's operations.
    table = everything.logical_id(everything.table.table)
    assert (
        f'\\"TableName\\"=\\"<{table}>\\" MetricName=\\"SuccessfulRequestLatency\\"'
        in json.dumps(section)
    )


def test_the_database_section_shows_capacity_connections_and_cpu(everything: Everything) -> None:
    names = _metric_names(_section(everything.dashboard, "Database Test/Database"))
    assert {
        "AWS/RDS/ServerlessDatabaseCapacity",
        "AWS/RDS/ACUUtilization",
        "AWS/RDS/DatabaseConnections",
        "AWS/RDS/CPUUtilization",
    } <= names


def test_the_cache_sections_show_hits_and_misses_with_each_mode_s_dimensions(
    everything: Everything,
) -> None:
    serverless = _section(everything.dashboard, "Cache Test/Cache")
    assert {"AWS/ElastiCache/CacheHits", "AWS/ElastiCache/CacheMisses"} <= _metric_names(serverless)
    # Serverless caches publish under clusterId (lowercase c), node-based under CacheClusterId.
    assert '"clusterId"' in json.dumps(serverless)
    node = _section(everything.dashboard, "Cache Test/NodeCache")
    assert {"AWS/ElastiCache/CacheHits", "AWS/ElastiCache/CacheMisses"} <= _metric_names(node)
    assert everything.node_cache.replication_group is not None
    group = everything.stack.get_logical_id(everything.node_cache.replication_group)
    text = json.dumps(node)
    assert f'"CacheClusterId", "<{group}>-001"' in text
    assert f'"CacheClusterId", "<{group}>-002"' in text


def test_the_bus_section_shows_published_and_failed_notifications(everything: Everything) -> None:
    names = _metric_names(_section(everything.dashboard, "Event bus Test/Bus"))
    assert {"AWS/SNS/NumberOfMessagesPublished", "AWS/SNS/NumberOfNotificationsFailed"} <= names


def test_the_site_section_shows_requests_and_error_rates(everything: Everything) -> None:
    section = _section(everything.dashboard, "Static site Test/Site")
    names = _metric_names(section)
    assert {
        "AWS/CloudFront/Requests",
        "AWS/CloudFront/4xxErrorRate",
        "AWS/CloudFront/5xxErrorRate",
    } <= names


def test_a_site_outside_us_east_1_reads_cloudfront_metrics_in_us_east_1() -> None:
    # CloudFront publishes its metrics in us-east-1 only, with the dimension Region=Global.
    stack = _stack(region="eu-west-1")
    monitoring = ServiceMonitoring(stack, "Monitoring", service_name="edge")
    monitoring.add(StaticSite(stack, "Site"))
    monitoring.add_alarms(_alarm(stack, 1))
    [dashboard] = _dashboards(Template.from_stack(stack))
    cloudfront = [
        metric
        for widget in _section(dashboard, "Static site Test/Site")
        for metric in widget.get("properties", {}).get("metrics", [])
        if "AWS/CloudFront" in metric
    ]
    assert len(cloudfront) >= 4
    for metric in cloudfront:
        assert '"Region", "Global"' in json.dumps(metric)
        assert metric[-1]["region"] == "us-east-1"


def test_each_pattern_s_alarms_are_shown_in_its_section(everything: Everything) -> None:
    patterns: list[tuple[str, Any]] = [
        ("API Test/Api", everything.api),
        ("Queue worker Test/Worker", everything.worker),
        ("Container service Test/Service", everything.service),
        ("Database Test/Database", everything.database),
    ]
    for header, pattern in patterns:
        shown = _alarm_arns(_section(everything.dashboard, header))
        assert pattern.alarms
        assert shown == {f"<{everything.logical_id(alarm)}.Arn>" for alarm in pattern.alarms}


def _health(template: Template) -> dict[str, Any]:
    [health] = template.find_resources("AWS::CloudWatch::CompositeAlarm").values()
    return dict(health["Properties"])


def test_the_health_alarm_watches_every_alarm_of_the_stack(everything: Everything) -> None:
    health = _health(everything.template)
    rule = _render(health["AlarmRule"])
    every_alarm = set(everything.template.find_resources("AWS::CloudWatch::Alarm"))
    assert len(every_alarm) > 10
    watched = set(re.findall(r'ALARM\("<([A-Za-z0-9]+)\.Arn>"\)', rule))
    assert watched == every_alarm
    assert rule.count(" OR ") == len(every_alarm) - 1


def test_the_health_alarm_notifies_the_topic_and_says_what_to_do(everything: Everything) -> None:
    health = _health(everything.template)
    topic = {"Ref": everything.logical_id(everything.topic)}
    assert health["AlarmActions"] == [topic]
    assert health["OKActions"] == [topic]
    description = health["AlarmDescription"]
    assert re.fullmatch(r"items: .+\. First: .+\.", description)


def test_the_health_alarm_status_tops_the_dashboard(everything: Everything) -> None:
    health_id = everything.logical_id(everything.monitoring.health_alarm)
    first_alarm_widget = next(w for w in everything.dashboard["widgets"] if w["type"] == "alarm")
    assert first_alarm_widget["properties"]["alarms"] == [f"<{health_id}.Arn>"]


def test_the_patterns_alarms_keep_their_own_actions(everything: Everything) -> None:
    topic = {"Ref": everything.logical_id(everything.topic)}
    for alarm in everything.worker.alarms:
        properties = everything.template.to_json()["Resources"][everything.logical_id(alarm)]
        assert properties["Properties"]["AlarmActions"] == [topic]


def test_key_metrics_come_from_the_front_door(everything: Everything) -> None:
    key = everything.monitoring.key_metrics
    assert key is not None
    assert key.source == "API Test/Api"
    assert key.latency_p99 is not None


def test_the_monitoring_leaves_no_cdk_nag_finding(code_dir: Path) -> None:
    app = new_app()
    add_compliance_checks(app)
    stack = _stack(app)
    worker = QueueWorker(
        stack, "Worker", service_name="items", code=code_dir, handler="consumer.handler"
    )
    ServiceMonitoring(stack, "Monitoring", service_name="items").add(worker)
    # The packs run at synth: a finding would raise.
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::CompositeAlarm", 1)


def _synth_error(stack: Stack) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - jsii wraps the validation error
        Template.from_stack(stack)
    return str(caught.value)


def test_nothing_added_is_an_error_at_synth() -> None:
    stack = _stack()
    ServiceMonitoring(stack, "Monitoring", service_name="items")
    message = _synth_error(stack)
    assert "ServiceMonitoring: argument 'add' was never called for 'items'" in message


def _alarm(stack: Stack, number: int) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        stack,
        f"Alarm{number}",
        metric=cloudwatch.Metric(namespace="Items", metric_name=f"M{number}"),
        threshold=1,
        evaluation_periods=1,
    )


def test_at_most_100_alarms(code_dir: Path) -> None:
    stack = _stack()
    monitoring = ServiceMonitoring(stack, "Monitoring", service_name="items")
    monitoring.add_alarms(*(_alarm(stack, number) for number in range(MAX_CHILD_ALARMS + 1)))
    assert f"watches at most {MAX_CHILD_ALARMS}" in _synth_error(stack)


def test_the_rule_length_is_bounded_by_the_alarm_names() -> None:
    stack = _stack()
    monitoring = ServiceMonitoring(stack, "Monitoring", service_name="items")
    monitoring.add_alarms(
        *(
            cloudwatch.Alarm(
                stack,
                f"Alarm{number}",
                alarm_name=f"items-{number}-" + "x" * 200,
                metric=cloudwatch.Metric(namespace="Items", metric_name=f"M{number}"),
                threshold=1,
                evaluation_periods=1,
            )
            for number in range(40)
        )
    )
    assert monitoring.estimated_rule_length() > MAX_ALARM_RULE_LENGTH
    assert f"CloudWatch accepts at most {MAX_ALARM_RULE_LENGTH}" in _synth_error(stack)


def test_alarms_added_after_the_patterns_still_join_the_rule() -> None:
    stack = _stack()
    monitoring = ServiceMonitoring(stack, "Monitoring", service_name="items")
    monitoring.add_alarms(_alarm(stack, 1))
    monitoring.add_alarms(_alarm(stack, 2))
    rule = _render(_health(Template.from_stack(stack))["AlarmRule"])
    assert rule.count("ALARM(") == 2


def test_patterns_without_alarms_leave_a_false_rule_and_a_warning(code_dir: Path) -> None:
    stack = _stack()
    worker = QueueWorker(
        stack,
        "Worker",
        service_name="items",
        code=code_dir,
        handler="consumer.handler",
        alarms=False,
    )
    ServiceMonitoring(stack, "Monitoring", service_name="items").add(worker)
    template = Template.from_stack(stack)
    assert _render(_health(template)["AlarmRule"]) == "FALSE"
    Annotations.from_stack(stack).has_warning(
        "/Test/Monitoring", Match.string_like_regexp("watches nothing and stays OK")
    )


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"service_name": "Items"}, "argument 'service_name'"),
        ({"service_name": "items", "dashboard_name": "has spaces"}, "argument 'dashboard_name'"),
    ],
)
def test_bad_arguments_are_named(arguments: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConstructArgumentError, match=problem):
        ServiceMonitoring(_stack(), "Monitoring", **arguments)


def test_something_else_than_a_pattern_is_rejected() -> None:
    stack = _stack()
    monitoring = ServiceMonitoring(stack, "Monitoring", service_name="items")
    with pytest.raises(ConstructArgumentError, match=r"patterns\[0\]' is a Vpc"):
        monitoring.add(ec2.Vpc(stack, "Vpc"))  # type: ignore[arg-type]


class Jobs:
    """A stack with a Workflow and a ScheduledJob (Lambda target), monitored together."""

    def __init__(self, code_dir: Path) -> None:
        self.stack = _stack()
        stack = self.stack
        topic = sns.Topic(stack, "Events", enforce_ssl=True)
        self.workflow = Workflow(
            stack,
            "Export",
            service_name="statements",
            definition=tasks.SnsPublish(
                stack, "Publish", topic=topic, message=sfn.TaskInput.from_json_path_at("$")
            ),
            timeout=Duration.minutes(15),
        )
        worker = QueueWorker(
            stack, "Report", service_name="statements", code=code_dir, handler="consumer.handler"
        )
        self.job = ScheduledJob(
            stack,
            "Nightly",
            service_name="statements",
            schedule="cron(0 3 * * ? *)",
            target=worker.function,
            description="reports dead-lettered messages",
        )
        self.function = ManagedFunction(
            stack,
            "Exporter",
            service_name="statements",
            code=code_dir,
            handler="read.handler",
            description="Exports one statement",
        )
        self.monitoring = ServiceMonitoring(stack, "Monitoring", service_name="statements").add(
            self.workflow, self.job, self.function
        )
        self.template = Template.from_stack(stack)
        [self.dashboard] = _dashboards(self.template)

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(construct.node.default_child.logical_id))


@pytest.fixture(scope="module")
def jobs(code_dir: Path) -> Jobs:
    return Jobs(code_dir)


def test_the_workflow_section_shows_executions_and_its_alarms(jobs: Jobs) -> None:
    section = _section(jobs.dashboard, "Workflow Test/Export")
    assert {
        "AWS/States/ExecutionsStarted",
        "AWS/States/ExecutionsFailed",
        "AWS/States/ExecutionsTimedOut",
    } <= _metric_names(section)
    assert jobs.workflow.alarms
    assert _alarm_arns(section) == {
        f"<{jobs.logical_id(alarm)}.Arn>" for alarm in jobs.workflow.alarms
    }


def test_the_scheduled_job_section_shows_runs_failures_dead_letters_and_its_function(
    jobs: Jobs,
) -> None:
    section = _section(jobs.dashboard, "Scheduled job Test/Nightly")
    assert {
        "AWS/Scheduler/InvocationAttemptCount",
        "AWS/Scheduler/TargetErrorCount",
        "AWS/Scheduler/InvocationDroppedCount",
        "AWS/Scheduler/InvocationsSentToDeadLetterCount",
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/Lambda/Errors",
    } <= _metric_names(section)
    group = jobs.stack.resolve(jobs.job.schedule_group.schedule_group_name)
    scheduler_metrics = [
        metric
        for widget in section
        for metric in widget.get("properties", {}).get("metrics", [])
        if metric and metric[0] == "AWS/Scheduler"
    ]
    # The schedule group is the metrics' only dimension: each graph names this job's group.
    assert scheduler_metrics
    assert all(
        metric[2] == "ScheduleGroup" and _render(metric[3]) == _render(group)
        for metric in scheduler_metrics
    )
    assert _alarm_arns(section) == {f"<{jobs.logical_id(alarm)}.Arn>" for alarm in jobs.job.alarms}


def test_the_jobs_alarms_feed_the_health_alarm(jobs: Jobs) -> None:
    rule = _render(_health(jobs.template)["AlarmRule"])
    watched = set(re.findall(r'ALARM\("<([A-Za-z0-9]+)\.Arn>"\)', rule))
    # The worker that lends the job its function was not added: its alarms stay out.
    assert watched == {
        jobs.logical_id(alarm)
        for alarm in [*jobs.workflow.alarms, *jobs.job.alarms, *jobs.function.alarms]
    }


def test_a_managed_function_section_shows_its_function_and_its_alarm(jobs: Jobs) -> None:
    section = _section(jobs.dashboard, "Function Test/Exporter")
    assert {"AWS/Lambda/Invocations", "AWS/Lambda/Errors", "AWS/Lambda/Duration"} <= (
        _metric_names(section)
    )
    assert jobs.function.alarms
    assert _alarm_arns(section) == {
        f"<{jobs.logical_id(alarm)}.Arn>" for alarm in jobs.function.alarms
    }
