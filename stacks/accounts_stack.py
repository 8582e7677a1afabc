"""AccountsStack: the accounts service, which opens accounts, serves them and announces them.

Composes an ``ApiService`` (``POST /accounts``, ``GET /accounts`` and ``GET /accounts/{id}``,
all behind the platform's Cognito user pool and WAF) over the service's own ``ServiceTable``
(with a global secondary index by owner, for the listing), grants each route's function
exactly the table actions its handler uses, and publishes
``AccountOpened`` to the accounts event bus from the table's stream
(``TableEventPublisher``), so no opened account goes unannounced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices import (
    ApiRoute,
    ApiService,
    EventBus,
    ServiceMonitoring,
    ServiceTable,
    TableEventPublisher,
    load_json_schema,
)
from stacks.config import EDGE_API_STAGE, LAMBDA_SRC, EnvironmentProfile
from stacks.operations import DeadLetterReport
from stacks.runtime_layers import RuntimeLayers

ACCOUNTS_CODE = LAMBDA_SRC / "accounts_api"
OPEN_ACCOUNT = "POST /accounts"
LIST_ACCOUNTS = "GET /accounts"
GET_ACCOUNT = "GET /accounts/{id}"
OWNER_INDEX = "by-owner"
"""The accounts table's global secondary index of each owner's accounts, by opening time.

Keyed by ``owner_sub`` and ``opened_at``, attributes of account items only (as written by
lambda_src/accounts_api/accounts.py), so email claims stay out of it. Its projection is
ALL: the listing returns every attribute of an account but ``type``, so ``INCLUDE`` would
save next to nothing, and a projection cannot change without replacing the index.
"""
ACCOUNT_INSERTS = {
    "eventName": lambda_.FilterRule.is_equal("INSERT"),
    # ``type`` of an account item, as written by lambda_src/accounts_api/accounts.py
    "dynamodb": {"NewImage": {"type": {"S": lambda_.FilterRule.is_equal("Account")}}},
}
"""Stream filter: only new account items (not email claims) reach the publisher."""


class AccountsStack(Stack):
    """The accounts bounded context: its API, its functions and its table."""

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
        code_dir: Path = ACCOUNTS_CODE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        runtime_layers = RuntimeLayers(self, "RuntimeLayers")
        self.table = ServiceTable(
            self,
            "AccountsTable",
            stream="NEW_IMAGE",
            removal_policy=profile.removal_policy,
            deletion_protection=profile.deletion_protection,
            alarm_topic=alarm_topic,
        )
        # An in-place update of the table: its logical id and data stay.
        self.table.table.add_global_secondary_index(
            index_name=OWNER_INDEX,
            partition_key=dynamodb.Attribute(name="owner_sub", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="opened_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.api = ApiService(
            self,
            "AccountsApi",
            service_name="accounts",
            # Named per environment: API Gateway's metrics are keyed by API name and stage,
            # which Dev and Prod would otherwise share in one account.
            api_name=f"accounts-{profile.name}",
            code=code_dir,
            user_pool=user_pool,
            # The edge routes /api/<service>* here as it is: the stage is the "api" segment.
            stage_name=EDGE_API_STAGE,
            routes=[
                ApiRoute(
                    method="POST",
                    path="/accounts",
                    handler="open_account.handler",
                    request_schema=load_json_schema(
                        code_dir / "schemas" / "open_account_request.json"
                    ),
                    description="Opens an account for the signed-in customer",
                ),
                ApiRoute(
                    method="GET",
                    path="/accounts",
                    handler="list_accounts.handler",
                    environment={"OWNER_INDEX_NAME": OWNER_INDEX},
                    description="Lists the signed-in customer's accounts, newest first",
                ),
                ApiRoute(
                    method="GET",
                    path="/accounts/{id}",
                    handler="get_account.handler",
                    description="Reads one of the signed-in customer's accounts",
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
        # One transaction of two conditional puts (account + email claim); nothing else.
        self.table.grant(self.api.function_for(OPEN_ACCOUNT), "dynamodb:PutItem")
        self.table.grant(self.api.function_for(GET_ACCOUNT), "dynamodb:GetItem")
        # Query on the owner index alone: not ServiceTable.grant, which always names the table
        # too, where a Query could read any partition (anyone's account by its id). The table
        # uses the AWS managed key, so no key grant is needed (a customer managed key would
        # also need kms:Decrypt, as ServiceTable.grant adds).
        iam.Grant.add_to_principal(
            grantee=self.api.function_for(LIST_ACCOUNTS),
            actions=["dynamodb:Query"],
            resource_arns=[f"{self.table.table_arn}/index/{OWNER_INDEX}"],
        )

        self.publisher = TableEventPublisher(
            self,
            "AccountEventsPublisher",
            service_name="accounts",
            table=self.table,
            bus=account_events,
            event_types=["AccountOpened"],
            code=code_dir,
            handler="publish_events.handler",
            filters=[ACCOUNT_INSERTS],
            layers=runtime_layers.layers,
            powertools_layer_version=None,  # Powertools is in runtime_layers, pinned
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
            deployment=profile.deployment,
        )
        self.dead_letter_report = DeadLetterReport(
            self,
            "DeadLetterReport",
            profile=profile,
            service_name="accounts",
            # Stream records the publisher gave up on (their coordinates, not the events).
            queues={"accounts-publisher-failures": self.publisher.failure_queue},
            layers=[runtime_layers.runtime_dependencies, runtime_layers.shared_code],
            alarm_topic=alarm_topic,
        )

        self.monitoring = ServiceMonitoring(
            self,
            "Monitoring",
            service_name="accounts",
            alarm_topic=alarm_topic,
            dashboard_name=f"payments-{profile.name}-accounts",
        ).add(
            self.api,
            self.table,
            self.publisher,
            self.dead_letter_report.job,
            self.dead_letter_report.managed_function,
        )

        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "TableName", value=self.table.table_name)
