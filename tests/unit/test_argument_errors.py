"""Misuses that escaped as jsii traces, Python errors or failed deploys now raise a
``ConstructArgumentError`` naming the argument (issue 10, class 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from unit_app import new_app

from cdk_microservices import (
    AlarmTopic,
    ApiRoute,
    ApiService,
    AuditTrail,
    CloudFrontWebAcl,
    ConstructArgumentError,
    ContainerService,
    Deployment,
    EventBus,
    EventContract,
    ManagedFunction,
    QueueWorker,
    RelationalDatabase,
    ScheduledFargateTask,
    ScheduledJob,
    ServiceTable,
    StaticSite,
    access_log_bucket,
)

GET = ApiRoute(method="GET", path="/orders/{id}", handler="read.handler", authorization="iam")
OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})


def _stack() -> Stack:
    return Stack(
        new_app(),
        "Test",
        env=Environment(account="111111111111", region="us-east-1"),
    )


def _api(code_dir: Path, **overrides: Any) -> ApiService:
    kwargs: dict[str, Any] = {
        "service_name": "orders",
        "code": code_dir,
        "routes": [GET],
        **overrides,
    }
    return ApiService(_stack(), "Orders", **kwargs)


def test_a_user_pool_given_as_a_string_is_rejected(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match=r"'user_pool' must be an aws_cognito"):
        _api(code_dir, user_pool="us-east-1_abc")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"environment": {"RETRIES": 3}}, r"'environment\['RETRIES'\]' must be a string, got int"),
        ({"environment": {"bad-name": "x"}}, r"'environment' has the name 'bad-name'"),
        ({"environment": ["A=1"]}, r"'environment' must be a mapping"),
        (
            {
                "routes": [
                    ApiRoute(
                        method="GET",
                        path="/orders/{id}",
                        handler="read.handler",
                        authorization="iam",
                        environment={"DEBUG": True},  # type: ignore[dict-item]
                    )
                ]
            },
            r"'routes\[0\].environment\['DEBUG'\]' must be a string, got bool",
        ),
        (
            {"function_props": {"environment": {"TIMEOUT": 1.5}}},
            r"'function_props\['environment'\]\['TIMEOUT'\]' must be a string",
        ),
    ],
)
def test_environment_values_must_be_strings(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _api(code_dir, **overrides)


def test_a_queue_worker_environment_is_checked_too(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match=r"QueueWorker: argument 'environment\["):
        QueueWorker(
            _stack(),
            "Worker",
            service_name="orders",
            code=code_dir,
            handler="consumer.handler",
            environment={"BATCH": 10},  # type: ignore[dict-item]
        )


def test_sibling_path_parameters_with_different_names_are_rejected(code_dir: Path) -> None:
    """API Gateway refuses /orders/{id} beside /orders/{order_id} at deploy."""
    routes = [
        GET,
        ApiRoute(
            method="DELETE",
            path="/orders/{order_id}",
            handler="read.handler",
            authorization="iam",
        ),
    ]
    with pytest.raises(
        ConstructArgumentError,
        match=r"'routes' put \{id\} \('/orders/\{id\}'\) and \{order_id\} .* under '/orders'",
    ):
        _api(code_dir, routes=routes)


def test_the_same_parameter_name_at_one_level_is_fine(code_dir: Path) -> None:
    routes = [
        GET,
        ApiRoute(method="DELETE", path="/orders/{id}", handler="read.handler", authorization="iam"),
        ApiRoute(
            method="GET",
            path="/orders/{id}/items/{item}",
            handler="read.handler",
            authorization="iam",
        ),
    ]
    assert len(_api(code_dir, routes=routes).functions) == 3


def test_a_deprecated_props_key_is_rejected() -> None:
    with pytest.raises(
        ConstructArgumentError,
        match=r"'table_props' uses the deprecated key\(s\) 'point_in_time_recovery'",
    ):
        ServiceTable(_stack(), "Orders", table_props={"point_in_time_recovery": True})


def test_a_list_of_actions_given_to_grant_is_rejected() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Orders")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with pytest.raises(ConstructArgumentError, match=r"pass each action as its own argument"):
        table.grant(role, ["dynamodb:GetItem"])  # type: ignore[arg-type]


def test_subscribing_an_imported_queue_says_what_to_do() -> None:
    """SNS may deliver only to a queue whose policy allows it; CDK cannot add that policy to
    an imported queue and skips it silently, so nothing would ever arrive."""
    stack = _stack()
    bus = EventBus(stack, "Bus", domain="accounts", contracts=[OPENED])
    imported = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111111111111:orders")
    with pytest.raises(ConstructArgumentError, match=r"'queue' was imported, .* 'sns:SendMessage'"):
        bus.subscribe_queue(imported, event_types=["AccountOpened"])
    with pytest.raises(ConstructArgumentError, match=r"'dead_letter_queue' was imported"):
        bus.subscribe_queue(
            sqs.Queue(stack, "Own"), event_types=["AccountOpened"], dead_letter_queue=imported
        )


# -- found by tests/unit/test_argument_properties.py (issue 13, item 3b) -------------------


def _regression_stack() -> Stack:
    return Stack(new_app(), "Test", env=Environment(account="111111111111", region="us-east-1"))


def _imported_vpc(stack: Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-12345678",
        vpc_cidr_block="10.0.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-3", "subnet-4"],
        isolated_subnet_ids=["subnet-5", "subnet-6"],
    )


def _inline() -> lambda_.Code:
    return lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def _managed(stack: Stack, **overrides: Any) -> ManagedFunction:
    kwargs: dict[str, Any] = {
        "service_name": "orders",
        "code": _inline(),
        "handler": "index.handler",
        "description": "test",
        **overrides,
    }
    return ManagedFunction(stack, "Function", **kwargs)


# Each: what the pattern was given, and what it raised before (in the comment).
_REGRESSIONS: list[tuple[str, Callable[[Stack], object], str]] = [
    (  # TypeError from typeguard inside aws_apigateway.RestApi
        "ApiService cloud_watch_role=0",
        lambda s: ApiService(
            s,
            "Api",
            service_name="orders",
            code=_inline(),
            routes=[GET],
            cloud_watch_role=0,  # type: ignore[arg-type]
        ),
        r"'cloud_watch_role' must be True or False, got int",
    ),
    (  # TypeError: 'int' object is not iterable, in Deployment.canary
        "Deployment.canary alarms=1",
        lambda s: Deployment.canary(alarms=1),  # type: ignore[arg-type]
        r"'alarms' must be a list of an aws_cloudwatch.IAlarm",
    ),
    (  # TypeError from typeguard inside aws_sns.Topic
        "EventBus removal_policy='DESTROY'",
        lambda s: EventBus(  # type: ignore[call-overload]
            s, "Bus", domain="accounts", contracts=[OPENED], removal_policy="DESTROY"
        ),
        r"'removal_policy' must be an aws_cdk.RemovalPolicy",
    ),
    (  # jsii RuntimeError: Unable to deserialize value as aws_sns.TopicProps
        "EventBus master_key=<str>",
        lambda s: EventBus(s, "Bus", domain="accounts", contracts=[OPENED], master_key="arn:x"),  # type: ignore[call-overload]
        r"'master_key' must be an aws_kms.IKey",
    ),
    (  # TypeError: 'int' object is not iterable
        "EventBus contracts=1",
        lambda s: EventBus(s, "Bus", domain="accounts", contracts=1),  # type: ignore[call-overload]
        r"'contracts' must be a list of an EventContract",
    ),
    (  # TypeError from typeguard inside aws_logs.LogGroup
        "ManagedFunction log_retention='ONE_DAY'",
        lambda s: _managed(s, log_retention="ONE_DAY"),
        r"'log_retention' must be an aws_logs.RetentionDays",
    ),
    (  # AttributeError: 'str' object has no attribute 'name'
        "ManagedFunction architecture=<str>",
        lambda s: _managed(s, architecture="arm64"),
        r"'architecture' must be an aws_lambda.Architecture",
    ),
    (  # AttributeError: 'str' object has no attribute 'name'
        "ManagedFunction runtime=<str>",
        lambda s: _managed(s, runtime="python3.14"),
        r"'runtime' must be an aws_lambda.Runtime",
    ),
    (  # TypeError: expected str, bytes or os.PathLike object, not int
        "ManagedFunction code=1",
        lambda s: _managed(s, code=1),
        r"'code' must be a str, a pathlib.Path or an aws_lambda.Code, got int|'code' must be",
    ),
    (  # TypeError from typeguard inside aws_lambda.Function
        "ManagedFunction function_props={'memory_size': 'x'}",
        lambda s: _managed(s, function_props={"memory_size": "x"}),
        r"'function_props\['memory_size'\]' must be",
    ),
    (  # TypeError from typeguard inside aws_rds.DatabaseCluster
        "RelationalDatabase cluster_props={'storage_encrypted': 'x'}",
        lambda s: RelationalDatabase(
            s,
            "Db",
            vpc=_imported_vpc(s),
            database_name="ledger",
            cluster_props={"storage_encrypted": "x"},
        ),
        r"'cluster_props\['storage_encrypted'\]' must be",
    ),
    (  # jsii RuntimeError: writer must be provided
        "RelationalDatabase cluster_props={'writer': None}",
        lambda s: RelationalDatabase(
            s, "Db", vpc=_imported_vpc(s), database_name="ledger", cluster_props={"writer": None}
        ),
        r"'cluster_props' sets 'writer' to None",
    ),
    (  # TypeError: 'int' object is not iterable
        "RelationalDatabase log_exports=0",
        lambda s: RelationalDatabase(  # type: ignore[call-overload]
            s, "Db", vpc=_imported_vpc(s), database_name="ledger", log_exports=0
        ),
        r"'log_exports' must be a list",
    ),
    (  # jsii RuntimeError: Unable to deserialize value as ServerlessV2ClusterInstanceProps
        "RelationalDatabase encryption_key=<str>",
        lambda s: RelationalDatabase(  # type: ignore[call-overload]
            s, "Db", vpc=_imported_vpc(s), database_name="ledger", encryption_key="arn:x"
        ),
        r"'encryption_key' must be an aws_kms.IKey",
    ),
    (  # AttributeError: 'str' object has no attribute 'isolated_subnets'
        "RelationalDatabase vpc=<str>",
        lambda s: RelationalDatabase(s, "Db", vpc="vpc-1", database_name="ledger"),  # type: ignore[call-overload]
        r"'vpc' must be an aws_ec2.IVpc",
    ),
    (  # TypeError from typeguard inside aws_scheduler.Schedule
        "ScheduledJob enabled=0",
        lambda s: ScheduledJob(
            s,
            "Job",
            service_name="reports",
            schedule="rate(1 hour)",
            target=_managed(s).function,
            description="report",
            enabled=0,  # type: ignore[arg-type]
        ),
        r"'enabled' must be True or False",
    ),
    (  # AttributeError: '..._IVpcProxy' object has no attribute 'cluster_arn'
        "ScheduledFargateTask cluster=<IVpc>",
        lambda s: ScheduledFargateTask(
            cluster=_imported_vpc(s),  # type: ignore[arg-type]
            task_definition=ecs.FargateTaskDefinition(s, "Task"),
            subnets=ec2.SubnetSelection(),
            security_groups=[],
        ),
        r"'cluster' must be an aws_ecs.ICluster, got",
    ),
    (  # AttributeError: 'str' object has no attribute 'subnet_type'
        "ScheduledFargateTask subnets=<str>",
        lambda s: ScheduledFargateTask(
            cluster=ecs.Cluster(s, "Cluster", vpc=_imported_vpc(s)),
            task_definition=ecs.FargateTaskDefinition(s, "Task"),
            subnets="private",  # type: ignore[arg-type]
            security_groups=[],
        ),
        r"'subnets' must be an aws_ec2.SubnetSelection",
    ),
    (  # TypeError from typeguard inside aws_dynamodb.TableV2
        "ServiceTable point_in_time_recovery=0",
        lambda s: ServiceTable(s, "Table", point_in_time_recovery=0),  # type: ignore[call-overload]
        r"'point_in_time_recovery' must be True, False or None|'point_in_time_recovery' must be",
    ),
    (  # TypeError from typeguard inside aws_s3.Bucket
        "StaticSite bucket_props={'versioned': 'x'}",
        lambda s: StaticSite(s, "Site", bucket_props={"versioned": "x"}),
        r"'bucket_props\['versioned'\]' must be",
    ),
    (  # jsii RuntimeError: Unable to deserialize value as aws_sns.ITopic
        "StaticSite alarm_topic=<str>",
        lambda s: StaticSite(s, "Site", alarm_topic="arn:aws:sns:us-east-1:111111111111:t"),  # type: ignore[call-overload]
        r"'alarm_topic' must be an aws_sns.ITopic",
    ),
    (  # TypeError: argument of type 'int' is not iterable
        "AuditTrail bucket_props=-1",
        lambda s: AuditTrail(s, "Trail", bucket_props=-1),  # type: ignore[arg-type]
        r"'bucket_props' must be a mapping",
    ),
    (  # jsii RuntimeError: Unable to deserialize value as aws_wafv2.CfnWebACLProps
        "CloudFrontWebAcl web_acl_props={'rules': 'x'}",
        lambda s: CloudFrontWebAcl(s, "Acl", metric_prefix="site", web_acl_props={"rules": "x"}),
        r"'web_acl_props\['rules'\]' must be",
    ),
    (  # TypeError: 'NoneType' object is not iterable
        "AlarmTopic email_addresses=None",
        lambda s: AlarmTopic(s, "Topic", email_addresses=None),  # type: ignore[arg-type]
        r"'email_addresses' is required; it must be a list",
    ),
    (  # jsii RuntimeError: Duration amounts cannot be negative
        "access_log_bucket expiration_days=-1",
        lambda s: access_log_bucket(
            s,
            "Logs",
            removal_policy=RemovalPolicy.RETAIN,
            expiration_days=-1,
            noncurrent_version_days=30,
        ),
        r"'expiration_days' is -1; allowed range is 1\.\.",
    ),
]


@pytest.mark.parametrize(
    ("build", "message"),
    [pytest.param(build, message, id=name) for name, build, message in _REGRESSIONS],
)
def test_wrong_argument_found_by_the_property_tests_is_a_construct_argument_error(
    build: Callable[[Stack], object], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        build(_regression_stack())


def test_a_route_description_that_is_not_a_string_is_rejected() -> None:
    # Found by the property tests: a TypeError from typeguard inside aws_lambda.Function.
    route = ApiRoute(
        method="GET",
        path="/orders",
        handler="index.handler",
        authorization="iam",
        description=1,  # type: ignore[arg-type]
    )
    with pytest.raises(ConstructArgumentError, match=r"'routes\[0\].description' must be a string"):
        ApiService(
            _regression_stack(), "Api", service_name="orders", code=_inline(), routes=[route]
        )


@pytest.mark.parametrize("pattern", ["ApiService", "ContainerApi"])
def test_a_web_acl_arn_that_is_not_a_string_is_rejected(pattern: str) -> None:
    # Found by the property tests: a TypeError from typeguard inside wafv2.CfnWebACLAssociation.
    from cdk_microservices._rest_api import check_web_acl_arn

    with pytest.raises(ConstructArgumentError, match=r"'web_acl_arn' must be the web ACL's ARN"):
        check_web_acl_arn(pattern, 1)
    stack = _regression_stack()
    if pattern == "ApiService":
        with pytest.raises(ConstructArgumentError, match=r"'web_acl_arn' must be"):
            ApiService(
                stack,
                "Api",
                service_name="orders",
                code=_inline(),
                routes=[GET],
                web_acl_arn=1,  # type: ignore[arg-type]
            )


def test_a_user_pool_with_only_iam_routes_synthesizes_without_an_authorizer() -> None:
    # Found by the property tests: the authorizer was created whatever the routes, and
    # synth failed with "Authorizer ... must be attached to a RestApi" (a jsii error).
    stack = _regression_stack()
    api = ApiService(
        stack,
        "Api",
        service_name="orders",
        code=_inline(),
        routes=[GET],
        user_pool=cognito.UserPool(stack, "Users"),
    )
    assert api.authorizer is None
    Template.from_stack(stack).resource_count_is("AWS::ApiGateway::Authorizer", 0)


@pytest.mark.parametrize("scopes", [-1, [1], "orders/read"])
def test_route_authorization_scopes_must_be_a_list_of_strings(scopes: Any) -> None:
    # Found by the property tests: TypeError inside aws_apigateway (int not iterable, typeguard).
    route = ApiRoute(
        method="GET", path="/orders", handler="index.handler", authorization_scopes=scopes
    )
    with pytest.raises(
        ConstructArgumentError, match=r"'routes\[0\].authorization_scopes' must be a list"
    ):
        ApiService(
            _regression_stack(),
            "Api",
            service_name="orders",
            code=_inline(),
            routes=[route],
            user_pool=cognito.UserPool(Stack(), "Users"),
        )


def test_a_stream_given_as_a_list_is_rejected() -> None:
    # Found by the property tests: TypeError: unhashable type: 'list', in require_choice.
    with pytest.raises(ConstructArgumentError, match=r"'stream' is \[\]; allowed values"):
        ServiceTable(_regression_stack(), "Table", stream=[])  # type: ignore[call-overload]


@pytest.mark.parametrize("name", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT"])
def test_an_environment_variable_the_lambda_runtime_reserves_is_rejected(name: str) -> None:
    # Found by the property tests: aws-cdk-lib's "AWS_REGION environment variable is
    # reserved" (a jsii error); Lambda refuses the other reserved names at deploy.
    with pytest.raises(ConstructArgumentError, match=rf"'environment' sets '{name}'"):
        _managed(_regression_stack(), environment={name: "x"})


@pytest.mark.parametrize(("argument", "value"), [("cpu", []), ("memory_limit_mib", {})])
def test_fargate_sizes_given_as_lists_or_mappings_are_rejected(argument: str, value: Any) -> None:
    # Found by the property tests: TypeError: unhashable type: 'list' (a size lookup).
    stack = _regression_stack()
    with pytest.raises(ConstructArgumentError, match=rf"'{argument}' is"):
        ContainerService(
            stack,
            "Service",
            service_name="transfers",
            image=ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx:1.27"),
            vpc=_imported_vpc(stack),
            **{argument: value},
        )
