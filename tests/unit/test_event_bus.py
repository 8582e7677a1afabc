"""EventBus: encrypted TLS-only topic, contract registry, filtered raw subscriptions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from unit_app import new_app

from cdk_microservices import ConstructArgumentError, EventBus, EventContract, QueueWorker
from stacks.compliance import add_compliance_checks

OPENED = EventContract(name="AccountOpened", version=1, schema={"type": "object"})
CLOSED = EventContract(name="AccountClosed", version=2, schema={"type": "object"})


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _bus_and_worker(stack: Stack, code_dir: Path) -> tuple[EventBus, QueueWorker]:
    bus = EventBus(stack, "Bus", domain="accounts", contracts=[OPENED, CLOSED])
    worker = QueueWorker(
        stack, "Worker", service_name="statements", code=code_dir, handler="consumer.handler"
    )
    return bus, worker


def test_topic_is_encrypted_tls_only_and_subscription_is_filtered(code_dir: Path) -> None:
    stack = _stack()
    bus, worker = _bus_and_worker(stack, code_dir)
    bus.subscribe(worker, event_types=["AccountOpened"])
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.AccountRootPrincipal())
    bus.grant_publish(publisher)
    template = Template.from_stack(stack)

    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    [topic] = template.find_resources("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    [topic_policy] = template.find_resources("AWS::SNS::TopicPolicy").values()
    [deny] = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    [subscription] = template.find_resources("AWS::SNS::Subscription").values()
    properties = subscription["Properties"]
    assert properties["Protocol"] == "sqs"
    assert properties["RawMessageDelivery"] is True
    assert properties["FilterPolicy"] == {"event_type": ["AccountOpened"]}
    assert "RedrivePolicy" in properties  # undeliverable events reach the worker's DLQ

    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {json.dumps(statement["Action"]) for statement in statements}
    assert '"sns:Publish"' in actions
    # Exactly the two key calls SNS makes for a publisher; no GenerateDataKey* wildcard.
    assert json.dumps(["kms:Decrypt", "kms:GenerateDataKey"]) in actions
    assert not any("*" in action for action in actions)


def test_subscribing_to_an_undeclared_event_fails_at_synth(code_dir: Path) -> None:
    bus, worker = _bus_and_worker(_stack(), code_dir)
    with pytest.raises(ConstructArgumentError, match="'TransferCompleted', which the 'accounts'"):
        bus.subscribe(worker, event_types=["TransferCompleted"])
    with pytest.raises(ConstructArgumentError, match="non-empty list"):
        bus.subscribe(worker, event_types="AccountOpened")  # type: ignore[arg-type]


def test_no_open_cdk_nag_findings(code_dir: Path, tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    bus, worker = _bus_and_worker(_stack(app), code_dir)
    bus.subscribe(worker, event_types=["AccountOpened", "AccountClosed"])
    app.synth()


def test_contract_from_file(tmp_path: Path) -> None:
    good = tmp_path / "TransferCompleted.v3.json"
    good.write_text(json.dumps({"type": "object", "required": ["transfer_id"]}))
    contract = EventContract.from_file(good)
    assert (contract.name, contract.version, contract.key) == (
        "TransferCompleted",
        3,
        "TransferCompleted.v3",
    )
    assert contract.schema["required"] == ["transfer_id"]
    badly_named = tmp_path / "transfer_completed.json"
    badly_named.write_text("{}")
    with pytest.raises(ValueError, match=r"named '<EventName>\.v<version>\.json'"):
        EventContract.from_file(badly_named)
    not_object = tmp_path / "Thing.v1.json"
    not_object.write_text(json.dumps({"type": "array"}))
    with pytest.raises(ValueError, match='"type": "object"'):
        EventContract.from_file(not_object)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domain": "Accounts"}, "argument 'domain' is 'Accounts'"),
        ({"contracts": []}, "argument 'contracts' is empty"),
        ({"contracts": [OPENED, OPENED]}, r"'contracts\[1\]' declares 'AccountOpened' twice"),
        (
            {"contracts": [EventContract(name="account_opened", version=1, schema={})]},
            r"'contracts\[0\].name'",
        ),
        ({"topic_props": {"fifo": True, "bogus": 1}}, r"unknown key\(s\) 'bogus'"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"domain": "accounts", "contracts": [OPENED], **kwargs}
    with pytest.raises(ConstructArgumentError, match=message):
        EventBus(_stack(), "Bus", **arguments)  # type: ignore[arg-type]


def test_existing_topic_conflicts_with_topic_arguments() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Existing")
    bus = EventBus(stack, "Bus", domain="accounts", contracts=[OPENED], existing_topic=topic)
    assert bus.topic is topic
    with pytest.raises(ConstructArgumentError, match=r"'existing_topic'.*'topic_props'"):
        EventBus(
            stack,
            "Bus2",
            domain="accounts",
            contracts=[OPENED],
            existing_topic=topic,
            topic_props={"display_name": "x"},
        )


def test_subscribe_queue_serves_a_queue_without_a_worker() -> None:
    stack = _stack()
    bus = EventBus(stack, "Bus", domain="accounts", contracts=[OPENED, CLOSED])
    dead_letters = sqs.Queue(stack, "DeadLetters")
    queue = sqs.Queue(
        stack,
        "Polled",
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
    )
    bus.subscribe_queue(queue, event_types=["AccountOpened"], dead_letter_queue=dead_letters)
    [subscription] = Template.from_stack(stack).find_resources("AWS::SNS::Subscription").values()
    properties = subscription["Properties"]
    assert properties["FilterPolicy"] == {"event_type": ["AccountOpened"]}
    assert properties["RawMessageDelivery"] is True
    assert properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].startswith(
        "DeadLetters"
    )
    with pytest.raises(ConstructArgumentError, match="'TransferCompleted', which the 'accounts'"):
        bus.subscribe_queue(queue, event_types=["TransferCompleted"])
    with pytest.raises(ConstructArgumentError, match="'worker' must be a QueueWorker, got Queue"):
        bus.subscribe(queue, event_types=["AccountOpened"])  # type: ignore[arg-type]
