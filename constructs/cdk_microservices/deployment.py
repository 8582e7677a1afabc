"""Deployment: how a pattern rolls out a new version of its code, and what rolls it back.

One value, passed as ``deployment=`` to ``ApiService``, ``QueueWorker``,
``TableEventPublisher``, ``ManagedFunction`` and ``ContainerService``::

    Deployment.all_at_once()                                    # the library default
    Deployment.canary(percent=10, interval=Duration.minutes(5))
    Deployment.linear(percent=10, interval=Duration.minutes(1))
    Deployment.canary(alarms=[my_business_alarm])              # gate on more alarms

Lambda patterns: every function is invoked only through its alias ``live`` (API Gateway
integrations, SQS and DynamoDB stream event source mappings all target the alias), and a
CodeDeploy deployment group moves ``live`` from the old version to the new one on each
deploy, shifting traffic as this value says. The deployment stops and moves ``live`` back
when one of its alarms goes to ALARM (the pattern's own alarms for that function plus
``alarms`` given here), when the deployment fails, or when an operator stops it.
``all_at_once`` keeps the same alias and deployment group (so Dev and Prod deploy the same
way) with CodeDeploy's ``LambdaAllAtOnce`` configuration: all traffic moves at once, and a
deployment is still rolled back if an alarm is already in ALARM when it runs.

``ContainerService``: every strategy is an ECS rolling deployment with the deployment
circuit breaker and deployment alarms that roll back (see ``ContainerService``); ECS's
native blue/green, canary and linear strategies are not used (aws-cdk issue 36649).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from aws_cdk import Duration, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from constructs import Construct

from cdk_microservices._validation import check_fields, checked_arguments, fail, format_number

DeploymentStrategy = Literal["all_at_once", "canary", "linear"]

_CONSTRUCT = "Deployment"

# CodeDeploy's predefined Lambda configurations, by (strategy, percent, minutes): using one
# creates no AWS::CodeDeploy::DeploymentConfig resource.
_PREDEFINED: dict[tuple[str, int, int], codedeploy.ILambdaDeploymentConfig] = {
    ("canary", 10, 5): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    ("canary", 10, 10): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_10_MINUTES,
    ("canary", 10, 15): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_15_MINUTES,
    ("canary", 10, 30): codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_30_MINUTES,
    ("linear", 10, 1): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    ("linear", 10, 2): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_2_MINUTES,
    ("linear", 10, 3): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_3_MINUTES,
    ("linear", 10, 10): codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_10_MINUTES,
}
_CUSTOM_CONFIG_ID = "DeploymentConfig"


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """How new code reaches traffic. Build it with ``all_at_once``, ``canary`` or ``linear``.

    - ``all_at_once()``: every request goes to the new version at once; rolled back only
      if a gating alarm is in ALARM while the deployment runs, or the deployment fails.
      The library's default.
    - ``canary(percent=10, interval=5 min)``: ``percent`` of the traffic for ``interval``,
      then the rest; an alarm during the interval moves everything back.
    - ``linear(percent=10, interval=1 min)``: ``percent`` more every ``interval``.

    ``percent`` is a whole number 1-99 (CodeDeploy takes an integer percentage; 100 would be
    all at once) and ``interval`` a whole number of minutes, at least one (CodeDeploy takes
    the interval in minutes). A CloudFormation stack update waits for the traffic shift to
    finish. ``alarms`` are extra CloudWatch alarms to gate on (e.g. a business metric), on
    top of the pattern's own.
    """

    strategy: DeploymentStrategy
    percent: int = 100
    interval: Duration | None = None
    alarms: tuple[cloudwatch.IAlarm, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.strategy not in ("all_at_once", "canary", "linear"):
            raise fail(
                _CONSTRUCT,
                "strategy",
                f"is {self.strategy!r}; allowed values are 'all_at_once', 'canary', 'linear' "
                "(use Deployment.all_at_once(), .canary() or .linear())",
            )
        if isinstance(self.alarms, str) or not isinstance(self.alarms, Sequence):
            raise fail(_CONSTRUCT, "alarms", "must be a list of aws_cloudwatch.IAlarm")
        check_fields(self)
        object.__setattr__(self, "alarms", tuple(self.alarms))
        for index, alarm in enumerate(self.alarms):
            if not hasattr(alarm, "alarm_arn") or not hasattr(alarm, "alarm_name"):
                raise fail(
                    _CONSTRUCT,
                    f"alarms[{index}]",
                    f"must be an aws_cloudwatch.IAlarm, got {type(alarm).__name__}",
                )
        if self.strategy == "all_at_once":
            if self.percent != 100 or self.interval is not None:
                raise fail(
                    _CONSTRUCT, "percent", "and 'interval' do not apply to all_at_once deployments"
                )
            return
        if (
            isinstance(self.percent, bool)
            or not isinstance(self.percent, int)
            or not 1 <= self.percent <= 99
        ):
            raise fail(
                _CONSTRUCT,
                "percent",
                f"is {self.percent!r}; a {self.strategy} deployment shifts a whole percentage "
                "of 1..99 per step (100 is Deployment.all_at_once())",
            )
        if not isinstance(self.interval, Duration):
            raise fail(
                _CONSTRUCT,
                "interval",
                f"must be an aws_cdk.Duration, got {type(self.interval).__name__}",
            )
        if Token.is_unresolved(self.interval.to_string()):
            raise fail(_CONSTRUCT, "interval", "is a token; pass a concrete number of minutes")
        minutes = self.interval.to_milliseconds(integral=False) / 60_000
        if not minutes.is_integer() or minutes < 1:
            raise fail(
                _CONSTRUCT,
                "interval",
                f"is {format_number(minutes)} minutes; CodeDeploy takes a whole number of "
                "minutes, at least 1",
            )

    # -- factories ----------------------------------------------------------------------

    @classmethod
    @checked_arguments("Deployment")
    def all_at_once(cls, *, alarms: Sequence[cloudwatch.IAlarm] = ()) -> Deployment:
        """All traffic to the new version at once (CodeDeploy ``LambdaAllAtOnce``; an ECS
        rolling deployment)."""
        return cls(strategy="all_at_once", alarms=tuple(alarms))

    @classmethod
    @checked_arguments("Deployment")
    def canary(
        cls,
        *,
        percent: int = 10,
        interval: Duration | None = None,
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> Deployment:
        """``percent`` of the traffic for ``interval`` (default 5 minutes), then all of it."""
        return cls(
            strategy="canary",
            percent=percent,
            interval=Duration.minutes(5) if interval is None else interval,
            alarms=tuple(alarms),
        )

    @classmethod
    @checked_arguments("Deployment")
    def linear(
        cls,
        *,
        percent: int = 10,
        interval: Duration | None = None,
        alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> Deployment:
        """``percent`` more of the traffic every ``interval`` (default 1 minute)."""
        return cls(
            strategy="linear",
            percent=percent,
            interval=Duration.minutes(1) if interval is None else interval,
            alarms=tuple(alarms),
        )

    # -- use ----------------------------------------------------------------------------

    @property
    def minutes(self) -> int:
        """The interval in whole minutes (0 for all at once)."""
        if self.interval is None:
            return 0
        return int(self.interval.to_milliseconds(integral=False) / 60_000)

    @property
    def shifts_gradually(self) -> bool:
        """True for canary and linear: traffic moves in steps, watched by alarms."""
        return self.strategy != "all_at_once"

    def describe(self) -> str:
        """``"all at once"``, ``"canary 10% for 5 min"``, ``"linear 10% every 1 min"``."""
        if self.strategy == "canary":
            return f"canary {self.percent}% for {self.minutes} min"
        if self.strategy == "linear":
            return f"linear {self.percent}% every {self.minutes} min"
        return "all at once"

    def lambda_deployment_config(self, scope: Construct) -> codedeploy.ILambdaDeploymentConfig:
        """CodeDeploy's configuration for this value: a predefined one when it exists, else
        one ``LambdaDeploymentConfig`` created once under ``scope`` (the pattern)."""
        if self.strategy == "all_at_once":
            return codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE
        predefined = _PREDEFINED.get((self.strategy, self.percent, self.minutes))
        if predefined is not None:
            return predefined
        existing = scope.node.try_find_child(_CUSTOM_CONFIG_ID)
        if isinstance(existing, codedeploy.LambdaDeploymentConfig):
            return existing
        assert self.interval is not None
        routing: codedeploy.TrafficRouting = (
            codedeploy.TrafficRouting.time_based_canary(
                interval=self.interval, percentage=self.percent
            )
            if self.strategy == "canary"
            else codedeploy.TrafficRouting.time_based_linear(
                interval=self.interval, percentage=self.percent
            )
        )
        return codedeploy.LambdaDeploymentConfig(scope, _CUSTOM_CONFIG_ID, traffic_routing=routing)


def require_deployment(construct: str, deployment: object) -> Deployment:
    """``deployment`` if it is a ``Deployment`` (None means the default, all at once)."""
    if deployment is None:
        return Deployment.all_at_once()
    if not isinstance(deployment, Deployment):
        raise fail(
            construct,
            "deployment",
            "must be a Deployment (Deployment.all_at_once(), .canary() or .linear()), got "
            f"{type(deployment).__name__}",
        )
    return deployment
