"""QueueWorker: an SQS queue with a dead-letter queue, consumed by one Lambda function.

Creates (the queues unless an existing queue is passed in):

- ``dead_letter_queue``: where a message lands after ``max_receive_count`` failed
  receives; SSE, TLS-only, kept ``dead_letter_retention`` (default 14 days, the maximum);
- ``queue``: SSE, TLS-only, redrive to the dead-letter queue, visibility timeout derived
  from the function's timeout (6x, plus the batching window, as AWS recommends);
- ``function`` (a ``ServiceFunction``: own log group and role, X-Ray, Powertools layer)
  with an SQS event source that reports partial batch failures, so one poison message
  is retried and dead-lettered alone while the rest of its batch succeeds;
- ``alarms``: a message in the dead-letter queue, the oldest message older than
  15 minutes, and any function error (see ``QueueWorker.ALARM_THRESHOLDS``);
- ``alias``: the function's ``live`` alias, which the SQS event source mapping invokes,
  and ``deployment_group``, the CodeDeploy group that moves it to each new version as
  ``deployment`` says and rolls it back on the worker's alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Generic, TypeVar, cast, overload

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices._alarms import (
    FIRST_DEAD_LETTER,
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

VISIBILITY_TIMEOUT_FACTOR = 6
NOT_GATING_ALARMS = frozenset({"DeadLetterAlarm", "OldestMessageAgeAlarm"})
"""Backlog alarms (construct ids): they stay in ALARM until the queue is drained, so they
never gate a deployment (they would roll back the deploy that fixes the consumer)."""

QueueT = TypeVar("QueueT", bound=sqs.IQueue, covariant=True)
"""``sqs.Queue`` when the worker creates its queue, ``sqs.IQueue`` for an existing_queue."""
DeadLetterQueueT = TypeVar("DeadLetterQueueT", bound=sqs.Queue | None, covariant=True)
"""``sqs.Queue`` when the worker creates its queues, None for an existing_queue."""


class QueueWorker(Construct, Generic[QueueT, DeadLetterQueueT]):
    """An SQS queue and dead-letter queue with a Lambda consumer.

    Defaults (each can be changed by its argument):

    - function: 256 MB, 30 s timeout, newest Python runtime, arm64, X-Ray, Powertools'
      public layer (``powertools_layer_version``, default 27: Powertools 3.23.0; ``None``
      leaves it out) followed by your ``layers``;
    - batches of up to 10 messages (``batch_size``), no batching window, no concurrency cap
      (``max_concurrency``, 2-1000, limits how hard the worker hits what it writes to);
    - queue visibility timeout = 6 x function timeout + batching window; an explicit
      ``visibility_timeout`` below that is rejected (messages would be redelivered while
      still being processed);
    - ``max_receive_count=5`` receives before a message is dead-lettered;
    - queue retention 4 days, dead-letter retention 14 days; the dead-letter queue must
      keep messages longer than the queue, or a message could expire there unseen;
    - both queues encrypted with SQS-managed keys (SNS can deliver to them) and TLS-only;
    - alarms, sent (ALARM and OK) to ``alarm_topic`` if given; ``alarms=False`` turns
      them off. Their thresholds can be changed by name with ``alarm_thresholds``
      (defaults in ``ALARM_THRESHOLDS``):

      - ``"OldestMessageAge"``: the oldest message in the queue is this old or older
        (seconds, default 900 = 15 minutes; at most 1,209,600) for 3 of 5 minutes;
        ``max_message_age`` (a Duration) sets the same threshold, and giving both is
        rejected;
      - ``"ConsumerErrors"``: this many function errors or more in 5 minutes (default 1);
      - ``"DeadLetter"``: this many messages or more in the dead-letter queue (default 1;
        not created for an ``existing_queue``, whose dead-letter queue is not known);
    - deployments (``deployment``, default ``Deployment.all_at_once()``): the event source
      mapping invokes the alias ``live``; CodeDeploy moves it to each new version (all at
      once, or canary / linear) and back when the deployment fails or is stopped, or when
      the consumer errors alarm (or a ``Deployment.alarms`` alarm) goes to ALARM. The
      dead-letter and message-age alarms do not gate deployments: they stay in ALARM until
      the queue is drained, and would roll back the fix itself. A canary or linear
      deployment needs alarms (``alarms=False`` without ``Deployment.alarms`` is refused).

    Escape hatches: ``existing_queue`` consumes a queue created elsewhere (its redrive and
    encryption are then the caller's; queue arguments are rejected), ``queue_props`` and
    ``dead_letter_queue_props`` override keyword arguments of ``aws_sqs.Queue``, and
    ``function_props`` those of ``aws_lambda.Function``.
    """

    CONSTRUCT = "QueueWorker"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        "OldestMessageAge": 900,
        "ConsumerErrors": 1,
        "DeadLetter": 1,
    }
    """Each alarm's name and default threshold (see the class docstring for units)."""

    @overload
    def __init__(
        self: QueueWorker[sqs.Queue, sqs.Queue],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        code: str | Path | lambda_.Code,
        handler: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        visibility_timeout: Duration | None = None,
        max_receive_count: int | None = None,
        retention_period: Duration | None = None,
        dead_letter_retention_period: Duration | None = None,
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
        max_message_age: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_queue: None = None,
        queue_props: Mapping[str, object] | None = None,
        dead_letter_queue_props: Mapping[str, object] | None = None,
        function_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: QueueWorker[sqs.IQueue, None],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        code: str | Path | lambda_.Code,
        handler: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
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
        max_message_age: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_queue: sqs.IQueue,
        function_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @checked_arguments("QueueWorker")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        code: str | Path | lambda_.Code,
        handler: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        visibility_timeout: Duration | None = None,
        max_receive_count: int | None = None,
        retention_period: Duration | None = None,
        dead_letter_retention_period: Duration | None = None,
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
        max_message_age: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_queue: sqs.IQueue | None = None,
        queue_props: Mapping[str, object] | None = None,
        dead_letter_queue_props: Mapping[str, object] | None = None,
        function_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        timeout = timeout or Duration.seconds(30)
        require_service_name(name, service_name)
        require_handler(name, "handler", handler)
        self.deployment = require_deployment(name, deployment)
        require_range(name, "memory_size", memory_size, minimum=128, maximum=10240)
        require_duration(
            name, "timeout", timeout, min_seconds=1, max_seconds=900, whole_seconds=True
        )
        require_range(name, "batch_size", batch_size, minimum=1, maximum=10000)
        if max_batching_window is not None:
            require_duration(
                name,
                "max_batching_window",
                max_batching_window,
                min_seconds=0,
                max_seconds=300,
                whole_seconds=True,
            )
        if batch_size > 10 and max_batching_window is None:
            raise fail(
                name, "batch_size", f"is {batch_size}; above 10 SQS needs a max_batching_window"
            )
        if max_concurrency is not None:
            require_range(name, "max_concurrency", max_concurrency, minimum=2, maximum=1000)
        if not alarms:
            reject_conflicts(
                name,
                "alarms",
                {
                    "alarm_topic": alarm_topic,
                    "max_message_age": max_message_age,
                    "alarm_thresholds": alarm_thresholds,
                },
            )
        if max_message_age is not None:
            require_duration(
                name,
                "max_message_age",
                max_message_age,
                min_seconds=60,
                max_seconds=1209600,
                whole_seconds=True,
            )

        thresholds = resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            old_arguments={"OldestMessageAge": ("max_message_age", seconds_of(max_message_age))},
            maximums={"OldestMessageAge": 1209600},
        )

        self.service_name = service_name
        self.dead_letter_queue = cast(DeadLetterQueueT, None)
        if existing_queue is not None:
            reject_conflicts(
                name,
                "existing_queue",
                {
                    "visibility_timeout": visibility_timeout,
                    "max_receive_count": max_receive_count,
                    "retention_period": retention_period,
                    "dead_letter_retention_period": dead_letter_retention_period,
                    "queue_props": queue_props,
                    "dead_letter_queue_props": dead_letter_queue_props,
                },
            )
            self.queue = cast(QueueT, existing_queue)
        else:
            self.queue = cast(
                QueueT,
                self._create_queues(
                    timeout=timeout,
                    max_batching_window=max_batching_window,
                    visibility_timeout=visibility_timeout,
                    max_receive_count=5 if max_receive_count is None else max_receive_count,
                    retention_period=retention_period or Duration.days(4),
                    dead_letter_retention_period=dead_letter_retention_period or Duration.days(14),
                    removal_policy=removal_policy,
                    queue_props=queue_props,
                    dead_letter_queue_props=dead_letter_queue_props,
                ),
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
            environment=dict(environment or {}),
            function_props=function_props,
            layers=checked_layers(name, layers),
        )
        self.service_function = ServiceFunction(
            self,
            "Consumer",
            settings=settings,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=f"{service_name}: consumes {self.node.path}",
            construct_name=name,
        )
        self.function: lambda_.Function = self.service_function.function
        live = deploy_through_alias(self.service_function, self.deployment)
        self.alias: lambda_.Alias = live.alias
        self.deployment_group: codedeploy.LambdaDeploymentGroup = live.deployment_group
        acknowledge(
            self.function,
            "Serverless::Serverless-LambdaDLQ",
            "Invoked by an SQS event source mapping: failed messages are redriven to the "
            "queue's own dead-letter queue; a function DLQ only serves asynchronous invokes.",
        )
        acknowledge(
            self.alias,  # the event source mapping lives under the alias it invokes
            "Serverless::Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings have no on-failure destination; a message that keeps "
            "failing is moved by the queue's redrive policy to its dead-letter queue.",
        )
        # The alias, never $LATEST: CodeDeploy decides which version consumes.
        self.alias.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=max_batching_window,
                max_concurrency=max_concurrency,
                report_batch_item_failures=True,
            )
        )

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

    def _create_queues(
        self,
        *,
        timeout: Duration,
        max_batching_window: Duration | None,
        visibility_timeout: Duration | None,
        max_receive_count: int,
        retention_period: Duration,
        dead_letter_retention_period: Duration,
        removal_policy: RemovalPolicy,
        queue_props: Mapping[str, object] | None,
        dead_letter_queue_props: Mapping[str, object] | None,
    ) -> sqs.Queue:
        name = self.CONSTRUCT
        require_range(name, "max_receive_count", max_receive_count, minimum=1, maximum=1000)
        window = max_batching_window.to_seconds() if max_batching_window else 0
        minimum_visibility = VISIBILITY_TIMEOUT_FACTOR * timeout.to_seconds() + window
        if visibility_timeout is not None:
            require_duration(
                name,
                "visibility_timeout",
                visibility_timeout,
                min_seconds=0,
                max_seconds=43200,
                whole_seconds=True,
            )
        if visibility_timeout is None:
            visibility_timeout = Duration.seconds(minimum_visibility)
        elif visibility_timeout.to_seconds() < minimum_visibility:
            raise fail(
                name,
                "visibility_timeout",
                f"is {visibility_timeout.to_seconds()} seconds; it must be at least "
                f"{minimum_visibility} seconds ({VISIBILITY_TIMEOUT_FACTOR} x timeout "
                f"{timeout.to_seconds()} s + batching window {window} s), or messages are "
                "delivered again while still being processed",
            )
        for argument, period in (
            ("retention_period", retention_period),
            ("dead_letter_retention_period", dead_letter_retention_period),
        ):
            require_duration(
                name, argument, period, min_seconds=60, max_seconds=1209600, whole_seconds=True
            )
        if dead_letter_retention_period.to_seconds() <= retention_period.to_seconds():
            raise fail(
                name,
                "dead_letter_retention_period",
                f"is {dead_letter_retention_period.to_seconds()} seconds, not longer than "
                f"retention_period ({retention_period.to_seconds()} s); a dead-lettered "
                "message keeps its original age and would expire before anyone sees it",
            )

        dlq_defaults: dict[str, object] = {
            "encryption": sqs.QueueEncryption.SQS_MANAGED,
            "enforce_ssl": True,
            "retention_period": dead_letter_retention_period,
            "removal_policy": removal_policy,
        }
        dlq_props = merge_props(
            name,
            "dead_letter_queue_props",
            sqs.Queue,
            dlq_defaults,
            dead_letter_queue_props,
            scope=self,
        )
        dead_letter_queue = sqs.Queue(self, "DeadLetterQueue", **dlq_props)  # type: ignore[arg-type]
        self.dead_letter_queue = cast(DeadLetterQueueT, dead_letter_queue)
        acknowledge(
            dead_letter_queue,
            "Serverless::Serverless-SQSRedrivePolicy",
            "This is the dead-letter queue: messages end here, are alarmed on, and are "
            "inspected or redriven to the source queue by an operator.",
        )
        queue_defaults: dict[str, object] = {
            "encryption": sqs.QueueEncryption.SQS_MANAGED,
            "enforce_ssl": True,
            "retention_period": retention_period,
            "visibility_timeout": visibility_timeout,
            "removal_policy": removal_policy,
            "dead_letter_queue": sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=max_receive_count
            ),
        }
        props = merge_props(name, "queue_props", sqs.Queue, queue_defaults, queue_props, scope=self)
        # The overrides are held to the same rules as the arguments.
        merged_visibility = props.get("visibility_timeout")
        if (
            isinstance(merged_visibility, Duration)
            and merged_visibility.to_seconds() < minimum_visibility
        ):
            raise fail(
                name,
                "queue_props",
                f"sets visibility_timeout to {merged_visibility.to_seconds()} seconds; it must "
                f"be at least {minimum_visibility} seconds ({VISIBILITY_TIMEOUT_FACTOR} x "
                f"timeout + batching window), or messages are delivered again while still "
                "being processed",
            )
        queue_retention = props.get("retention_period")
        dlq_retention = dlq_props.get("retention_period")
        if (
            props.get("dead_letter_queue") is queue_defaults["dead_letter_queue"]
            and isinstance(queue_retention, Duration)
            and isinstance(dlq_retention, Duration)
            and dlq_retention.to_seconds() <= queue_retention.to_seconds()
        ):
            raise fail(
                name,
                "dead_letter_queue_props" if dead_letter_queue_props else "queue_props",
                f"leaves the dead-letter queue's retention ({dlq_retention.to_seconds()} s) not "
                f"longer than the queue's ({queue_retention.to_seconds()} s); a dead-lettered "
                "message keeps its original age and would expire before anyone sees it",
            )
        return sqs.Queue(self, "Queue", **props)  # type: ignore[arg-type]

    def _add_alarms(self, alarm_topic: sns.ITopic | None, thresholds: Mapping[str, float]) -> None:
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        service = self.service_name
        max_age = thresholds["OldestMessageAge"]
        alarms = [
            self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "OldestMessageAgeAlarm",
                alarm_description=describe(
                    service,
                    f"a message has waited {format_number(max_age)} s or more in the queue "
                    "(3 of 5 minutes): the consumer is failing, throttled or too slow",
                    "look at the ConsumerErrors alarm and the consumer's logs for errors; if "
                    "there are none, raise the consumer's concurrency (max_concurrency) or "
                    "batch size",
                ),
                threshold=max_age,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            function_errors_alarm(
                self,
                "ConsumerErrorsAlarm",
                function=self.function,
                threshold=thresholds["ConsumerErrors"],
                description=describe(
                    service,
                    f"the queue consumer failed {format_number(thresholds['ConsumerErrors'])} "
                    "time(s) or more in 5 minutes; failed messages are retried, then "
                    "dead-lettered",
                    "read the consumer function's log group for the error and its request id",
                ),
            ),
        ]
        if self.dead_letter_queue is not None:
            alarms.append(
                self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ).create_alarm(
                    self,
                    "DeadLetterAlarm",
                    alarm_description=describe(
                        service,
                        "a message was dead-lettered: it failed every receive and was not "
                        "processed",
                        FIRST_DEAD_LETTER,
                    ),
                    threshold=thresholds["DeadLetter"],
                    evaluation_periods=1,
                    comparison_operator=at_least,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        notify(alarms, alarm_topic)
        self.alarms = alarms

    def grant_send_messages(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to send messages to the queue."""
        return self.queue.grant_send_messages(grantee)
