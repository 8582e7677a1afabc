"""StatementExport: the statements service's export of one account's statement of one month.

Creates, in the statements stack:

- ``key``: a rotating customer managed KMS key for the exports;
- ``access_logs``: the exports bucket's server access logs (SSE-S3, as S3 server access
  logging requires of its target bucket; TLS-only, all public access blocked, versioned,
  expiring after ``ACCESS_LOG_DAYS``; removed with the profile's removal policy, emptied
  first where that is ``DESTROY``);
- ``bucket``: the exports bucket: SSE-KMS with ``key`` and an S3 Bucket Key, TLS-only, all
  public access blocked, ACLs disabled, versioned, access-logged, a lifecycle rule that
  removes overwritten versions after ``NONCURRENT_VERSION_DAYS`` (a statement re-exported
  with new content replaces the current one; the current ones are kept: they are the
  customer's record); removed with the profile's removal policy (emptied first only where
  that is ``DESTROY``);
- ``managed_function``: the library's ``ManagedFunction`` running
  ``export_statement.handler`` (lambda_src/statements), with its own log group and role,
  deployed as the profile's ``deployment`` says (CodeDeploy, gated on its ``Errors``
  alarm); ``function`` is allowed exactly: ``GetItem``/``Query`` on the statements table,
  ``PutObject`` and ``GetObject`` under ``statements/`` of the bucket, ``ListBucket`` on
  the bucket (so that ``HeadObject`` of a missing statement answers 404, not 403), and the
  key use those need (``GenerateDataKey`` to write, ``Decrypt`` to read);
- ``alias``: its ``live`` alias, the version CodeDeploy deployed: the workflow invokes
  it, so its role may invoke that alias only (not ``function:*``);
- ``workflow``: the ``Workflow`` "StatementExport": invoke the function (the input,
  ``{"account_id", "month"}``, as its event; its result at ``$.export``) → publish
  ``$.export.message`` to the statements bus with ``event_type`` / ``event_version``
  message attributes → succeed. A bad request (``InvalidExportRequest``) or an unknown
  account (``StatementNotFound``) is never retried and ends the execution in a Fail state
  of that name; any other error is retried (``RETRY_ATTEMPTS`` times, backing off).
  Re-running an export is harmless: the document is written once per content and the
  event's id derives from it, so subscribers deduplicate a repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_microservices import (
    EventBus,
    ManagedFunction,
    ServiceTable,
    Workflow,
    access_log_bucket,
    acknowledge,
)
from cdk_microservices.compliance import nag_finding
from stacks.config import EnvironmentProfile
from stacks.runtime_layers import RUNTIME

EXPORT_HANDLER = "export_statement.handler"
EXPORT_PREFIX = "statements/"
"""Where the function writes: ``statements/<account_id>/<month>.json``."""
EVENT_TYPE = "StatementExported"
EVENT_VERSION = 1
INVALID_REQUEST = "InvalidExportRequest"
NOT_FOUND = "StatementNotFound"
"""The function's named errors: never retried, each ends the execution in its Fail state."""
WORKFLOW_TIMEOUT = Duration.minutes(15)
RETRY_ATTEMPTS = 3
NONCURRENT_VERSION_DAYS = 90
"""Days an overwritten (re-exported) statement document stays recoverable."""
ACCESS_LOG_DAYS = 365
ACCESS_LOG_NONCURRENT_VERSION_DAYS = 7


class StatementExport(Construct):
    """The exports bucket, the export function and the StatementExport workflow."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        code: Path,
        table: ServiceTable[dynamodb.ITable],
        statement_events: EventBus[sns.ITopic],
        layers: Sequence[lambda_.ILayerVersion],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        destroy = profile.removal_policy == RemovalPolicy.DESTROY
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the statements service's exported statements",
            enable_key_rotation=True,
            removal_policy=profile.removal_policy,
        )
        # S3 server access logging delivers only to a bucket with SSE-S3.
        self.access_logs = access_log_bucket(
            self,
            "AccessLogs",
            removal_policy=profile.removal_policy,
            expiration_days=ACCESS_LOG_DAYS,
            noncurrent_version_days=ACCESS_LOG_NONCURRENT_VERSION_DAYS,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="exports/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-replaced-statements",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=profile.removal_policy,
            auto_delete_objects=destroy,
        )

        self.managed_function = ManagedFunction(
            self,
            "ExportFunction",
            service_name="statements",
            code=code,
            handler=EXPORT_HANDLER,
            description="Exports one account's statement of one month to the exports bucket",
            memory_size=512,
            timeout=Duration.minutes(1),
            environment={
                "TABLE_NAME": table.table_name,
                "EXPORT_BUCKET_NAME": self.bucket.bucket_name,
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
        acknowledge(
            self.function,
            "Serverless::Serverless-LambdaDLQ",
            "Invoked synchronously by the StatementExport workflow, which retries a failure "
            "and ends the execution failed (alarmed); a dead-letter queue only receives "
            "failed asynchronous invocations.",
        )
        self._grant_function(table)

        self.workflow = Workflow(
            self,
            "Workflow",
            service_name="statements",
            definition=self._definition(statement_events.topic),
            timeout=WORKFLOW_TIMEOUT,
            log_retention=profile.log_retention,
            removal_policy=profile.removal_policy,
            alarm_topic=alarm_topic,
        )
        # The SNS task grants sns:Publish only; the bus's topic is KMS-encrypted.
        statement_events.grant_publish(self.workflow.role)

    def _grant_function(self, table: ServiceTable[dynamodb.ITable]) -> None:
        role = self.managed_function.role
        objects = self.bucket.arn_for_objects(f"{EXPORT_PREFIX}*")
        table.grant(self.function, "dynamodb:GetItem", "dynamodb:Query")
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[objects])
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]
            )
        )
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_finding(self, objects)}]",
            "The function writes and reads one object per account and month under "
            f"{EXPORT_PREFIX} of the exports bucket (statements/<account_id>/<month>.json); "
            "the key is chosen at run time, so the grant names the prefix, nothing wider.",
        )

    def _definition(self, topic: sns.ITopic) -> sfn.IChainable:
        invalid = sfn.Fail(
            self,
            "InvalidRequest",
            error=INVALID_REQUEST,
            comment="The input is not {account_id, month} of a month that has ended",
            cause_path="$.error.Cause",
        )
        not_found = sfn.Fail(
            self,
            "NotFound",
            error=NOT_FOUND,
            comment="The statements service knows nothing of the account",
            cause_path="$.error.Cause",
        )
        export = tasks.LambdaInvoke(
            self,
            "ExportStatement",
            lambda_function=self.alias,
            payload_response_only=True,
            result_path="$.export",
            comment="Writes the statement document; returns it and the event announcing it",
        )
        # Retriers are tried in order: the named errors first, never retried (a repeat
        # would fail alike), then anything else (throttling, S3 or DynamoDB errors).
        export.add_retry(errors=[INVALID_REQUEST, NOT_FOUND], max_attempts=0)
        export.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(5),
            max_attempts=RETRY_ATTEMPTS,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        export.add_catch(invalid, errors=[INVALID_REQUEST], result_path="$.error")
        export.add_catch(not_found, errors=[NOT_FOUND], result_path="$.error")
        publish = tasks.SnsPublish(
            self,
            "PublishStatementExported",
            topic=topic,
            message=sfn.TaskInput.from_json_path_at("$.export.message"),
            message_attributes={
                "event_type": tasks.MessageAttribute(
                    value=EVENT_TYPE, data_type=tasks.MessageAttributeDataType.STRING
                ),
                "event_version": tasks.MessageAttribute(
                    value=EVENT_VERSION, data_type=tasks.MessageAttributeDataType.NUMBER
                ),
            },
            result_path="$.published",
            comment="Announces the export (its event id repeats for unchanged content)",
        )
        publish.add_retry(
            errors=[sfn.Errors.ALL],
            interval=Duration.seconds(5),
            max_attempts=RETRY_ATTEMPTS,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        done = sfn.Succeed(self, "Exported")
        return export.next(publish).next(done)

    @property
    def state_machine_arn(self) -> str:
        return self.workflow.state_machine.state_machine_arn
