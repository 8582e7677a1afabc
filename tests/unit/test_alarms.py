"""Every pattern's alarms: the ones it creates by default, thresholds overridable by name,
the errors for unknown names and conflicting arguments, and descriptions that say what to
do first. The per-pattern test files cover each pattern's other alarm details."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import (
    ApiRoute,
    ApiService,
    AuditTrail,
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
    ServiceTable,
    StaticSite,
    TableEventPublisher,
    Workflow,
    alarm_description,
)
from cdk_microservices._alarms import DESCRIPTION_FORMAT, resolve_thresholds

README = Path(__file__).resolve().parents[2] / "README.md"
OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})
IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"

Builder = Callable[[Stack, Path, dict[str, Any]], Any]


def _stack(region: str = "us-east-1") -> Stack:
    return Stack(new_app(), "Test", env=Environment(account="111111111111", region=region))


def _worker(stack: Stack, code: Path, kw: dict[str, Any]) -> QueueWorker[Any, Any]:
    return QueueWorker(
        stack, "Worker", service_name="statements", code=code, handler="consumer.handler", **kw
    )


def _api(stack: Stack, code: Path, kw: dict[str, Any]) -> ApiService:
    route = ApiRoute(method="GET", path="/items", handler="read.handler", authorization="iam")
    return ApiService(stack, "Api", service_name="items", code=code, routes=[route], **kw)


def _publisher(stack: Stack, code: Path, kw: dict[str, Any]) -> TableEventPublisher:
    return TableEventPublisher(
        stack,
        "Publisher",
        service_name="accounts",
        table=ServiceTable(stack, "Table", stream="NEW_IMAGE", alarms=False),
        bus=EventBus(stack, "Bus", domain="accounts", contracts=[OPENED], alarms=False),
        event_types=["AccountOpened"],
        code=code,
        handler="create.handler",
        **kw,
    )


def _service(stack: Stack, _code: Path, kw: dict[str, Any]) -> ContainerService[Any, Any]:
    return ContainerService(
        stack,
        "Service",
        service_name="transfers",
        image=ecs.ContainerImage.from_registry(IMAGE),
        vpc=three_tier_vpc(stack),
        load_balancer_access="explicit",
        **kw,
    )


def _container_api(stack: Stack, code: Path, kw: dict[str, Any]) -> ContainerApi:
    return ContainerApi(
        stack,
        "ContainerApi",
        service=_service(stack, code, {"alarms": False}),
        user_pool=cognito.UserPool.from_user_pool_id(stack, "Users", "us-east-1_example"),
        path_prefixes=["/transfers"],
        **kw,
    )


def _table(stack: Stack, _code: Path, kw: dict[str, Any]) -> ServiceTable[Any]:
    return ServiceTable(stack, "Table", **kw)


def _database(stack: Stack, _code: Path, kw: dict[str, Any]) -> RelationalDatabase[Any]:
    return RelationalDatabase(
        stack, "Database", vpc=three_tier_vpc(stack), database_name="ledger", **kw
    )


def _cache(stack: Stack, _code: Path, kw: dict[str, Any]) -> Cache[Any]:
    return Cache(stack, "Cache", vpc=three_tier_vpc(stack), **kw)


def _node_cache(stack: Stack, _code: Path, kw: dict[str, Any]) -> Cache[Any]:
    return Cache(stack, "Cache", vpc=three_tier_vpc(stack), mode="node", **kw)


def _bus(stack: Stack, _code: Path, kw: dict[str, Any]) -> EventBus[Any]:
    return EventBus(stack, "Bus", domain="accounts", contracts=[OPENED], **kw)


def _site(stack: Stack, _code: Path, kw: dict[str, Any]) -> StaticSite[Any]:
    return StaticSite(stack, "Site", **kw)


def _audit(stack: Stack, _code: Path, kw: dict[str, Any]) -> AuditTrail:
    return AuditTrail(stack, "Audit", **kw)


# Per pattern: the alarms it creates by default, by construct id, as
# (metric names, namespace, threshold in the metric's unit, dimension names).
Expected = dict[str, tuple[set[str], str, float, set[str]]]
PATTERNS: dict[str, tuple[Builder, type, Expected]] = {
    "QueueWorker": (
        _worker,
        QueueWorker,
        {
            "OldestMessageAgeAlarm": (
                {"ApproximateAgeOfOldestMessage"},
                "AWS/SQS",
                900,
                {"QueueName"},
            ),
            "ConsumerErrorsAlarm": ({"Errors"}, "AWS/Lambda", 1, {"FunctionName"}),
            "DeadLetterAlarm": (
                {"ApproximateNumberOfMessagesVisible"},
                "AWS/SQS",
                1,
                {"QueueName"},
            ),
        },
    ),
    "ApiService": (
        _api,
        ApiService,
        {
            "ServerErrorsAlarm": ({"5XXError"}, "AWS/ApiGateway", 1, {"ApiName", "Stage"}),
            "LatencyAlarm": ({"Latency"}, "AWS/ApiGateway", 3000, {"ApiName", "Stage"}),
            "ErrorsAlarm": ({"Errors"}, "AWS/Lambda", 1, {"FunctionName"}),
        },
    ),
    "ContainerApi": (
        _container_api,
        ContainerApi,
        {
            "ServerErrorsAlarm": ({"5XXError"}, "AWS/ApiGateway", 1, {"ApiName", "Stage"}),
            "LatencyAlarm": ({"Latency"}, "AWS/ApiGateway", 3000, {"ApiName", "Stage"}),
        },
    ),
    "TableEventPublisher": (
        _publisher,
        TableEventPublisher,
        {
            "IteratorAgeAlarm": ({"IteratorAge"}, "AWS/Lambda", 300_000, {"FunctionName"}),
            "FailureQueueAlarm": (
                {"ApproximateNumberOfMessagesVisible"},
                "AWS/SQS",
                1,
                {"QueueName"},
            ),
            "PublisherErrorsAlarm": ({"Errors"}, "AWS/Lambda", 1, {"FunctionName"}),
        },
    ),
    "ContainerService": (
        _service,
        ContainerService,
        {
            "ServerErrorsAlarm": (
                {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"},
                "AWS/ApplicationELB",
                1,
                {"LoadBalancer", "TargetGroup"},
            ),
            "LatencyAlarm": (
                {"TargetResponseTime"},
                "AWS/ApplicationELB",
                1,
                {"LoadBalancer", "TargetGroup"},
            ),
            "UnhealthyTargetsAlarm": (
                {"UnHealthyHostCount"},
                "AWS/ApplicationELB",
                1,
                {"LoadBalancer", "TargetGroup"},
            ),
            "CpuAlarm": ({"CPUUtilization"}, "AWS/ECS", 80, {"ClusterName", "ServiceName"}),
            "MemoryAlarm": ({"MemoryUtilization"}, "AWS/ECS", 80, {"ClusterName", "ServiceName"}),
        },
    ),
    "ServiceTable": (
        _table,
        ServiceTable,
        {
            # ThrottledRequests and SystemErrors exist per operation only (DynamoDB metrics
            # and dimensions: "Operation" is required with TableName for these).
            "ReadThrottlesAlarm": (
                {"ThrottledRequests"},
                "AWS/DynamoDB",
                1,
                {"TableName", "Operation"},
            ),
            "WriteThrottlesAlarm": (
                {"ThrottledRequests"},
                "AWS/DynamoDB",
                1,
                {"TableName", "Operation"},
            ),
            "SystemErrorsAlarm": ({"SystemErrors"}, "AWS/DynamoDB", 1, {"TableName", "Operation"}),
        },
    ),
    "RelationalDatabase": (
        _database,
        RelationalDatabase,
        {
            "WriterCpuAlarm": ({"CPUUtilization"}, "AWS/RDS", 80, {"DBInstanceIdentifier"}),
            "WriterCapacityAlarm": (
                {"ServerlessDatabaseCapacity"},
                "AWS/RDS",
                3.6,  # 90 % of the default maximum, 4 ACU
                {"DBInstanceIdentifier"},
            ),
            "WriterFreeableMemoryAlarm": (
                {"FreeableMemory"},
                "AWS/RDS",
                round(0.1 * 8 * 1024**3),
                {"DBInstanceIdentifier"},
            ),
            "WriterConnectionsAlarm": (
                {"DatabaseConnections"},
                "AWS/RDS",
                720,  # 80 % of LEAST(8 GiB / 9531392, 5000) = 901
                {"DBInstanceIdentifier"},
            ),
        },
    ),
    "Cache (serverless)": (
        _cache,
        Cache,
        {"ThrottledAlarm": ({"ThrottledCmds"}, "AWS/ElastiCache", 1, {"clusterId"})},
    ),
    "Cache (node)": (
        _node_cache,
        Cache,
        {
            f"Node{n}{alarm}": ({metric}, "AWS/ElastiCache", threshold, {"CacheClusterId"})
            for n in (1, 2)
            for alarm, metric, threshold in (
                ("CpuAlarm", "CPUUtilization", 80),
                ("EngineCpuAlarm", "EngineCPUUtilization", 80),
                ("MemoryAlarm", "DatabaseMemoryUsagePercentage", 80),
                ("EvictionsAlarm", "Evictions", 1),
            )
        },
    ),
    "EventBus": (
        _bus,
        EventBus,
        {
            "DeliveryFailedAlarm": ({"NumberOfNotificationsFailed"}, "AWS/SNS", 1, {"TopicName"}),
            "RedriveToDlqFailedAlarm": (
                {"NumberOfNotificationsFailedToRedriveToDlq"},
                "AWS/SNS",
                1,
                {"TopicName"},
            ),
        },
    ),
    "StaticSite": (
        _site,
        StaticSite,
        {
            # CloudFront's metrics: us-east-1, dimensions DistributionId and Region=Global.
            "ServerErrorRateAlarm": (
                {"5xxErrorRate"},
                "AWS/CloudFront",
                5,
                {"DistributionId", "Region"},
            ),
            "ClientErrorRateAlarm": (
                {"4xxErrorRate"},
                "AWS/CloudFront",
                25,
                {"DistributionId", "Region"},
            ),
        },
    ),
    "AuditTrail": (
        _audit,
        AuditTrail,
        {
            f"{name}Alarm": ({name}, "CloudTrailMetrics", 1, set())
            for name in ("RootUserUsage", "ConsoleSignInWithoutMfa", "IamPolicyChanges")
        },
    ),
}

# Per pattern: an override by name, and the construct id and metric threshold it changes.
OVERRIDES: dict[str, tuple[dict[str, float], str, float]] = {
    "QueueWorker": ({"OldestMessageAge": 120}, "OldestMessageAgeAlarm", 120),
    "ApiService": ({"FunctionErrors": 5}, "ErrorsAlarm", 5),
    "ContainerApi": ({"Latency": 1.5}, "LatencyAlarm", 1500),
    "TableEventPublisher": ({"IteratorAge": 60}, "IteratorAgeAlarm", 60_000),
    "ContainerService": ({"Cpu": 90}, "CpuAlarm", 90),
    "ServiceTable": ({"WriteThrottles": 10}, "WriteThrottlesAlarm", 10),
    "RelationalDatabase": ({"Capacity": 50}, "WriterCapacityAlarm", 2),
    "Cache (serverless)": ({"Throttled": 100}, "ThrottledAlarm", 100),
    "Cache (node)": ({"Evictions": 1000}, "Node2EvictionsAlarm", 1000),
    "EventBus": ({"DeliveryFailed": 3}, "DeliveryFailedAlarm", 3),
    "StaticSite": ({"ServerErrorRate": 1}, "ServerErrorRateAlarm", 1),
    "AuditTrail": ({"IamPolicyChanges": 2}, "IamPolicyChangesAlarm", 2),
}

# The older per-alarm arguments, and the alarm name each sets.
OLD_ARGUMENTS: dict[str, tuple[str, Duration, str]] = {
    "QueueWorker": ("max_message_age", Duration.minutes(5), "OldestMessageAge"),
    "ApiService": ("latency_alarm_threshold", Duration.seconds(2), "Latency"),
    "ContainerApi": ("latency_alarm_threshold", Duration.seconds(2), "Latency"),
    "TableEventPublisher": ("max_iterator_age", Duration.minutes(2), "IteratorAge"),
    "ContainerService": ("latency_alarm_threshold", Duration.seconds(2), "Latency"),
}


def _alarm_names(pattern: str) -> list[str]:
    cls: Any = PATTERNS[pattern][1]
    if pattern == "Cache (node)":
        return sorted(Cache.NODE_ALARM_THRESHOLDS)
    if pattern == "Cache (serverless)":
        return sorted(Cache.SERVERLESS_ALARM_THRESHOLDS)
    return sorted(cls.ALARM_THRESHOLDS)


def _alarms_by_id(stack: Stack, construct: Any) -> dict[str, dict[str, Any]]:
    """The construct's alarms' properties in the template, by construct id."""
    resources = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    found: dict[str, dict[str, Any]] = {}
    for alarm in construct.alarms:
        assert isinstance(alarm, cloudwatch.Alarm)
        logical_id = stack.get_logical_id(alarm.node.default_child)  # type: ignore[arg-type]
        found[alarm.node.id] = resources[logical_id]["Properties"]
    assert len(resources) == len(construct.alarms), "every alarm is in `alarms`"
    return found


def _facts(properties: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """Metric names, namespaces and dimension names of an alarm (plain or metric math)."""
    stats = [
        query["MetricStat"]["Metric"]
        for query in properties.get("Metrics", [])
        if "MetricStat" in query
    ] or [properties]
    return (
        {stat["MetricName"] for stat in stats},
        {stat["Namespace"] for stat in stats},
        {dimension["Name"] for stat in stats for dimension in stat.get("Dimensions", [])},
    )


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_each_pattern_creates_its_alarms_by_default(pattern: str, code_dir: Path) -> None:
    builder, _, expected = PATTERNS[pattern]
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    construct = builder(stack, code_dir, {"alarm_topic": topic})
    alarms = _alarms_by_id(stack, construct)
    assert set(alarms) == set(expected)
    topic_ref = {"Ref": stack.get_logical_id(topic.node.default_child)}  # type: ignore[arg-type]
    for construct_id, (metrics, namespace, threshold, dimensions) in expected.items():
        properties = alarms[construct_id]
        assert _facts(properties) == (metrics, {namespace}, dimensions), construct_id
        assert properties["Threshold"] == pytest.approx(threshold), construct_id
        assert properties["TreatMissingData"] == "notBreaching"
        assert properties["AlarmActions"] == [topic_ref]
        assert properties["OKActions"] == [topic_ref]
        description = properties["AlarmDescription"]
        assert DESCRIPTION_FORMAT.fullmatch(description), description
        assert description.count("First: ") == 1
        assert len(description) <= 1024


def test_cloudfront_alarms_watch_the_global_region(code_dir: Path) -> None:
    stack = _stack()
    site = _site(stack, code_dir, {})
    for properties in _alarms_by_id(stack, site).values():
        assert {"Name": "Region", "Value": "Global"} in properties["Dimensions"]


def test_dynamodb_alarms_count_an_operation_without_data_as_zero(code_dir: Path) -> None:
    stack = _stack()
    table = _table(stack, code_dir, {})
    for properties in _alarms_by_id(stack, table).values():
        (expression,) = [q["Expression"] for q in properties["Metrics"] if "Expression" in q]
        stats = [q for q in properties["Metrics"] if "MetricStat" in q]
        assert expression == " + ".join(f"FILL({q['Id']}, 0)" for q in stats)
        # CloudWatch alarms on metric math take at most 10 metrics.
        assert len(stats) <= 10


@pytest.mark.parametrize("pattern", sorted(OVERRIDES))
def test_a_threshold_is_overridden_by_its_name(pattern: str, code_dir: Path) -> None:
    builder = PATTERNS[pattern][0]
    overrides, construct_id, threshold = OVERRIDES[pattern]
    stack = _stack()
    construct = builder(stack, code_dir, {"alarm_thresholds": overrides})
    alarms = _alarms_by_id(stack, construct)
    assert alarms[construct_id]["Threshold"] == pytest.approx(threshold)
    unchanged = PATTERNS[pattern][2]
    for other, (_, _, default, _) in unchanged.items():
        if other != construct_id and not other.endswith(construct_id.removeprefix("Node2")):
            assert alarms[other]["Threshold"] == pytest.approx(default), other


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_an_unknown_alarm_name_is_rejected_with_the_known_ones(
    pattern: str, code_dir: Path
) -> None:
    builder = PATTERNS[pattern][0]
    names = ", ".join(repr(name) for name in _alarm_names(pattern))
    message = (
        "argument 'alarm_thresholds' has the unknown alarm name 'Nope'; the alarm names are "
        + names
    )
    with pytest.raises(ConstructArgumentError, match=re.escape(message)):
        builder(_stack(), code_dir, {"alarm_thresholds": {"Nope": 1}})


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_thresholds_without_alarms_are_rejected(pattern: str, code_dir: Path) -> None:
    builder = PATTERNS[pattern][0]
    name = _alarm_names(pattern)[0]
    with pytest.raises(
        ConstructArgumentError, match="'alarms' was given together with 'alarm_thresholds'"
    ):
        builder(_stack(), code_dir, {"alarms": False, "alarm_thresholds": {name: 1}})


@pytest.mark.parametrize("pattern", sorted(OLD_ARGUMENTS))
def test_an_old_argument_and_its_alarm_name_together_are_rejected(
    pattern: str, code_dir: Path
) -> None:
    builder = PATTERNS[pattern][0]
    argument, value, alarm = OLD_ARGUMENTS[pattern]
    with pytest.raises(
        ConstructArgumentError,
        match=f"argument 'alarm_thresholds' sets '{alarm}', which '{argument}' sets too",
    ):
        builder(_stack(), code_dir, {argument: value, "alarm_thresholds": {alarm: 2}})


@pytest.mark.parametrize(
    ("pattern", "overrides", "message"),
    [
        ("ContainerService", {"Memory": 101}, r"'alarm_thresholds\['Memory'\]' is 101"),
        ("RelationalDatabase", {"Cpu": 150}, r"'alarm_thresholds\['Cpu'\]' is 150"),
        ("StaticSite", {"ClientErrorRate": 0}, "a threshold must be a positive number"),
        ("Cache (node)", {"Throttled": 1}, "unknown alarm name 'Throttled'"),
        ("EventBus", {"DeliveryFailed": -1}, "is -1; a threshold must be a positive number"),
        ("ServiceTable", {"SystemErrors": True}, "must be a number, got bool"),
    ],
)
def test_bad_thresholds_are_rejected(
    pattern: str, overrides: dict[str, Any], message: str, code_dir: Path
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        PATTERNS[pattern][0](_stack(), code_dir, {"alarm_thresholds": overrides})


def test_resolve_thresholds_rejects_what_is_not_a_positive_finite_number() -> None:
    defaults = {"A": 1.0}
    for value in (math.nan, math.inf, 0, -2):
        with pytest.raises(ConstructArgumentError, match="a threshold must be a positive number"):
            resolve_thresholds("X", defaults, {"A": value})
    with pytest.raises(ConstructArgumentError, match="must be a mapping of alarm names"):
        resolve_thresholds("X", defaults, [("A", 1)])  # type: ignore[arg-type]
    assert resolve_thresholds("X", defaults, None) == {"A": 1.0}
    assert resolve_thresholds("X", defaults, {}, old_arguments={"A": ("old", 5.0)}) == {"A": 5.0}


def test_alarm_description_is_the_convention() -> None:
    text = alarm_description("payments", "it broke.", "look at the logs.")
    assert text == "payments: it broke. First: look at the logs."
    assert DESCRIPTION_FORMAT.fullmatch(text)


def test_a_site_outside_us_east_1_warns_instead_of_alarming(code_dir: Path) -> None:
    stack = _stack(region="eu-west-1")
    site = _site(stack, code_dir, {})
    assert site.alarms == []
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 0)
    Annotations.from_stack(stack).has_warning(
        "/Test/Site",
        Match.string_like_regexp(
            "no alarms were created: the stack is in eu-west-1, and CloudFront publishes its "
            "metrics only in us-east-1"
        ),
    )
    quiet = _stack(region="eu-west-1")
    _site(quiet, code_dir, {"alarms": False})
    Annotations.from_stack(quiet).has_no_warning("*", Match.string_like_regexp("no alarms"))


@pytest.mark.parametrize(
    ("builder", "existing"),
    [(_table, "existing_table"), (_bus, "existing_topic")],
)
def test_existing_resources_get_no_alarms_and_reject_alarm_arguments(
    builder: Builder, existing: str, code_dir: Path
) -> None:
    def owned(stack: Stack) -> Any:
        if existing == "existing_table":
            return ServiceTable(stack, "Owner", alarms=False).table
        return sns.Topic(stack, "Owner")

    stack = _stack()
    construct = builder(stack, code_dir, {existing: owned(stack)})
    assert construct.alarms == []
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 0)
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match=f"'{existing}' was given together with"):
        builder(stack, code_dir, {existing: owned(stack), "alarm_thresholds": {"X": 1}})


def _readme_rows() -> set[tuple[str, str]]:
    """(pattern, alarm name) of each row of the README's alarm table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Alarms and what to do", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### ", 1)[0]
    rows = set()
    for line in section.splitlines():
        match = re.match(r"\| `?(\w+)`? \| `(\w+)` \|", line)
        if match:
            rows.add((match[1], match[2]))
    return rows


def test_the_readme_lists_every_alarm_name_of_every_pattern() -> None:
    classes: tuple[Any, ...] = (
        QueueWorker,
        ApiService,
        ContainerApi,
        TableEventPublisher,
        ContainerService,
        ServiceTable,
        RelationalDatabase,
        EventBus,
        StaticSite,
        AuditTrail,
        Workflow,
        ScheduledJob,
        ManagedFunction,
    )
    expected = {(cls.__name__, name) for cls in classes for name in cls.ALARM_THRESHOLDS}
    expected |= {("Cache", name) for name in Cache.SERVERLESS_ALARM_THRESHOLDS}
    expected |= {("Cache", name) for name in Cache.NODE_ALARM_THRESHOLDS}
    assert _readme_rows() == expected
