"""Misuses that escaped as jsii traces, Python errors or failed deploys now raise a
``ConstructArgumentError`` naming the argument (issue 10, class 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from unit_app import new_app

from cdk_microservices import (
    ApiRoute,
    ApiService,
    ConstructArgumentError,
    EventBus,
    EventContract,
    QueueWorker,
    ServiceTable,
)

GET = ApiRoute(method="GET", path="/orders/{id}", handler="read.handler", authorization="iam")
OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})


def _stack() -> Stack:
    return Stack(
        new_app(),
        "Test",
        env=Environment(account="111111111111", region="us-east-1"),
    )


def _api(code_dir: Path, **overrides: Any) -> ApiService:
    kwargs: dict[str, Any] = {
        "service_name": "orders",
        "code": code_dir,
        "routes": [GET],
        **overrides,
    }
    return ApiService(_stack(), "Orders", **kwargs)


def test_a_user_pool_given_as_a_string_is_rejected(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match=r"'user_pool' must be an aws_cognito"):
        _api(code_dir, user_pool="us-east-1_abc")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"environment": {"RETRIES": 3}}, r"'environment\['RETRIES'\]' must be a string, got int"),
        ({"environment": {"bad-name": "x"}}, r"'environment' has the name 'bad-name'"),
        ({"environment": ["A=1"]}, r"'environment' must be a mapping"),
        (
            {
                "routes": [
                    ApiRoute(
                        method="GET",
                        path="/orders/{id}",
                        handler="read.handler",
                        authorization="iam",
                        environment={"DEBUG": True},  # type: ignore[dict-item]
                    )
                ]
            },
            r"'routes\[0\].environment\['DEBUG'\]' must be a string, got bool",
        ),
        (
            {"function_props": {"environment": {"TIMEOUT": 1.5}}},
            r"'function_props\['environment'\]\['TIMEOUT'\]' must be a string",
        ),
    ],
)
def test_environment_values_must_be_strings(
    code_dir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _api(code_dir, **overrides)


def test_a_queue_worker_environment_is_checked_too(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match=r"QueueWorker: argument 'environment\["):
        QueueWorker(
            _stack(),
            "Worker",
            service_name="orders",
            code=code_dir,
            handler="consumer.handler",
            environment={"BATCH": 10},  # type: ignore[dict-item]
        )


def test_sibling_path_parameters_with_different_names_are_rejected(code_dir: Path) -> None:
    """API Gateway refuses /orders/{id} beside /orders/{order_id} at deploy."""
    routes = [
        GET,
        ApiRoute(
            method="DELETE",
            path="/orders/{order_id}",
            handler="read.handler",
            authorization="iam",
        ),
    ]
    with pytest.raises(
        ConstructArgumentError,
        match=r"'routes' put \{id\} \('/orders/\{id\}'\) and \{order_id\} .* under '/orders'",
    ):
        _api(code_dir, routes=routes)


def test_the_same_parameter_name_at_one_level_is_fine(code_dir: Path) -> None:
    routes = [
        GET,
        ApiRoute(method="DELETE", path="/orders/{id}", handler="read.handler", authorization="iam"),
        ApiRoute(
            method="GET",
            path="/orders/{id}/items/{item}",
            handler="read.handler",
            authorization="iam",
        ),
    ]
    assert len(_api(code_dir, routes=routes).functions) == 3


def test_a_deprecated_props_key_is_rejected() -> None:
    with pytest.raises(
        ConstructArgumentError,
        match=r"'table_props' uses the deprecated key\(s\) 'point_in_time_recovery'",
    ):
        ServiceTable(_stack(), "Orders", table_props={"point_in_time_recovery": True})


def test_a_list_of_actions_given_to_grant_is_rejected() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Orders")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with pytest.raises(ConstructArgumentError, match=r"pass each action as its own argument"):
        table.grant(role, ["dynamodb:GetItem"])  # type: ignore[arg-type]


def test_subscribing_an_imported_queue_says_what_to_do() -> None:
    """SNS may deliver only to a queue whose policy allows it; CDK cannot add that policy to
    an imported queue and skips it silently, so nothing would ever arrive."""
    stack = _stack()
    bus = EventBus(stack, "Bus", domain="accounts", contracts=[OPENED])
    imported = sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111111111111:orders")
    with pytest.raises(ConstructArgumentError, match=r"'queue' was imported, .* 'sns:SendMessage'"):
        bus.subscribe_queue(imported, event_types=["AccountOpened"])
    with pytest.raises(ConstructArgumentError, match=r"'dead_letter_queue' was imported"):
        bus.subscribe_queue(
            sqs.Queue(stack, "Own"), event_types=["AccountOpened"], dead_letter_queue=imported
        )
