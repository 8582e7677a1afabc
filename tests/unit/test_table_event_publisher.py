"""TableEventPublisher: stream source defaults, least privilege, alarms, validation, cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from unit_app import new_app

from cdk_microservices import (
    ConstructArgumentError,
    EventBus,
    EventContract,
    ServiceTable,
    TableEventPublisher,
)
from stacks.compliance import add_compliance_checks

OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})
ACCOUNT_INSERTS = {"eventName": lambda_.FilterRule.is_equal("INSERT")}


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _publisher(code_dir: Path, stack: Stack | None = None, **overrides: Any) -> TableEventPublisher:
    stack = stack or _stack()
    kwargs: dict[str, Any] = {
        "service_name": "accounts",
        # Their own alarms are theirs: only the publisher's are counted here.
        "table": ServiceTable(stack, "Table", stream="NEW_IMAGE", alarms=False),
        "bus": EventBus(stack, "Bus", domain="accounts", contracts=[OPENED], alarms=False),
        "event_types": ["AccountOpened"],
        "code": code_dir,
        "handler": "create.handler",
        **overrides,
    }
    return TableEventPublisher(stack, "Publisher", **kwargs)


@pytest.fixture(scope="module")
def default_template(code_dir: Path) -> Template:
    return Template.from_stack(Stack.of(_publisher(code_dir, filters=[ACCOUNT_INSERTS])))


def test_stream_source_retries_in_order_then_hands_over_to_the_failure_queue(
    default_template: Template,
) -> None:
    default_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^Table"), "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 10,
            "ParallelizationFactor": 1,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRecordAgeInSeconds": 21600,
            "MaximumRetryAttempts": Match.absent(),
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [Match.string_like_regexp("FailureQueue"), "Arn"]}
                }
            },
            "FilterCriteria": {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]},
        },
    )
    default_template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    )


def test_function_knows_the_topic_and_may_only_read_the_stream_and_publish(
    default_template: Template,
) -> None:
    [function] = default_template.find_resources("AWS::Lambda::Function").values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_TOPIC_ARN"]["Ref"].startswith("BusTopic")
    assert variables["POWERTOOLS_SERVICE_NAME"] == "accounts"
    actions = {
        action
        for policy in default_template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert {a for a in actions if a.startswith(("dynamodb:", "sns:", "kms:"))} == {
        "dynamodb:ListStreams",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }


def test_alarms_on_iterator_age_failure_queue_and_errors(code_dir: Path) -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    _publisher(code_dir, stack, alarm_topic=topic, max_iterator_age=Duration.seconds(90))
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    by_metric = {
        alarm["Properties"]["MetricName"]: alarm["Properties"] for alarm in alarms.values()
    }
    assert by_metric["IteratorAge"]["Threshold"] == 90_000  # milliseconds
    assert by_metric["ApproximateNumberOfMessagesVisible"]["Threshold"] == 1
    assert by_metric["Errors"]["Threshold"] == 1
    for alarm in by_metric.values():
        [action] = alarm["AlarmActions"]
        assert action["Ref"].startswith("Alarms")


def test_alarms_can_be_turned_off_and_layers_follow_powertools(code_dir: Path) -> None:
    stack = _stack()
    layer = lambda_.LayerVersion(stack, "Shared", code=lambda_.Code.from_asset(str(code_dir)))
    _publisher(code_dir, stack, alarms=False, layers=[layer], retry_attempts=3)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {"MaximumRetryAttempts": 3})
    [function] = template.find_resources("AWS::Lambda::Function").values()
    powertools, shared = function["Properties"]["Layers"]
    assert "AWSLambdaPowertoolsPythonV3" in json.dumps(powertools)
    assert shared["Ref"].startswith("Shared")


def test_no_open_cdk_nag_findings_in_a_bare_stack(code_dir: Path, tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _publisher(code_dir, _stack(app))
    app.synth()  # raises on any unacknowledged finding


def _table_without_stream(stack: Stack) -> ServiceTable:
    return ServiceTable(stack, "Plain")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"event_types": ["TransferCompleted"]}, "'TransferCompleted', which the 'accounts' bus"),
        ({"event_types": []}, "'event_types' must be a non-empty list"),
        ({"event_types": "AccountOpened"}, "'event_types' must be a non-empty list"),
        ({"table": _table_without_stream}, "'table' has no stream"),
        ({"table": "accounts-table"}, "'table' must be a ServiceTable or an aws_dynamodb.I?Table"),
        ({"bus": "accounts"}, "'bus' must be an EventBus, got str"),
        ({"handler": "publish"}, "'handler' is 'publish'"),
        ({"service_name": "Accounts"}, "'service_name' is 'Accounts'"),
        ({"parallelization_factor": 11}, "'parallelization_factor' is 11"),
        ({"retry_attempts": -1}, "'retry_attempts' is -1"),
        ({"max_record_age": Duration.seconds(30)}, "'max_record_age' is 30"),
        ({"filters": {"eventName": ["INSERT"]}}, "'filters' must be a list of filter patterns"),
        ({"filters": [{}]}, r"'filters\[0\]' must be a non-empty dict"),
        ({"layers": ["arn:aws:lambda:layer"]}, r"'layers\[0\]' must be an aws_lambda"),
        ({"alarms": False, "max_iterator_age": Duration.minutes(5)}, "'alarms' was given together"),
        (
            {"failure_queue_props": {"nope": 1}},
            r"'failure_queue_props' has unknown key\(s\) 'nope'",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    stack = _stack()
    if callable(overrides.get("table")):
        overrides = {**overrides, "table": overrides["table"](stack)}
    with pytest.raises(ConstructArgumentError, match=message):
        _publisher(code_dir, stack, **overrides)


def test_a_plain_table_with_a_stream_is_accepted(code_dir: Path) -> None:
    stack = _stack()
    table = dynamodb.Table(
        stack,
        "Raw",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    )
    publisher = _publisher(code_dir, stack, table=table)
    assert publisher.event_types == ["AccountOpened"]
    Template.from_stack(stack).resource_count_is("AWS::Lambda::EventSourceMapping", 1)
