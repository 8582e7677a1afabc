"""Workflow: documented defaults, log group, role, alarms, validation errors, cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import new_app

from cdk_microservices import AlarmTopic, ConstructArgumentError, Workflow
from stacks.compliance import add_compliance_checks


def _stack(app: App | None = None, env: Environment | None = None) -> Stack:
    return Stack(app or new_app(), "Test", env=env or Environment(region="us-east-1"))


def _workflow(stack: Stack | None = None, **overrides: Any) -> Workflow:
    stack = stack or _stack()
    topic = sns.Topic(stack, "Events", enforce_ssl=True)
    definition = sfn.Pass(stack, "Start").next(
        tasks.SnsPublish(
            stack,
            "Publish",
            topic=topic,
            message=sfn.TaskInput.from_json_path_at("$"),
            message_attributes={
                "event_type": tasks.MessageAttribute(value="StatementExported"),
            },
        )
    )
    kwargs: dict[str, Any] = {
        "service_name": "statements",
        "definition": definition,
        "timeout": Duration.minutes(15),
        **overrides,
    }
    return Workflow(stack, "Export", **kwargs)


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    return _workflow()


@pytest.fixture(scope="module")
def template(workflow: Workflow) -> Template:
    return Template.from_stack(Stack.of(workflow))


def _logical_id(construct: Any) -> str:
    return str(Stack.of(construct).resolve(construct.node.default_child.logical_id))


def test_state_machine_is_standard_traced_with_a_timeout(template: Template) -> None:
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"StateMachineType": "STANDARD", "TracingConfiguration": {"Enabled": True}},
    )
    [machine] = template.find_resources("AWS::StepFunctions::StateMachine").values()
    definition = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part for part in definition if isinstance(part, str))
    assert '"TimeoutSeconds":900' in text


def test_logs_everything_with_execution_data_to_its_own_group(
    workflow: Workflow, template: Template
) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [
                    {
                        "CloudWatchLogsLogGroup": {
                            "LogGroupArn": {"Fn::GetAtt": [_logical_id(workflow.log_group), "Arn"]}
                        }
                    }
                ],
            }
        },
    )


def test_log_group_is_vended_kept_a_month_and_retained(
    workflow: Workflow, template: Template
) -> None:
    group = template.find_resources("AWS::Logs::LogGroup")[_logical_id(workflow.log_group)]
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"
    # CloudWatch Logs' resource policy is limited to 5120 characters; groups under
    # /aws/vendedlogs/ do not grow it (Step Functions Developer Guide, bp-cwl.html).
    prefix, stack_uuid = group["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert prefix.startswith("/aws/vendedlogs/states/statements-")
    # A stack created again after a RETAIN delete gets a new name, not a collision.
    assert stack_uuid == {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}


def test_log_group_follows_retention_and_removal_policy() -> None:
    workflow = _workflow(
        log_retention=logs.RetentionDays.ONE_WEEK, removal_policy=RemovalPolicy.DESTROY
    )
    group = Template.from_stack(Stack.of(workflow)).find_resources("AWS::Logs::LogGroup")[
        _logical_id(workflow.log_group)
    ]
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


def test_role_holds_the_tasks_grants_log_delivery_and_xray_only(
    workflow: Workflow, template: Template
) -> None:
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "states.amazonaws.com"}})]
            }
        },
    )
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"RoleArn": {"Fn::GetAtt": [_logical_id(workflow.role), "Arn"]}},
    )
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = [statement["Action"] for statement in statements]
    assert actions[0] == "sns:Publish"
    assert statements[0]["Resource"] != "*"
    unscoped = {
        action
        for statement in statements
        if statement["Resource"] == "*"
        for action in statement["Action"]
    }
    assert {action.split(":")[0] for action in unscoped} == {"logs", "xray"}
    assert "managedPolicyArns" not in json.dumps(policy).lower()


def test_alarms_on_failed_timed_out_and_throttled_executions(
    workflow: Workflow, template: Template
) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == len(workflow.alarms) == 3
    machine = _logical_id(workflow.state_machine)
    by_metric = {
        alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms.values()
    }
    assert set(by_metric) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"}
    for metric_name, alarm in by_metric.items():
        assert alarm["Namespace"] == "AWS/States", metric_name
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmDescription"].startswith("statements: ")
        assert ". First: " in alarm["AlarmDescription"]
        assert "AlarmActions" not in alarm
    assert "900 s timeout" in by_metric["ExecutionsTimedOut"]["AlarmDescription"]


def test_alarm_thresholds_are_overridable_by_name_and_alarms_notify_the_topic() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    workflow = _workflow(stack, alarm_topic=topic, alarm_thresholds={"ExecutionsFailed": 3})
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    thresholds = {
        a["Properties"]["MetricName"]: a["Properties"]["Threshold"] for a in alarms.values()
    }
    assert thresholds == {"ExecutionsFailed": 3, "ExecutionsTimedOut": 1, "ExecutionThrottled": 1}
    topic_ref = {"Ref": _logical_id(topic)}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic_ref]
        assert alarm["Properties"]["OKActions"] == [topic_ref]
    assert len(workflow.alarms) == 3


def test_alarms_off() -> None:
    workflow = _workflow(alarms=False)
    assert workflow.alarms == []
    Template.from_stack(Stack.of(workflow)).resource_count_is("AWS::CloudWatch::Alarm", 0)


def test_definition_body_state_machine_name_and_grant_start_execution() -> None:
    stack = _stack()
    workflow = Workflow(
        stack,
        "Flow",
        service_name="statements",
        definition=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Only")),
        timeout=Duration.hours(1),
        state_machine_name="statements-export",
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    workflow.grant_start_execution(caller)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineName": "statements-export"}
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": _logical_id(caller)}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "states:StartExecution",
                        "Effect": "Allow",
                        "Resource": {"Ref": _logical_id(workflow.state_machine)},
                    }
                ]
            },
        },
    )


def _definition_text(stack: Stack) -> str:
    [machine] = (
        Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine").values()
    )
    definition = machine["Properties"]["DefinitionString"]
    return definition if isinstance(definition, str) else json.dumps(definition)


def test_a_states_language_definition_gets_the_timeout(tmp_path: Path) -> None:
    language = {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}}
    stack = _stack()
    Workflow(
        stack,
        "FromString",
        service_name="statements",
        definition=sfn.DefinitionBody.from_string(json.dumps(language)),
        timeout=Duration.minutes(5),
    )
    assert json.loads(_definition_text(stack)) == {**language, "TimeoutSeconds": 300}
    path = tmp_path / "flow.asl.json"
    path.write_text(json.dumps({**language, "TimeoutSeconds": 60}), encoding="utf-8")
    stack = _stack()
    Workflow(
        stack,
        "FromFile",
        service_name="statements",
        definition=sfn.DefinitionBody.from_file(str(path)),
        timeout=Duration.minutes(1),
    )
    assert json.loads(_definition_text(stack))["TimeoutSeconds"] == 60
    with pytest.raises(ConstructArgumentError, match="sets TimeoutSeconds 60, but timeout is 120"):
        Workflow(
            _stack(),
            "Conflict",
            service_name="statements",
            definition=sfn.DefinitionBody.from_file(str(path)),
            timeout=Duration.minutes(2),
        )
    with pytest.raises(ConstructArgumentError, match="'definition' is Amazon States Language"):
        Workflow(
            _stack(),
            "NotJson",
            service_name="statements",
            definition=sfn.DefinitionBody.from_string("StartAt: Only"),
            timeout=Duration.minutes(2),
        )


def test_state_machine_props_override_with_a_warning() -> None:
    workflow = _workflow(state_machine_props={"tracing_enabled": False})
    stack = Stack.of(workflow)
    Template.from_stack(stack).has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"TracingConfiguration": {"Enabled": False}}
    )
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("'state_machine_props' overrides .*'tracing_enabled'")
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timeout": None}, "'timeout' is required"),
        ({"timeout": Duration.seconds(0)}, "'timeout' is 0 seconds; it must be more than 0"),
        ({"timeout": Duration.days(366)}, "'timeout' is 31622400 seconds"),
        ({"timeout": Duration.millis(1500)}, "'timeout' is 1.5 seconds; it must be a whole"),
        ({"definition": "Pass"}, "'definition' must be an aws_stepfunctions.IChainable"),
        ({"service_name": "Statements"}, "'service_name' is 'Statements'"),
        ({"log_retention": logs.RetentionDays.INFINITE}, "'log_retention' is INFINITE"),
        ({"removal_policy": RemovalPolicy.SNAPSHOT}, "'removal_policy' is"),
        ({"state_machine_name": "has space"}, "'state_machine_name' is 'has space'"),
        (
            {"alarm_thresholds": {"Failures": 2}},
            "'alarm_thresholds' has the unknown alarm name 'Failures'; the alarm names are "
            "'ExecutionThrottled', 'ExecutionsFailed', 'ExecutionsTimedOut'",
        ),
        (
            {"alarm_thresholds": {"ExecutionsFailed": 0}},
            r"'alarm_thresholds\['ExecutionsFailed'\]' is 0",
        ),
        ({"alarms": False, "alarm_thresholds": {"ExecutionsFailed": 2}}, "'alarm_thresholds'"),
        ({"state_machine_props": {"timeout": Duration.hours(1)}}, "sets 'timeout', which timeout"),
        ({"state_machine_props": {"role": None}}, "sets 'role'"),
    ],
)
def test_bad_arguments_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _workflow(**overrides)


def test_alarms_off_with_a_topic_is_rejected() -> None:
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match="'alarm_topic'"):
        _workflow(stack, alarms=False, alarm_topic=sns.Topic(stack, "Alarms"))


@pytest.mark.parametrize("env", [Environment(region="us-east-1"), None], ids=["region", "agnostic"])
def test_a_bare_stack_has_no_open_cdk_nag_finding(tmp_path: Path, env: Environment | None) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = Stack(app, "Test", env=env)
    _workflow(stack, alarm_topic=AlarmTopic(stack, "Alarms").topic)
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    suppressed = {
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin.get("suppressedViolations", [])
    }
    # Only the inherent Resource '*' of log delivery and X-Ray is acknowledged.
    assert suppressed == {"AwsSolutions-IAM5[Resource::*]"}
