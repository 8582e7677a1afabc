"""``payments_shared.correlation``: which ids are accepted, where a request's id comes from,
and the SNS message attributes an event goes out with (within SNS's rules)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

# SNS message attribute names (Amazon SNS developer guide, "Amazon SNS message attributes";
# the same rule in the SQS API reference): letters, digits, '_', '-' and '.', at most 256
# characters, not starting or ending with '.', no '..', no 'AWS.' or 'Amazon.' prefix in
# any case. At most 10 attributes reach an SQS subscription with raw message delivery
# (which EventBus.subscribe uses): SNS discards a message with more.
_SNS_ATTRIBUTE_NAME = re.compile(r"(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}")
_RESERVED_PREFIX = re.compile(r"(aws|amazon)\.", re.IGNORECASE)
RAW_DELIVERY_MAX_ATTRIBUTES = 10


def _api_event(headers: dict[str, str] | None) -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent({"headers": headers, "requestContext": {"requestId": REQUEST_ID}})


@pytest.mark.parametrize(
    "value",
    ["a", "A-1", "req_42.retry-1", REQUEST_ID, "x" * 64, "0123456789"],
)
def test_valid_ids_are_kept(value: str) -> None:
    from payments_shared.correlation import valid_correlation_id

    assert valid_correlation_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 65,
        "has space",
        "line\nbreak",
        "tab\t",
        'quote"',
        "{json}",
        "semi;colon",
        "slash/",
        "ünïcode",
        "id\u2028",
        None,
        42,
        ["a"],
    ],
)
def test_anything_else_is_refused(value: Any) -> None:
    from payments_shared.correlation import valid_correlation_id

    assert valid_correlation_id(value) is None


def test_a_valid_header_is_the_requests_id_whatever_its_case() -> None:
    from payments_shared.correlation import from_api_request

    assert from_api_request(_api_event({"X-Correlation-Id": "abc-1"})) == "abc-1"
    assert from_api_request(_api_event({"x-correlation-id": "abc-2"})) == "abc-2"


@pytest.mark.parametrize("headers", [None, {}, {"X-Correlation-Id": "bad id\n{}"}])
def test_without_a_valid_header_api_gateways_request_id_stands_for_the_request(
    headers: dict[str, str] | None,
) -> None:
    from payments_shared.correlation import from_api_request

    assert from_api_request(_api_event(headers)) == REQUEST_ID


def test_the_message_attribute_is_a_string_and_only_for_a_valid_id() -> None:
    from payments_shared.correlation import message_attribute

    assert message_attribute("abc-1") == {
        "correlation_id": {"DataType": "String", "StringValue": "abc-1"}
    }
    assert message_attribute(None) == {}
    assert message_attribute("not valid") == {}


def _event() -> Any:
    from payments_shared.events import Event

    return Event(
        event_id="1d7c7b8e-1111-4a6b-8c1d-5e6f7a8b9c0d",
        event_type="AccountOpened",
        event_version=1,
        occurred_at="2026-01-05T09:30:00.000Z",
        data={},
    )


@pytest.mark.parametrize("correlation_id", [None, "abc-1", "x" * 64])
def test_published_attributes_follow_snss_rules(correlation_id: str | None) -> None:
    from payments_shared.events import MAX_MESSAGE_ATTRIBUTES, message_attributes

    attributes = message_attributes(_event(), correlation_id)

    assert MAX_MESSAGE_ATTRIBUTES == RAW_DELIVERY_MAX_ATTRIBUTES
    assert len(attributes) <= RAW_DELIVERY_MAX_ATTRIBUTES
    for name, value in attributes.items():
        assert _SNS_ATTRIBUTE_NAME.fullmatch(name), name
        assert not _RESERVED_PREFIX.match(name), name
        assert value["DataType"] in ("String", "Number")
        assert value["StringValue"]  # neither name, type nor value may be empty
    assert ("correlation_id" in attributes) is (correlation_id is not None)
    assert set(attributes) - {"correlation_id"} == {"event_type", "event_version"}


def test_an_invalid_id_is_never_published() -> None:
    from payments_shared.events import message_attributes

    assert "correlation_id" not in message_attributes(_event(), "two words")
