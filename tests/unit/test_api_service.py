"""ApiService: every documented default, the escape hatches, and each validation error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from unit_app import new_app

from cdk_microservices import ApiRoute, ApiService, ConstructArgumentError
from stacks.compliance import add_compliance_checks

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
POST = ApiRoute(
    method="POST",
    path="/items",
    handler="create.handler",
    request_schema=SCHEMA,
    authorization_scopes=("items/write",),
)
GET = ApiRoute(method="GET", path="/items/{id}", handler="read.handler")
IAM_GET = ApiRoute(method="GET", path="/internal/{id}", handler="read.handler", authorization="iam")


def _stack() -> tuple[Stack, cognito.UserPool]:
    app = new_app()
    stack = Stack(app, "Test", env=Environment(region="us-east-1"))
    return stack, cognito.UserPool(stack, "Users")


def _service(code_dir: Path, **overrides: Any) -> tuple[ApiService, Stack]:
    stack, pool = _stack()
    kwargs: dict[str, Any] = {
        "service_name": "items",
        "code": code_dir,
        "routes": [POST, GET],
        "user_pool": pool,
        **overrides,
    }
    return ApiService(stack, "Items", **kwargs), stack


@pytest.fixture(scope="module")
def default_service(code_dir: Path) -> tuple[ApiService, Template]:
    service, stack = _service(code_dir)
    return service, Template.from_stack(stack)


def test_stage_defaults(default_service: tuple[ApiService, Template]) -> None:
    _, template = default_service
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"Name": "items", "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "MethodSettings": [
                {
                    "HttpMethod": "*",
                    "ResourcePath": "/*",
                    "LoggingLevel": "INFO",
                    "DataTraceEnabled": False,
                    "MetricsEnabled": True,
                    "ThrottlingRateLimit": 50,
                    "ThrottlingBurstLimit": 100,
                }
            ],
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp(r'^\{"requestId":'),
            },
        },
    )
    # One per route for the function and one for its CodeDeploy group: no CloudWatch role.
    template.resource_count_is("AWS::IAM::Role", 4)


def test_log_groups_have_retention_and_execution_logs_exist_first(
    default_service: tuple[ApiService, Template],
) -> None:
    _, template = default_service
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4  # access, execution, one per function
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Retain"}
    [(execution_id, execution)] = [
        (logical_id, group)
        for logical_id, group in groups.items()
        if "LogGroupName" in group["Properties"]
    ]
    name = execution["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert name[0] == "API-Gateway-Execution-Logs_"
    assert name[2] == "/v1"
    [stage] = template.find_resources("AWS::ApiGateway::Stage").values()
    assert execution_id in stage["DependsOn"]


def test_methods_are_authorized_validated_and_modelled(
    default_service: tuple[ApiService, Template],
) -> None:
    _, template = default_service
    template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestBody": True, "ValidateRequestParameters": True},
    )
    template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "GET",
            "AuthorizationType": "COGNITO_USER_POOLS",
            "AuthorizerId": Match.any_value(),
            "RequestValidatorId": Match.any_value(),
            "RequestParameters": {"method.request.path.id": True},
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "AuthorizationType": "COGNITO_USER_POOLS",
            "AuthorizationScopes": ["items/write"],
            "RequestModels": {"application/json": Match.any_value()},
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Model", {"ContentType": "application/json", "Schema": SCHEMA}
    )


def test_one_least_privilege_function_per_route(
    default_service: tuple[ApiService, Template],
) -> None:
    service, template = default_service
    assert sorted(service.functions) == ["GET /items/{id}", "POST /items"]
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.14"
        assert properties["Architectures"] == ["arm64"]
        assert properties["MemorySize"] == 256
        assert properties["Timeout"] == 10
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "items"
        assert "LogGroup" in properties["LoggingConfig"]
        [layer] = properties["Layers"]
        assert ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27" in str(layer)
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for policy in _function_policies(template).values():  # no data access
        assert [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]] == [
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        ]
    for key, route_function in service.functions.items():  # each method: its own function
        alias = service.alias_for(key)
        alias_id = Stack.of(service).get_logical_id(alias.node.default_child)  # type: ignore[arg-type]
        assert alias.version.lambda_ is route_function
        template.has_resource_properties(
            "AWS::ApiGateway::Method",
            {
                "HttpMethod": key.split(" ")[0],
                "Integration": {
                    "Type": "AWS_PROXY",
                    # Through the live alias, never the unqualified function ($LATEST).
                    "Uri": {"Fn::Join": ["", Match.array_with([{"Ref": alias_id}])]},
                },
            },
        )


def test_alarms_default_on_and_follow_the_topic(code_dir: Path) -> None:
    _, stack = _service(code_dir)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)  # 5XX, latency, 2 functions
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]

    stack, pool = _stack()
    topic = sns.Topic(stack, "Alarms")
    ApiService(
        stack,
        "Items",
        service_name="items",
        code=code_dir,
        routes=[POST, GET],
        user_pool=pool,
        alarm_topic=topic,
    )
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    topic_ref = {"Ref": stack.get_logical_id(topic.node.default_child)}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic_ref]
        assert alarm["Properties"]["OKActions"] == [topic_ref]

    _, stack = _service(code_dir, alarms=False)
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 0)


@pytest.mark.parametrize(
    ("threshold", "shown", "milliseconds"),
    [
        (None, "3 s", 3000),
        (Duration.seconds(5), "5 s", 5000),
        (Duration.millis(1500), "1.5 s", 1500),
        (Duration.millis(250), "0.25 s", 250),
        ({"Latency": 5}, "5 s", 5000),
        ({"Latency": 1.5}, "1.5 s", 1500),
    ],
)
def test_latency_alarm_threshold(
    code_dir: Path, threshold: Duration | dict[str, float] | None, shown: str, milliseconds: int
) -> None:
    overrides: dict[str, Any] = {}
    if isinstance(threshold, Duration):
        overrides["latency_alarm_threshold"] = threshold
    elif threshold is not None:
        overrides["alarm_thresholds"] = threshold
    _, stack = _service(code_dir, **overrides)
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": Match.string_like_regexp(
                f"^items: p99 latency above {re.escape(shown)} for 3 of 5 minutes[.] First: "
            ),
            "MetricName": "Latency",
            "ExtendedStatistic": "p99",
            "Period": 60,
            "Threshold": milliseconds,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_iam_routes_waf_and_helpers(code_dir: Path) -> None:
    service, stack = _service(
        code_dir, routes=[POST, IAM_GET], web_acl_arn="arn:aws:wafv2:us-east-1:1:regional/x"
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    service.grant_invoke_iam_routes(caller)
    service.add_environment("EXTRA", "1")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ApiGateway::Method", {"HttpMethod": "GET", "AuthorizationType": "AWS_IAM"}
    )
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
    policies = template.find_resources("AWS::IAM::Policy")
    invoke = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "execute-api:Invoke"
    ]
    assert len(invoke) == 1
    assert "/GET/internal/*" in str(invoke[0]["Resource"])
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["EXTRA"] == "1"
    with pytest.raises(KeyError, match="routes are GET /internal/\\{id\\}, POST /items"):
        service.function_for("GET /nope")

    with pytest.raises(ConstructArgumentError, match=r"'grantee' is .*role, user or group"):
        service.grant_invoke_iam_routes(iam.ServicePrincipal("lambda.amazonaws.com"))

    cognito_only, stack = _service(code_dir)
    with pytest.raises(ConstructArgumentError, match="no route with authorization='iam'"):
        cognito_only.grant_invoke_iam_routes(
            iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
        )


def test_arguments_reach_the_stage_logs_and_functions(code_dir: Path) -> None:
    route = ApiRoute(
        method="PUT",
        path="/items/{id}",
        handler="create.handler",
        authorization="iam",
        memory_size=1024,
        timeout=Duration.seconds(20),
        environment={"SETTING": "route"},
        description="Replaces an item",
    )
    service, stack = _service(
        code_dir,
        routes=[route],
        user_pool=None,  # IAM routes only: no user pool needed, no authorizer
        stage_name="live",
        throttling_rate_limit=10,
        throttling_burst_limit=20,
        execution_logging_level="ERROR",
        tracing=False,
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
        cloud_watch_role=True,
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.X86_64,
        powertools_layer_version=3,
        environment={"SETTING": "service", "SHARED": "yes"},
    )
    template = Template.from_stack(stack)
    assert service.authorizer is None
    template.resource_count_is("AWS::ApiGateway::Authorizer", 0)
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "live",
            "TracingEnabled": False,
            "MethodSettings": [
                Match.object_like(
                    {"LoggingLevel": "ERROR", "ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
                )
            ],
        },
    )
    template.has_resource("AWS::ApiGateway::Account", {"DeletionPolicy": "Delete"})
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 3  # access, execution, function
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {7}
    assert {g["DeletionPolicy"] for g in groups.values()} == {"Delete"}
    [execution_name] = [
        g["Properties"]["LogGroupName"]["Fn::Join"][1]
        for g in groups.values()
        if "LogGroupName" in g["Properties"]
    ]
    assert execution_name[2] == "/live"
    [function] = template.find_resources("AWS::Lambda::Function").values()
    properties = function["Properties"]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["x86_64"]
    assert properties["MemorySize"] == 1024
    assert properties["Timeout"] == 20
    assert properties["Description"] == "Replaces an item"
    assert "TracingConfig" not in properties
    [layer] = properties["Layers"]
    assert ":layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:3" in str(layer)
    assert properties["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "items",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "SETTING": "route",  # the route's value wins over the service's
        "SHARED": "yes",
    }
    [policy] = _function_policies(template).values()  # no X-Ray without tracing
    assert [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]] == [
        ["logs:CreateLogStream", "logs:PutLogEvents"]
    ]


def test_props_overrides(code_dir: Path) -> None:
    _, stack = _service(
        code_dir,
        rest_api_props={"description": "overridden"},
        function_props={"reserved_concurrent_executions": 5, "memory_size": 512},
        code=lambda_.Code.from_asset(str(code_dir)),
        powertools_layer_version=None,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"Description": "overridden"})
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["ReservedConcurrentExecutions"] == 5
        assert function["Properties"]["MemorySize"] == 512  # over the construct's default
        assert "Layers" not in function["Properties"]


def test_function_props_environment_adds_to_the_defaults(code_dir: Path) -> None:
    _, stack = _service(
        code_dir,
        routes=[_route(environment={"ROUTE": "route", "SHARED": "route"})],
        environment={"SERVICE": "service", "SHARED": "service"},
        function_props={"environment": {"POWERTOOLS_LOG_LEVEL": "DEBUG", "SHARED": "props"}},
    )
    [function] = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    assert function["Properties"]["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "items",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",  # function_props wins
        "SERVICE": "service",
        "ROUTE": "route",
        "SHARED": "props",
    }


def _route(**changes: Any) -> ApiRoute:
    fields: dict[str, Any] = {"method": "GET", "path": "/items/{id}", "handler": "read.handler"}
    return ApiRoute(**{**fields, **changes})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"routes": []}, "argument 'routes' is empty"),
        ({"routes": ["GET /x"]}, r"argument 'routes\[0\]' must be an ApiRoute"),
        ({"routes": [_route(method="HEAD")]}, r"'routes\[0\].method' is 'HEAD'; allowed"),
        ({"routes": [_route(path="items")]}, r"'routes\[0\].path' is 'items'"),
        ({"routes": [_route(path="/a//b")]}, r"'routes\[0\].path' is '/a//b'"),
        ({"routes": [_route(handler="read")]}, r"'routes\[0\].handler'"),
        ({"routes": [_route(authorization="none")]}, r"'routes\[0\].authorization' is 'none'"),
        ({"routes": [_route(), _route()]}, r"'routes\[1\]' repeats the route 'GET /items/\{id\}'"),
        ({"routes": [_route(path="/a/{id}/b/{id}")]}, "repeats a path parameter"),
        ({"routes": [_route(request_schema=SCHEMA)]}, "for a GET route, which has no body"),
        (
            {"routes": [_route(method="POST", request_schema={"type": "array"})]},
            "must be a JSON Schema with",
        ),
        (
            {"routes": [_route(authorization="iam", authorization_scopes=["a"])]},
            "authorization_scopes' is only used with authorization='cognito'",
        ),
        ({"routes": [_route(path="/items/")]}, r"'routes\[0\].path' is '/items/'"),
        ({"routes": [_route(memory_size=64)]}, r"'routes\[0\].memory_size' is 64"),
        ({"routes": [_route(memory_size=10241)]}, r"'routes\[0\].memory_size' is 10241"),
        ({"routes": [_route(timeout=Duration.seconds(30))]}, r"'routes\[0\].timeout' is 30"),
        (
            {"routes": [_route(timeout=10)]},
            r"'routes\[0\].timeout' must be an aws_cdk.Duration, got int",
        ),
        (
            {"routes": [_route(timeout=Duration.millis(1500))]},
            r"'routes\[0\].timeout' is 1.5 seconds; it must be a whole number of seconds",
        ),
        ({"service_name": "Items"}, "argument 'service_name' is 'Items'"),
        ({"service_name": "it"}, "argument 'service_name' is 'it'"),
        ({"stage_name": "v-1"}, "argument 'stage_name' is 'v-1'"),
        ({"throttling_rate_limit": 0}, "argument 'throttling_rate_limit' is 0"),
        ({"throttling_rate_limit": True}, "'throttling_rate_limit' must be a number, got bool"),
        ({"throttling_burst_limit": 5001}, "'throttling_burst_limit' is 5001; allowed range"),
        (
            {"throttling_rate_limit": 200, "throttling_burst_limit": 100},
            "argument 'throttling_burst_limit' is 100, below throttling_rate_limit",
        ),
        ({"execution_logging_level": "DEBUG"}, "'execution_logging_level' is 'DEBUG'"),
        (
            {"latency_alarm_threshold": Duration.seconds(60)},
            "'latency_alarm_threshold' is 60 seconds",
        ),
        (
            {"latency_alarm_threshold": Duration.seconds(0)},
            "'latency_alarm_threshold' is 0 seconds; it must be more than 0",
        ),
        (
            {"alarms": False, "latency_alarm_threshold": Duration.seconds(2)},
            "'alarms' was given together with 'latency_alarm_threshold'",
        ),
        (
            {"alarms": False, "alarm_thresholds": {"Latency": 2}},
            "'alarms' was given together with 'alarm_thresholds'",
        ),
        (
            {"alarm_thresholds": {"Latncy": 2}},
            "argument 'alarm_thresholds' has the unknown alarm name 'Latncy'; the alarm names "
            "are 'FunctionErrors', 'Latency', 'ServerErrors'",
        ),
        (
            {"latency_alarm_threshold": Duration.seconds(2), "alarm_thresholds": {"Latency": 2}},
            "argument 'alarm_thresholds' sets 'Latency', which 'latency_alarm_threshold' sets",
        ),
        (
            {"alarm_thresholds": {"Latency": 30}},
            r"argument 'alarm_thresholds\['Latency'\]' is 30; allowed range is more than 0 and "
            "at most 29",
        ),
        (
            {"alarm_thresholds": {"ServerErrors": 0}},
            r"'alarm_thresholds\['ServerErrors'\]' is 0; a threshold must be a positive number",
        ),
        (
            {"alarm_thresholds": {"ServerErrors": float("nan")}},
            r"'alarm_thresholds\['ServerErrors'\]' is nan; a threshold must be a positive",
        ),
        ({"user_pool": None}, "argument 'user_pool' is missing; route 'POST /items'"),
        ({"code": "/no/such/folder"}, "argument 'code' is '/no/such/folder'"),
        ({"rest_api_props": {"nmae": "x"}}, r"'rest_api_props' has unknown key\(s\) 'nmae'"),
        ({"function_props": {"memory": 1}}, r"'function_props' has unknown key\(s\) 'memory'"),
    ],
)
def test_bad_arguments_are_rejected_by_name(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _service(code_dir, **overrides)


def test_alarm_settings_without_alarms_are_rejected(code_dir: Path) -> None:
    stack, pool = _stack()
    with pytest.raises(ConstructArgumentError, match=r"'alarms' was given together with"):
        ApiService(
            stack,
            "Items",
            service_name="items",
            code=code_dir,
            routes=[GET],
            user_pool=pool,
            alarms=False,
            alarm_topic=sns.Topic(stack, "T"),
        )


def test_routes_whose_construct_ids_collide_are_rejected(code_dir: Path) -> None:
    routes = [_route(path="/a-b"), _route(path="/a/b")]
    with pytest.raises(ConstructArgumentError, match=r"'routes\[1\]' 'GET /a/b' would share"):
        _service(code_dir, routes=routes)


def test_iam_routes_leave_no_open_cdk_nag_finding(code_dir: Path, tmp_path: Path) -> None:
    """COG4 (no Cognito authorizer) is a choice for an IAM route: the construct acknowledges
    it on that method, with the reason, so the consumer's app stays clean."""
    app = new_app(str(tmp_path))
    add_compliance_checks(app)
    stack = Stack(app, "Consumer", env=Environment(region="us-east-1"))
    api = ApiService(
        stack,
        "Internal",
        service_name="internal",
        code=code_dir,
        routes=[IAM_GET],
        web_acl_arn="arn:aws:wafv2:us-east-1:111111111111:regional/webacl/x/y",
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    policy = api.grant_invoke_iam_routes(caller)
    # The grant, and its acknowledgement, live in the construct, not on the caller's role.
    assert policy.node.path.startswith("Consumer/Internal/")
    app.synth()  # raises on any unacknowledged finding


def _function_policies(template: Template) -> dict[str, Any]:
    """The IAM policies attached to the functions' roles (not CodeDeploy's)."""
    function_roles = {
        logical_id
        for logical_id, role in template.find_resources("AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "lambda.amazonaws.com"}
    }
    return {
        logical_id: policy
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if {role.get("Ref") for role in policy["Properties"]["Roles"]} <= function_roles
    }
