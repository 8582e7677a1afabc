"""Nightly jobs of the reference app's services, built from the library's ``ScheduledJob``.

- ``DeadLetterReport`` (one per service stack): the ``dead_letter_report`` function
  (lambda_src/operations) run every night, counting the messages waiting in the service's
  own dead-letter queues. It reads counts only (``sqs:GetQueueAttributes`` on exactly those
  queues): a dead-lettered message is reported, never received, moved or deleted; an
  operator redrives it with ``tools/redrive_dlq.py`` once its cause is fixed.
- ``TransfersCleanup`` (transfers stack): ``python -m transfers_service.cleanup`` run every
  night as a Fargate task of the service's image, removing idempotency keys and published
  outbox rows past their retention (the profile's ``idempotency_key_retention_hours`` and
  ``outbox_retention_hours``), with alarms on its own log lines: the scheduler only starts
  the task and never sees it exit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices import (
    ManagedFunction,
    RelationalDatabase,
    ScheduledFargateTask,
    ScheduledJob,
    acknowledge,
)
from stacks.config import LAMBDA_SRC, EnvironmentProfile
from stacks.runtime_layers import RUNTIME

OPERATIONS_CODE = LAMBDA_SRC / "operations"
DEAD_LETTER_REPORT_HANDLER = "dead_letter_report.handler"
CLEANUP_COMMAND = ("python", "-m", "transfers_service.cleanup")
CLEANUP_FINISHED = "cleanup finished"
CLEANUP_FAILED = "cleanup failed"
"""The ``message`` of the cleanup's last JSON line: it ends with one or the other."""
CLEANUP_OVERDUE_HOURS = 25
"""A nightly cleanup that has not finished for this long missed a night."""
TMP_VOLUME = "tmp"


def metrics_namespace(profile: EnvironmentProfile) -> str:
    """The namespace of the jobs' own metrics, one per environment: Dev and Prod may share an
    account, and a metric of one must never move the other's alarm."""
    return f"Payments/Operations/{profile.name}"


class DeadLetterReport(Construct):
    """The nightly dead-letter report of one service: a ``ManagedFunction`` and the
    ``ScheduledJob`` that invokes its ``live`` alias (deployed as ``profile.deployment``
    says, like every function of the app).

    ``queues`` maps a name (the report's ``QueueName`` dimension) to each of the service's
    dead-letter queues. The report's own job's dead-letter queue is not among them: a
    message there means a report did not run (the scheduler could not invoke the function,
    or the function failed after Lambda's retries: it is also the function's dead-letter
    queue), and that queue's ``DeadLetter`` alarm says so at once; the next night's report
    could only repeat it.

    No alarm on the report's ``DeadLetterMessages`` metric: every queue it reads already
    has its own alarm on its first visible message (the ``DeadLetter`` alarms of
    ``QueueWorker`` and ``ScheduledJob``, ``TableEventPublisher``'s ``FailureQueue`` alarm,
    the transfers stack's account-events dead-letter alarm), which stays in ALARM while
    the message waits; a second alarm on a nightly sample of the same count would only
    page twice. The report is the daily record (its log line and metric), and the
    function's ``Errors`` alarm (the ``ManagedFunction``'s, which also gates its
    deployments; the job's own ``FunctionErrors`` alarm is left out, as it would watch the
    same metric) fires when it cannot read a queue.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        service_name: str,
        queues: Mapping[str, sqs.IQueue],
        layers: Sequence[lambda_.ILayerVersion],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self.queues = dict(queues)
        stack = Stack.of(self)
        self.managed_function = ManagedFunction(
            self,
            "Function",
            service_name=service_name,
            code=OPERATIONS_CODE,
            handler=DEAD_LETTER_REPORT_HANDLER,
            description=f"Counts the messages in the {service_name} service's dead-letter queues",
            memory_size=256,
            timeout=Duration.minutes(1),
            environment={
                "DEAD_LETTER_QUEUE_URLS": stack.to_json_string(
                    {name: queue.queue_url for name, queue in self.queues.items()}
                ),
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace(profile),
            },
            layers=layers,
            runtime=RUNTIME,
            powertools_layer_version=None,  # Powertools is in the runtime layer, pinned
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            deployment=profile.deployment,
            alarm_topic=alarm_topic,
        )
        self.function = self.managed_function.function
        self.alias = self.managed_function.alias
        # Counts only: never ReceiveMessage, DeleteMessage or a move task.
        self.managed_function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:GetQueueAttributes"],
                resources=[queue.queue_arn for queue in self.queues.values()],
            )
        )
        self.job = ScheduledJob(
            self,
            "Job",
            service_name=service_name,
            schedule=profile.dead_letter_report_schedule,
            target=self.alias,  # the version CodeDeploy deployed, never $LATEST
            description=f"nightly report of the messages in the {service_name} dead-letter queues",
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
            function_errors_alarm=False,  # the ManagedFunction's Errors alarm pages
        )
        # The scheduler invokes the function asynchronously: a run that still fails after
        # Lambda's own retries goes to the job's dead-letter queue too (with its
        # ErrorCode/ErrorMessage attributes), whose DeadLetter alarm pages. Lambda sends it
        # with the function's role, and checks that permission when the function is created
        # (the function waits for its role's policy).
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        function_resource.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.job.dead_letter_queue.queue_arn
        )
        self.managed_function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.job.dead_letter_queue.queue_arn]
            )
        )


class TransfersCleanup(Construct):
    """The transfers ledger's nightly cleanup: a Fargate task run by a ``ScheduledJob``.

    Creates a task definition of its own (the service's image, ``CLEANUP_COMMAND``, the
    database secret's ARN and the profile's retentions as environment; ARM64; non-root on
    a read-only root filesystem with a writable ``/tmp``; its own log group kept the
    profile's ``log_retention``; its own task role that may read the database secret), a
    security group allowed into the database, the ``ScheduledJob`` that runs it in the
    cluster's private subnets, and two alarms on its log lines, each notifying
    ``alarm_topic``: ``CleanupFailed`` (a ``cleanup failed`` line) and ``CleanupOverdue``
    (no ``cleanup finished`` line for ``CLEANUP_OVERDUE_HOURS`` hours: the task did not
    start, died before logging, or failed every night).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        user: str,
        database: RelationalDatabase[rds.IDatabaseCluster],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=profile.log_retention, removal_policy=profile.removal_policy
        )
        self.task_role = iam.Role(
            self,
            "TaskRole",
            # Only ECS tasks of this account and region may assume it (confused deputy).
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com",
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:ecs:{stack.region}:"
                        f"{stack.account}:*"
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            ),
            description="transfers cleanup: reads the database secret, nothing else",
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="transfers cleanup: lets ECS pull the image and write logs",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            family="transfers-cleanup",
            cpu=256,
            memory_limit_mib=512,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
            execution_role=self.execution_role,
            volumes=[ecs.Volume(name=TMP_VOLUME)],
        )
        self.container = self.task_definition.add_container(
            "Container",
            container_name="cleanup",
            image=image,
            command=list(CLEANUP_COMMAND),
            essential=True,
            user=user,
            readonly_root_filesystem=True,
            environment={
                # The task reads the secret itself, as the service does (the password the
                # latest rotation set).
                "DATABASE_SECRET_ARN": database.secret.secret_arn,
                "IDEMPOTENCY_KEY_RETENTION_HOURS": str(profile.idempotency_key_retention_hours),
                "OUTBOX_RETENTION_HOURS": str(profile.outbox_retention_hours),
            },
            # Blocking (the default): the task's last line, "cleanup finished" with the
            # counts, is what the alarms read; it must not be dropped on exit.
            logging=ecs.LogDrivers.aws_logs(stream_prefix="cleanup", log_group=self.log_group),
        )
        self.container.add_mount_points(
            ecs.MountPoint(container_path="/tmp", source_volume=TMP_VOLUME, read_only=False)
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions::AwsSolutions-ECS2",
            "The environment holds only non-secret configuration: the database secret's "
            "ARN (the task reads the secret itself) and the retention settings.",
        )
        if isinstance(image, ecs.EcrImage | ecs.AssetImage | ecs.TagParameterContainerImage):
            acknowledge(
                self.execution_role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken, which ECS calls to pull the image from ECR, "
                "supports only Resource '*'; the pull actions are scoped to the repository.",
            )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=cluster.vpc,
            description="transfers cleanup task: no inbound; out to the database and AWS APIs",
            allow_all_outbound=True,
        )
        # The database port from this group, and the secret to the task role.
        database.grant_connect(self.security_group, self.task_role)
        self.job = ScheduledJob(
            self,
            "Job",
            service_name="transfers",
            schedule=profile.cleanup_schedule,
            target=ScheduledFargateTask(
                cluster=cluster,
                task_definition=self.task_definition,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_groups=[self.security_group],
            ),
            description="nightly removal of expired idempotency keys and published outbox rows",
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
        )
        # A first run before the database's writer accepts connections would fail.
        self.job.schedule.node.add_dependency(database.instances)
        self.alarms = self._add_alarms(profile, alarm_topic)

    def _add_alarms(
        self, profile: EnvironmentProfile, alarm_topic: sns.ITopic
    ) -> list[cloudwatch.Alarm]:
        namespace = metrics_namespace(profile)
        failed = logs.MetricFilter(
            self,
            "FailedFilter",
            log_group=self.log_group,
            filter_pattern=logs.FilterPattern.string_value("$.message", "=", CLEANUP_FAILED),
            metric_namespace=namespace,
            metric_name="TransfersCleanupFailed",
            metric_value="1",
        )
        finished = logs.MetricFilter(
            self,
            "FinishedFilter",
            log_group=self.log_group,
            filter_pattern=logs.FilterPattern.string_value("$.message", "=", CLEANUP_FINISHED),
            metric_namespace=namespace,
            metric_name="TransfersCleanupFinished",
            metric_value="1",
        )
        failed_alarm = failed.metric(period=Duration.minutes(5), statistic="Sum").create_alarm(
            self,
            "FailedAlarm",
            alarm_description=(
                "transfers: the nightly ledger cleanup failed (its log says 'cleanup failed'). "
                "First: read that line in the cleanup's log group (error, counts removed so "
                "far); a database outage or timeout clears on the next night's run, a bad "
                "setting (exit 2) needs the task definition fixed."
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # One-hour periods, 25 of them: PutMetricAlarm allows Period x EvaluationPeriods up
        # to 7 days when the period is an hour or more (1 day below an hour).
        overdue_alarm = finished.metric(period=Duration.hours(1), statistic="Sum").create_alarm(
            self,
            "OverdueAlarm",
            alarm_description=(
                f"transfers: the nightly ledger cleanup has not finished for "
                f"{CLEANUP_OVERDUE_HOURS} hours (no 'cleanup finished' line), so expired "
                "idempotency keys and sent outbox rows pile up. First: check the job's "
                "schedule alarms and its dead-letter queue, then the stopped tasks of family "
                "transfers-cleanup in the cluster (stopped reason) and the cleanup's log group."
            ),
            threshold=1,
            evaluation_periods=CLEANUP_OVERDUE_HOURS,
            datapoints_to_alarm=CLEANUP_OVERDUE_HOURS,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarms = [failed_alarm, overdue_alarm]
        action = cloudwatch_actions.SnsAction(alarm_topic)
        for alarm in alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
        return alarms
