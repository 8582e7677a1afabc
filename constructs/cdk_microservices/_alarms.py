"""Alarm helpers shared by the patterns: thresholds overridable by name, descriptions that
say what to do first, function errors, and where alarms notify.

Conventions every pattern follows:

- each alarm has a stable, documented name (``"DeadLetter"``, ``"Latency"``...); the
  caller's ``alarm_thresholds`` maps some of those names to new thresholds
  (``resolve_thresholds``), in the unit the construct documents for that name (durations
  always in seconds);
- each alarm's description reads ``"<service>: <what it means>. First: <what to do
  first>."`` (``describe``), so whoever is paged knows where to start;
- each alarm sets how missing data is treated, and sends both its ALARM and its OK
  transitions to the alarm topic (``notify``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._validation import fail, format_number

ALARM_THRESHOLDS = "alarm_thresholds"
"""The argument by which every pattern takes thresholds by alarm name."""

DESCRIPTION_FORMAT = re.compile(
    r"(?P<service>[^\s:][^:]*): (?P<meaning>.+)\. First: (?P<first>.+)\.", re.S
)
"""What every alarm description matches (``fullmatch``)."""

MAX_DESCRIPTION_LENGTH = 1024
"""CloudWatch's limit on an alarm description (``AlarmDescription``)."""

FIRST_DEAD_LETTER = (
    "read one message from the dead-letter queue (aws sqs receive-message --visibility-"
    "timeout 0) to find the cause, fix it, then redrive the queue with SQS's message move "
    "task (tools/redrive_dlq.py of cdk-microservices, or the console's Start DLQ redrive)"
)
"""What to do first when a message is dead-lettered."""


def resolve_thresholds(
    construct: str,
    defaults: Mapping[str, float],
    given: Mapping[str, float] | None,
    *,
    old_arguments: Mapping[str, tuple[str, float | None]] | None = None,
    maximums: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The threshold of each alarm name: ``defaults`` with the caller's ``given`` values.

    ``given`` is the caller's ``alarm_thresholds``: an unknown name, a value that is not
    a positive finite number, or one above ``maximums[name]`` raises a
    ``ConstructArgumentError`` naming the argument, the key and the known names.
    ``old_arguments`` maps an alarm name to the older argument that sets the same
    threshold and its value (already in the threshold's unit; None when not given):
    that value is used, and giving both is rejected.
    """
    known = ", ".join(repr(key) for key in sorted(defaults))
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise fail(
            construct,
            ALARM_THRESHOLDS,
            f"must be a mapping of alarm names to numbers, got {type(given).__name__}; "
            f"the alarm names are {known}",
        )
    resolved = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise fail(
                construct,
                ALARM_THRESHOLDS,
                f"has the unknown alarm name {key!r}; the alarm names are {known}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(
                construct,
                f"{ALARM_THRESHOLDS}[{key!r}]",
                f"must be a number, got {type(value).__name__}",
            )
        if math.isnan(value) or math.isinf(value) or value <= 0:
            raise fail(
                construct,
                f"{ALARM_THRESHOLDS}[{key!r}]",
                f"is {value}; a threshold must be a positive number",
            )
        limit = (maximums or {}).get(key)
        if limit is not None and value > limit:
            raise fail(
                construct,
                f"{ALARM_THRESHOLDS}[{key!r}]",
                f"is {format_number(value)}; allowed range is more than 0 and at most "
                f"{format_number(limit)}",
            )
        resolved[key] = float(value)
    for key, (argument, old_value) in (old_arguments or {}).items():
        if old_value is None:
            continue
        if key in given:
            raise fail(
                construct,
                ALARM_THRESHOLDS,
                f"sets {key!r}, which '{argument}' sets too; pass one of them (both set the "
                f"threshold of the {key!r} alarm)",
            )
        resolved[key] = old_value
    return resolved


def describe(service: str, meaning: str, first: str) -> str:
    """An alarm description: ``"<service>: <meaning>. First: <first>."`` (public as
    ``cdk_microservices.alarm_description``, for alarms of your own)."""
    text = f"{service}: {meaning.rstrip('.')}. First: {first.rstrip('.')}."
    if len(text) > MAX_DESCRIPTION_LENGTH or DESCRIPTION_FORMAT.fullmatch(text) is None:
        # A programming error of the library: the texts are fixed, only names vary.
        raise ValueError(f"alarm description does not fit the convention: {text!r}")
    return text


def at_least_alarm(
    scope: Construct,
    id_: str,
    *,
    metric: cloudwatch.IMetric,
    description: str,
    threshold: float,
) -> cloudwatch.Alarm:
    """Alarm when ``metric`` reaches ``threshold`` in one of its periods; no data is fine."""
    return cloudwatch.Alarm(
        scope,
        id_,
        metric=metric,
        alarm_description=description,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def function_errors_alarm(
    scope: Construct,
    id_: str,
    *,
    function: lambda_.IFunction,
    description: str,
    threshold: float = 1,
) -> cloudwatch.Alarm:
    """Alarm on ``threshold`` errors (default any) of ``function`` within 5 minutes."""
    return at_least_alarm(
        scope,
        id_,
        metric=function.metric_errors(period=Duration.minutes(5)),
        description=description,
        threshold=threshold,
    )


def notify(alarms: Sequence[cloudwatch.Alarm], topic: sns.ITopic | None) -> None:
    """Send each alarm's ALARM and OK transitions to ``topic`` (nothing when None)."""
    if topic is None:
        return
    action = cloudwatch_actions.SnsAction(topic)
    for alarm in alarms:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)


def seconds_of(duration: Duration | None) -> float | None:
    """A duration argument in seconds (fractions kept), None for None."""
    return None if duration is None else duration.to_milliseconds(integral=False) / 1000
