"""The reference app's nightly jobs and its statement export workflow, in both environments.

- statements: the ``StatementExport`` workflow (logs, tracing, what it invokes and where it
  publishes ``StatementExported``), the exports bucket and the export function's grants;
- every service: a nightly dead-letter report over exactly its own dead-letter queues;
- transfers: the nightly ledger cleanup task and its alarms;
- every schedule: a dead-letter queue and a retry policy; every alarm: an evaluation range
  CloudWatch accepts.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from deploy_rules import Resource, Templates, name_parts, render, resolve, resources, statements

from stacks.config import DEV, PROD, ConfigurationError, EnvironmentProfile
from stacks.operations import CLEANUP_COMMAND, CLEANUP_OVERDUE_HOURS
from stacks.statement_export import EXPORT_PREFIX
from stacks.transfers_stack import CONTAINER_USER

PROFILES = [DEV, PROD]
SERVICES = ["Accounts", "Statements", "Transfers"]
RETENTION_DAYS = {"dev": 7, "prod": 365}


def _stack(profile: EnvironmentProfile, name: str) -> str:
    return f"{profile.stage_id}/{name}"


def _only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def _in_stack(templates: Templates, stack: str, resource_type: str) -> list[Resource]:
    return list(resources({stack: templates[stack]}, resource_type))


def _role_statements(templates: Templates, stack: str, role: Any) -> list[dict[str, Any]]:
    """The statements of every policy attached to the role ``role`` refers to."""
    role_id = _only([r for r in resolve(templates, stack, role) if r.type == "AWS::IAM::Role"])
    return [
        statement
        for policy in _in_stack(templates, stack, "AWS::IAM::Policy")
        if {"Ref": role_id.logical_id} in policy.properties["Roles"]
        for statement in statements(policy.properties["PolicyDocument"])
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _resource_list(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _function(templates: Templates, stack: str, handler: str) -> Resource:
    return _only(
        [
            function
            for function in _in_stack(templates, stack, "AWS::Lambda::Function")
            if function.properties.get("Handler") == handler
        ]
    )


def _log_group_of(templates: Templates, stack: str, value: Any) -> Resource:
    return _only([r for r in resolve(templates, stack, value) if r.type == "AWS::Logs::LogGroup"])


def _targets(templates: Templates, stack: str, value: Any, resource_type: str) -> set[str]:
    return {r.logical_id for r in resolve(templates, stack, value) if r.type == resource_type}


# -- the statement export workflow ---------------------------------------------------------


def _export_state_machine(templates: Templates, profile: EnvironmentProfile) -> Resource:
    return _only(
        _in_stack(templates, _stack(profile, "Statements"), "AWS::StepFunctions::StateMachine")
    )


def _definition(templates: Templates, stack: str, machine: Resource) -> dict[str, Any]:
    """The state machine's definition, references shown as ``<Type.Attribute>``."""
    definition = json.loads(render(templates, stack, machine.properties["DefinitionString"]))
    assert isinstance(definition, dict)
    return definition


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_export_workflow_logs_everything_to_a_vended_log_group_and_traces(profile, synthesized_app):
    stack = _stack(profile, "Statements")
    machine = _export_state_machine(synthesized_app, profile)
    properties = machine.properties
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    destination = _only(logging["Destinations"])["CloudWatchLogsLogGroup"]["LogGroupArn"]
    group = _log_group_of(synthesized_app, stack, destination)
    # Step Functions' log delivery keeps the account's CloudWatch Logs resource policy small
    # only for groups under /aws/vendedlogs/ (Step Functions Developer Guide, bp-cwl).
    assert name_parts(group.properties["LogGroupName"])[0].startswith("/aws/vendedlogs/states/")
    assert group.properties["RetentionInDays"] == RETENTION_DAYS[profile.name]
    definition = _definition(synthesized_app, stack, machine)
    assert definition["TimeoutSeconds"] == 900


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_export_workflow_publishes_statement_exported_to_the_statements_bus(
    profile, synthesized_app
):
    stack = _stack(profile, "Statements")
    machine = _export_state_machine(synthesized_app, profile)
    topics = [
        r
        for r in resolve(synthesized_app, stack, machine.properties["DefinitionString"])
        if r.type == "AWS::SNS::Topic"
    ]
    topic = _only(topics)
    assert topic.stack == _stack(profile, "Platform")
    assert topic.logical_id.startswith("StatementEventsTopic")

    states = _definition(synthesized_app, stack, machine)["States"]
    publish = _only([s for s in states.values() if s.get("Resource", "").endswith(":sns:publish")])
    parameters = publish["Parameters"]
    assert parameters["TopicArn"] == "<AWS::SNS::Topic>"
    assert parameters["Message.$"] == "$.export.message"
    # As payments_shared.events.publish and the transfers outbox set them: subscriptions
    # filter on event_type.
    assert parameters["MessageAttributes"] == {
        "event_type": {"DataType": "String", "StringValue": "StatementExported"},
        "event_version": {"DataType": "Number", "StringValue": "1"},
    }
    assert states[publish["Next"]]["Type"] == "Succeed"

    # The workflow's role may publish to that topic and use its key, nothing wider.
    role_statements = _role_statements(synthesized_app, stack, machine.properties["RoleArn"])
    publish_grant = _only([s for s in role_statements if "sns:Publish" in _actions(s)])
    assert _targets(synthesized_app, stack, publish_grant["Resource"], "AWS::SNS::Topic") == {
        topic.logical_id
    }
    key_grant = _only([s for s in role_statements if "kms:GenerateDataKey" in _actions(s)])
    [key] = resolve(synthesized_app, stack, key_grant["Resource"])
    assert key.type == "AWS::KMS::Key"
    assert {"Fn::GetAtt": [key.logical_id, "Arn"]} == topic.properties["KmsMasterKeyId"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_export_workflow_invokes_the_export_alias_and_fails_fast_on_named_errors(
    profile, synthesized_app
):
    stack = _stack(profile, "Statements")
    machine = _export_state_machine(synthesized_app, profile)
    states = _definition(synthesized_app, stack, machine)["States"]
    invoke = _only([s for s in states.values() if s.get("Resource") == "<AWS::Lambda::Alias>"])
    assert invoke["ResultPath"] == "$.export"
    catches = {tuple(c["ErrorEquals"]): states[c["Next"]] for c in invoke["Catch"]}
    for error in ("InvalidExportRequest", "StatementNotFound"):
        assert catches[(error,)]["Type"] == "Fail"
        assert catches[(error,)]["Error"] == error
    # Retriers apply in order: the named errors are never retried; the catch-all comes last.
    retries = [r["ErrorEquals"] for r in invoke["Retry"]]
    named = retries.index(["InvalidExportRequest", "StatementNotFound"])
    assert invoke["Retry"][named]["MaxAttempts"] == 0
    assert retries[-1] == ["States.ALL"]
    assert named < len(retries) - 1
    assert invoke["Retry"][-1]["MaxAttempts"] >= 1

    # The alias is the export function's; the role may invoke that alias only.
    aliases = [
        r
        for r in resolve(synthesized_app, stack, machine.properties["DefinitionString"])
        if r.type == "AWS::Lambda::Alias"
    ]
    alias = _only(aliases)
    [function] = resolve(synthesized_app, stack, alias.properties["FunctionName"])
    assert function.properties["Handler"] == "export_statement.handler"
    role_statements = _role_statements(synthesized_app, stack, machine.properties["RoleArn"])
    invoke_grant = _only([s for s in role_statements if "lambda:InvokeFunction" in _actions(s)])
    assert _resource_list(invoke_grant) == [{"Ref": alias.logical_id}]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_export_function_writes_only_under_statements_of_the_encrypted_exports_bucket(
    profile, synthesized_app
):
    stack = _stack(profile, "Statements")
    template = synthesized_app[stack]
    function = _function(synthesized_app, stack, "export_statement.handler")
    variables = function.properties["Environment"]["Variables"]
    [bucket] = resolve(synthesized_app, stack, variables["EXPORT_BUCKET_NAME"])
    assert bucket.type == "AWS::S3::Bucket"
    [table] = resolve(synthesized_app, stack, variables["TABLE_NAME"])
    assert table.type == "AWS::DynamoDB::Table"

    role_statements = _role_statements(synthesized_app, stack, function.properties["Role"])
    bucket_arn = {"Fn::GetAtt": [bucket.logical_id, "Arn"]}
    objects = {"Fn::Join": ["", [bucket_arn, f"/{EXPORT_PREFIX}*"]]}
    s3_grants = {
        action: _resource_list(s)
        for s in role_statements
        for action in _actions(s)
        if action.startswith("s3:")
    }
    assert s3_grants == {
        "s3:PutObject": [objects],
        "s3:GetObject": [objects],
        # HeadObject of a missing key answers 404 only to a caller allowed ListBucket.
        "s3:ListBucket": [bucket_arn],
    }
    table_actions = {a for s in role_statements for a in _actions(s) if a.startswith("dynamodb:")}
    assert table_actions == {"dynamodb:GetItem", "dynamodb:Query"}

    properties = bucket.properties
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    default = rule["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    [key] = resolve(synthesized_app, stack, default["KMSMasterKeyID"])
    assert key.type == "AWS::KMS::Key"
    assert key.properties["EnableKeyRotation"] is True
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [log_bucket] = resolve(
        synthesized_app, stack, properties["LoggingConfiguration"]["DestinationBucketName"]
    )
    assert log_bucket.type == "AWS::S3::Bucket"
    [lifecycle] = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 30
    assert "ExpirationInDays" not in lifecycle  # the current statements are kept
    expected_policy = "Delete" if profile is DEV else "Retain"
    assert template["Resources"][bucket.logical_id]["DeletionPolicy"] == expected_policy
    policy = _only(
        [
            p
            for p in _in_stack(synthesized_app, stack, "AWS::S3::BucketPolicy")
            if p.properties["Bucket"] == {"Ref": bucket.logical_id}
        ]
    )
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements(policy.properties["PolicyDocument"])
    )


# -- nightly dead-letter reports -----------------------------------------------------------


def _dead_letter_queues(templates: Templates, stack: str) -> dict[str, Resource]:
    """Every queue of ``stack`` that something dead-letters into, by logical id."""
    found: dict[str, Resource] = {}

    def add(value: Any) -> None:
        for queue in resolve(templates, stack, value):
            if queue.type == "AWS::SQS::Queue":
                found[queue.logical_id] = queue

    template = {stack: templates[stack]}
    for queue in resources(template, "AWS::SQS::Queue"):
        add(queue.properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
    for subscription in resources(template, "AWS::SNS::Subscription"):
        policy = subscription.properties.get("RedrivePolicy", {})
        add(policy.get("deadLetterTargetArn"))
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping"):
        on_failure = mapping.properties.get("DestinationConfig", {}).get("OnFailure", {})
        add(on_failure.get("Destination"))
    for schedule in resources(template, "AWS::Scheduler::Schedule"):
        add(schedule.properties["Target"].get("DeadLetterConfig"))
    for function in resources(template, "AWS::Lambda::Function"):
        add(function.properties.get("DeadLetterConfig"))
    return found


def _report_schedule(templates: Templates, stack: str, function: Resource) -> Resource:
    """The schedule that invokes the function's ``live`` alias (the version CodeDeploy
    deployed; the function itself would run ``$LATEST``)."""
    alias = _only(
        [
            alias
            for alias in _in_stack(templates, stack, "AWS::Lambda::Alias")
            if alias.properties["FunctionName"] == {"Ref": function.logical_id}
        ]
    )
    assert alias.properties["Name"] == "live"
    return _only(
        [
            schedule
            for schedule in _in_stack(templates, stack, "AWS::Scheduler::Schedule")
            if schedule.properties["Target"]["Arn"] == {"Ref": alias.logical_id}
        ]
    )


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_each_service_reports_exactly_its_own_dead_letter_queues_nightly(
    profile, service, synthesized_app
):
    stack = _stack(profile, service)
    function = _function(synthesized_app, stack, "dead_letter_report.handler")
    schedule = _report_schedule(synthesized_app, stack, function)
    assert schedule.properties["ScheduleExpression"] == profile.dead_letter_report_schedule
    assert schedule.properties["ScheduleExpression"].startswith("cron(")
    assert schedule.properties["ScheduleExpressionTimezone"] == "Etc/UTC"
    [own_queue] = resolve(synthesized_app, stack, schedule.properties["Target"]["DeadLetterConfig"])

    variables = function.properties["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == service.lower()
    listed = _targets(
        synthesized_app, stack, variables["DEAD_LETTER_QUEUE_URLS"], "AWS::SQS::Queue"
    )
    expected = set(_dead_letter_queues(synthesized_app, stack)) - {own_queue.logical_id}
    assert expected, f"{service} has no dead-letter queue to report"
    # Every dead-letter queue of the service but the report's own (a message there means
    # the report did not run, which that queue's alarm says at once).
    assert listed == expected
    # The variable is JSON of name -> URL (Ref of a queue is its URL).
    rendered = json.loads(render(synthesized_app, stack, variables["DEAD_LETTER_QUEUE_URLS"]))
    assert set(rendered.values()) == {"<AWS::SQS::Queue>"}
    assert len(rendered) == len(listed)
    assert all(name.startswith(f"{service.lower()}-") for name in rendered)

    # Reads counts of exactly those queues; sends only its own failed runs to its job's DLQ.
    role_statements = _role_statements(synthesized_app, stack, function.properties["Role"])
    sqs_grants: dict[str, set[str]] = {}
    for s in role_statements:
        for action in _actions(s):
            if action.startswith("sqs:"):
                sqs_grants.setdefault(action, set()).update(
                    _targets(synthesized_app, stack, s["Resource"], "AWS::SQS::Queue")
                )
    assert sqs_grants == {
        "sqs:GetQueueAttributes": expected,
        "sqs:SendMessage": {own_queue.logical_id},
    }
    assert function.properties["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": [own_queue.logical_id, "Arn"]}
    }
    # Lambda checks at creation that the role may send to its dead-letter queue.
    policy = _only(
        [
            p
            for p in _in_stack(synthesized_app, stack, "AWS::IAM::Policy")
            if p.properties["Roles"] == [{"Ref": function.properties["Role"]["Fn::GetAtt"][0]}]
        ]
    )
    assert (
        policy.logical_id in synthesized_app[stack]["Resources"][function.logical_id]["DependsOn"]
    )


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_every_reported_dead_letter_queue_alarms_on_its_first_message(
    profile, service, synthesized_app
):
    """Why the report itself has no alarm: each queue it reads pages on its own."""
    stack = _stack(profile, service)
    alarmed = set()
    for alarm in _in_stack(synthesized_app, stack, "AWS::CloudWatch::Alarm"):
        properties = alarm.properties
        if properties.get("MetricName") != "ApproximateNumberOfMessagesVisible":
            continue
        assert properties["Threshold"] == 1
        assert properties["AlarmActions"], alarm.logical_id
        for dimension in properties["Dimensions"]:
            alarmed |= _targets(synthesized_app, stack, dimension["Value"], "AWS::SQS::Queue")
    assert set(_dead_letter_queues(synthesized_app, stack)) <= alarmed


# -- the transfers ledger's nightly cleanup ------------------------------------------------


def _cleanup_task(templates: Templates, stack: str) -> Resource:
    return _only(
        [
            task
            for task in _in_stack(templates, stack, "AWS::ECS::TaskDefinition")
            if task.properties["ContainerDefinitions"][0].get("Command") == list(CLEANUP_COMMAND)
        ]
    )


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_transfers_cleanup_task_runs_the_cleanup_against_the_ledger(profile, synthesized_app):
    stack = _stack(profile, "Transfers")
    task = _cleanup_task(synthesized_app, stack)
    [container] = task.properties["ContainerDefinitions"]
    service_task = _only(
        [
            t
            for t in _in_stack(synthesized_app, stack, "AWS::ECS::TaskDefinition")
            if t.logical_id != task.logical_id
        ]
    )
    # The service's own container, not the tracing collector beside it.
    [service_container] = [
        c for c in service_task.properties["ContainerDefinitions"] if c["Name"] == "transfers"
    ]
    assert container["Image"] == service_container["Image"]
    environment = _environment(container)
    assert (
        environment["DATABASE_SECRET_ARN"] == _environment(service_container)["DATABASE_SECRET_ARN"]
    )
    assert environment["IDEMPOTENCY_KEY_RETENTION_HOURS"] == str(
        profile.idempotency_key_retention_hours
    )
    assert environment["OUTBOX_RETENTION_HOURS"] == str(profile.outbox_retention_hours)
    assert container["User"] == CONTAINER_USER
    assert container["ReadonlyRootFilesystem"] is True
    assert {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"} in container[
        "MountPoints"
    ]
    assert task.properties["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    options = container["LogConfiguration"]["Options"]
    assert "mode" not in options  # blocking: the last line is what the alarms read
    group = _log_group_of(synthesized_app, stack, options["awslogs-group"])
    assert group.properties["RetentionInDays"] == RETENTION_DAYS[profile.name]

    # The task role may read the database secret (the task logs in with it), nothing else.
    [secret_attachment] = resolve(synthesized_app, stack, environment["DATABASE_SECRET_ARN"])
    role_statements = _role_statements(synthesized_app, stack, task.properties["TaskRoleArn"])
    assert {a for s in role_statements for a in _actions(s)} == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert all(
        _resource_list(s) == [{"Ref": secret_attachment.logical_id}] for s in role_statements
    )

    # Scheduled nightly in private subnets, with a group the database admits on its port.
    schedule = _only(
        [
            s
            for s in _in_stack(synthesized_app, stack, "AWS::Scheduler::Schedule")
            if "EcsParameters" in s.properties["Target"]
        ]
    )
    assert schedule.properties["ScheduleExpression"] == profile.cleanup_schedule
    ecs_parameters = schedule.properties["Target"]["EcsParameters"]
    assert ecs_parameters["TaskDefinitionArn"] == {"Ref": task.logical_id}
    assert ecs_parameters["LaunchType"] == "FARGATE"
    network = ecs_parameters["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    subnets = resolve(synthesized_app, stack, network["Subnets"])
    assert subnets
    assert all(r.type == "AWS::EC2::Subnet" and "Private" in r.logical_id for r in subnets)
    [group_id] = network["SecurityGroups"]
    [security_group] = resolve(synthesized_app, stack, group_id)
    clusters = _in_stack(synthesized_app, stack, "AWS::RDS::DBCluster")
    cluster = _only(clusters)
    port = cluster.properties["Port"]
    database_groups = {
        r.logical_id
        for value in cluster.properties["VpcSecurityGroupIds"]
        for r in resolve(synthesized_app, stack, value)
    }
    assert any(
        ingress.properties["SourceSecurityGroupId"]
        == {"Fn::GetAtt": [security_group.logical_id, "GroupId"]}
        and _targets(
            synthesized_app, stack, ingress.properties["GroupId"], "AWS::EC2::SecurityGroup"
        )
        <= database_groups
        and ingress.properties["FromPort"] <= port <= ingress.properties["ToPort"]
        for ingress in _in_stack(synthesized_app, stack, "AWS::EC2::SecurityGroupIngress")
    )


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_transfers_cleanup_alarms_on_its_log_lines(profile, synthesized_app):
    """The scheduler only calls RunTask: a task that fails, or never finishes, is seen in
    its log only."""
    stack = _stack(profile, "Transfers")
    task = _cleanup_task(synthesized_app, stack)
    group = task.properties["ContainerDefinitions"][0]["LogConfiguration"]["Options"][
        "awslogs-group"
    ]
    filters = {
        f.properties["FilterPattern"]: f.properties["MetricTransformations"][0]
        for f in _in_stack(synthesized_app, stack, "AWS::Logs::MetricFilter")
        if f.properties["LogGroupName"] == group
    }
    failed = filters['{ $.message = "cleanup failed" }']
    finished = filters['{ $.message = "cleanup finished" }']
    alarms = {
        a.properties["MetricName"]: a.properties
        for a in _in_stack(synthesized_app, stack, "AWS::CloudWatch::Alarm")
        if a.properties.get("MetricName") in {failed["MetricName"], finished["MetricName"]}
    }
    on_failure = alarms[failed["MetricName"]]
    assert on_failure["Namespace"] == failed["MetricNamespace"]
    assert on_failure["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert on_failure["Threshold"] == 1
    overdue = alarms[finished["MetricName"]]
    assert overdue["Namespace"] == finished["MetricNamespace"]
    assert overdue["ComparisonOperator"] == "LessThanThreshold"
    assert overdue["TreatMissingData"] == "breaching"
    assert overdue["Period"] * overdue["EvaluationPeriods"] == CLEANUP_OVERDUE_HOURS * 3600
    assert overdue["DatapointsToAlarm"] == overdue["EvaluationPeriods"]
    # Each environment counts its own runs.
    assert profile.name in finished["MetricNamespace"]
    for alarm in (on_failure, overdue):
        assert alarm["AlarmDescription"].startswith("transfers: ")
        assert " First: " in alarm["AlarmDescription"]
        [topic] = resolve(synthesized_app, stack, alarm["AlarmActions"])
        assert topic.type == "AWS::SNS::Topic"
        assert topic.stack == _stack(profile, "Platform")


# -- every schedule, every alarm -----------------------------------------------------------


def test_every_schedule_has_a_dead_letter_queue_and_a_retry_policy(synthesized_app):
    schedules = list(resources(synthesized_app, "AWS::Scheduler::Schedule"))
    # Per environment: three reports and the cleanup.
    assert len(schedules) == 4 * len(PROFILES)
    for schedule in schedules:
        target = schedule.properties["Target"]
        [queue] = resolve(synthesized_app, schedule.stack, target["DeadLetterConfig"]["Arn"])
        assert queue.type == "AWS::SQS::Queue"
        assert queue.stack == schedule.stack
        retry = target["RetryPolicy"]
        assert retry["MaximumRetryAttempts"] >= 1
        assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400


def test_every_alarm_evaluates_a_range_cloudwatch_accepts(synthesized_app):
    """PutMetricAlarm: Period x EvaluationPeriods is at most 7 days (604,800 s), and at
    most one day (86,400 s) when the period is shorter than an hour (CloudWatch API
    Reference, PutMetricAlarm, Period)."""
    for alarm in resources(synthesized_app, "AWS::CloudWatch::Alarm"):
        period = alarm.properties.get("Period")
        if period is None:  # metric math: each metric has its own period
            continue
        total = period * alarm.properties["EvaluationPeriods"]
        limit = 86400 if period < 3600 else 604800
        assert total <= limit, f"{alarm.stack}/{alarm.logical_id}: {total} s"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_new_resources_are_outputs(profile, synthesized_app):
    platform = synthesized_app[_stack(profile, "Platform")]["Outputs"]
    [topic] = resolve(
        synthesized_app, _stack(profile, "Platform"), platform["StatementEventsTopicArn"]["Value"]
    )
    assert topic.logical_id.startswith("StatementEventsTopic")
    statements_outputs = synthesized_app[_stack(profile, "Statements")]["Outputs"]
    [machine] = resolve(
        synthesized_app,
        _stack(profile, "Statements"),
        statements_outputs["StatementExportStateMachineArn"]["Value"],
    )
    assert machine.type == "AWS::StepFunctions::StateMachine"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idempotency_key_retention_hours", 23),
        ("idempotency_key_retention_hours", 8761),
        ("outbox_retention_hours", 0),
        ("outbox_retention_hours", 1.5),
    ],
)
def test_a_profile_refuses_a_retention_the_cleanup_would_refuse(field, value):
    """The cleanup exits 2 on these at night (transfers_service.cleanup); synth says so first."""
    with pytest.raises(ConfigurationError, match=field):
        dataclasses.replace(DEV, **{field: value})
