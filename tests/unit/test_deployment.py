"""Deployment: the live alias, CodeDeploy's group, its alarms and rollback, on every Lambda
pattern; ECS circuit breaker and deployment alarms on ContainerService; validation."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Aws, Duration, Environment, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from constructs import Construct
from unit_app import new_app

from cdk_microservices import (
    ApiRoute,
    ApiService,
    ConstructArgumentError,
    ContainerService,
    Deployment,
    EventBus,
    EventContract,
    QueueWorker,
    ServiceTable,
    TableEventPublisher,
)

OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"
CANARY_10_5 = "CodeDeployDefault.LambdaCanary10Percent5Minutes"


def _stack() -> Stack:
    return Stack(new_app(), "Test", env=Environment(account="111111111111", region="us-east-1"))


def _api(code_dir: Path, stack: Stack | None = None, **overrides: Any) -> ApiService:
    stack = stack or _stack()
    return ApiService(
        stack,
        "Api",
        service_name="items",
        code=code_dir,
        routes=[
            ApiRoute(method="POST", path="/items", handler="create.handler", authorization="iam"),
            ApiRoute(method="GET", path="/items/{id}", handler="read.handler", authorization="iam"),
        ],
        **overrides,
    )


def _worker(code_dir: Path, stack: Stack | None = None, **overrides: Any) -> QueueWorker[Any, Any]:
    return QueueWorker(
        stack or _stack(),
        "Worker",
        service_name="statements",
        code=code_dir,
        handler="consumer.handler",
        **overrides,
    )


def _publisher(code_dir: Path, **overrides: Any) -> TableEventPublisher:
    stack = _stack()
    return TableEventPublisher(
        stack,
        "Publisher",
        service_name="accounts",
        table=ServiceTable(stack, "Table", stream="NEW_IMAGE"),
        bus=EventBus(stack, "Bus", domain="accounts", contracts=[OPENED]),
        event_types=["AccountOpened"],
        code=code_dir,
        handler="create.handler",
        **overrides,
    )


def _container(stack: Stack | None = None, **overrides: Any) -> ContainerService[Any, Any]:
    stack = stack or _stack()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, flow_logs={"All": ec2.FlowLogOptions()})
    return ContainerService(
        stack,
        "Service",
        service_name="transfers",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.14-slim"),
        vpc=vpc,
        **overrides,
    )


def _id(construct: Any) -> str:
    return str(Stack.of(construct).get_logical_id(construct.node.default_child))


def _alarm_refs(group: dict[str, Any]) -> set[str]:
    """Logical ids of the alarms of this template that gate ``group``."""
    alarms = group["Properties"]["AlarmConfiguration"]["Alarms"]
    return {alarm["Name"]["Ref"] for alarm in alarms if isinstance(alarm["Name"], dict)}


def _invokes_alias(alias: Any) -> dict[str, Any]:
    """An event source mapping's FunctionName when it invokes ``alias`` (name:live)."""
    return {
        "Fn::Join": [
            "",
            [{"Fn::Select": [6, {"Fn::Split": [":", {"Ref": _id(alias)}]}]}, ":live"],
        ]
    }


def _group(template: Template, group: Any) -> dict[str, Any]:
    return dict(template.find_resources("AWS::CodeDeploy::DeploymentGroup")[_id(group)])


# -- the value ------------------------------------------------------------------------------


def test_factories_and_their_defaults() -> None:
    assert Deployment.all_at_once().describe() == "all at once"
    canary = Deployment.canary()
    assert (canary.strategy, canary.percent, canary.minutes) == ("canary", 10, 5)
    linear = Deployment.linear(percent=20, interval=Duration.minutes(2))
    assert linear.describe() == "linear 20% every 2 min"
    assert Deployment.canary().shifts_gradually
    assert not Deployment.all_at_once().shifts_gradually


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: Deployment.canary(percent=0), "percent"),
        (lambda: Deployment.canary(percent=100), "percent"),
        (lambda: Deployment.linear(percent=10.5), "percent"),  # type: ignore[arg-type]
        (lambda: Deployment.linear(percent=True), "percent"),
        (lambda: Deployment.canary(interval=Duration.seconds(90)), "interval"),
        (lambda: Deployment.canary(interval=Duration.seconds(30)), "interval"),
        (lambda: Deployment.linear(interval=5), "interval"),  # type: ignore[arg-type]
        (lambda: Deployment.canary(alarms=["not an alarm"]), "alarms[0]"),  # type: ignore[list-item]
        (lambda: Deployment(strategy="blue_green"), "strategy"),  # type: ignore[arg-type]
        (lambda: Deployment(strategy="all_at_once", percent=10), "percent"),
    ],
)
def test_bad_values_are_refused_naming_the_argument(build: Any, argument: str) -> None:
    with pytest.raises(
        ConstructArgumentError, match="Deployment: argument " + re.escape(repr(argument))
    ):
        build()


def test_a_pattern_refuses_anything_but_a_deployment(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match="QueueWorker: argument 'deployment'"):
        _worker(code_dir, deployment="canary")


@pytest.mark.parametrize("strategy", ["canary", "linear"])
def test_a_gradual_deployment_without_any_alarm_is_refused(code_dir: Path, strategy: str) -> None:
    deployment = getattr(Deployment, strategy)()
    with pytest.raises(ConstructArgumentError, match="no alarm watches it"):
        _worker(code_dir, alarms=False, deployment=deployment)
    with pytest.raises(ConstructArgumentError, match="no alarm watches it"):
        _container(alarms=False, deployment=deployment)


# -- Lambda patterns ------------------------------------------------------------------------


def test_api_routes_invoke_their_live_alias_and_deploy_all_at_once_by_default(
    code_dir: Path,
) -> None:
    api = _api(code_dir)
    template = Template.from_stack(Stack.of(api))
    template.resource_count_is("AWS::Lambda::Alias", 2)
    template.resource_count_is("AWS::CodeDeploy::Application", 1)  # one per pattern
    for key, function in api.functions.items():
        alias = api.alias_for(key)
        assert alias.alias_name == "live"
        assert alias.version.lambda_ is function
        alias_resource = template.find_resources("AWS::Lambda::Alias")[_id(alias)]
        assert alias_resource["Properties"]["Name"] == "live"
        # CloudFormation hands every change of the alias to CodeDeploy.
        update = alias_resource["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["DeploymentGroupName"] == {"Ref": _id(api.deployment_group_for(key))}
        group = _group(template, api.deployment_group_for(key))
        assert group["Properties"]["DeploymentConfigName"] == ALL_AT_ONCE
        # API Gateway may invoke the alias (the permission names the alias ARN).
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {"FunctionName": {"Ref": _id(alias)}, "Principal": "apigateway.amazonaws.com"},
        )
    # No permission lets API Gateway invoke the unqualified function ($LATEST).
    for permission in template.find_resources("AWS::Lambda::Permission").values():
        assert "Fn::GetAtt" not in permission["Properties"]["FunctionName"]
    with pytest.raises(KeyError, match="routes are"):
        api.alias_for("GET /nothing")


def test_each_route_rolls_back_on_its_own_errors_only(code_dir: Path) -> None:
    stack = _stack()
    extra = cloudwatch.Alarm.from_alarm_arn(
        stack, "Extra", "arn:aws:cloudwatch:us-east-1:111111111111:alarm:orders"
    )
    api = _api(code_dir, stack, deployment=Deployment.canary(alarms=[extra]))
    template = Template.from_stack(Stack.of(api))
    alarm_ids = {alarm.node.path: _id(alarm) for alarm in api.alarms}
    api_alarms = {
        alarm_id
        for path, alarm_id in alarm_ids.items()
        if "ServerErrors" in path or "Latency" in path
    }
    assert len(api_alarms) == 2
    for key, service_function in api.service_functions.items():
        group = _group(template, api.deployment_group_for(key))
        properties = group["Properties"]
        assert properties["DeploymentConfigName"] == CANARY_10_5
        own_errors = {
            alarm_id
            for path, alarm_id in alarm_ids.items()
            if path.startswith(service_function.node.path + "/")
        }
        assert len(own_errors) == 1
        # Its own errors and the API's 5XX and latency, never another route's errors. The
        # API alarms name the API and stage by name: a reference to the stage would be a
        # cycle stage -> method -> alias -> group -> alarm (see test_no_dependency_cycle_...).
        assert _alarm_refs(group) == own_errors | api_alarms
        assert {"Name": "orders"} in properties["AlarmConfiguration"]["Alarms"]
        assert properties["AlarmConfiguration"]["Enabled"] is True
        assert properties["AutoRollbackConfiguration"]["Enabled"] is True
        assert set(properties["AutoRollbackConfiguration"]["Events"]) == {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_REQUEST",
            "DEPLOYMENT_STOP_ON_ALARM",
        }
        assert properties["DeploymentStyle"] == {
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
            "DeploymentType": "BLUE_GREEN",
        }


def test_gating_alarms_do_not_breach_for_lack_of_traffic(code_dir: Path) -> None:
    # CodeDeploy stops and rolls back a deployment only on an alarm in ALARM state; an alarm
    # that treated missing data as breaching would roll back a canary that got no traffic
    # (CodeDeploy user guide, "Monitoring deployments with CloudWatch alarms").
    api = _api(code_dir, deployment=Deployment.canary())
    template = Template.from_stack(Stack.of(api))
    for alarm_id in {_id(alarm) for alarm in api.alarms}:
        alarm = template.find_resources("AWS::CloudWatch::Alarm")[alarm_id]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_queue_worker_consumes_through_its_alias_and_backlog_alarms_do_not_gate(
    code_dir: Path,
) -> None:
    worker = _worker(code_dir, deployment=Deployment.linear())
    template = Template.from_stack(Stack.of(worker))
    assert worker.alias.alias_name == "live"
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": _invokes_alias(worker.alias),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    group = _group(template, worker.deployment_group)
    assert (
        group["Properties"]["DeploymentConfigName"]
        == "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
    )
    by_id = {alarm.node.id: _id(alarm) for alarm in worker.alarms}
    assert by_id["ConsumerErrorsAlarm"] in _alarm_refs(group)
    # A dead-lettered message or an old one stays in ALARM until someone drains the queue:
    # gating on it would roll back the deploy that fixes the consumer.
    assert by_id["DeadLetterAlarm"] not in _alarm_refs(group)
    assert by_id["OldestMessageAgeAlarm"] not in _alarm_refs(group)


def test_a_custom_percentage_creates_one_deployment_config_per_pattern(code_dir: Path) -> None:
    api = _api(code_dir, deployment=Deployment.canary(percent=25, interval=Duration.minutes(7)))
    template = Template.from_stack(Stack.of(api))
    [(config_id, config)] = template.find_resources("AWS::CodeDeploy::DeploymentConfig").items()
    assert config["Properties"] == {
        "ComputePlatform": "Lambda",
        "TrafficRoutingConfig": {
            "Type": "TimeBasedCanary",
            "TimeBasedCanary": {"CanaryInterval": 7, "CanaryPercentage": 25},
        },
    }
    for group in template.find_resources("AWS::CodeDeploy::DeploymentGroup").values():
        assert group["Properties"]["DeploymentConfigName"] == {"Ref": config_id}


def test_table_event_publisher_reads_the_stream_through_its_alias(code_dir: Path) -> None:
    publisher = _publisher(code_dir, deployment=Deployment.canary())
    template = Template.from_stack(Stack.of(publisher))
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionName": _invokes_alias(publisher.alias), "StartingPosition": "TRIM_HORIZON"},
    )
    group = _group(template, publisher.deployment_group)
    by_id = {alarm.node.id: _id(alarm) for alarm in publisher.alarms}
    assert _alarm_refs(group) == {by_id["PublisherErrorsAlarm"]}
    # The stream read and the failure-queue send are granted to the function's role, which
    # the alias invokes with.
    assert publisher.alias.role is publisher.function.role


def test_codedeploy_role_holds_only_this_alias_and_no_managed_policy(code_dir: Path) -> None:
    worker = _worker(code_dir)
    template = Template.from_stack(Stack.of(worker))
    group = _group(template, worker.deployment_group)
    role_id = group["Properties"]["ServiceRoleArn"]["Fn::GetAtt"][0]
    role = template.find_resources("AWS::IAM::Role")[role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "codedeploy.amazonaws.com"
    }
    [policy] = [
        policy
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    alias_statement, alarms_statement = policy["Properties"]["PolicyDocument"]["Statement"]
    assert alias_statement["Resource"] == [
        {"Fn::GetAtt": [_id(worker.function), "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [_id(worker.function), "Arn"]}, ":live"]]},
    ]
    # The group waits for its policy; the alias (whose update the group runs) is not named
    # by Ref, which would close a cycle alias -> group -> policy -> alias.
    assert _id(worker.alias) not in str(policy)
    assert "lambda:UpdateAlias" in alias_statement["Action"]
    assert alarms_statement["Action"] == "cloudwatch:DescribeAlarms"


def test_function_grants_stay_valid_through_the_alias(code_dir: Path) -> None:
    api = _api(code_dir)
    # Grants go to the function's role; the alias runs with that role.
    for key in api.functions:
        assert api.alias_for(key).role is api.function_for(key).role


def test_the_alias_points_at_the_current_version(code_dir: Path) -> None:
    worker = _worker(code_dir)
    template = Template.from_stack(Stack.of(worker))
    [(version_id, version)] = template.find_resources("AWS::Lambda::Version").items()
    assert version["Properties"]["FunctionName"] == {"Ref": _id(worker.function)}
    assert isinstance(worker.alias.version, lambda_.Version)
    alias = template.find_resources("AWS::Lambda::Alias")[_id(worker.alias)]
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}


# -- ContainerService -----------------------------------------------------------------------


def test_container_service_rolls_back_on_its_alarms_and_the_circuit_breaker() -> None:
    service = _container(deployment=Deployment.canary())
    template = Template.from_stack(Stack.of(service))
    by_id = {alarm.node.id: _id(alarm) for alarm in service.alarms}
    gating = {"ServerErrorsAlarm", "LatencyAlarm", "UnhealthyTargetsAlarm"}
    [ecs_service] = template.find_resources("AWS::ECS::Service").values()
    configuration = ecs_service["Properties"]["DeploymentConfiguration"]
    assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert configuration["Alarms"]["Enable"] is True
    assert configuration["Alarms"]["Rollback"] is True
    assert {name["Ref"] for name in configuration["Alarms"]["AlarmNames"]} == {
        by_id[alarm_id] for alarm_id in gating
    }
    # Saturation is not a bad revision.
    assert by_id["CpuAlarm"] not in str(configuration["Alarms"])
    assert [alarm.node.id for alarm in service.deployment_alarms] == sorted(
        gating, key=[a.node.id for a in service.alarms].index
    )
    # Deployment alarms work only with the ECS (rolling) deployment controller
    # (AWS::ECS::Service DeploymentAlarms, CloudFormation reference): no other controller.
    assert ecs_service["Properties"].get("DeploymentController", {"Type": "ECS"}) == {"Type": "ECS"}
    assert "Strategy" not in configuration  # no native blue/green, canary or linear


def test_container_service_gates_on_extra_alarms_even_without_its_own() -> None:
    stack = _stack()
    extra = cloudwatch.Alarm.from_alarm_arn(
        stack, "Extra", "arn:aws:cloudwatch:us-east-1:111111111111:alarm:orders"
    )
    service = _container(stack, alarms=False, deployment=Deployment.all_at_once(alarms=[extra]))
    template = Template.from_stack(Stack.of(service))
    [ecs_service] = template.find_resources("AWS::ECS::Service").values()
    assert ecs_service["Properties"]["DeploymentConfiguration"]["Alarms"] == {
        "AlarmNames": ["orders"],
        "Enable": True,
        "Rollback": True,
    }


def test_container_service_without_alarms_keeps_the_circuit_breaker() -> None:
    service = _container(alarms=False)
    template = Template.from_stack(Stack.of(service))
    [ecs_service] = template.find_resources("AWS::ECS::Service").values()
    configuration = ecs_service["Properties"]["DeploymentConfiguration"]
    assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert configuration.get("Alarms", {"Enable": False})["Enable"] is False
    assert service.deployment_alarms == []


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value)) if value else set()
    return set()


@pytest.mark.parametrize("deployment", [Deployment.all_at_once(), Deployment.canary()])
@pytest.mark.parametrize("pattern", ["api", "worker", "publisher", "container"])
def test_no_dependency_cycle_between_alias_group_alarms_and_role(
    code_dir: Path, deployment: Deployment, pattern: str
) -> None:
    """CloudFormation refuses a template whose resources depend on each other in a cycle
    (cfn-lint E3004); the alias's update policy names its deployment group, which names its
    alarms and waits for its role's policy; an ECS service names its deployment alarms."""
    builders: dict[str, Callable[[], Construct]] = {
        "api": lambda: _api(code_dir, deployment=deployment),
        "worker": lambda: _worker(code_dir, deployment=deployment),
        "publisher": lambda: _publisher(code_dir, deployment=deployment),
        "container": lambda: _container(deployment=deployment),
    }
    built = builders[pattern]()
    template = Template.from_stack(Stack.of(built)).to_json()
    graph = {
        logical_id: (_references(body) | set(body.get("DependsOn", [])))
        & set(template["Resources"])
        for logical_id, body in template["Resources"].items()
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in visiting, f"dependency cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        visiting.add(node)
        for target in graph[node]:
            visit(target, (*path, node))
        visiting.discard(node)
        done.add(node)

    for node in graph:
        visit(node, ())


def test_api_alarms_on_a_token_named_api_do_not_gate_but_still_alarm(code_dir: Path) -> None:
    """An API name known only at deploy leaves the stage's own metrics, which refer to the
    stage: the route's groups then gate on the route's errors alone, and nothing cycles."""
    stack = _stack()
    api = _api(
        code_dir,
        stack,
        deployment=Deployment.canary(),
        rest_api_props={"rest_api_name": Fn.join("-", ["items", Aws.STACK_NAME])},
    )
    assert not api.alarms_stand_apart
    template = Template.from_stack(stack)
    alarm_ids = {alarm.node.path: _id(alarm) for alarm in api.alarms}
    assert any("ServerErrors" in path for path in alarm_ids)
    for key, service_function in api.service_functions.items():
        group = _group(template, api.deployment_group_for(key))
        assert _alarm_refs(group) == {
            alarm_id
            for path, alarm_id in alarm_ids.items()
            if path.startswith(service_function.node.path + "/")
        }


def test_api_alarm_metrics_name_the_api_and_stage_as_written(code_dir: Path) -> None:
    stack = _stack()
    api = _api(code_dir, stack, api_name="items-dev", stage_name="api")
    assert api.alarms_stand_apart
    template = Template.from_stack(stack).to_json()
    server_errors = next(
        body["Properties"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::CloudWatch::Alarm"
        and body["Properties"].get("MetricName") == "5XXError"
    )
    assert server_errors["Namespace"] == "AWS/ApiGateway"
    assert server_errors["Dimensions"] == [
        {"Name": "ApiName", "Value": "items-dev"},
        {"Name": "Stage", "Value": "api"},
    ]


def test_a_deployment_group_takes_at_most_10_alarms(code_dir: Path) -> None:
    """CodeDeploy refuses more than 10 alarms in a deployment group's AlarmConfiguration:
    a route already gates on its errors and the API's 5XX and latency alarms (3), so 7
    more fit and 8 are refused at synth."""

    def extra(stack: Stack, count: int) -> list[cloudwatch.IAlarm]:
        return [
            cloudwatch.Alarm.from_alarm_arn(
                stack, f"Extra{i}", f"arn:aws:cloudwatch:us-east-1:111111111111:alarm:x{i}"
            )
            for i in range(count)
        ]

    fits = _stack()
    api = _api(code_dir, fits, deployment=Deployment.canary(alarms=extra(fits, 7)))
    template = Template.from_stack(fits)
    for key in api.service_functions:
        group = _group(template, api.deployment_group_for(key))
        assert len(group["Properties"]["AlarmConfiguration"]["Alarms"]) == 10

    too_many = _stack()
    with pytest.raises(
        ConstructArgumentError, match="CodeDeploy accepts at most 10: pass at most 7"
    ):
        _api(code_dir, too_many, deployment=Deployment.canary(alarms=extra(too_many, 8)))
