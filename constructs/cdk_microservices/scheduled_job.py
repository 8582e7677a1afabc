"""ScheduledJob: an EventBridge Scheduler schedule that runs a Lambda function or an ECS
Fargate task, with retries, a dead-letter queue and alarms.

Creates:

- ``schedule_group``: a schedule group of the job's own. EventBridge Scheduler publishes
  its CloudWatch metrics (AWS/Scheduler) per schedule group only (dimension
  ``ScheduleGroup``; EventBridge Scheduler User Guide, "Monitoring Amazon EventBridge
  Scheduler with Amazon CloudWatch"), so a group per job is what lets its alarms watch this
  job alone. A group holds no data: it is deleted with the stack whatever the removal policy;
- ``dead_letter_queue``: where EventBridge Scheduler puts a run it could not deliver to the
  target once its retry policy is exhausted: SSE (SQS managed), TLS-only, kept 14 days;
- ``role``: the schedule's execution role, trusted by ``scheduler.amazonaws.com`` for this
  account's schedule group only (``aws:SourceAccount`` and ``aws:SourceArn`` of the group,
  as "Confused deputy prevention in EventBridge Scheduler" recommends), allowed to invoke
  the target and to send to ``dead_letter_queue``, nothing else;
- ``schedule``: the schedule (``cron(...)``, ``rate(...)`` or ``at(...)``), flexible time
  window off unless ``flexible_time_window`` is given, retry policy, dead-letter queue;
- ``alarms`` (``ALARM_NAMES``): a run in the dead-letter queue (``DeadLetter``), the target
  refusing an invocation (``TargetErrors``, AWS/Scheduler ``TargetErrorCount``), a run
  dropped after the retries (``Dropped``, ``InvocationDroppedCount``), a run that could
  not even be dead-lettered (``DeadLetterFailed``,
  ``InvocationsFailedToBeSentToDeadLetterCount``), and for a Lambda target its errors
  (``FunctionErrors``, unless ``function_errors_alarm=False``).

What the scheduler cannot see: it invokes a Lambda function asynchronously and calls
ECS RunTask, so a function that fails after it started, or a task that exits with an error,
is not a scheduler error. The ``FunctionErrors`` alarm covers the first (or the function's
own errors alarm: a ``ManagedFunction``'s ``Errors``); for a task, have the job's code log
(or publish a metric of) what it did and alarm on that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices._alarms import at_least_alarm, notify, resolve_thresholds
from cdk_microservices._validation import (
    check_fields,
    checked_arguments,
    fail,
    reject_conflicts,
    require_duration,
    require_range,
    require_service_name,
)
from cdk_microservices.compliance import acknowledge

ALARM_PERIOD = Duration.minutes(5)
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "DeadLetter": 1,
    "TargetErrors": 1,
    "Dropped": 1,
    "DeadLetterFailed": 1,
    "FunctionErrors": 1,
}
"""Each alarm's default threshold: messages in the dead-letter queue, or events within 5
minutes. ``FunctionErrors`` exists for a Lambda target only."""
ALARM_NAMES = tuple(DEFAULT_THRESHOLDS)
DEAD_LETTER_RETENTION = Duration.days(14)
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_MAX_EVENT_AGE = Duration.hours(1)

# EventBridge Scheduler's schedule expressions ("Schedule types in EventBridge Scheduler"):
# cron(minutes hours day-of-month month day-of-week year), rate(<positive integer> <unit>),
# at(yyyy-mm-ddThh:mm:ss).
_CRON = re.compile(r"cron\(\s*(\S+\s+){5}\S+\s*\)")
_RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)")
_EXPRESSION_FORMS = (
    "'cron(minutes hours day-of-month month day-of-week year)', 'rate(<n> minutes|hours|days)' "
    "or 'at(yyyy-mm-ddThh:mm:ss)'"
)


_TargetSettings = tuple[
    str, scheduler.ScheduleTargetInput | None, scheduler.CfnSchedule.EcsParametersProperty | None
]
"""A target's ARN, input and ECS parameters."""


@dataclass(frozen=True, kw_only=True)
class ScheduledFargateTask:
    """An ECS task that a ``ScheduledJob`` runs on Fargate (RunTask, launch type FARGATE).

    The task definition says what runs: its container's image, command, environment and
    secrets (a job usually has a task definition of its own, from the same image as the
    service it cleans up after, with the job's command). The task runs in ``subnets``
    (private ones: it gets no public IP) with ``security_groups``.
    """

    cluster: ecs.ICluster
    task_definition: ecs.FargateTaskDefinition
    subnets: ec2.SubnetSelection
    security_groups: Sequence[ec2.ISecurityGroup]
    platform_version: ecs.FargatePlatformVersion = field(
        default_factory=lambda: ecs.FargatePlatformVersion.LATEST
    )

    def __post_init__(self) -> None:
        check_fields(self)


class ScheduledJob(Construct):
    """A job run on a schedule by EventBridge Scheduler: a Lambda function or a Fargate task.

    ``schedule`` is a schedule expression string (``"cron(0 3 * * ? *)"``,
    ``"rate(6 hours)"``, ``"at(2027-01-01T00:00:00)"``, evaluated in ``time_zone``, UTC
    unless given; a rate has no time zone) or an ``aws_scheduler.ScheduleExpression``
    (which carries its own time zone). ``target`` is an ``aws_lambda.IFunction`` (invoked
    asynchronously with ``input`` as its event, ``{}`` unless given) or a
    ``ScheduledFargateTask``. Pass a function's alias (a ``ManagedFunction``'s ``alias``)
    to run the version CodeDeploy deployed: the schedule invokes exactly the ARN it is
    given, and its role may invoke only that ARN. The ``FunctionErrors`` alarm watches the
    function behind an alias or version (Lambda's ``Errors`` by function name, every
    version's errors); ``function_errors_alarm=False`` leaves it out when the function
    already alarms on its errors (a ``ManagedFunction`` does, and that alarm gates its
    deployments), so that one failure does not page twice.

    Defaults (each can be changed by its argument):

    - no flexible time window (the job starts within the minute it is due);
      ``flexible_time_window`` (1 to 1440 minutes) lets the scheduler spread it;
    - ``retry_attempts=3`` (0-185) within ``max_event_age`` (one hour; 1 minute to 24 hours);
      then the run goes to the dead-letter queue;
    - ``enabled=True``; ``removal_policy`` (``RETAIN``) applies to the dead-letter queue;
    - alarms (``ALARM_NAMES``), thresholds overridable by name with ``alarm_thresholds``;
      sent to ``alarm_topic`` if given; ``alarms=False`` turns them off.
    """

    CONSTRUCT = "ScheduledJob"
    ALARM_THRESHOLDS: Mapping[str, float] = DEFAULT_THRESHOLDS
    """Each alarm's name and default threshold, as every pattern has them."""

    @checked_arguments("ScheduledJob")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        schedule: str | scheduler.ScheduleExpression,
        target: lambda_.IFunction | ScheduledFargateTask,
        description: str,
        time_zone: TimeZone | None = None,
        input: Mapping[str, object] | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration | None = None,
        flexible_time_window: Duration | None = None,
        enabled: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        function_errors_alarm: bool = True,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, service_name)
        expression = _schedule_expression(name, schedule, time_zone)
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 512:
            raise fail(name, "description", "must say what the job does, in 1-512 characters")
        if isinstance(retry_attempts, bool) or not isinstance(retry_attempts, int):
            raise fail(name, "retry_attempts", f"must be a whole number, got {retry_attempts!r}")
        require_range(name, "retry_attempts", retry_attempts, minimum=0, maximum=185)
        max_event_age = max_event_age or DEFAULT_MAX_EVENT_AGE
        require_duration(
            name,
            "max_event_age",
            max_event_age,
            min_seconds=60,
            max_seconds=86400,
            whole_seconds=True,
        )
        if flexible_time_window is not None:
            require_duration(
                name,
                "flexible_time_window",
                flexible_time_window,
                min_seconds=60,
                max_seconds=86400,
                whole_seconds=True,
            )
            if flexible_time_window.to_seconds() % 60:
                raise fail(
                    name, "flexible_time_window", "must be a whole number of minutes (1-1440)"
                )
        is_task = isinstance(target, ScheduledFargateTask)
        if not is_task and not _is_function(target):
            raise fail(
                name,
                "target",
                "must be an aws_lambda.IFunction or a ScheduledFargateTask, got "
                f"{type(target).__name__}",
            )
        if isinstance(target, ScheduledFargateTask):
            _check_task(name, target)
        if is_task and input is not None:
            raise fail(
                name,
                "input",
                "is for a Lambda target; a Fargate task's command, environment and secrets "
                "live in its task definition",
            )
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, DEFAULT_THRESHOLDS, alarm_thresholds)
        if is_task and alarm_thresholds and "FunctionErrors" in alarm_thresholds:
            raise fail(
                name,
                "alarm_thresholds",
                "names 'FunctionErrors', an alarm of a Lambda target; this job runs a task",
            )
        if not isinstance(function_errors_alarm, bool):
            raise fail(
                name,
                "function_errors_alarm",
                f"must be True or False, got {type(function_errors_alarm).__name__}",
            )
        if is_task and not function_errors_alarm:
            raise fail(
                name,
                "function_errors_alarm",
                "is for a Lambda target; this job runs a task, which has no function alarm",
            )
        if not function_errors_alarm and alarm_thresholds and "FunctionErrors" in alarm_thresholds:
            raise fail(
                name,
                "alarm_thresholds",
                "names 'FunctionErrors', which function_errors_alarm=False leaves out",
            )
        self._function_errors_alarm = function_errors_alarm

        self.service_name = service_name
        stack = Stack.of(self)
        self.schedule_group = scheduler.ScheduleGroup(
            self, "Group", removal_policy=RemovalPolicy.DESTROY
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This is the dead-letter queue of the job's schedule: runs the scheduler could "
            "not deliver end here, are alarmed on, and are inspected by an operator.",
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue of the job's schedule, not a queue anyone consumes.",
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": self.schedule_group.schedule_group_arn},
                },
            ),
            description=f"Runs the schedule of {self.node.path}; may only start its target",
        )
        self.function: lambda_.IFunction | None = None
        self.task: ScheduledFargateTask | None = None
        if isinstance(target, ScheduledFargateTask):
            self.task = target
            arn, target_input, ecs_parameters = self._fargate_target(target)
        else:
            self.function = target
            arn, target_input, ecs_parameters = self._lambda_target(target, input)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        config = scheduler.ScheduleTargetConfig(
            role=self.role,
            dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                arn=self.dead_letter_queue.queue_arn
            ),
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=int(retry_attempts),
                maximum_event_age_in_seconds=int(max_event_age.to_seconds()),
            ),
            arn=arn,
            input=target_input,
            ecs_parameters=ecs_parameters,
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=expression,
            target=_Target(config),
            schedule_group=self.schedule_group,
            description=f"{service_name}: {description}",
            enabled=enabled,
            time_window=(
                scheduler.TimeWindow.flexible(flexible_time_window)
                if flexible_time_window is not None
                else scheduler.TimeWindow.off()
            ),
        )

        # The schedule names its group by a generated name, not a reference: make
        # CloudFormation create the group first.
        self.schedule.node.add_dependency(self.schedule_group)

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self._add_alarms(thresholds, alarm_topic, description)

    def _lambda_target(
        self, function: lambda_.IFunction, input: Mapping[str, object] | None
    ) -> _TargetSettings:
        """The function's target settings; the role may invoke the ARN the schedule calls
        (the function's, or the qualified ARN of an alias or a version) and nothing else."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
        )
        return (
            function.function_arn,
            scheduler.ScheduleTargetInput.from_object(dict(input or {})),
            None,
        )

    def _fargate_target(self, task: ScheduledFargateTask) -> _TargetSettings:
        """RunTask settings for ``task``; the role may run this task definition in this
        cluster and pass its two roles to ECS tasks, nothing else.

        RunTask is allowed on the task definition's ARN with its revision, not on the whole
        family (``family:*``): CloudFormation updates the policy and the schedule together
        when the definition gets a new revision, and nothing else needs older ones."""
        definition = task.task_definition
        # Made now if the definition has none yet, so that the role may pass it.
        execution_role = definition.obtain_execution_role()
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[definition.task_definition_arn],
                conditions={"ArnEquals": {"ecs:cluster": task.cluster.cluster_arn}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[definition.task_role.role_arn, execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        subnets = task.cluster.vpc.select_subnets(**task.subnets._values).subnet_ids
        return (
            task.cluster.cluster_arn,
            None,
            scheduler.CfnSchedule.EcsParametersProperty(
                task_definition_arn=definition.task_definition_arn,
                launch_type="FARGATE",
                platform_version=task.platform_version.value,
                task_count=1,
                network_configuration=scheduler.CfnSchedule.NetworkConfigurationProperty(
                    awsvpc_configuration=scheduler.CfnSchedule.AwsVpcConfigurationProperty(
                        subnets=subnets,
                        security_groups=[group.security_group_id for group in task.security_groups],
                        assign_public_ip="DISABLED",
                    )
                ),
            ),
        )

    def _add_alarms(
        self, thresholds: Mapping[str, float], topic: sns.ITopic | None, description: str
    ) -> None:
        service = self.service_name
        job = f"the scheduled job {self.node.path} ({description})"
        group = self.schedule_group
        specs: list[tuple[str, cloudwatch.IMetric, str]] = [
            (
                "DeadLetter",
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                f"{service}: a run of {job} could not be delivered and was dead-lettered. "
                "First: read the message's attributes in the dead-letter queue (ERROR_CODE, "
                "ERROR_MESSAGE), fix the cause, then run the job by hand if it must not wait "
                "for its next run.",
            ),
            (
                "TargetErrors",
                group.metric_target_errors(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: the target of {job} refused an invocation (missing permission, "
                "throttling, a task that could not be placed). First: check the schedule "
                "role's permissions and the target's quotas; the scheduler retries.",
            ),
            (
                "Dropped",
                group.metric_dropped(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: a run of {job} was dropped after its retries. First: check the "
                "dead-letter queue and the target, and run the job by hand if needed.",
            ),
            (
                "DeadLetterFailed",
                group.metric_failed_to_be_sent_to_dlq(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: a failed run of {job} could not be sent to its dead-letter queue "
                "and is lost. First: check that the schedule role may send to the queue and "
                "that the queue exists.",
            ),
        ]
        if self.function is not None and self._function_errors_alarm:
            # The function's own metric: an alias's or version's metric has a Resource
            # dimension and counts only the invocations made through that qualifier.
            specs.append(
                (
                    "FunctionErrors",
                    _function_behind(self.function).metric_errors(
                        period=ALARM_PERIOD, statistic="Sum"
                    ),
                    f"{service}: the function run by {job} failed. First: read its log group "
                    "for the error, fix it, then invoke the function again if the run must "
                    "not wait for the next one.",
                )
            )
        alarms = [
            at_least_alarm(
                self,
                f"{alarm_name}Alarm",
                metric=metric,
                description=text,
                threshold=thresholds[alarm_name],
            )
            for alarm_name, metric, text in specs
        ]
        notify(alarms, topic)
        self.alarms = alarms


@jsii.implements(scheduler.IScheduleTarget)
class _Target:
    """The schedule's target, built by the job (its role's permissions included)."""

    def __init__(self, config: scheduler.ScheduleTargetConfig) -> None:
        self._config = config

    def bind(self, _schedule: scheduler.ISchedule) -> scheduler.ScheduleTargetConfig:
        return self._config


def _check_task(construct: str, task: ScheduledFargateTask) -> None:
    if not isinstance(task.task_definition, ecs.FargateTaskDefinition):
        raise fail(
            construct,
            "target.task_definition",
            f"must be an aws_ecs.FargateTaskDefinition, got {type(task.task_definition).__name__}",
        )
    if task.subnets.subnet_type == ec2.SubnetType.PUBLIC:
        raise fail(
            construct,
            "target.subnets",
            "selects public subnets; the task gets no public IP, so run it in private "
            "subnets (with a NAT gateway or VPC endpoints to pull its image)",
        )
    if isinstance(task.security_groups, str) or not task.security_groups:
        raise fail(
            construct,
            "target.security_groups",
            "must list at least one aws_ec2.ISecurityGroup (what the task may reach)",
        )


def _function_behind(target: lambda_.IFunction) -> lambda_.IFunction:
    """The function itself: ``target``, or the function of an alias or a version."""
    if hasattr(target, "alias_name") and hasattr(target, "version"):  # an IAlias
        alias = cast(lambda_.IAlias, target)
        return alias.version.lambda_
    if hasattr(target, "lambda_"):  # an IVersion
        return cast(lambda_.IVersion, target).lambda_
    return target


def _is_function(target: object) -> bool:
    # jsii interfaces defy isinstance: an IFunction has a function ARN and grant_invoke.
    return hasattr(target, "function_arn") and hasattr(target, "grant_invoke")


def _schedule_expression(
    construct: str, schedule: str | scheduler.ScheduleExpression, time_zone: TimeZone | None
) -> scheduler.ScheduleExpression:
    """``schedule`` as a ScheduleExpression, checked to be one EventBridge Scheduler takes."""
    if isinstance(schedule, scheduler.ScheduleExpression):
        if time_zone is not None:
            raise fail(
                construct,
                "time_zone",
                "is given with a ScheduleExpression, which carries its own time zone; give "
                "the time zone to ScheduleExpression.cron/at/expression, or pass a string",
            )
        text = schedule.expression_string
        if not Token.is_unresolved(text):
            _check_expression(construct, text)
        return schedule
    if not isinstance(schedule, str):
        raise fail(
            construct,
            "schedule",
            f"must be a string ({_EXPRESSION_FORMS}) or an aws_scheduler.ScheduleExpression, "
            f"got {type(schedule).__name__}",
        )
    _check_expression(construct, schedule)
    if time_zone is not None and schedule.startswith("rate("):
        raise fail(
            construct,
            "time_zone",
            "is given with a rate schedule, which runs at a fixed interval whatever the "
            "time zone; use a cron(...) schedule to run at a local time",
        )
    return scheduler.ScheduleExpression.expression(schedule, time_zone)


def _check_expression(construct: str, text: str) -> None:
    rate = _RATE.fullmatch(text)
    at = _AT.fullmatch(text)
    if _CRON.fullmatch(text):
        return
    if rate is not None:
        if int(rate.group(1)) < 1:
            raise fail(construct, "schedule", f"is {text!r}; a rate must be at least 1")
        return
    if at is not None:
        try:
            datetime.fromisoformat(at.group(1))
        except ValueError:
            raise fail(construct, "schedule", f"is {text!r}, which is not a valid date") from None
        return
    raise fail(construct, "schedule", f"is {text!r}; it must be {_EXPRESSION_FORMS}")
