"""Random keyword arguments give a template or a ``ConstructArgumentError``, nothing else
(issue 13, item 3b).

For every public construct (and the value objects and factories handed to them:
``ApiRoute``, ``EventContract``, ``Deployment``, ``ScheduledFargateTask``, ...), each example
starts from a known-valid set of keyword arguments, replaces a random subset of them, builds
the construct in a fresh ``App`` and synthesizes it. The only failure the library may raise
is ``ConstructArgumentError`` (raised by its validation, before any jsii call, naming the
argument); a jsii error, a ``TypeError``/``KeyError``/``ValueError`` from deep inside, or
anything else fails the property.

What an argument is replaced with, by its annotation: valid values (from the documented
allowed sets), boundary values (0, -1, huge numbers, empty, very long and odd strings,
NaN/infinity), values of a wrong type (None, a string for a number, a number for a
string, a list for a mapping, a mapping with unknown keys, a bool for a number), and, for
an optional argument, omission. Unknown keyword *names* are not drawn: Python's own
``TypeError`` for them is the expected behaviour of any function.

Budget: the loaded hypothesis profile (``short`` by default, ``long`` with
``HYPOTHESIS_PROFILE=long``).
"""

from __future__ import annotations

import enum
import inspect
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_cdk import Aspects, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from hypothesis import given
from hypothesis import strategies as st
from unit_app import new_app

import cdk_microservices
from cdk_microservices import (
    AlarmTopic,
    ApiRoute,
    ApiService,
    AuditTrail,
    Cache,
    CloudFrontWebAcl,
    ConstructArgumentError,
    ContainerApi,
    ContainerService,
    Deployment,
    EventBus,
    EventContract,
    LogRetentionAspect,
    ManagedFunction,
    QueueWorker,
    RelationalDatabase,
    ScheduledFargateTask,
    ScheduledJob,
    ServiceMonitoring,
    ServiceTable,
    StaticSite,
    TableEventPublisher,
    Workflow,
    access_log_bucket,
)

# -- values built inside the example's stack ----------------------------------------------


@dataclass(frozen=True)
class Make:
    """A value that needs the example's stack (a VPC, a topic...) or is a jsii object
    (a Duration): built when the construct is, shown by ``label`` in a failing example."""

    label: str
    build: Callable[[Stack], object] = field(compare=False)

    def __repr__(self) -> str:
        return self.label


OMIT = Make("<omitted>", lambda _stack: None)
"""The argument is not passed at all."""


def resolve(value: object, stack: Stack) -> object:
    """``value`` with every ``Make`` in it built in ``stack`` (lists and mappings too)."""
    if isinstance(value, Make):
        return value.build(stack)
    if isinstance(value, list):
        return [resolve(item, stack) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, stack) for key, item in value.items()}
    return value


def _child(stack: Stack, id: str, build: Callable[[], object]) -> object:
    """One shared instance per stack (a VPC used by the baseline and by a drawn value)."""
    existing = stack.node.try_find_child(id)
    return existing if existing is not None else build()


def _vpc(stack: Stack) -> ec2.IVpc:
    return typing.cast(
        ec2.IVpc,
        _child(
            stack,
            "Vpc",
            lambda: ec2.Vpc.from_vpc_attributes(
                stack,
                "Vpc",
                vpc_id="vpc-12345678",
                vpc_cidr_block="10.0.0.0/16",
                availability_zones=["us-east-1a", "us-east-1b"],
                public_subnet_ids=["subnet-1", "subnet-2"],
                private_subnet_ids=["subnet-3", "subnet-4"],
                isolated_subnet_ids=["subnet-5", "subnet-6"],
            ),
        ),
    )


def _topic(stack: Stack) -> sns.ITopic:
    return typing.cast(
        sns.ITopic, _child(stack, "AlarmTopic", lambda: sns.Topic(stack, "AlarmTopic"))
    )


def _function(stack: Stack) -> lambda_.IFunction:
    return typing.cast(
        lambda_.IFunction,
        _child(
            stack,
            "Target",
            lambda: lambda_.Function(
                stack,
                "Target",
                code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
                handler="index.handler",
                runtime=lambda_.Runtime.PYTHON_3_12,
            ),
        ),
    )


def _alarm(stack: Stack, id: str = "External") -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        stack,
        f"{id}{len(stack.node.children)}",
        metric=cloudwatch.Metric(namespace="Test", metric_name="Errors"),
        threshold=1,
        evaluation_periods=1,
    )


VPC = Make("<Vpc>", _vpc)
TOPIC = Make("<sns.Topic>", _topic)
INLINE_CODE = Make(
    "Code.from_inline(...)",
    lambda _stack: lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
)
OPENED = EventContract(
    name="AccountOpened",
    version=1,
    schema={"type": "object", "properties": {"accountId": {"type": "string"}}},
)


def duration(unit: str, amount: float) -> Make:
    return Make(f"Duration.{unit}({amount})", lambda _stack: getattr(Duration, unit)(amount))


# -- strategies by kind of argument -------------------------------------------------------

WRONG_TYPES: list[object] = [None, 0, -1, 1.5, "", "x", True, [], {}, ["x"], {"unknown": 1}]
ODD_STRINGS = [
    "",
    " ",
    "x" * 300,
    "a b",
    "UPPER",
    "-leading",
    "trailing-",
    "ümlaut",
    "semi;colon",
    "new\nline",
    "${not-a-token}",
    "a/b",
    "*",
    "0",
]
BOUNDARY_INTS = [0, -1, 1, 2, 3, 7, 10, 64, 100, 1000, 2**31, 10**12]
BOUNDARY_FLOATS = [0.0, -0.0, 0.5, -1.5, math.nan, math.inf, -math.inf, 1e300]


def wrong_types() -> st.SearchStrategy[object]:
    return st.sampled_from(WRONG_TYPES)


def ints(valid: list[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.sampled_from(BOUNDARY_INTS),
        st.integers(min_value=-3, max_value=20_000),
        st.sampled_from(["10", 2.5, True, math.nan]),
        wrong_types(),
    )


def floats(valid: list[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.sampled_from(BOUNDARY_FLOATS + BOUNDARY_INTS),
        st.floats(min_value=-10, max_value=10_000),
        st.sampled_from(["1", False]),
        wrong_types(),
    )


def strings(valid: list[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.sampled_from(ODD_STRINGS),
        st.text(max_size=12),
        st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
        st.sampled_from([1, 1.5, False, b"bytes"]),
        wrong_types(),
    )


def bools() -> st.SearchStrategy[object]:
    return st.sampled_from([True, False, None, 0, 1, "yes", "False"])


def durations(valid: list[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.builds(
            duration,
            st.sampled_from(["seconds", "minutes", "hours", "days", "millis"]),
            st.sampled_from([0, 0.5, 1, 2, 5, 15, 30, 59, 60, 61, 100, 900, 3600, 10**9]),
        ),
        st.sampled_from([30, "30s", 1.5]),
        wrong_types(),
    )


def enum_members(enum: type[enum.Enum]) -> st.SearchStrategy[object]:
    members = list(enum)
    return st.one_of(
        st.sampled_from(members),
        st.sampled_from([*[member.name for member in members][:3], 30]),
        wrong_types(),
    )


def thresholds(names: list[str]) -> st.SearchStrategy[object]:
    values = st.one_of(
        st.sampled_from([*BOUNDARY_FLOATS, 1, 2, 5, 60, 95, 100, 101, 10**9]),
        st.floats(min_value=-5, max_value=500),
        st.sampled_from(["1", None, True, [1]]),
    )
    return st.one_of(
        st.dictionaries(st.sampled_from([*names, "Unknown", ""]), values, max_size=3),
        wrong_types(),
    )


PROP_KEYS = [
    "description",
    "timeout",
    "memory_size",
    "removal_policy",
    "environment",
    "enforce_ssl",
    "retention_period",
    "unknown_key",
    "tracing_enabled",
    "encryption",
    "versioned",
    "comment",
    "enabled",
    "rate_based_statement",
    "scope",
    "rules",
    "cpu",
    "memory_limit_mib",
    "desired_count",
    "port_mappings",
    "billing",
    "partition_key",
    "serverless_v2_min_capacity",
    "writer",
    "deploy_options",
    "display_name",
    "fifo",
    "is_multi_region_trail",
    "lifecycle_rules",
    "default_behavior",
    "timeout",
    "logs",
]
PROP_VALUES: list[object] = [
    None,
    "x",
    "",
    0,
    -1,
    1,
    True,
    [],
    {},
    {"unknown": 1},
    ["x"],
    duration("seconds", 1),
    RemovalPolicy.DESTROY,
]


def props(keys: list[str]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.dictionaries(
            st.sampled_from(keys or PROP_KEYS), st.sampled_from(PROP_VALUES), max_size=2
        ),
        wrong_types(),
    )


def string_lists(valid: list[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.lists(st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=8)), max_size=3),
        st.sampled_from(["x", [1], [None], ("a", "a")]),
        wrong_types(),
    )


def environments() -> st.SearchStrategy[object]:
    return st.one_of(
        st.dictionaries(
            st.one_of(
                st.sampled_from(["LOG_LEVEL", "bad-name", "", "1X", "AWS_REGION"]),
                st.text(max_size=6),
            ),
            st.one_of(st.text(max_size=8), st.sampled_from([1, None, True, "x" * 5000])),
            max_size=3,
        ),
        wrong_types(),
    )


def references(valid: list[object]) -> st.SearchStrategy[object]:
    """An argument taking a construct or other object: a valid one, or a wrong type."""
    return st.one_of(
        st.sampled_from(valid) if valid else st.nothing(),
        st.sampled_from(["arn:aws:sns:us-east-1:111111111111:topic", 1, VPC, TOPIC]),
        wrong_types(),
    )


def _literal_values(annotation: str, module: object) -> list[object]:
    """The allowed values of a ``Literal[...]`` annotation, or of a Literal type alias."""
    found = re.search(r"Literal\[(.*?)\]", annotation)
    if found:
        return [value.strip().strip("'\"") for value in found.group(1).split(",")]
    alias = getattr(module, annotation.replace(" | None", ""), None)
    if typing.get_origin(alias) is typing.Literal:
        return list(typing.get_args(alias))
    return []


def strategy_for(
    name: str, annotation: str, module: object, valid: list[object], threshold_names: list[str]
) -> st.SearchStrategy[object]:
    """What an argument named ``name`` with annotation ``annotation`` may be replaced with."""
    base = annotation.replace(" | None", "")
    literal = _literal_values(annotation, module)
    if literal:
        return st.one_of(st.sampled_from(literal + valid), strings([]))
    if name == "alarm_thresholds":
        return thresholds(threshold_names)
    if name.endswith("_props"):
        return props([str(key) for key in valid])
    if name == "environment":
        return environments()
    if base == "int":
        return ints(valid)
    if base == "float":
        return floats(valid)
    if base in {"str", "str | Path | lambda_.Code"}:
        return strings(valid)
    if base == "bool":
        return bools()
    if base == "Duration":
        return durations(valid)
    if base == "logs.RetentionDays":
        return enum_members(logs.RetentionDays)
    if base == "RemovalPolicy":
        return enum_members(RemovalPolicy)
    if base in {"Sequence[str]", "tuple[str, ...]"}:
        return string_lists(valid)
    return references(valid)


@dataclass(frozen=True)
class Case:
    """One construct (or value object) under test."""

    name: str
    target: Callable[..., object]
    build: Callable[[Stack, dict[str, object]], object]
    baseline: Mapping[str, object]
    valid: Mapping[str, list[object]] = field(default_factory=dict)
    threshold_names: list[str] = field(default_factory=list)
    skip: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return self.name

    def arguments(self) -> dict[str, st.SearchStrategy[object]]:
        function = (
            getattr(self.target, "__init__")  # noqa: B009
            if isinstance(self.target, type)
            else self.target
        )
        module = __import__(self.target.__module__, fromlist=["_"])
        found: dict[str, st.SearchStrategy[object]] = {}
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY or name in self.skip:
                continue
            strategy = strategy_for(
                name,
                str(parameter.annotation),
                module,
                list(self.valid.get(name, [])),
                self.threshold_names,
            )
            if parameter.default is not inspect.Parameter.empty:
                strategy = st.one_of(st.just(OMIT), strategy)
            found[name] = strategy
        return found


def _construct(cls: Callable[..., object]) -> Callable[[Stack, dict[str, object]], object]:
    return lambda stack, kwargs: cls(stack, "UnderTest", **kwargs)


def _route_in_api(stack: Stack, kwargs: dict[str, object]) -> object:
    route = ApiRoute(**kwargs)  # type: ignore[arg-type]
    pool = cognito.UserPool(stack, "Users")
    return ApiService(
        stack,
        "UnderTest",
        service_name="orders",
        code=INLINE_CODE.build(stack),  # type: ignore[arg-type]
        routes=[route],
        user_pool=pool,
    )


def _contract_in_bus(stack: Stack, kwargs: dict[str, object]) -> object:
    contract = EventContract(**kwargs)  # type: ignore[arg-type]
    return EventBus(stack, "UnderTest", domain="accounts", contracts=[contract])


def _deployment_of_function(
    factory: Callable[..., Deployment],
) -> Callable[[Stack, dict[str, object]], object]:
    def build(stack: Stack, kwargs: dict[str, object]) -> object:
        deployment = factory(**kwargs)
        return ManagedFunction(
            stack,
            "UnderTest",
            service_name="orders",
            code=INLINE_CODE.build(stack),  # type: ignore[arg-type]
            handler="index.handler",
            description="test",
            deployment=deployment,
        )

    return build


def _fargate_task_in_job(stack: Stack, kwargs: dict[str, object]) -> object:
    task = ScheduledFargateTask(**kwargs)  # type: ignore[arg-type]
    return ScheduledJob(
        stack,
        "UnderTest",
        service_name="transfers",
        schedule="rate(1 hour)",
        target=task,
        description="cleanup",
    )


def _aspect(stack: Stack, kwargs: dict[str, object]) -> object:
    logs.LogGroup(stack, "Logs")
    aspect = LogRetentionAspect(**kwargs)  # type: ignore[arg-type]
    Aspects.of(stack).add(aspect)
    return aspect


def _monitoring(stack: Stack, kwargs: dict[str, object]) -> object:
    monitoring = ServiceMonitoring(stack, "UnderTest", **kwargs)  # type: ignore[arg-type]
    monitoring.add_alarms(_alarm(stack))
    return monitoring


def _bucket(stack: Stack, kwargs: dict[str, object]) -> object:
    return access_log_bucket(stack, "UnderTest", **kwargs)  # type: ignore[arg-type]


def _cluster(stack: Stack) -> ecs.ICluster:
    return typing.cast(
        ecs.ICluster,
        _child(stack, "Cluster", lambda: ecs.Cluster(stack, "Cluster", vpc=_vpc(stack))),
    )


def _task_definition(stack: Stack) -> ecs.FargateTaskDefinition:
    definition = ecs.FargateTaskDefinition(stack, "Task")
    definition.add_container(
        "app", image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.14")
    )
    return definition


def _container_service(stack: Stack) -> ContainerService[Any, Any]:
    return ContainerService(
        stack,
        "Service",
        service_name="transfers",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx:1.27"),
        vpc=_vpc(stack),
        load_balancer_access="explicit",
    )


USER_POOL = Make("<UserPool>", lambda stack: cognito.UserPool(stack, "Users"))
IMAGE = Make(
    "ContainerImage.from_registry(...)",
    lambda _stack: ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx:1.27"),
)
TABLE = Make(
    "<ServiceTable stream>",
    lambda stack: ServiceTable(stack, "Table", stream="NEW_IMAGE", alarms=False),
)
BUS = Make(
    "<EventBus>",
    lambda stack: EventBus(stack, "Bus", domain="accounts", contracts=[OPENED], alarms=False),
)
KEY = Make("<kms.Key>", lambda stack: kms.Key(stack, "Key"))
BUCKET = Make("<s3.Bucket>", lambda stack: s3.Bucket(stack, "Existing"))
QUEUE = Make("<sqs.Queue>", lambda stack: sqs.Queue(stack, "Existing", enforce_ssl=True))
ALARM = Make("<Alarm>", _alarm)
CANARY = Make(
    "Deployment.canary(alarms=[<Alarm>])", lambda s: Deployment.canary(alarms=[_alarm(s, "Gate")])
)
ALL_AT_ONCE = Make("Deployment.all_at_once()", lambda _s: Deployment.all_at_once())

MEMORY: list[object] = [128, 256, 512, 1024, 3008, 10240, 10241, 127]
TIMEOUTS: list[object] = [duration("seconds", 3), duration("minutes", 15), duration("minutes", 16)]
LAMBDA_COMMON: dict[str, list[object]] = {
    "memory_size": MEMORY,
    "timeout": TIMEOUTS,
    "powertools_layer_version": [None, 27, 1],
    "code": [INLINE_CODE, "/nonexistent/dir"],
    "handler": ["index.handler", "index", "a.b.c"],
    "service_name": ["orders", "a", "Orders", "order_service"],
    "alarm_topic": [TOPIC],
    "deployment": [CANARY, ALL_AT_ONCE],
    "runtime": [Make("Runtime.PYTHON_3_12", lambda _s: lambda_.Runtime.PYTHON_3_12)],
    "architecture": [Make("Architecture.X86_64", lambda _s: lambda_.Architecture.X86_64)],
    "layers": [
        [],
        [
            Make(
                "<LayerVersion>",
                lambda s: lambda_.LayerVersion.from_layer_version_arn(
                    s, "Layer", "arn:aws:lambda:us-east-1:111111111111:layer:x:1"
                ),
            )
        ],
    ],
    "function_props": [
        "memory_size",
        "timeout",
        "environment",
        "description",
        "unknown_key",
        "reserved_concurrent_executions",
    ],
}

GET = ApiRoute(method="GET", path="/orders/{id}", handler="index.handler", authorization="iam")


def _thresholds(cls: object, attribute: str = "ALARM_THRESHOLDS") -> list[str]:
    return list(getattr(cls, attribute, {}))


CASES: list[Case] = [
    Case(
        "AlarmTopic",
        AlarmTopic,
        _construct(AlarmTopic),
        {},
        valid={"email_addresses": [["ops@example.com"], ["not-an-email"]]},
    ),
    Case(
        "ApiService",
        ApiService,
        _construct(ApiService),
        {"service_name": "orders", "code": INLINE_CODE, "routes": [GET]},
        valid={
            **LAMBDA_COMMON,
            "routes": [[GET], [], [GET, GET]],
            "user_pool": [USER_POOL],
            "stage_name": ["v1", "prod", "$default"],
            "rest_api_props": ["deploy_options", "description", "unknown_key", "endpoint_types"],
            "latency_alarm_threshold": [duration("seconds", 1), duration("seconds", 29)],
        },
        threshold_names=_thresholds(ApiService),
    ),
    Case(
        "ApiRoute",
        ApiRoute,
        _route_in_api,
        {"method": "GET", "path": "/orders/{id}", "handler": "index.handler"},
        valid={
            "path": ["/orders", "/", "/orders/{id}/items", "orders", "/a//b", "/{proxy+}"],
            "handler": ["index.handler"],
            "memory_size": MEMORY,
            "timeout": TIMEOUTS,
            "authorization_scopes": [["orders/read"]],
            "request_schema": [{"type": "object"}, {"type": "nonsense"}, {}],
        },
    ),
    Case(
        "AuditTrail",
        AuditTrail,
        _construct(AuditTrail),
        {},
        valid={
            "retention_days": [1, 90, 365, 3650],
            "transition_days": [None, 30, 90, 400],
            "trail_props": [
                "is_multi_region_trail",
                "unknown_key",
                "management_events",
                "send_to_cloud_watch_logs",
            ],
            "bucket_props": ["versioned", "unknown_key", "lifecycle_rules", "encryption"],
        },
        threshold_names=_thresholds(AuditTrail),
    ),
    Case(
        "Cache",
        Cache,
        _construct(Cache),
        {"vpc": VPC},
        valid={
            "vpc": [VPC],
            "encryption_key": [KEY],
            "engine_version": ["8.0", "7.2", "9"],
            "cache_node_type": ["cache.t4g.micro", "m5.large"],
            "snapshot_retention_days": [0, 1, 35, 36],
            "max_data_storage_gb": [1, 5000],
            "max_ecpu_per_second": [1000, 15000000],
            "replicas_per_node_group": [0, 1, 5, 6],
            "port": [6379, 1, 65535, 65536],
        },
        threshold_names=[
            *_thresholds(Cache, "SERVERLESS_ALARM_THRESHOLDS"),
            *_thresholds(Cache, "NODE_ALARM_THRESHOLDS"),
        ],
    ),
    Case(
        "CloudFrontWebAcl",
        CloudFrontWebAcl,
        _construct(CloudFrontWebAcl),
        {"metric_prefix": "site"},
        valid={
            "rate_limit": [10, 100, 1000, 2_000_000_000, 9],
            "web_acl_props": ["rules", "scope", "default_action", "unknown_key", "description"],
        },
    ),
    Case(
        "ContainerApi",
        ContainerApi,
        _construct(ContainerApi),
        {
            "service": Make("<ContainerService>", _container_service),
            "user_pool": USER_POOL,
            "path_prefixes": ["/transfers"],
        },
        valid={
            "path_prefixes": [["/transfers"], ["/a", "/b"], ["/"], ["transfers"]],
            "identity_header": ["X-Caller-Sub", "Authorization"],
            "identity_claim": ["sub", "email"],
            "integration_timeout": [
                duration("seconds", 29),
                duration("seconds", 30),
                duration("millis", 50),
            ],
            "rest_api_props": ["deploy_options", "description", "unknown_key"],
        },
        threshold_names=_thresholds(ContainerApi),
        skip=frozenset({"vpc_link_subnets"}),
    ),
    Case(
        "ContainerService",
        ContainerService,
        _construct(ContainerService),
        {"service_name": "transfers", "image": IMAGE, "vpc": VPC},
        valid={
            "cpu": [256, 512, 1024, 2048, 4096, 8192, 16384, 100],
            "memory_limit_mib": [512, 1024, 2048, 30720, 100],
            "container_port": [80, 8080, 65535, 0],
            "listener_port": [80, 443, 8443],
            "min_capacity": [0, 1, 2],
            "max_capacity": [1, 4, 100],
            "desired_count": [0, 1, 3],
            "health_check_path": ["/health", "health", "/"],
            "user": ["1000:1000", "root", "0"],
            "service_connect_namespace": ["internal", "svc.local"],
            "alarm_topic": [TOPIC],
            "access_logs_bucket": [BUCKET],
            "deployment": [CANARY, ALL_AT_ONCE],
            "existing_cluster": [Make("<Cluster>", _cluster)],
            "access_logs_retention": [duration("days", 1), duration("days", 90)],
            "task_definition_props": ["cpu", "memory_limit_mib", "unknown_key", "family"],
            "container_props": ["port_mappings", "command", "unknown_key", "environment"],
            "service_props": ["desired_count", "unknown_key", "circuit_breaker"],
        },
        threshold_names=_thresholds(ContainerService),
        skip=frozenset({"certificate", "secrets", "existing_load_balancer"}),
    ),
    Case(
        "Deployment",
        Deployment,
        _deployment_of_function(Deployment),
        {"strategy": "all_at_once"},
        valid={
            "percent": [1, 10, 50, 99, 100, 0, 101],
            "interval": [duration("minutes", 1), duration("minutes", 5)],
            "alarms": [(), Make("(<Alarm>,)", lambda s: (_alarm(s),))],
        },
    ),
    Case(
        "Deployment.canary",
        Deployment.canary,
        _deployment_of_function(Deployment.canary),
        {},
        valid={
            "percent": [1, 10, 99, 100],
            "interval": [duration("minutes", 1)],
            "alarms": [[ALARM]],
        },
    ),
    Case(
        "Deployment.linear",
        Deployment.linear,
        _deployment_of_function(Deployment.linear),
        {},
        valid={
            "percent": [1, 10, 33, 100],
            "interval": [duration("minutes", 1)],
            "alarms": [[ALARM]],
        },
    ),
    Case(
        "Deployment.all_at_once",
        Deployment.all_at_once,
        _deployment_of_function(Deployment.all_at_once),
        {},
        valid={"alarms": [[ALARM], [ALARM] * 11]},
    ),
    Case(
        "EventBus",
        EventBus,
        _construct(EventBus),
        {"domain": "accounts", "contracts": [OPENED]},
        valid={
            "contracts": [[OPENED], [], [OPENED, OPENED]],
            "domain": ["accounts", "Accounts"],
            "master_key": [KEY],
            "alarm_topic": [TOPIC],
            "existing_topic": [Make("<sns.Topic>", lambda s: sns.Topic(s, "Existing"))],
            "topic_props": ["display_name", "fifo", "enforce_ssl", "unknown_key"],
        },
        threshold_names=_thresholds(EventBus),
    ),
    Case(
        "EventContract",
        EventContract,
        _contract_in_bus,
        {"name": "AccountOpened", "version": 1, "schema": {"type": "object"}},
        valid={
            "name": ["AccountOpened", "accountOpened", "Account.Opened"],
            "version": [1, 2, 0],
            "schema": [{"type": "object"}, {"type": 1}, {}, {"properties": "x"}],
        },
    ),
    Case(
        "LogRetentionAspect",
        LogRetentionAspect,
        _aspect,
        {"retention": logs.RetentionDays.ONE_WEEK},
    ),
    Case(
        "ManagedFunction",
        ManagedFunction,
        _construct(ManagedFunction),
        {
            "service_name": "orders",
            "code": INLINE_CODE,
            "handler": "index.handler",
            "description": "test",
        },
        valid={**LAMBDA_COMMON, "dead_letter_queue": [QUEUE]},
        threshold_names=_thresholds(ManagedFunction),
    ),
    Case(
        "QueueWorker",
        QueueWorker,
        _construct(QueueWorker),
        {"service_name": "orders", "code": INLINE_CODE, "handler": "index.handler"},
        valid={
            **LAMBDA_COMMON,
            "batch_size": [1, 10, 100, 10000, 10001],
            "max_concurrency": [2, 1000, 1001, 1],
            "max_receive_count": [1, 5, 1000],
            "max_batching_window": [
                duration("seconds", 0),
                duration("minutes", 5),
                duration("seconds", 301),
            ],
            "visibility_timeout": [
                duration("minutes", 3),
                duration("hours", 12),
                duration("hours", 13),
            ],
            "retention_period": [
                duration("minutes", 1),
                duration("days", 14),
                duration("days", 15),
            ],
            "dead_letter_retention_period": [duration("days", 14)],
            "max_message_age": [duration("minutes", 15)],
            "existing_queue": [QUEUE],
            "queue_props": ["retention_period", "fifo", "unknown_key", "visibility_timeout"],
            "dead_letter_queue_props": ["retention_period", "unknown_key"],
        },
        threshold_names=_thresholds(QueueWorker),
    ),
    Case(
        "RelationalDatabase",
        RelationalDatabase,
        _construct(RelationalDatabase),
        {"vpc": VPC, "database_name": "ledger"},
        valid={
            "vpc": [VPC],
            "database_name": ["ledger", "Ledger", "1db", "a" * 64],
            "min_capacity": [0, 0.5, 1, 128, 256],
            "max_capacity": [1, 2, 128, 256],
            "readers": [0, 1, 15, 16],
            "port": [5432, 1150, 65535, 1],
            "encryption_key": [KEY],
            "rotation_interval": [duration("days", 1), duration("days", 30), duration("days", 366)],
            "backup_retention": [duration("days", 1), duration("days", 35), duration("days", 36)],
            "monitoring_interval": [duration("seconds", 60), duration("seconds", 7)],
            "log_exports": [["postgresql"], ["slowquery"], []],
            "cluster_props": ["writer", "unknown_key", "storage_encrypted", "cluster_identifier"],
        },
        threshold_names=_thresholds(RelationalDatabase),
        skip=frozenset(
            {"engine_version", "existing_cluster", "existing_secret", "subnets", "rotation_subnets"}
        ),
    ),
    Case(
        "ScheduledJob",
        ScheduledJob,
        _construct(ScheduledJob),
        {
            "service_name": "reports",
            "schedule": "rate(1 hour)",
            "target": Make("<Function>", _function),
            "description": "hourly report",
        },
        valid={
            "schedule": [
                "rate(1 hour)",
                "cron(0 2 * * ? *)",
                "at(2030-01-01T00:00:00)",
                "rate(0 hours)",
                "every hour",
            ],
            "retry_attempts": [0, 185, 186],
            "max_event_age": [duration("minutes", 1), duration("hours", 24), duration("hours", 25)],
            "flexible_time_window": [
                duration("minutes", 1),
                duration("minutes", 1440),
                duration("minutes", 1441),
            ],
            "input": [{"a": 1}, {}, {"nested": {"x": [1]}}],
        },
        threshold_names=_thresholds(ScheduledJob),
        skip=frozenset({"time_zone"}),
    ),
    Case(
        "ScheduledFargateTask",
        ScheduledFargateTask,
        _fargate_task_in_job,
        {
            "cluster": Make("<Cluster>", _cluster),
            "task_definition": Make("<Task>", _task_definition),
            "subnets": Make(
                "SubnetSelection(PRIVATE_WITH_EGRESS)",
                lambda _s: ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ),
            "security_groups": Make(
                "[<SecurityGroup>]", lambda s: [ec2.SecurityGroup(s, "Group", vpc=_vpc(s))]
            ),
        },
        valid={"security_groups": [[]]},
        skip=frozenset({"platform_version"}),
    ),
    Case(
        "ServiceMonitoring",
        ServiceMonitoring,
        _monitoring,
        {"service_name": "orders"},
        valid={
            "dashboard_name": ["orders", "a b", "x" * 256],
            "dashboard_range": [duration("hours", 3), duration("days", 15)],
        },
    ),
    Case(
        "ServiceTable",
        ServiceTable,
        _construct(ServiceTable),
        {},
        valid={
            "partition_key": ["pk", "id"],
            "sort_key": ["sk"],
            "time_to_live_attribute": ["expiresAt"],
            "encryption_key": [KEY],
            "alarm_topic": [TOPIC],
            "existing_table": [
                Make("<dynamodb.Table>", lambda s: ServiceTable(s, "Other", alarms=False).table)
            ],
            "table_props": [
                "billing",
                "partition_key",
                "unknown_key",
                "table_name",
                "contributor_insights_enabled",
            ],
        },
        threshold_names=_thresholds(ServiceTable),
    ),
    Case(
        "StaticSite",
        StaticSite,
        _construct(StaticSite),
        {},
        valid={
            "connect_sources": [["https://api.example.com"], ["'self'"], ["bad source;"]],
            "domain_names": [["www.example.com"], ["Example..com"]],
            "web_acl_arn": ["arn:aws:wafv2:us-east-1:111111111111:global/webacl/x/1", "arn:x"],
            "log_retention_days": [1, 90, 0],
            "existing_bucket": [BUCKET],
            "bucket_props": ["versioned", "unknown_key", "encryption"],
            "distribution_props": [
                "default_behavior",
                "comment",
                "unknown_key",
                "default_root_object",
            ],
        },
        threshold_names=_thresholds(StaticSite),
        skip=frozenset({"certificate", "price_class"}),
    ),
    Case(
        "TableEventPublisher",
        TableEventPublisher,
        _construct(TableEventPublisher),
        {
            "service_name": "accounts",
            "table": TABLE,
            "bus": BUS,
            "event_types": ["AccountOpened"],
            "code": INLINE_CODE,
            "handler": "index.handler",
        },
        valid={
            **LAMBDA_COMMON,
            "event_types": [["AccountOpened"], [], ["Unknown"]],
            "filters": [[], [{"eventName": ["INSERT"]}], [{"bad": object()}]],
            "batch_size": [1, 100, 10000, 10001],
            "parallelization_factor": [1, 10, 11],
            "retry_attempts": [0, 10000, 10001, -1],
            "max_record_age": [duration("seconds", 60), duration("days", 7), duration("days", 8)],
            "max_iterator_age": [duration("minutes", 1)],
            "failure_queue_props": ["retention_period", "unknown_key"],
        },
        threshold_names=_thresholds(TableEventPublisher),
    ),
    Case(
        "Workflow",
        Workflow,
        _construct(Workflow),
        {
            "service_name": "orders",
            "definition": Make("<Pass>", lambda s: sfn.Pass(s, "Start")),
            "timeout": duration("minutes", 5),
        },
        valid={
            "timeout": [duration("days", 365), duration("days", 366), duration("seconds", 1)],
            "state_machine_name": ["orders", "a b", "x" * 81],
            "state_machine_props": ["state_machine_type", "tracing_enabled", "unknown_key", "logs"],
        },
        threshold_names=_thresholds(Workflow),
    ),
    Case(
        "access_log_bucket",
        access_log_bucket,
        _bucket,
        {
            "removal_policy": RemovalPolicy.RETAIN,
            "expiration_days": 90,
            "noncurrent_version_days": 30,
        },
        valid={"expiration_days": [1, 90], "noncurrent_version_days": [1, 30]},
        skip=frozenset({"object_ownership"}),
    ),
]


_ARGUMENTS: dict[str, dict[str, st.SearchStrategy[object]]] = {}


def _arguments(name: str) -> dict[str, st.SearchStrategy[object]]:
    if name not in _ARGUMENTS:
        _ARGUMENTS[name] = next(case for case in CASES if case.name == name).arguments()
    return _ARGUMENTS[name]


def test_every_public_construct_has_a_case() -> None:
    """A construct added to ``__all__`` without a case here fails this test."""
    not_constructs = {
        "ConstructArgumentError",  # the error itself
        "EVENT_TYPE_ATTRIBUTE",  # a constant
        "KeyMetrics",  # returned by constructs, not built by a caller
        "MonitoredPattern",  # a Protocol
        "acknowledge",  # cdk-nag acknowledgement helper, not a construct argument
        "alarm_description",  # text helper
        "load_json_schema",  # reads a file
    }
    covered = {case.name.split(".")[0] for case in CASES}
    assert set(cdk_microservices.__all__) - not_constructs <= covered


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@given(data=st.data())
def test_random_arguments_give_a_template_or_a_construct_argument_error(
    case: Case, data: st.DataObject
) -> None:
    changes = data.draw(st.fixed_dictionaries({}, optional=_arguments(case.name)), label="changes")
    app = new_app()
    stack = Stack(app, "Test", env=Environment(account="111111111111", region="us-east-1"))
    kwargs = {
        name: resolve(value, stack)
        for name, value in {**case.baseline, **changes}.items()
        if value is not OMIT
    }
    message = ""
    try:
        case.build(stack, kwargs)
        app.synth()
    except ConstructArgumentError as error:
        message = str(error)
    # A rejection names the argument (ConstructArgumentError's "argument 'x' ...").
    assert not message or re.search(r"argument '[^']+'", message), message
