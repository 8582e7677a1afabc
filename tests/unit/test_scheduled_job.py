"""ScheduledJob: schedule, retry and dead-letter defaults, role scoping for Lambda and
Fargate targets, alarms, validation errors, cdk-nag."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import (
    AlarmTopic,
    ConstructArgumentError,
    ManagedFunction,
    QueueWorker,
    ScheduledFargateTask,
    ScheduledJob,
)
from stacks.compliance import add_compliance_checks


def _stack(app: App | None = None, env: Environment | None = None) -> Stack:
    return Stack(app or new_app(), "Test", env=env or Environment(region="us-east-1"))


def _logical_id(construct: Any) -> str:
    child = getattr(construct.node, "default_child", None) or construct
    return str(Stack.of(construct).resolve(child.logical_id))


def _function(stack: Stack, code_dir: Path) -> lambda_.IFunction:
    # A library function (own log group, role...): QueueWorker's consumer is one.
    worker = QueueWorker(
        stack, "Report", service_name="statements", code=code_dir, handler="consumer.handler"
    )
    return worker.function


def _lambda_job(stack: Stack, code_dir: Path, **overrides: Any) -> ScheduledJob:
    kwargs: dict[str, Any] = {
        "service_name": "statements",
        "schedule": "cron(0 3 * * ? *)",
        "target": _function(stack, code_dir),
        "description": "reports dead-lettered messages",
        **overrides,
    }
    return ScheduledJob(stack, "Job", **kwargs)


def _fargate_task(stack: Stack, **overrides: Any) -> ScheduledFargateTask:
    vpc = three_tier_vpc(stack)
    cluster = ecs.Cluster(
        stack, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
    )
    definition = ecs.FargateTaskDefinition(stack, "CleanupTask")
    definition.add_container(
        "cleanup",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.14"),
        command=["python", "-m", "transfers_service.cleanup"],
        logging=ecs.LogDrivers.aws_logs(
            stream_prefix="cleanup",
            log_group=logs.LogGroup(stack, "CleanupLogs", retention=logs.RetentionDays.ONE_WEEK),
        ),
    )
    group = ec2.SecurityGroup(stack, "CleanupGroup", vpc=vpc)
    kwargs: dict[str, Any] = {
        "cluster": cluster,
        "task_definition": definition,
        "subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        "security_groups": [group],
        **overrides,
    }
    return ScheduledFargateTask(**kwargs)


@pytest.fixture(scope="module")
def lambda_job(code_dir: Path) -> ScheduledJob:
    return _lambda_job(_stack(), code_dir)


@pytest.fixture(scope="module")
def lambda_template(lambda_job: ScheduledJob) -> Template:
    return Template.from_stack(Stack.of(lambda_job))


@pytest.fixture(scope="module")
def fargate_job() -> ScheduledJob:
    stack = _stack()
    return ScheduledJob(
        stack,
        "Cleanup",
        service_name="transfers",
        schedule="cron(30 2 * * ? *)",
        target=_fargate_task(stack),
        description="removes expired idempotency keys and sent outbox rows",
    )


@pytest.fixture(scope="module")
def fargate_template(fargate_job: ScheduledJob) -> Template:
    return Template.from_stack(Stack.of(fargate_job))


def _schedule(template: Template) -> dict[str, Any]:
    [schedule] = template.find_resources("AWS::Scheduler::Schedule").values()
    return dict(schedule["Properties"])


def _role_statements(template: Template, job: ScheduledJob) -> list[dict[str, Any]]:
    role = {"Ref": _logical_id(job.role)}
    policies = [
        policy
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
    ]
    assert len(policies) == 1
    return list(policies[0]["Properties"]["PolicyDocument"]["Statement"])


# -- the schedule ---------------------------------------------------------------------------


def test_schedule_defaults(lambda_job: ScheduledJob, lambda_template: Template) -> None:
    schedule = _schedule(lambda_template)
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    assert schedule["Description"] == "statements: reports dead-lettered messages"
    group_name = Stack.of(lambda_job).resolve(lambda_job.schedule_group.schedule_group_name)
    assert schedule["GroupName"] == group_name
    [resource] = lambda_template.find_resources("AWS::Scheduler::Schedule").values()
    assert _logical_id(lambda_job.schedule_group) in resource["DependsOn"]
    target = schedule["Target"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [_logical_id(lambda_job.dead_letter_queue), "Arn"]}
    }
    assert target["RoleArn"] == {"Fn::GetAtt": [_logical_id(lambda_job.role), "Arn"]}


def test_each_job_has_its_own_schedule_group_deleted_with_the_stack(
    lambda_template: Template,
) -> None:
    groups = lambda_template.find_resources("AWS::Scheduler::ScheduleGroup")
    assert len(groups) == 1
    [group] = groups.values()
    assert group["DeletionPolicy"] == "Delete"


def test_dead_letter_queue_is_encrypted_tls_only_and_kept_14_days(
    lambda_job: ScheduledJob, lambda_template: Template
) -> None:
    queue = lambda_template.find_resources("AWS::SQS::Queue")[
        _logical_id(lambda_job.dead_letter_queue)
    ]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 1209600
    assert queue["DeletionPolicy"] == "Retain"
    lambda_template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": _logical_id(lambda_job.dead_letter_queue)}],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            },
        },
    )


def test_role_is_trusted_by_the_scheduler_for_this_group_only(
    lambda_job: ScheduledJob, lambda_template: Template
) -> None:
    role = lambda_template.find_resources("AWS::IAM::Role")[_logical_id(lambda_job.role)]
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # "Confused deputy prevention in EventBridge Scheduler": the source is a schedule group.
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnEquals": {
            "aws:SourceArn": {"Fn::GetAtt": [_logical_id(lambda_job.schedule_group), "Arn"]}
        },
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_lambda_target_role_may_invoke_the_function_and_dead_letter_only(
    lambda_job: ScheduledJob, lambda_template: Template
) -> None:
    assert lambda_job.function is not None
    assert lambda_job.task is None
    function_arn = {"Fn::GetAtt": [_logical_id(lambda_job.function), "Arn"]}
    schedule = _schedule(lambda_template)
    assert schedule["Target"]["Arn"] == function_arn
    assert schedule["Target"]["Input"] == "{}"
    assert _role_statements(lambda_template, lambda_job) == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": function_arn},
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_logical_id(lambda_job.dead_letter_queue), "Arn"]},
        },
    ]


def test_fargate_target_runs_the_task_in_private_subnets_without_public_ip(
    fargate_job: ScheduledJob, fargate_template: Template
) -> None:
    assert fargate_job.task is not None
    assert fargate_job.function is None
    target = _schedule(fargate_template)["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [_logical_id(fargate_job.task.cluster), "Arn"]}
    assert "Input" not in target
    parameters = target["EcsParameters"]
    assert parameters["LaunchType"] == "FARGATE"
    assert parameters["TaskCount"] == 1
    assert parameters["TaskDefinitionArn"] == {"Ref": _logical_id(fargate_job.task.task_definition)}
    network = parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    subnets = fargate_template.find_resources("AWS::EC2::Subnet")
    assert {subnets[s["Ref"]]["Properties"]["Tags"][0]["Value"] for s in network["Subnets"]} == {
        "private"
    }
    assert network["SecurityGroups"] == [
        {"Fn::GetAtt": [_logical_id(fargate_job.task.security_groups[0]), "GroupId"]}
    ]


def test_fargate_target_role_is_scoped_to_the_task(
    fargate_job: ScheduledJob, fargate_template: Template
) -> None:
    assert fargate_job.task is not None
    definition = fargate_job.task.task_definition
    assert definition.execution_role is not None
    statements = _role_statements(fargate_template, fargate_job)
    assert statements == [
        {
            "Action": "ecs:RunTask",
            "Effect": "Allow",
            "Resource": {"Ref": _logical_id(definition)},
            "Condition": {
                "ArnEquals": {
                    "ecs:cluster": {"Fn::GetAtt": [_logical_id(fargate_job.task.cluster), "Arn"]}
                }
            },
        },
        {
            "Action": "iam:PassRole",
            "Effect": "Allow",
            "Resource": [
                {"Fn::GetAtt": [_logical_id(definition.task_role), "Arn"]},
                {"Fn::GetAtt": [_logical_id(definition.execution_role), "Arn"]},
            ],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_logical_id(fargate_job.dead_letter_queue), "Arn"]},
        },
    ]


def test_options_reach_the_schedule(code_dir: Path) -> None:
    stack = _stack()
    _lambda_job(
        stack,
        code_dir,
        schedule="cron(0 2 * * ? *)",
        time_zone=TimeZone.EUROPE_BERLIN,
        input={"dry_run": False},
        retry_attempts=0,
        max_event_age=Duration.minutes(5),
        flexible_time_window=Duration.minutes(30),
        enabled=False,
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = Template.from_stack(stack)
    schedule = _schedule(template)
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 30}
    assert schedule["State"] == "DISABLED"
    assert schedule["Target"]["Input"] == '{"dry_run":false}'
    assert schedule["Target"]["RetryPolicy"] == {
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 300,
    }
    queues = template.find_resources("AWS::SQS::Queue")
    job_queue = next(q for key, q in queues.items() if key.startswith("JobDeadLetterQueue"))
    assert job_queue["DeletionPolicy"] == "Delete"


def test_schedule_expression_objects_and_rate_and_at_strings(code_dir: Path) -> None:
    stack = _stack()
    function = _function(stack, code_dir)
    common: dict[str, Any] = {"service_name": "statements", "target": function, "description": "x"}
    ScheduledJob(stack, "Rate", schedule="rate(6 hours)", **common)
    ScheduledJob(stack, "At", schedule="at(2027-01-01T00:00:00)", **common)
    ScheduledJob(
        stack,
        "Cron",
        schedule=scheduler.ScheduleExpression.cron(
            hour="4", minute="0", time_zone=TimeZone.EUROPE_LONDON
        ),
        **common,
    )
    ScheduledJob(
        stack,
        "Once",
        schedule=scheduler.ScheduleExpression.at(datetime(2027, 6, 1, tzinfo=UTC)),
        **common,
    )
    expressions = {
        s["Properties"]["ScheduleExpression"]
        for s in Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule").values()
    }
    assert expressions == {
        "rate(6 hours)",
        "at(2027-01-01T00:00:00)",
        "cron(0 4 * * ? *)",
        "at(2027-06-01T00:00:00)",
    }


# -- alarms -----------------------------------------------------------------------------------


def test_lambda_job_alarms(lambda_job: ScheduledJob, lambda_template: Template) -> None:
    alarms = {
        key: alarm["Properties"]
        for key, alarm in lambda_template.find_resources("AWS::CloudWatch::Alarm").items()
        if key.startswith("Job")
    }
    assert len(alarms) == len(lambda_job.alarms) == 5
    by_metric = {alarm["MetricName"]: alarm for alarm in alarms.values()}
    group_name = Stack.of(lambda_job).resolve(lambda_job.schedule_group.schedule_group_name)
    group = [{"Name": "ScheduleGroup", "Value": group_name}]
    for metric_name in (
        "TargetErrorCount",
        "InvocationDroppedCount",
        "InvocationsFailedToBeSentToDeadLetterCount",
    ):
        alarm = by_metric[metric_name]
        assert alarm["Namespace"] == "AWS/Scheduler"
        assert alarm["Dimensions"] == group
        assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    dead_letter = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dead_letter["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": [_logical_id(lambda_job.dead_letter_queue), "QueueName"]},
        }
    ]
    assert (dead_letter["Statistic"], dead_letter["Period"]) == ("Maximum", 60)
    errors = by_metric["Errors"]
    assert errors["Namespace"] == "AWS/Lambda"
    assert lambda_job.function is not None
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": _logical_id(lambda_job.function)}}
    ]
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmDescription"].startswith("statements: ")
        assert ". First: " in alarm["AlarmDescription"]


def _alias_job(stack: Stack, code_dir: Path, **overrides: Any) -> tuple[ScheduledJob, Any]:
    managed = ManagedFunction(
        stack,
        "ReportFunction",
        service_name="statements",
        code=code_dir,
        handler="consumer.handler",
        description="reports dead-lettered messages",
    )
    return _lambda_job(stack, code_dir, target=managed.alias, **overrides), managed


def test_an_alias_target_is_invoked_by_its_arn_and_alarmed_by_its_function(
    code_dir: Path,
) -> None:
    stack = _stack()
    job, managed = _alias_job(stack, code_dir)
    template = Template.from_stack(stack)
    # Ref of an AWS::Lambda::Alias is the alias's ARN (function:name:live): the scheduler
    # invokes the version CodeDeploy deployed, and the role may invoke that ARN only.
    alias_arn = {"Ref": _logical_id(managed.alias)}
    assert job.function is managed.alias
    assert _schedule(template)["Target"]["Arn"] == alias_arn
    assert _role_statements(template, job) == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": alias_arn},
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [_logical_id(job.dead_letter_queue), "Arn"]},
        },
    ]
    [errors] = [
        alarm["Properties"]
        for key, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if key.startswith("Job") and alarm["Properties"]["MetricName"] == "Errors"
    ]
    # The function's metric (FunctionName only), not the alias's (FunctionName + Resource).
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": _logical_id(managed.function)}}
    ]


def test_a_version_target_is_alarmed_by_its_function(code_dir: Path) -> None:
    stack = _stack()
    function = lambda_.Function(
        stack,
        "Plain",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="consumer.handler",
        code=lambda_.Code.from_asset(str(code_dir)),
    )
    job = ScheduledJob(
        stack,
        "Job",
        service_name="statements",
        schedule="cron(0 3 * * ? *)",
        target=function.current_version,
        description="reports dead-lettered messages",
    )
    template = Template.from_stack(stack)
    [version_id] = template.find_resources("AWS::Lambda::Version")
    assert _schedule(template)["Target"]["Arn"] == {"Ref": version_id}
    [errors] = [
        alarm["Properties"]
        for key, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if key.startswith("Job") and alarm["Properties"]["MetricName"] == "Errors"
    ]
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": _logical_id(function)}}
    ]
    assert len(job.alarms) == 5


def test_function_errors_alarm_off_leaves_it_to_the_function(code_dir: Path) -> None:
    stack = _stack()
    job, managed = _alias_job(stack, code_dir, function_errors_alarm=False)
    template = Template.from_stack(stack)
    metrics = {
        alarm["Properties"]["MetricName"]
        for key, alarm in template.find_resources("AWS::CloudWatch::Alarm").items()
        if key.startswith("Job")
    }
    assert "Errors" not in metrics
    assert len(job.alarms) == 4
    # One alarm on the function's errors in all: the ManagedFunction's, which gates it.
    assert [alarm.node.id for alarm in managed.alarms] == ["ErrorsAlarm"]


def test_fargate_job_has_no_function_alarm(
    fargate_job: ScheduledJob, fargate_template: Template
) -> None:
    metrics = {
        alarm["Properties"]["MetricName"]
        for alarm in fargate_template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert metrics == {
        "ApproximateNumberOfMessagesVisible",
        "TargetErrorCount",
        "InvocationDroppedCount",
        "InvocationsFailedToBeSentToDeadLetterCount",
    }
    assert len(fargate_job.alarms) == 4


def test_thresholds_by_name_and_alarm_topic(code_dir: Path) -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    job = _lambda_job(
        stack, code_dir, alarm_topic=topic, alarm_thresholds={"TargetErrors": 3, "DeadLetter": 2}
    )
    alarms = [
        alarm["Properties"]
        for key, alarm in Template.from_stack(stack)
        .find_resources("AWS::CloudWatch::Alarm")
        .items()
        if key.startswith("Job")
    ]
    thresholds = {alarm["MetricName"]: alarm["Threshold"] for alarm in alarms}
    assert thresholds["TargetErrorCount"] == 3
    assert thresholds["ApproximateNumberOfMessagesVisible"] == 2
    assert thresholds["Errors"] == 1
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": _logical_id(topic)}]
        assert alarm["OKActions"] == [{"Ref": _logical_id(topic)}]
    assert len(job.alarms) == 5


def test_alarms_off(code_dir: Path) -> None:
    stack = _stack()
    job = _lambda_job(stack, code_dir, alarms=False)
    assert job.alarms == []
    keys = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    assert not [key for key in keys if key.startswith("Job")]


# -- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"schedule": "0 3 * * *"}, "'schedule' is '0 3 \\* \\* \\*'; it must be 'cron\\("),
        ({"schedule": "cron(0 3 * * ?)"}, "'schedule' is 'cron\\(0 3 \\* \\* \\?\\)'"),
        ({"schedule": "rate(0 minutes)"}, "a rate must be at least 1"),
        ({"schedule": "rate(5 weeks)"}, "'schedule' is 'rate\\(5 weeks\\)'"),
        ({"schedule": "at(2027-02-30T00:00:00)"}, "which is not a valid date"),
        ({"schedule": 5}, "'schedule' must be a string"),
        (
            {"schedule": scheduler.ScheduleExpression.expression("every day")},
            "'schedule' is 'every day'",
        ),
        (
            {
                "schedule": scheduler.ScheduleExpression.rate(Duration.hours(1)),
                "time_zone": TimeZone.EUROPE_BERLIN,
            },
            "'time_zone' is given with a ScheduleExpression",
        ),
        (
            {"schedule": "rate(1 hour)", "time_zone": TimeZone.EUROPE_BERLIN},
            "'time_zone' is given with a rate schedule",
        ),
        ({"target": "my-function"}, "'target' must be an aws_lambda.IFunction or a Scheduled"),
        ({"description": " "}, "'description' must say what the job does"),
        ({"retry_attempts": 1.5}, "'retry_attempts' must be a whole number, got 1.5"),
        ({"retry_attempts": 186}, "'retry_attempts' is 186; allowed range is 0..185"),
        ({"max_event_age": Duration.seconds(30)}, "'max_event_age' is 30 seconds"),
        ({"max_event_age": Duration.hours(25)}, "'max_event_age' is 90000 seconds"),
        ({"flexible_time_window": Duration.seconds(90)}, "whole number of minutes"),
        ({"flexible_time_window": Duration.hours(25)}, "'flexible_time_window' is 90000"),
        (
            {"alarm_thresholds": {"Errors": 2}},
            "'alarm_thresholds' has the unknown alarm name 'Errors'; the alarm names are "
            "'DeadLetter', 'DeadLetterFailed', 'Dropped', 'FunctionErrors', 'TargetErrors'",
        ),
        ({"alarm_thresholds": {"DeadLetter": -1}}, "is -1; a threshold must be a positive number"),
        ({"alarms": False, "alarm_thresholds": {"DeadLetter": 2}}, "'alarm_thresholds'"),
        ({"service_name": "x"}, "'service_name' is 'x'"),
        ({"function_errors_alarm": "no"}, "'function_errors_alarm' must be True or False"),
        (
            {"function_errors_alarm": False, "alarm_thresholds": {"FunctionErrors": 2}},
            "'alarm_thresholds' names 'FunctionErrors', which function_errors_alarm=False",
        ),
    ],
)
def test_bad_arguments_are_rejected(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _lambda_job(_stack(), code_dir, **overrides)


@pytest.mark.parametrize(
    ("task_overrides", "job_overrides", "message"),
    [
        (
            {"subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)},
            {},
            "'target.subnets' selects public subnets",
        ),
        ({"security_groups": []}, {}, "'target.security_groups' must list at least one"),
        ({}, {"input": {"a": "b"}}, "'input' is for a Lambda target"),
        ({}, {"alarm_thresholds": {"FunctionErrors": 2}}, "names 'FunctionErrors'"),
        ({}, {"function_errors_alarm": False}, "'function_errors_alarm' is for a Lambda target"),
    ],
)
def test_bad_fargate_arguments_are_rejected(
    task_overrides: dict[str, Any], job_overrides: dict[str, Any], message: str
) -> None:
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match=message):
        ScheduledJob(
            stack,
            "Cleanup",
            service_name="transfers",
            schedule="cron(30 2 * * ? *)",
            target=_fargate_task(stack, **task_overrides),
            description="cleanup",
            **job_overrides,
        )


# -- cdk-nag -----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", [Environment(region="us-east-1"), None], ids=["region", "agnostic"])
def test_a_bare_stack_has_no_open_cdk_nag_finding(
    code_dir: Path, tmp_path: Path, env: Environment | None
) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = Stack(app, "Test", env=env)
    topic = AlarmTopic(stack, "Alarms").topic
    _lambda_job(stack, code_dir, alarm_topic=topic)
    ScheduledJob(
        stack,
        "Cleanup",
        service_name="transfers",
        schedule="cron(30 2 * * ? *)",
        target=_fargate_task(stack),
        description="cleanup",
        alarm_topic=topic,
    )
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    suppressed = {
        (violation["ruleName"], resource["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("suppressedViolations", [])
        for resource in violation["violatingConstructs"]
    }
    job_findings = {
        (rule, path) for rule, path in suppressed if path.startswith(("Test/Job/", "Test/Cleanup/"))
    }
    # The jobs acknowledge only that their dead-letter queues have no dead-letter queue.
    assert job_findings == {
        (rule, f"Test/{job}/DeadLetterQueue/Resource")
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy")
        for job in ("Job", "Cleanup")
    }
