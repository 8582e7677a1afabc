"""ManagedFunction: its documented defaults (log group, role, tracing, the live alias, the
CodeDeploy group gated on its errors alarm), deployments, thresholds, the dead-letter
queue, validation errors, cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import IConstruct
from unit_app import new_app

from cdk_microservices import (
    AlarmTopic,
    ConstructArgumentError,
    Deployment,
    ManagedFunction,
    acknowledge,
)
from cdk_microservices._alarms import DESCRIPTION_FORMAT
from stacks.compliance import add_compliance_checks

ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"
CANARY_10_5 = "CodeDeployDefault.LambdaCanary10Percent5Minutes"


def _stack(app: App | None = None) -> Stack:
    return Stack(app or new_app(), "Test", env=Environment(region="eu-west-1"))


def _managed(
    code_dir: Path, stack: Stack | None = None, id: str = "Export", **overrides: Any
) -> ManagedFunction:
    kwargs: dict[str, Any] = {
        "service_name": "statements",
        "code": code_dir,
        "handler": "read.handler",
        "description": "Exports one statement",
        **overrides,
    }
    return ManagedFunction(stack or _stack(), id, **kwargs)


def _id(construct: IConstruct) -> str:
    child = construct.node.default_child or construct
    return str(Stack.of(construct).resolve(child.logical_id))  # type: ignore[attr-defined]


def _group(template: Template, managed: ManagedFunction) -> dict[str, Any]:
    groups = template.find_resources("AWS::CodeDeploy::DeploymentGroup")
    return dict(groups[_id(managed.deployment_group)]["Properties"])


def _role_statements(template: Template, role: iam.Role) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": _id(role)} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def managed(code_dir: Path) -> ManagedFunction:
    return _managed(code_dir)


@pytest.fixture(scope="module")
def template(managed: ManagedFunction) -> Template:
    return Template.from_stack(Stack.of(managed))


# -- defaults --------------------------------------------------------------------------------


def test_attributes_are_the_concrete_resources(managed: ManagedFunction) -> None:
    assert isinstance(managed.function, lambda_.Function)
    assert isinstance(managed.alias, lambda_.Alias)
    assert isinstance(managed.role, iam.Role)
    assert isinstance(managed.log_group, logs.LogGroup)
    assert isinstance(managed.deployment_group, codedeploy.LambdaDeploymentGroup)
    assert isinstance(managed.application, codedeploy.LambdaApplication)
    assert [type(alarm) for alarm in managed.alarms] == [cloudwatch.Alarm]
    assert managed.dead_letter_queue is None
    assert managed.deployment == Deployment.all_at_once()
    # The function runs with its own role, and so does the alias callers invoke.
    assert managed.function.role is managed.role
    assert managed.alias.role is managed.role


def test_function_defaults(managed: ManagedFunction, template: Template) -> None:
    [(function_id, function)] = template.find_resources("AWS::Lambda::Function").items()
    assert function_id == _id(managed.function)
    properties = function["Properties"]
    assert properties["Handler"] == "read.handler"
    assert properties["Description"] == "Exports one statement"
    assert properties["Runtime"] == "python3.14"
    assert properties["Architectures"] == ["arm64"]
    assert properties["MemorySize"] == 256
    assert properties["Timeout"] == 30
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "statements",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    [layer] = properties["Layers"]
    assert ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:27" in json.dumps(layer)
    assert properties["Role"] == {"Fn::GetAtt": [_id(managed.role), "Arn"]}
    assert properties["LoggingConfig"]["LogGroup"] == {"Ref": _id(managed.log_group)}
    assert "DeadLetterConfig" not in properties


def test_log_group_is_its_own_with_retention_and_kept(
    managed: ManagedFunction, template: Template
) -> None:
    group = template.find_resources("AWS::Logs::LogGroup")[_id(managed.log_group)]
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"


def test_role_holds_its_logs_and_tracing_only(managed: ManagedFunction, template: Template) -> None:
    role = template.find_resources("AWS::IAM::Role")[_id(managed.role)]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    statements = _role_statements(template, managed.role)
    actions = {
        action
        for statement in statements
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for statement in statements:
        if "logs:PutLogEvents" in statement["Action"]:
            assert statement["Resource"] == {"Fn::GetAtt": [_id(managed.log_group), "Arn"]}


def test_live_alias_on_the_current_version_moved_by_codedeploy(
    managed: ManagedFunction, template: Template
) -> None:
    alias = template.find_resources("AWS::Lambda::Alias")[_id(managed.alias)]
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": _id(managed.function)}
    [version_id] = template.find_resources("AWS::Lambda::Version")
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["DeploymentGroupName"] == {"Ref": _id(managed.deployment_group)}
    assert update["ApplicationName"] == {"Ref": _id(managed.application)}


def test_deployment_group_is_gated_on_the_errors_alarm_and_rolls_back(
    managed: ManagedFunction, template: Template
) -> None:
    group = _group(template, managed)
    assert group["DeploymentConfigName"] == ALL_AT_ONCE
    [errors] = managed.alarms
    assert group["AlarmConfiguration"] == {
        "Alarms": [{"Name": {"Ref": _id(errors)}}],
        "Enabled": True,
    }
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert set(group["AutoRollbackConfiguration"]["Events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_REQUEST",
        "DEPLOYMENT_STOP_ON_ALARM",
    }
    # CodeDeploy's own role, scoped to this function and its alias; no managed policy.
    role_id = group["ServiceRoleArn"]["Fn::GetAtt"][0]
    role = template.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    function_arn = {"Fn::GetAtt": [_id(managed.function), "Arn"]}
    [alias_statement] = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:UpdateAlias" in statement["Action"]
    ]
    assert alias_statement["Resource"] == [
        function_arn,
        {"Fn::Join": ["", [function_arn, ":live"]]},
    ]


def test_errors_alarm_watches_the_function(managed: ManagedFunction, template: Template) -> None:
    [errors] = managed.alarms
    assert errors.node.id == "ErrorsAlarm"
    alarm = template.find_resources("AWS::CloudWatch::Alarm")[_id(errors)]["Properties"]
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["MetricName"] == "Errors"
    # The function's own metric, every version's errors: not the alias's (Resource dimension).
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": _id(managed.function)}}
    ]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # CodeDeploy rolls back only on ALARM: a quiet canary must not look like a failing one.
    assert alarm["TreatMissingData"] == "notBreaching"
    assert DESCRIPTION_FORMAT.fullmatch(alarm["AlarmDescription"])
    assert alarm["AlarmDescription"].startswith("statements: the function Test/Export failed 1 ")
    assert "AlarmActions" not in alarm


# -- options ---------------------------------------------------------------------------------


def test_canary_deployment_thresholds_and_alarm_topic(code_dir: Path) -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    managed = _managed(
        code_dir,
        stack,
        deployment=Deployment.canary(),
        alarm_topic=topic,
        alarm_thresholds={"Errors": 3},
    )
    template = Template.from_stack(stack)
    assert _group(template, managed)["DeploymentConfigName"] == CANARY_10_5
    [errors] = managed.alarms
    alarm = template.find_resources("AWS::CloudWatch::Alarm")[_id(errors)]["Properties"]
    assert alarm["Threshold"] == 3
    assert " failed 3 time(s) or more in 5 minutes" in alarm["AlarmDescription"]
    assert alarm["AlarmActions"] == [{"Ref": _id(topic)}]
    assert alarm["OKActions"] == [{"Ref": _id(topic)}]


def test_deployment_alarms_gate_too_and_alarms_can_be_off(code_dir: Path) -> None:
    stack = _stack()
    business = cloudwatch.Alarm.from_alarm_arn(
        stack, "Business", "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:exports"
    )
    managed = _managed(
        code_dir, stack, alarms=False, deployment=Deployment.canary(alarms=[business])
    )
    template = Template.from_stack(stack)
    assert managed.alarms == []
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    group = _group(template, managed)
    assert group["AlarmConfiguration"]["Alarms"] == [{"Name": "exports"}]


def test_a_gradual_deployment_without_alarms_is_refused(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match="'deployment' is canary 10% for 5 min"):
        _managed(code_dir, alarms=False, deployment=Deployment.canary())


def test_arguments_reach_the_function(code_dir: Path) -> None:
    stack = _stack()
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Pinned", "arn:aws:lambda:eu-west-1:111111111111:layer:pinned:3"
    )
    queue = sqs.Queue(stack, "Failed", enforce_ssl=True)
    managed = _managed(
        code_dir,
        stack,
        memory_size=1024,
        timeout=Duration.minutes(5),
        environment={"TABLE_NAME": "statements"},
        layers=[layer],
        powertools_layer_version=None,
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.X86_64,
        tracing=False,
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
        dead_letter_queue=queue,
        function_props={"reserved_concurrent_executions": 2},
    )
    template = Template.from_stack(stack)
    function = template.find_resources("AWS::Lambda::Function")[_id(managed.function)]
    properties = function["Properties"]
    assert properties["MemorySize"] == 1024
    assert properties["Timeout"] == 300
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["x86_64"]
    assert properties["Layers"] == ["arn:aws:lambda:eu-west-1:111111111111:layer:pinned:3"]
    assert "TracingConfig" not in properties or properties["TracingConfig"] == {
        "Mode": "PassThrough"
    }
    assert properties["ReservedConcurrentExecutions"] == 2
    assert properties["Environment"]["Variables"]["TABLE_NAME"] == "statements"
    assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "statements"
    queue_arn = {"Fn::GetAtt": [_id(queue), "Arn"]}
    # Lambda's dead-letter queue for asynchronous invocations, and the role may send to it.
    assert properties["DeadLetterConfig"] == {"TargetArn": queue_arn}
    assert {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": queue_arn,
    } in _role_statements(template, managed.role)
    assert managed.dead_letter_queue is queue
    group = template.find_resources("AWS::Logs::LogGroup")[_id(managed.log_group)]
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


# -- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service_name": "X"}, "ManagedFunction: argument 'service_name' is 'X'"),
        ({"handler": "handler"}, "argument 'handler' is 'handler'"),
        ({"description": " "}, "argument 'description' must say what the function does"),
        ({"description": "x" * 257}, "in 1-256 characters"),
        ({"code": "/nonexistent/handlers"}, "argument 'code' is '/nonexistent/handlers'"),
        ({"memory_size": 64}, "argument 'memory_size' is 64; allowed range is 128..10240"),
        ({"timeout": Duration.minutes(16)}, "argument 'timeout' is 960 seconds"),
        ({"timeout": Duration.millis(1500)}, "it must be a whole number of seconds"),
        ({"environment": {"RETRIES": 3}}, "argument 'environment"),
        ({"layers": ["arn:aws:lambda:layer"]}, "argument 'layers\\[0\\]' must be an aws_lambda"),
        ({"deployment": "canary"}, "argument 'deployment' must be a Deployment"),
        ({"dead_letter_queue": "my-queue"}, "argument 'dead_letter_queue' must be an aws_sqs"),
        ({"alarm_thresholds": {"ConsumerErrors": 2}}, "unknown alarm name 'ConsumerErrors'"),
        ({"alarm_thresholds": {"Errors": 0}}, "is 0; a threshold must be a positive number"),
        ({"alarms": False, "alarm_thresholds": {"Errors": 2}}, "'alarm_thresholds'"),
        ({"function_props": {"memory": 512}}, "argument 'function_props'"),
    ],
)
def test_bad_arguments_are_rejected(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _managed(code_dir, **overrides)


def test_a_second_dead_letter_target_is_rejected(code_dir: Path) -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Failed")
    with pytest.raises(ConstructArgumentError, match="sets a dead-letter target as well"):
        _managed(
            code_dir,
            stack,
            dead_letter_queue=queue,
            function_props={"dead_letter_queue": sqs.Queue(stack, "Other")},
        )


# -- cdk-nag ---------------------------------------------------------------------------------


def test_a_bare_stack_has_no_open_cdk_nag_finding(code_dir: Path, tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = Stack(app, "Test")
    topic = AlarmTopic(stack, "Alarms").topic
    failed = sqs.Queue(
        stack, "Failed", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED
    )
    for rule in ("AwsSolutions::AwsSolutions-SQS3", "Serverless::Serverless-SQSRedrivePolicy"):
        acknowledge(failed, rule, "The test's dead-letter queue: nothing consumes it.")
    # Invoked asynchronously (a scheduled job's target): failed events go to a queue.
    _managed(code_dir, stack, "Report", dead_letter_queue=failed, alarm_topic=topic)
    # Invoked synchronously (a Step Functions task): the caller sees the error.
    sync = _managed(code_dir, stack, "Export", alarm_topic=topic, deployment=Deployment.canary())
    acknowledge(
        sync.function,
        "Serverless::Serverless-LambdaDLQ",
        "Invoked synchronously only; a dead-letter queue serves asynchronous invocations.",
    )
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    suppressed = {
        (violation["ruleName"], resource["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("suppressedViolations", [])
        for resource in violation["violatingConstructs"]
    }
    inside = {
        (rule, path)
        for rule, path in suppressed
        if path.startswith(("Test/Report/", "Test/Export/"))
    }
    # X-Ray's Resource '*' on the function's role, CloudWatch's DescribeAlarms on
    # CodeDeploy's policy; the rest is the caller's own acknowledgement.
    assert inside == {
        *(
            (rule, f"Test/{name}/Default/{path}")
            for name in ("Report", "Export")
            for rule, path in (
                ("AwsSolutions-IAM5[Resource::*]", "Role/DefaultPolicy/Resource"),
                ("AwsSolutions-IAM5[Resource::*]", "DeploymentPolicy/Resource"),
            )
        ),
        ("Serverless-LambdaDLQ", "Test/Export/Default/Function/Resource"),
    }
