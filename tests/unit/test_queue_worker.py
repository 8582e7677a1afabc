"""QueueWorker: documented defaults, the escape hatches, validation errors, cdk-nag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template
from unit_app import new_app

from cdk_microservices import ConstructArgumentError, QueueWorker
from stacks.compliance import add_compliance_checks


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _worker(code_dir: Path, stack: Stack | None = None, **overrides: Any) -> QueueWorker:
    kwargs: dict[str, Any] = {
        "service_name": "statements",
        "code": code_dir,
        "handler": "consumer.handler",
        **overrides,
    }
    return QueueWorker(stack or _stack(), "Worker", **kwargs)


@pytest.fixture(scope="module")
def default_template(code_dir: Path) -> Template:
    return Template.from_stack(Stack.of(_worker(code_dir)))


def test_queues_default_to_encrypted_tls_only_with_redrive(default_template: Template) -> None:
    default_template.resource_count_is("AWS::SQS::Queue", 2)
    default_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": 180,  # 6 x 30 s
            "MessageRetentionPeriod": 345600,  # 4 days
            "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
        },
    )
    default_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "SqsManagedSseEnabled": True,
            "MessageRetentionPeriod": 1209600,
            "RedrivePolicy": Match.absent(),
        },
    )
    policies = default_template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    for policy in policies.values():
        [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_consumer_reports_partial_batch_failures(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    default_template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Timeout": 30, "MemorySize": 256, "Runtime": "python3.14", "Handler": "consumer.handler"},
    )
    default_template.resource_count_is("AWS::CloudWatch::Alarm", 3)


def test_visibility_follows_timeout_and_batching_window(code_dir: Path) -> None:
    worker = _worker(
        code_dir,
        timeout=Duration.seconds(60),
        batch_size=100,
        max_batching_window=Duration.seconds(20),
        max_concurrency=5,
    )
    template = Template.from_stack(Stack.of(worker))
    template.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 380})
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 20,
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_existing_queue_and_alarm_topic(code_dir: Path) -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Existing", enforce_ssl=True)
    topic = sns.Topic(stack, "Alarms")
    worker = _worker(code_dir, stack, existing_queue=queue, alarm_topic=topic)
    assert worker.queue is queue
    assert worker.dead_letter_queue is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 1)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2  # no dead-letter queue of ours to watch
    for alarm in alarms.values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1


def test_no_open_cdk_nag_findings_in_a_bare_stack(code_dir: Path, tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _worker(code_dir, _stack(app))
    app.synth()  # raises on any unacknowledged finding


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"visibility_timeout": Duration.seconds(60)},
            "'visibility_timeout' is 60 seconds; it must be at least 180",
        ),
        ({"max_receive_count": 0}, "'max_receive_count' is 0"),
        (
            {
                "retention_period": Duration.days(14),
                "dead_letter_retention_period": Duration.days(7),
            },
            "'dead_letter_retention_period' is 604800 seconds, not longer than retention_period",
        ),
        ({"batch_size": 50}, "'batch_size' is 50; above 10 SQS needs a max_batching_window"),
        ({"max_concurrency": 1}, "'max_concurrency' is 1"),
        ({"timeout": Duration.minutes(16)}, "'timeout' is 960 seconds"),
        ({"timeout": Duration.millis(1500)}, "'timeout' is 1.5 seconds; it must be a whole"),
        (
            {"visibility_timeout": Duration.millis(200500)},
            "'visibility_timeout' is 200.5 seconds; it must be a whole",
        ),
        ({"handler": "consumer"}, "'handler' is 'consumer'"),
        ({"service_name": "Statements"}, "'service_name' is 'Statements'"),
        ({"alarms": False, "max_message_age": Duration.minutes(5)}, "'alarms' was given together"),
        (
            {"queue_props": {"nope": 1}},
            r"'queue_props' has unknown key\(s\) 'nope'",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _worker(code_dir, **overrides)


def test_existing_queue_conflicts_with_queue_arguments(code_dir: Path) -> None:
    stack = _stack()
    queue = sqs.Queue(stack, "Existing")
    with pytest.raises(ConstructArgumentError, match=r"'existing_queue'.*'max_receive_count'"):
        _worker(code_dir, stack, existing_queue=queue, max_receive_count=3)


def test_layers_come_after_powertools_and_bad_ones_are_rejected(code_dir: Path) -> None:
    stack = _stack()
    shared = lambda_.LayerVersion(stack, "Shared", code=lambda_.Code.from_asset(str(code_dir)))
    _worker(code_dir, stack, layers=[shared])
    [function] = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    powertools, own = function["Properties"]["Layers"]
    assert "AWSLambdaPowertoolsPythonV3" in str(powertools)
    assert own["Ref"].startswith("Shared")
    with pytest.raises(ConstructArgumentError, match="'layers' must be a list"):
        _worker(code_dir, _stack(), layers=shared)
    with pytest.raises(ConstructArgumentError, match=r"'layers\[0\]' must be an aws_lambda"):
        _worker(code_dir, _stack(), layers=["arn:aws:lambda:us-east-1:1:layer:x:1"])
