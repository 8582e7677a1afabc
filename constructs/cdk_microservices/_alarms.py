"""Alarm helpers shared by the patterns: function errors, and where alarms notify."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct


def function_errors_alarm(
    scope: Construct, id_: str, *, function: lambda_.IFunction, description: str
) -> cloudwatch.Alarm:
    """Alarm on any error of ``function`` within 5 minutes."""
    return function.metric_errors(period=Duration.minutes(5)).create_alarm(
        scope,
        id_,
        alarm_description=description,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def notify(alarms: Sequence[cloudwatch.Alarm], topic: sns.ITopic | None) -> None:
    """Send each alarm's ALARM and OK transitions to ``topic`` (nothing when None)."""
    if topic is None:
        return
    action = cloudwatch_actions.SnsAction(topic)
    for alarm in alarms:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
