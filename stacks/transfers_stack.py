"""TransfersStack: the transfers service, which moves money between accounts.

Composes a ``ContainerService`` (the FastAPI service in ``container_src/transfers``)
over its own ``RelationalDatabase`` (the double-entry ledger, the idempotency keys and the
outbox) and ``Cache`` (balances). Its internal ALB is reached only by its ``ContainerApi``:
customers come through that Cognito-authorized REST API, which hands the service their
verified identity; other services reach it as ``transfers`` through Service Connect. The
service keeps its own copy of the accounts (and their owners) from ``AccountOpened`` events
on its own queue, and publishes ``TransferCompleted`` and ``DepositCompleted`` to the
transfers bus from its transactional outbox.

Operations (stacks/operations.py): a nightly ``TransfersCleanup`` task (the service's image)
removes idempotency keys and sent outbox rows past the profile's retentions, and a nightly
``DeadLetterReport`` counts the messages in the service's dead-letter queues.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, IgnoreMode, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices import (
    Cache,
    ContainerApi,
    ContainerService,
    EventBus,
    RelationalDatabase,
    ServiceMonitoring,
    acknowledge,
    alarm_description,
)
from stacks.config import EDGE_API_STAGE, REPO_ROOT, EnvironmentProfile
from stacks.operations import DeadLetterReport, TransfersCleanup
from stacks.runtime_layers import RuntimeLayers

TRANSFERS_DOCKERFILE = "container_src/transfers/Dockerfile"
IMAGE_CONTEXT = [
    # The build context is the repository root (the image copies the event contracts);
    # send Docker only what the Dockerfile copies.
    "*",
    "!container_src/transfers/requirements.txt",
    "!container_src/transfers/Dockerfile",
    "!container_src/transfers/transfers_service",
    "!contracts/events",
    "**/__pycache__",
]
CONTAINER_USER = "10001:10001"
"""The non-root user the Dockerfile creates."""


def transfers_image() -> ecs.ContainerImage:
    """The transfers image, built and pushed at deploy time (synth needs no Docker)."""
    return ecs.ContainerImage.from_asset(
        str(REPO_ROOT),
        file=TRANSFERS_DOCKERFILE,
        exclude=IMAGE_CONTEXT,
        ignore_mode=IgnoreMode.DOCKER,
        platform=ecr_assets.Platform.LINUX_ARM64,
    )


class TransfersStack(Stack):
    """The transfers bounded context: its container service, database, cache and queue."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        vpc: ec2.IVpc,
        cluster: ecs.ICluster,
        alarm_topic: sns.ITopic,
        account_events: EventBus[sns.ITopic],
        transfer_events: EventBus[sns.ITopic],
        user_pool: cognito.IUserPool,
        web_acl_arn: str,
        image: ecs.ContainerImage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.database = RelationalDatabase(
            self,
            "Ledger",
            vpc=vpc,
            database_name="transfers",
            min_capacity=profile.database_min_capacity,
            max_capacity=profile.database_max_capacity,
            readers=profile.database_readers,
            deletion_protection=profile.deletion_protection,
            removal_policy=(
                RemovalPolicy.SNAPSHOT
                if profile.removal_policy is RemovalPolicy.RETAIN
                else profile.removal_policy
            ),
            log_retention=profile.log_retention,
            alarm_topic=alarm_topic,
        )
        if not profile.deletion_protection:
            acknowledge(
                self.database.cluster,
                "AwsSolutions::AwsSolutions-RDS10",
                "The profile turns deletion protection off where environments are "
                "disposable (dev); the prod profile keeps it on.",
            )
        database_secret = self.database.secret
        self.cache = Cache(
            self,
            "BalanceCache",
            vpc=vpc,
            mode=profile.cache_mode,
            alarm_topic=alarm_topic,
        )
        self.account_events_dead_letters = sqs.Queue(
            self,
            "AccountEventsDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=profile.removal_policy,
        )
        acknowledge(
            self.account_events_dead_letters,
            "AwsSolutions::AwsSolutions-SQS3",
            "This is the dead-letter queue of the account events queue: messages end "
            "here, are alarmed on, and are inspected or redriven by an operator.",
        )
        acknowledge(
            self.account_events_dead_letters,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue of the account events queue.",
        )
        self.account_events_queue = sqs.Queue(
            self,
            "AccountEventsQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(4),
            # Longer than one long poll plus the time to apply a message.
            visibility_timeout=Duration.seconds(60),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.account_events_dead_letters, max_receive_count=5
            ),
            removal_policy=profile.removal_policy,
        )
        account_events.subscribe_queue(
            self.account_events_queue,
            event_types=["AccountOpened"],
            dead_letter_queue=self.account_events_dead_letters,
        )

        image = image or transfers_image()
        self.service = ContainerService(
            self,
            "TransfersService",
            service_name="transfers",
            image=image,
            existing_cluster=cluster,
            user=CONTAINER_USER,
            # Only the customer API's VPC link reaches the load balancer (it sets the caller's
            # identity header); services call each other through Service Connect.
            load_balancer_access="explicit",
            # Liveness: a database outage answers callers 503 but must not get tasks replaced.
            health_check_path="/health/live",
            min_capacity=profile.service_min_tasks,
            max_capacity=profile.service_max_tasks,
            environment={
                # The service reads the secret itself (not injected at task start), so new
                # connections pick up the password each rotation sets.
                "DATABASE_SECRET_ARN": database_secret.secret_arn,
                "EVENT_TOPIC_ARN": transfer_events.topic.topic_arn,
                "ACCOUNT_EVENTS_QUEUE_URL": self.account_events_queue.queue_url,
                "REDIS_URL": f"rediss://{self.cache.endpoint_address}:{self.cache.port}",
                # API Gateway's private integration sends the stage in front of the path.
                "STRIP_PATH_PREFIX": f"/{EDGE_API_STAGE}",
            },
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
            deployment=profile.deployment,
        )
        self.api = ContainerApi(
            self,
            "TransfersApi",
            service=self.service,
            user_pool=user_pool,
            path_prefixes=["/transfers"],
            # Named per environment, as API Gateway's metrics are keyed by name and stage.
            api_name=f"transfers-{profile.name}",
            stage_name=EDGE_API_STAGE,
            throttling_rate_limit=profile.api_throttling_rate_limit,
            throttling_burst_limit=profile.api_throttling_burst_limit,
            execution_logging_level=profile.api_execution_logging_level,
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            web_acl_arn=web_acl_arn,
            alarm_topic=alarm_topic,
        )
        task_role = self.service.task_role
        # Also makes the service wait for the database's instances (first deploy).
        self.database.grant_connect(self.service, task_role)
        self.cache.grant_connect(self.service.connections)
        transfer_events.grant_publish(task_role)
        self.account_events_queue.grant_consume_messages(task_role)

        dead_letters = self.account_events_dead_letters
        dead_letter_alarm = dead_letters.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ).create_alarm(
            self,
            "AccountEventsDeadLetterAlarm",
            alarm_description=alarm_description(
                "transfers",
                "an AccountOpened message was dead-lettered: the service did not open the "
                "account's ledger entry",
                "read one message from the dead-letter queue to find the cause in the "
                "service's logs, fix it, then redrive with tools/redrive_dlq.py",
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        dead_letter_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        dead_letter_alarm.add_ok_action(cloudwatch_actions.SnsAction(alarm_topic))

        # Operations: the ledger's nightly cleanup and the nightly dead-letter report.
        self.cleanup = TransfersCleanup(
            self,
            "Cleanup",
            profile=profile,
            cluster=cluster,
            image=image,
            user=CONTAINER_USER,
            database=self.database,
            alarm_topic=alarm_topic,
        )
        runtime_layers = RuntimeLayers(self, "RuntimeLayers")
        self.dead_letter_report = DeadLetterReport(
            self,
            "DeadLetterReport",
            profile=profile,
            service_name="transfers",
            queues={
                "transfers-account-events": self.account_events_dead_letters,
                # Nightly cleanup runs the scheduler could not start.
                "transfers-cleanup-schedule": self.cleanup.job.dead_letter_queue,
            },
            layers=[runtime_layers.runtime_dependencies, runtime_layers.shared_code],
            alarm_topic=alarm_topic,
        )
        self.monitoring = ServiceMonitoring(
            self,
            "Monitoring",
            service_name="transfers",
            alarm_topic=alarm_topic,
            dashboard_name=f"payments-{profile.name}-transfers",
        ).add(
            self.api,
            self.service,
            self.database,
            self.cache,
            self.cleanup.job,
            self.dead_letter_report.job,
            self.dead_letter_report.managed_function,
        )
        self.monitoring.add_alarms(dead_letter_alarm, title="AccountOpened consumer")
        self.monitoring.add_alarms(*self.cleanup.alarms, title="Nightly cleanup")

        CfnOutput(self, "ServiceUrl", value=self.service.url)
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "DatabaseSecretArn", value=database_secret.secret_arn)
        CfnOutput(self, "AccountEventsQueueUrl", value=self.account_events_queue.queue_url)
        CfnOutput(
            self,
            "CleanupTaskDefinitionArn",
            value=self.cleanup.task_definition.task_definition_arn,
        )
