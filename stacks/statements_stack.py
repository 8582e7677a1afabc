"""StatementsStack: the statements service, a read model of every account's statement.

Composes a ``QueueWorker`` subscribed to ``AccountOpened`` (accounts bus),
``TransferCompleted`` and ``DepositCompleted`` (transfers bus), which applies each event
once to the service's own ``ServiceTable``, and an ``ApiService`` serving
``GET /statements/{id}`` behind the platform's Cognito user pool and WAF. The
statement is eventually consistent: a slow or failed statements service never blocks the
services that publish.

Operations: the ``StatementExport`` workflow writes one account's statement of one month to
the encrypted exports bucket and publishes ``StatementExported`` to the statements bus
(stacks/statement_export.py); a nightly ``DeadLetterReport`` counts the messages in the
worker's dead-letter queue (stacks/operations.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices import (
    ApiRoute,
    ApiService,
    EventBus,
    QueueWorker,
    ServiceMonitoring,
    ServiceTable,
)
from stacks.config import EDGE_API_STAGE, LAMBDA_SRC, EnvironmentProfile
from stacks.operations import DeadLetterReport
from stacks.runtime_layers import RuntimeLayers
from stacks.statement_export import StatementExport

STATEMENTS_CODE = LAMBDA_SRC / "statements"
GET_STATEMENT = "GET /statements/{id}"


class StatementsStack(Stack):
    """The statements bounded context: its queue worker, its API and its table."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        user_pool: cognito.IUserPool,
        web_acl_arn: str,
        alarm_topic: sns.ITopic,
        account_events: EventBus[sns.ITopic],
        transfer_events: EventBus[sns.ITopic],
        statement_events: EventBus[sns.ITopic],
        code_dir: Path = STATEMENTS_CODE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        runtime_layers = RuntimeLayers(self, "RuntimeLayers")
        self.table = ServiceTable(
            self,
            "StatementsTable",
            removal_policy=profile.removal_policy,
            deletion_protection=profile.deletion_protection,
            alarm_topic=alarm_topic,
        )
        self.worker = QueueWorker(
            self,
            "StatementsWorker",
            service_name="statements",
            code=code_dir,
            handler="apply_events.handler",
            environment={"TABLE_NAME": self.table.table_name},
            layers=runtime_layers.layers,
            powertools_layer_version=None,  # Powertools is in runtime_layers, pinned
            # Bounds the write rate on the table when a backlog drains.
            max_concurrency=10,
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
            deployment=profile.deployment,
        )
        account_events.subscribe(self.worker, event_types=["AccountOpened"])
        transfer_events.subscribe(
            self.worker, event_types=["TransferCompleted", "DepositCompleted"]
        )
        # Each event is one transaction of conditional puts (entries) and updates (headers).
        self.table.grant(self.worker.function, "dynamodb:PutItem", "dynamodb:UpdateItem")

        self.api = ApiService(
            self,
            "StatementsApi",
            service_name="statements",
            # Named per environment: API Gateway's metrics are keyed by API name and stage,
            # which Dev and Prod would otherwise share in one account.
            api_name=f"statements-{profile.name}",
            code=code_dir,
            user_pool=user_pool,
            # The edge routes /api/<service>* here as it is: the stage is the "api" segment.
            stage_name=EDGE_API_STAGE,
            routes=[
                ApiRoute(
                    method="GET",
                    path="/statements/{id}",
                    handler="get_statement.handler",
                    description="Reads the statement of one of the signed-in customer's accounts",
                ),
            ],
            environment={"TABLE_NAME": self.table.table_name},
            layers=runtime_layers.layers,
            powertools_layer_version=None,  # Powertools is in runtime_layers, pinned
            throttling_rate_limit=profile.api_throttling_rate_limit,
            throttling_burst_limit=profile.api_throttling_burst_limit,
            execution_logging_level=profile.api_execution_logging_level,
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            web_acl_arn=web_acl_arn,
            alarm_topic=alarm_topic,
            deployment=profile.deployment,
        )
        self.table.grant(self.api.function_for(GET_STATEMENT), "dynamodb:GetItem", "dynamodb:Query")

        # Operations: the statement export workflow and the nightly dead-letter report.
        self.export = StatementExport(
            self,
            "StatementExport",
            profile=profile,
            code=code_dir,
            table=self.table,
            statement_events=statement_events,
            layers=runtime_layers.layers,
            alarm_topic=alarm_topic,
        )
        self.dead_letter_report = DeadLetterReport(
            self,
            "DeadLetterReport",
            profile=profile,
            service_name="statements",
            queues={"statements-events": self.worker.dead_letter_queue},
            layers=[runtime_layers.runtime_dependencies, runtime_layers.shared_code],
            alarm_topic=alarm_topic,
        )
        self.monitoring = ServiceMonitoring(
            self,
            "Monitoring",
            service_name="statements",
            alarm_topic=alarm_topic,
            dashboard_name=f"payments-{profile.name}-statements",
        ).add(
            self.api,
            self.worker,
            self.table,
            self.export.workflow,
            self.export.managed_function,
            self.dead_letter_report.job,
            self.dead_letter_report.managed_function,
        )

        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(self, "QueueUrl", value=self.worker.queue.queue_url)
        CfnOutput(self, "ExportBucketName", value=self.export.bucket.bucket_name)
        CfnOutput(self, "StatementExportStateMachineArn", value=self.export.state_machine_arn)
