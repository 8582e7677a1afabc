"""ManagedFunction: one Lambda function made the way the patterns make theirs.

For a function that no pattern owns because it is not behind an API, a queue or a stream:
a Step Functions task, a scheduled job's target. Callers invoke ``alias`` (``live``), never
the function itself: CodeDeploy moves the alias to each new version and back on an alarm,
as it does for every function of the patterns.

Creates:

- ``log_group``: the function's own log group, kept ``log_retention`` and removed with
  ``removal_policy``;
- ``role``: the function's own role, trusted by Lambda, holding only what it is granted
  (writing to ``log_group``, X-Ray when ``tracing``, what you grant it; no AWS managed
  policy);
- ``function``: newest Python runtime, arm64, ``memory_size`` / ``timeout``, active X-Ray
  tracing, ``POWERTOOLS_SERVICE_NAME`` = ``service_name`` and ``POWERTOOLS_LOG_LEVEL`` =
  ``INFO`` beside your ``environment``, Powertools' public layer
  (``powertools_layer_version``) before your ``layers``; ``dead_letter_queue``, if given,
  as its dead-letter queue for asynchronous invocations (the role may send to it);
- ``alias``: ``live``, on the function's current version: what callers invoke;
- ``application`` and ``deployment_group``: a CodeDeploy application of the construct's
  own and the deployment group that moves ``alias`` as ``deployment`` says, with a role of
  its own allowed to update this alias only, rolling back when a deployment fails, is
  stopped, or one of its alarms goes to ALARM;
- ``alarms``: ``Errors``, any function error within 5 minutes (``alarm_thresholds``), sent
  (ALARM and OK) to ``alarm_topic`` if given; it gates the deployment group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices._alarms import describe, function_errors_alarm, notify, resolve_thresholds
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
    reject_conflicts,
    require_duration,
    require_environment,
    require_handler,
    require_range,
    require_service_name,
)
from cdk_microservices.deployment import Deployment, require_deployment

MAX_DESCRIPTION_LENGTH = 256
"""Lambda's limit on a function's description."""


class ManagedFunction(Construct):
    """A Lambda function invoked through its ``live`` alias, deployed by CodeDeploy.

    Defaults (each can be changed by its argument):

    - 256 MB (``memory_size``, 128-10240), 30 s timeout (``timeout``, 1-900 whole
      seconds), ``runtime`` Python 3.14, ``architecture`` arm64, ``tracing=True`` (active
      X-Ray), ``powertools_layer_version`` 27 (Powertools 3.23.0; ``None`` leaves the
      public layer out, to bring your own pinned one in ``layers``);
    - ``log_retention`` one month, ``removal_policy`` ``RETAIN`` (for the log group);
    - no dead-letter queue: give ``dead_letter_queue`` when the function is invoked
      asynchronously (a scheduled job's target), where Lambda puts an event that still
      failed after its retries. A function invoked synchronously (a Step Functions task)
      returns its error to the caller and needs none; cdk-nag's Serverless-LambdaDLQ then
      reports it, which you acknowledge with that reason;
    - ``deployment`` ``Deployment.all_at_once()``; a canary or linear deployment needs the
      alarms (or ``Deployment`` alarms of its own);
    - ``alarms=True``: the ``Errors`` alarm (threshold 1 error in 5 minutes, by name in
      ``alarm_thresholds``; see ``ALARM_THRESHOLDS``), sent to ``alarm_topic`` if given.

    ``code`` is a handler folder (``str`` or ``Path``) or any ``aws_lambda.Code``; ``handler``
    is ``module.function``; ``description`` says what the function does (1-256 characters).
    Escape hatch: ``function_props``, keyword arguments of ``aws_lambda.Function`` merged
    into the defaults (each changed default reported as a warning).

    Grant what the function needs to ``role`` (or ``function``); give callers ``alias``
    (``alias.grant_invoke(...)``, a Step Functions ``LambdaInvoke``'s ``lambda_function``, a
    ``ScheduledJob``'s ``target``), never ``function``: invoking the function itself would
    run ``$LATEST``, which CodeDeploy neither shifts nor rolls back.
    """

    CONSTRUCT = "ManagedFunction"
    ALARM_THRESHOLDS: Mapping[str, float] = {"Errors": 1}
    """Each alarm's name and default threshold: ``Errors``, function errors in 5 minutes."""

    @checked_arguments("ManagedFunction")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        code: str | Path | lambda_.Code,
        handler: str,
        description: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        powertools_layer_version: int | None = DEFAULT_POWERTOOLS_LAYER_VERSION,
        tracing: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        dead_letter_queue: sqs.IQueue | None = None,
        deployment: Deployment | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        function_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        timeout = timeout or Duration.seconds(30)
        require_service_name(name, service_name)
        require_handler(name, "handler", handler)
        if (
            not isinstance(description, str)
            or not 1 <= len(description.strip()) <= MAX_DESCRIPTION_LENGTH
        ):
            raise fail(
                name,
                "description",
                f"must say what the function does, in 1-{MAX_DESCRIPTION_LENGTH} characters",
            )
        self.deployment = require_deployment(name, deployment)
        require_range(name, "memory_size", memory_size, minimum=128, maximum=10240)
        require_duration(
            name, "timeout", timeout, min_seconds=1, max_seconds=900, whole_seconds=True
        )
        require_environment(name, "environment", environment)
        if dead_letter_queue is not None and not hasattr(dead_letter_queue, "queue_arn"):
            raise fail(
                name,
                "dead_letter_queue",
                f"must be an aws_sqs.IQueue, got {type(dead_letter_queue).__name__}",
            )
        if (
            dead_letter_queue is not None
            and function_props
            and ("dead_letter_queue" in function_props or "dead_letter_topic" in function_props)
        ):
            raise fail(
                name,
                "function_props",
                "sets a dead-letter target as well as 'dead_letter_queue'; pass one of them",
            )
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, self.ALARM_THRESHOLDS, alarm_thresholds)
        self.service_name = service_name

        overrides = dict(function_props or {})
        if dead_letter_queue is not None:
            # aws_lambda.Function grants its role sqs:SendMessage on the queue.
            overrides["dead_letter_queue"] = dead_letter_queue
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
            function_props=overrides or None,
            layers=checked_layers(name, layers),
        )
        # "Default" leaves no trace in the logical ids: the function's resources are named
        # as if they were this construct's own children.
        self.service_function = ServiceFunction(
            self,
            "Default",
            settings=settings,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            description=description,
            construct_name=name,
        )
        self.function: lambda_.Function = self.service_function.function
        self.role: iam.Role = self.service_function.role
        self.log_group: logs.LogGroup = self.service_function.log_group
        self.dead_letter_queue: sqs.IQueue | None = dead_letter_queue
        live = deploy_through_alias(self.service_function, self.deployment)
        self.alias: lambda_.Alias = live.alias
        self.deployment_group: codedeploy.LambdaDeploymentGroup = live.deployment_group
        application = self.deployment_group.application
        assert isinstance(application, codedeploy.LambdaApplication)
        self.application: codedeploy.LambdaApplication = application

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            errors = thresholds["Errors"]
            self.alarms = [
                function_errors_alarm(
                    self,
                    "ErrorsAlarm",
                    function=self.function,
                    threshold=errors,
                    description=describe(
                        service_name,
                        f"the function {self.node.path} failed {format_number(errors)} "
                        "time(s) or more in 5 minutes; a deployment in progress rolls back",
                        "read the function's log group for the error and its request id",
                    ),
                )
            ]
            notify(self.alarms, alarm_topic)
        gate_deployments(name, {self.service_function: live}, self.alarms, self.deployment)
