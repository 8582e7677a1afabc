"""TableEventPublisher: publishes a table's changes as domain events, from its stream.

The transactional-outbox pattern for DynamoDB: a service writes only its table, and
this construct turns the committed change into an event on an ``EventBus``. An event
cannot be lost between "write" and "publish", because nothing is published by the
request handler: the stream keeps every change for 24 hours and the publisher is retried
until it succeeds.

Creates:

- ``function`` (a ``ServiceFunction``: own log group and role, X-Ray, Powertools layer)
  with the environment variable ``EVENT_TOPIC_ARN``, allowed to read the table's stream
  and to publish to the bus (and nothing else);
- a DynamoDB stream event source: starting at the oldest record, partial batch failures
  reported, a failing batch split in two to find the bad record, retried until it is
  ``max_record_age`` old, then its stream coordinates sent to ``failure_queue``;
- ``failure_queue``: SSE, TLS-only, 14 days retention;
- ``alarms``: the stream iterator age above ``max_iterator_age`` (publishing is late or
  stuck), a batch in the failure queue, any function error;
- ``alias``: the function's ``live`` alias, which the stream event source mapping
  invokes, and ``deployment_group``, the CodeDeploy group that moves it to each new
  version as ``deployment`` says and rolls it back on the publisher's alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices._alarms import (
    describe,
    function_errors_alarm,
    notify,
    resolve_thresholds,
    seconds_of,
)
from cdk_microservices._service_function import (
    DEFAULT_POWERTOOLS_LAYER_VERSION,
    DEFAULT_RUNTIME,
    FunctionSettings,
    ServiceFunction,
    asset_code,
    checked_layers,
    deploy_through_alias,
    gate_deployments,
)
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    format_number,
    merge_props,
    reject_conflicts,
    require_duration,
    require_environment,
    require_handler,
    require_range,
    require_service_name,
)
from cdk_microservices.compliance import acknowledge
from cdk_microservices.deployment import Deployment, require_deployment
from cdk_microservices.event_bus import EventBus
from cdk_microservices.service_table import ServiceTable

TOPIC_ARN_VARIABLE = "EVENT_TOPIC_ARN"
"""Environment variable holding the bus's topic ARN in the publisher function."""
NOT_GATING_ALARMS = frozenset({"IteratorAgeAlarm", "FailureQueueAlarm"})
"""Backlog alarms (construct ids): they stay in ALARM until the backlog is gone, so they
never gate a deployment (they would roll back the deploy that fixes the publisher)."""


class TableEventPublisher(Construct):
    """A Lambda function that publishes a table's stream records as events on a bus.

    Defaults (each can be changed by its argument):

    - function: 256 MB, 30 s timeout, newest Python runtime, arm64, X-Ray, Powertools'
      public layer (``powertools_layer_version``, default 27: Powertools 3.23.0; ``None``
      leaves it out) followed by your ``layers``;
    - batches of up to 10 records (``batch_size``), one batch per shard at a time
      (``parallelization_factor``: more may publish a key's events out of order);
    - ``filters``: Lambda event filter patterns (``aws_lambda.FilterRule`` values), e.g.
      inserts of one item type only; default none, every record reaches the function;
    - a failing record is retried (``retry_attempts``, default unlimited) until it is
      ``max_record_age`` old (default 6 hours, so an outage of the bus loses nothing),
      then its coordinates go to ``failure_queue``; records after it wait meanwhile, so
      events keep their order;
    - alarms, sent (ALARM and OK) to ``alarm_topic`` if given; ``alarms=False`` turns
      them off. Thresholds by name in ``alarm_thresholds`` (defaults in
      ``ALARM_THRESHOLDS``): ``"IteratorAge"``, the stream's iterator age for 3 of 5
      minutes (seconds, default 300, at most 86,400; ``max_iterator_age``, a Duration,
      sets the same threshold, and giving both is rejected); ``"FailureQueue"``, batches
      in the failure queue (count, default 1); ``"PublisherErrors"``, function errors in
      5 minutes (count, default 1).

    Deployments (``deployment``, default ``Deployment.all_at_once()``): the stream event
    source mapping invokes the alias ``live``; CodeDeploy moves it to each new version and
    back when the deployment fails or is stopped, or when the publisher errors alarm (or a
    ``Deployment.alarms`` alarm) goes to ALARM. The iterator-age and failure-queue alarms
    do not gate: they stay in ALARM until the backlog is gone, and would roll back the fix
    itself. A canary or linear deployment needs alarms.

    ``table`` must have a stream (``ServiceTable(..., stream="NEW_IMAGE")``); every
    ``event_types`` entry must be declared by ``bus``. Escape hatches: ``function_props``
    (keyword arguments of ``aws_lambda.Function``) and ``failure_queue_props`` (of
    ``aws_sqs.Queue``).
    """

    CONSTRUCT = "TableEventPublisher"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        "IteratorAge": 300,
        "FailureQueue": 1,
        "PublisherErrors": 1,
    }
    """Each alarm's name and default threshold (see the class docstring for units)."""

    @checked_arguments("TableEventPublisher")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        table: ServiceTable[dynamodb.ITable] | dynamodb.ITable,
        bus: EventBus[sns.ITopic],
        event_types: Sequence[str],
        code: str | Path | lambda_.Code,
        handler: str,
        filters: Sequence[Mapping[str, Any]] = (),
        memory_size: int = 256,
        timeout: Duration | None = None,
        batch_size: int = 10,
        parallelization_factor: int = 1,
        retry_attempts: int | None = None,
        max_record_age: Duration | None = None,
        environment: Mapping[str, str] | None = None,
        tracing: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        powertools_layer_version: int | None = DEFAULT_POWERTOOLS_LAYER_VERSION,
        layers: Sequence[lambda_.ILayerVersion] = (),
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        max_iterator_age: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        failure_queue_props: Mapping[str, object] | None = None,
        function_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        timeout = timeout or Duration.seconds(30)
        max_record_age = max_record_age or Duration.hours(6)
        require_service_name(name, service_name)
        require_handler(name, "handler", handler)
        self.deployment = require_deployment(name, deployment)
        if not isinstance(bus, EventBus):
            raise fail(name, "bus", f"must be an EventBus, got {type(bus).__name__}")
        if isinstance(event_types, str) or not event_types:
            raise fail(name, "event_types", "must be a non-empty list of event names")
        self.event_types = sorted({bus.contract(event_type).name for event_type in event_types})
        source_table = table.table if isinstance(table, ServiceTable) else table
        if not isinstance(source_table, dynamodb.Table):
            raise fail(
                name,
                "table",
                "must be a ServiceTable or an aws_dynamodb.Table created in this app "
                f"(its stream is needed), got {type(table).__name__}",
            )
        if source_table.table_stream_arn is None:
            raise fail(
                name,
                "table",
                "has no stream; create it with ServiceTable(..., stream='NEW_IMAGE') "
                "(or NEW_AND_OLD_IMAGES)",
            )
        require_range(name, "memory_size", memory_size, minimum=128, maximum=10240)
        require_duration(
            name, "timeout", timeout, min_seconds=1, max_seconds=900, whole_seconds=True
        )
        require_range(name, "batch_size", batch_size, minimum=1, maximum=10000)
        require_range(name, "parallelization_factor", parallelization_factor, minimum=1, maximum=10)
        if retry_attempts is not None:
            require_range(name, "retry_attempts", retry_attempts, minimum=0, maximum=10000)
        require_duration(
            name,
            "max_record_age",
            max_record_age,
            min_seconds=60,
            max_seconds=604800,
            whole_seconds=True,
        )
        if isinstance(filters, str | Mapping):
            raise fail(name, "filters", "must be a list of filter patterns (dicts)")
        for index, pattern in enumerate(filters):
            if not isinstance(pattern, Mapping) or not pattern:
                raise fail(name, f"filters[{index}]", "must be a non-empty dict (a filter pattern)")
        if not alarms:
            reject_conflicts(
                name,
                "alarms",
                {
                    "alarm_topic": alarm_topic,
                    "max_iterator_age": max_iterator_age,
                    "alarm_thresholds": alarm_thresholds,
                },
            )
        if max_iterator_age is not None:
            require_duration(
                name,
                "max_iterator_age",
                max_iterator_age,
                min_seconds=60,
                max_seconds=86400,
                whole_seconds=True,
            )
        thresholds = resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            old_arguments={"IteratorAge": ("max_iterator_age", seconds_of(max_iterator_age))},
            maximums={"IteratorAge": 86400},
        )
        self.service_name = service_name
        self.bus = bus

        failure_defaults: dict[str, object] = {
            "encryption": sqs.QueueEncryption.SQS_MANAGED,
            "enforce_ssl": True,
            "retention_period": Duration.days(14),
            "removal_policy": removal_policy,
        }
        self.failure_queue = sqs.Queue(
            self,
            "FailureQueue",
            **merge_props(  # type: ignore[arg-type]
                name,
                "failure_queue_props",
                sqs.Queue,
                failure_defaults,
                failure_queue_props,
                scope=self,
            ),
        )
        acknowledge(
            self.failure_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is the stream's on-failure destination (a dead-letter queue): "
            "nothing consumes it automatically; it is alarmed on and read by an operator.",
        )
        acknowledge(
            self.failure_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This queue is the stream's on-failure destination: records end here, are "
            "alarmed on, and are replayed by an operator.",
        )

        require_environment(self.CONSTRUCT, "environment", environment)
        settings = FunctionSettings(
            service_name=service_name,
            code=asset_code(name, code),
            runtime=runtime,
            architecture=architecture,
            log_retention=log_retention,
            removal_policy=removal_policy,
            tracing=tracing,
            powertools_layer_version=powertools_layer_version,
            environment={**(environment or {}), TOPIC_ARN_VARIABLE: bus.topic.topic_arn},
            function_props=function_props,
            layers=checked_layers(name, layers),
        )
        self.service_function = ServiceFunction(
            self,
            "Publisher",
            settings=settings,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=(
                f"{service_name}: publishes {', '.join(self.event_types)} from the table stream"
            ),
            construct_name=name,
            unscoped_reason=(
                "The stream event source needs dynamodb:ListStreams, which is granted on "
                "Resource '*' because it does not support resource-level permissions."
            ),
        )
        self.function: lambda_.Function = self.service_function.function
        live = deploy_through_alias(self.service_function, self.deployment)
        self.alias: lambda_.Alias = live.alias
        self.deployment_group: codedeploy.LambdaDeploymentGroup = live.deployment_group
        acknowledge(
            self.function,
            "Serverless::Serverless-LambdaDLQ",
            "Invoked by a DynamoDB stream event source mapping, whose on-failure destination "
            "is the failure queue; a function DLQ only serves asynchronous invokes.",
        )
        # The alias, never $LATEST: CodeDeploy decides which version publishes.
        self.alias.add_event_source(
            event_sources.DynamoEventSource(
                source_table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                parallelization_factor=parallelization_factor,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=retry_attempts,
                max_record_age=max_record_age,
                on_failure=event_sources.SqsDlq(self.failure_queue),
                filters=[lambda_.FilterCriteria.filter(dict(pattern)) for pattern in filters]
                or None,
            )
        )
        bus.grant_publish(self.function)

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self._add_alarms(alarm_topic, thresholds)
        gate_deployments(
            name,
            {self.service_function: live},
            self.alarms,
            self.deployment,
            not_gating=NOT_GATING_ALARMS,
        )

    def _add_alarms(self, alarm_topic: sns.ITopic | None, thresholds: Mapping[str, float]) -> None:
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        service = self.service_name
        max_age = thresholds["IteratorAge"]
        errors = thresholds["PublisherErrors"]
        alarms = [
            self.function.metric(
                "IteratorAge", period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "IteratorAgeAlarm",
                alarm_description=describe(
                    service,
                    f"events are published {format_number(max_age)} s or more after the table "
                    "changed (3 of 5 minutes), or publishing is stuck on a failing record",
                    "look at the PublisherErrors alarm and the publisher's logs: a record that "
                    "keeps failing holds back its shard until it is max_record_age old",
                ),
                # The metric is in milliseconds.
                threshold=max_age * 1000,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self.failure_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "FailureQueueAlarm",
                alarm_description=describe(
                    service,
                    "stream records could not be published in time: their events were never sent",
                    "read a message of the failure queue (it names the shard and sequence "
                    "numbers), find the cause in the publisher's logs, fix it, then replay those "
                    "records by hand (SQS cannot redrive them)",
                ),
                threshold=thresholds["FailureQueue"],
                evaluation_periods=1,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            function_errors_alarm(
                self,
                "PublisherErrorsAlarm",
                function=self.function,
                threshold=errors,
                description=describe(
                    service,
                    f"the event publisher failed {format_number(errors)} time(s) or more in 5 "
                    "minutes; its records are retried and hold back their shard",
                    "read the publisher function's log group for the error (a bus or KMS "
                    "permission, an event that fails its contract)",
                ),
            ),
        ]
        notify(alarms, alarm_topic)
        self.alarms = alarms
