"""How events flow in the reference app: who publishes, who subscribes, who may touch what.

Accounts publishes ``AccountOpened`` from its table's stream to the accounts bus; the
statements worker's queue is subscribed to ``AccountOpened``, ``TransferCompleted`` and
``DepositCompleted``.
That no service's role reaches another service's data is tests/reference/test_data_ownership.py,
from the same code as the report's data-ownership matrix (tools/architecture_report.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from reference_app import resources_of_type

from stacks.config import DEV, PROD, EnvironmentProfile

PROFILES = [DEV, PROD]
# Pinned: a new logical ID would make CloudFormation replace the table and lose its data.
STATEMENTS_TABLE_LOGICAL_ID = "StatementsTable26B05729"
ACCOUNTS_TABLE_LOGICAL_ID = "AccountsTable0B30E896"


def _stack(templates: dict[str, Any], profile: EnvironmentProfile, name: str) -> Any:
    return templates[f"{profile.stage_id}/{name}"]


def _only(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for _, policy in resources_of_type(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _function_role(template: dict[str, Any], handler: str) -> str:
    function = _only(
        [
            resource
            for _, resource in resources_of_type(template, "AWS::Lambda::Function")
            if resource["Properties"]["Handler"] == handler
        ]
    )
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def _imported_export(value: Any) -> str:
    """The output behind a cross-stack reference (``Fn::GetStackOutput`` or an import)."""
    assert isinstance(value, dict), value
    if "Fn::GetStackOutput" in value:
        return str(value["Fn::GetStackOutput"]["OutputName"])
    assert "Fn::ImportValue" in value, value
    return str(value["Fn::ImportValue"])


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_statements_table_logical_id_is_pinned(profile, synthesized_app):
    tables = resources_of_type(
        _stack(synthesized_app, profile, "Statements"), "AWS::DynamoDB::Table"
    )
    assert [logical_id for logical_id, _ in tables] == [STATEMENTS_TABLE_LOGICAL_ID]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_platform_has_one_encrypted_bus_per_publishing_domain(profile, synthesized_app):
    template = _stack(synthesized_app, profile, "Platform")
    topics = dict(resources_of_type(template, "AWS::SNS::Topic"))
    event_topics = {
        logical_id: topic
        for logical_id, topic in topics.items()
        if logical_id.startswith(("AccountEvents", "TransferEvents"))
    }
    assert len(event_topics) == 2
    for topic in event_topics.values():
        key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_accounts_publishes_account_opened_from_its_table_stream(profile, synthesized_app):
    template = _stack(synthesized_app, profile, "Accounts")
    table = template["Resources"][ACCOUNTS_TABLE_LOGICAL_ID]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}

    mapping = _only(
        [
            resource["Properties"]
            for _, resource in resources_of_type(template, "AWS::Lambda::EventSourceMapping")
            if resource["Properties"]["EventSourceArn"]
            == {"Fn::GetAtt": [ACCOUNTS_TABLE_LOGICAL_ID, "StreamArn"]}
        ]
    )
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "OnFailure" in mapping["DestinationConfig"]
    assert "MaximumRetryAttempts" not in mapping  # retried until the record is too old
    [pattern] = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"type": {"S": ["Account"]}}},
    }

    role = _function_role(template, "publish_events.handler")
    statements = _role_statements(template, role)
    publish = _only([s for s in statements if "sns:Publish" in _actions(s)])
    assert "AccountEventsTopic" in _imported_export(_only(_resources(publish)))
    kms = _only([s for s in statements if any(a.startswith("kms:") for a in _actions(s))])
    assert sorted(_actions(kms)) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "AccountEventsKey" in _imported_export(_only(_resources(kms)))
    dynamodb_actions = {a for s in statements for a in _actions(s) if a.startswith("dynamodb:")}
    # Reads the stream; never writes the table.
    assert dynamodb_actions == {
        "dynamodb:ListStreams",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_statements_worker_is_subscribed_to_the_events_it_applies(profile, synthesized_app):
    template = _stack(synthesized_app, profile, "Statements")
    queues = dict(resources_of_type(template, "AWS::SQS::Queue"))
    subscriptions = [
        s["Properties"] for _, s in resources_of_type(template, "AWS::SNS::Subscription")
    ]
    by_topic = {
        _imported_export(subscription["TopicArn"]).split("OutputRef")[1]: subscription
        for subscription in subscriptions
    }
    assert sorted(name.split("Topic")[0] for name in by_topic) == [
        "AccountEvents",
        "TransferEvents",
    ]
    for topic, subscription in by_topic.items():
        expected = (
            ["AccountOpened"]
            if topic.startswith("AccountEvents")
            else ["DepositCompleted", "TransferCompleted"]
        )
        assert subscription["FilterPolicy"] == {"event_type": expected}
        assert subscription["RawMessageDelivery"] is True
        assert subscription["Protocol"] == "sqs"
        queue_id = subscription["Endpoint"]["Fn::GetAtt"][0]
        assert queue_id in queues
        dead_letter_id = subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert queues[queue_id]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [dead_letter_id, "Arn"]
        }


@pytest.mark.parametrize(
    ("handler", "allowed"),
    [
        ("apply_events.handler", {"dynamodb:PutItem", "dynamodb:UpdateItem"}),
        ("get_statement.handler", {"dynamodb:GetItem", "dynamodb:Query"}),
    ],
)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_statements_functions_get_only_the_table_actions_they_use(
    profile, handler, allowed, synthesized_app
):
    template = _stack(synthesized_app, profile, "Statements")
    statements = _role_statements(template, _function_role(template, handler))
    table = [
        s
        for s in statements
        if _resources(s) == [{"Fn::GetAtt": [STATEMENTS_TABLE_LOGICAL_ID, "Arn"]}]
    ]
    assert {a for s in table for a in _actions(s)} == allowed


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_statement_route_requires_cognito(profile, synthesized_app):
    template = _stack(synthesized_app, profile, "Statements")
    methods = {
        (method["Properties"]["HttpMethod"], method["Properties"]["AuthorizationType"])
        for _, method in resources_of_type(template, "AWS::ApiGateway::Method")
    }
    assert methods == {("GET", "COGNITO_USER_POOLS")}
