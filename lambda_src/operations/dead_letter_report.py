"""Reports how many messages wait in each dead-letter queue (``dead_letter_report.handler``).

Run on a schedule (EventBridge Scheduler, any payload: the event is ignored). For each queue
of ``DEAD_LETTER_QUEUE_URLS`` (a JSON object of name to queue URL, checked when the
function starts: a bad value fails every invocation with a ``ConfigurationError`` that says
what is wrong) it reads the counts with ``sqs:GetQueueAttributes`` and never receives,
deletes or moves a message (see ``dead_letters``). It then

- logs one JSON line ``dead-letter report`` whose ``report`` field is the result below;
- emits, per queue that answered, the metric ``DeadLetterMessages`` (Count: visible + not
  visible + delayed) in the namespace ``POWERTOOLS_METRICS_NAMESPACE`` (default
  ``Payments/Operations``), as CloudWatch embedded metric format in the log, with the
  dimensions ``QueueName`` (the name in ``DEAD_LETTER_QUEUE_URLS``) and ``service``
  (``POWERTOOLS_SERVICE_NAME``, when set);
- returns ``{"queues": {name: {"url", "visible", "not_visible", "delayed", "total"}},
  "failed": {}, "total": n}``.

If a queue cannot be read (deleted, access denied), the others are still read, reported and
measured, and then the invocation fails with :class:`DeadLetterReportError` naming the
queues that failed, so that the schedule's retries, its dead-letter queue and the
function's error alarm see it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dead_letters import QUEUE_URLS_VARIABLE, Report, parse_queue_urls, read_report

DEFAULT_NAMESPACE = "Payments/Operations"
METRIC_NAME = "DeadLetterMessages"
QUEUE_DIMENSION = "QueueName"

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)
# Checked at cold start: a misconfigured function fails at once, saying why.
QUEUES = parse_queue_urls(os.environ.get(QUEUE_URLS_VARIABLE))


class DeadLetterReportError(RuntimeError):
    """One or more queues could not be read (the others were reported)."""


@functools.cache
def _sqs_client() -> Any:
    return boto3.client("sqs")


def emit_metrics(report: Report) -> None:
    """One ``DeadLetterMessages`` data point per queue that answered."""
    for count in report.counts:
        metrics.add_dimension(name=QUEUE_DIMENSION, value=count.name)
        metrics.add_metric(name=METRIC_NAME, unit=MetricUnit.Count, value=count.total)
        metrics.flush_metrics()


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``dead_letter_report.handler``): the counts (see the module)."""
    report = read_report(_sqs_client(), QUEUES)
    result = report.to_json()
    emit_metrics(report)
    if report.failures:
        logger.error("dead-letter report", extra={"report": result})
        names = ", ".join(f"{f.name} ({f.error})" for f in report.failures)
        raise DeadLetterReportError(
            f"could not read {len(report.failures)} of {len(QUEUES)} dead-letter queues: {names}"
        )
    logger.info("dead-letter report", extra={"report": result})
    return result
