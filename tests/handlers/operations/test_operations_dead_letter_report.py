"""The dead-letter report: counts per queue, its JSON log line and metrics, a queue that
fails, and a bad configuration."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any

import pytest

SERVICE_NAME = "operations"  # the conftest's POWERTOOLS_SERVICE_NAME

ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

QUEUE_URLS = "DEAD_LETTER_QUEUE_URLS"
Loader = Callable[..., AbstractContextManager[SimpleNamespace]]


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def _metrics(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The EMF documents of the output, by QueueName."""
    return {line["QueueName"]: line for line in lines if "_aws" in line}


def _reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The function's ``dead-letter report`` log records (Powertools' JSON logger: each
    record is one JSON line with its ``extra`` fields)."""
    return [
        record
        for record in caplog.records
        if record.name == SERVICE_NAME and record.getMessage() == "dead-letter report"
    ]


def test_counts_every_queue_and_logs_and_measures_them(
    load_operations: Loader,
    dead_letter_queue: Callable[..., str],
    sqs: Any,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    statements = dead_letter_queue("statements-dlq", visible=3, in_flight=2, delayed=1)
    transfers = dead_letter_queue("transfers-dlq")
    queues = {"statements-events": statements, "transfers-account-events": transfers}
    before = {
        url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(ATTRIBUTES))
        for url in queues.values()
    }
    capsys.readouterr()

    with load_operations(queues) as modules:
        result = modules.dead_letter_report.handler({}, lambda_context)

    assert result == {
        "queues": {
            "statements-events": {
                "url": statements,
                "visible": 3,
                "not_visible": 2,
                "delayed": 1,
                "total": 6,
            },
            "transfers-account-events": {
                "url": transfers,
                "visible": 0,
                "not_visible": 0,
                "delayed": 0,
                "total": 0,
            },
        },
        "failed": {},
        "total": 6,
    }
    lines = _lines(capsys)
    [log] = _reports(caplog)
    assert log.levelno == logging.INFO
    assert log.report == result  # type: ignore[attr-defined]
    emf = _metrics(lines)
    assert set(emf) == set(queues)
    for name, expected in (("statements-events", 6), ("transfers-account-events", 0)):
        document = emf[name]
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Payments/Operations"
        assert directive["Dimensions"] == [["QueueName", "service"]]
        assert directive["Metrics"] == [{"Name": "DeadLetterMessages", "Unit": "Count"}]
        assert document["service"] == SERVICE_NAME
        assert document["DeadLetterMessages"] == [expected]
    # Nothing was received or deleted: the counts are as they were.
    for url in queues.values():
        after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(ATTRIBUTES))
        assert after["Attributes"] == before[url]["Attributes"]


def test_the_namespace_can_be_set(
    load_operations: Loader,
    dead_letter_queue: Callable[..., str],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = dead_letter_queue("one", visible=1)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Team/Ops")
    with load_operations({"one": url}) as modules:
        modules.dead_letter_report.handler({}, lambda_context)
    [directive] = _metrics(_lines(capsys))["one"]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Team/Ops"


def test_a_queue_that_fails_is_reported_and_fails_the_invocation(
    load_operations: Loader,
    dead_letter_queue: Callable[..., str],
    sqs: Any,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    healthy = dead_letter_queue("healthy-dlq", visible=2)
    deleted = dead_letter_queue("deleted-dlq", visible=1)
    sqs.delete_queue(QueueUrl=deleted)
    capsys.readouterr()

    with load_operations({"gone": deleted, "healthy": healthy}) as modules:
        failure = modules.dead_letter_report.DeadLetterReportError
        with pytest.raises(failure) as raised:
            modules.dead_letter_report.handler({}, lambda_context)

    assert "1 of 2" in str(raised.value)
    assert "gone" in str(raised.value)
    lines = _lines(capsys)
    [log] = _reports(caplog)
    assert log.levelno == logging.ERROR
    report = log.report  # type: ignore[attr-defined]
    assert report["queues"]["healthy"]["visible"] == 2
    assert report["total"] == 2
    assert set(report["failed"]) == {"gone"}
    assert report["failed"]["gone"]["url"] == deleted
    assert "NonExistentQueue" in report["failed"]["gone"]["error"] or (
        "QueueDoesNotExist" in report["failed"]["gone"]["error"]
    )
    # The queue that answered is still measured; the one that failed is not.
    assert set(_metrics(lines)) == {"healthy"}


def test_an_empty_queue_reports_zero(
    load_operations: Loader,
    dead_letter_queue: Callable[..., str],
    lambda_context: Any,
) -> None:
    url = dead_letter_queue("empty")
    with load_operations({"empty": url}) as modules:
        result = modules.dead_letter_report.handler({}, lambda_context)
    assert result["total"] == 0
    assert result["queues"]["empty"]["total"] == 0


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("{not json", "is not JSON"),
        ("[]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"a": 1}', "must be an SQS queue URL"),
        ('{"a": "http://sqs.us-east-1.amazonaws.com/123456789012/q"}', "SQS queue URL"),
        ('{"a": "https://sqs.us-east-1.amazonaws.com/q"}', "SQS queue URL"),
        ('{"has space": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}', "queue name"),
        ('{"": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}', "queue name"),
    ],
)
def test_a_bad_configuration_fails_at_cold_start(
    load_operations: Loader, value: str | None, says: str
) -> None:
    with pytest.raises(ValueError, match=QUEUE_URLS) as raised, load_operations(value):
        pass
    assert type(raised.value).__name__ == "ConfigurationError"
    assert says in str(raised.value)


def test_too_many_queues_are_refused(load_operations: Loader) -> None:
    queues = {
        f"q{number}": f"https://sqs.us-east-1.amazonaws.com/123456789012/q{number}"
        for number in range(51)
    }
    with pytest.raises(ValueError, match="at most 50"), load_operations(queues):
        pass
