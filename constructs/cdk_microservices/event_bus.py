"""EventBus: one SNS topic for one domain's events, with a registry of event contracts.

Creates (unless an existing topic is passed in):

- ``topic``: an SNS topic encrypted with ``master_key`` (a rotating customer managed key
  created here unless one is given; SNS's AWS managed key cannot be used by the services
  that subscribe), with a topic policy that denies any request not sent over TLS;
- ``master_key``: that key;
- ``alarms``: deliveries that failed, and failed deliveries that could not even be moved
  to a subscription's dead-letter queue.

``contracts`` declares every event type the domain publishes: a name, a version and a
JSON Schema, usually read with ``EventContract.from_file`` from ``contracts/events/``.
``subscribe(worker, event_types=[...])`` delivers only those types to a ``QueueWorker``'s
queue, ``subscribe_queue`` to any SQS queue (raw delivery, filter policy on the
``event_type`` message attribute); naming a type the bus does not declare is an error
at synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast, overload

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._validation import (
    check_fields,
    checked_arguments,
    fail,
    merge_props,
    reject_conflicts,
    require_pattern,
    require_service_name,
)
from cdk_microservices.queue_worker import QueueWorker

EVENT_TYPE_ATTRIBUTE = "event_type"
"""Message attribute every publisher sets to the event's name; subscriptions filter on it."""

_EVENT_NAME = r"[A-Z][A-Za-z0-9]{1,63}"
_CONTRACT_FILE = re.compile(r"(?P<name>[A-Z][A-Za-z0-9]{1,63})\.v(?P<version>[1-9][0-9]*)\.json")


@dataclass(frozen=True, kw_only=True)
class EventContract:
    """One event type: its name, its version and the JSON Schema of its payload."""

    name: str
    version: int
    schema: Mapping[str, object]

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def key(self) -> str:
        """``Name.vN``, as in the contract's file name."""
        return f"{self.name}.v{self.version}"

    @classmethod
    def from_file(cls, path: str | Path) -> EventContract:
        """Read ``<Name>.v<N>.json`` (a JSON Schema); the file name gives name and version."""
        file = Path(path)
        match = _CONTRACT_FILE.fullmatch(file.name)
        if match is None:
            raise ValueError(
                f"{file}: an event contract file is named '<EventName>.v<version>.json', "
                "e.g. 'AccountOpened.v1.json'"
            )
        schema = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(f'{file}: an event contract is a JSON Schema with "type": "object"')
        return cls(name=match["name"], version=int(match["version"]), schema=schema)


TopicT = TypeVar("TopicT", bound=sns.ITopic, covariant=True)
"""``sns.Topic`` when the bus creates its topic, ``sns.ITopic`` for an ``existing_topic``."""


class EventBus(Construct, Generic[TopicT]):
    """The SNS topic one domain publishes its events to, and its contract registry.

    Defaults: topic encrypted with a customer managed key with rotation (``master_key``
    to bring your own), TLS-only topic policy, key kept on stack deletion unless
    ``removal_policy`` says otherwise. Escape hatches: ``existing_topic`` (then no key,
    topic or alarm argument may be given, and no alarms are made: the topic's owner alarms
    it) and ``topic_props`` (keyword arguments of ``aws_sns.Topic``).

    Alarms (``alarms=False`` turns them off), sent (ALARM and OK) to ``alarm_topic`` if
    given, on the sum over 5 minutes, missing data not breaching; thresholds changed by
    name with ``alarm_thresholds`` (defaults in ``ALARM_THRESHOLDS``):
    ``"DeliveryFailed"``, ``NumberOfNotificationsFailed`` (messages SNS gave up
    delivering to a subscriber; for SQS, a message goes to the subscription's dead-letter
    queue when it has one) (count, default 1); ``"RedriveToDlqFailed"``,
    ``NumberOfNotificationsFailedToRedriveToDlq`` (failed messages that could not be put
    in the subscription's dead-letter queue either: they are lost) (count, default 1).
    """

    CONSTRUCT = "EventBus"
    ALARM_THRESHOLDS: Mapping[str, float] = {"DeliveryFailed": 1, "RedriveToDlqFailed": 1}
    """Each alarm's name and default threshold (see the class docstring)."""

    topic: TopicT
    """The topic: an ``sns.Topic`` created here, or the ``existing_topic`` passed in, typed
    as what it is (``EventBus[sns.ITopic]``)."""

    alarms: list[cloudwatch.Alarm]
    """The alarms created (empty with ``alarms=False`` or an existing topic)."""

    @overload
    def __init__(
        self: EventBus[sns.Topic],
        scope: Construct,
        id: str,
        *,
        domain: str,
        contracts: Sequence[EventContract],
        master_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_topic: None = None,
        topic_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: EventBus[sns.ITopic],
        scope: Construct,
        id: str,
        *,
        domain: str,
        contracts: Sequence[EventContract],
        existing_topic: sns.ITopic,
    ) -> None: ...

    @checked_arguments("EventBus")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str,
        contracts: Sequence[EventContract],
        master_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_topic: sns.ITopic | None = None,
        topic_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, domain, "domain")
        self.domain = domain
        self.contracts: dict[str, EventContract] = {}
        for index, contract in enumerate(contracts):
            if not isinstance(contract, EventContract):
                raise fail(name, f"contracts[{index}]", "must be an EventContract")
            require_pattern(
                name, f"contracts[{index}].name", contract.name, _EVENT_NAME, "PascalCase"
            )
            if contract.name in self.contracts:
                raise fail(
                    name,
                    f"contracts[{index}]",
                    f"declares {contract.name!r} twice; one version per event type per bus",
                )
            self.contracts[contract.name] = contract
        if not self.contracts:
            raise fail(name, "contracts", "is empty; declare the event types this bus carries")

        if existing_topic is not None:
            reject_conflicts(
                name,
                "existing_topic",
                {
                    "master_key": master_key,
                    "removal_policy": removal_policy,
                    "alarms": alarms,
                    "alarm_topic": alarm_topic,
                    "alarm_thresholds": alarm_thresholds,
                    "topic_props": topic_props,
                },
            )
            self.topic = cast(TopicT, existing_topic)
            self.master_key: kms.IKey | None = None
            self.alarms = []
            return

        alarms = True if alarms is None else alarms
        if not isinstance(alarms, bool):
            raise fail(name, "alarms", f"must be True or False, got {alarms!r}")
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, self.ALARM_THRESHOLDS, alarm_thresholds)

        self.master_key = master_key or kms.Key(
            self,
            "Key",
            description=f"Encrypts the {domain} event topic",
            enable_key_rotation=True,
            removal_policy=removal_policy or RemovalPolicy.RETAIN,
        )
        defaults: dict[str, object] = {
            "display_name": f"{domain} events",
            "master_key": self.master_key,
            "enforce_ssl": True,
        }
        props = merge_props(name, "topic_props", sns.Topic, defaults, topic_props, scope=self)
        topic = sns.Topic(self, "Topic", **props)  # type: ignore[arg-type]
        self.topic = cast(TopicT, topic)
        self.alarms = []
        if alarms:
            self._add_alarms(topic, thresholds, alarm_topic)

    def _add_alarms(
        self, topic: sns.Topic, thresholds: Mapping[str, float], alarm_topic: sns.ITopic | None
    ) -> None:
        service = f"{self.domain} event bus"
        checks = (
            (
                "DeliveryFailed",
                topic.metric_number_of_notifications_failed(
                    period=Duration.minutes(5), statistic="Sum"
                ),
                "SNS gave up delivering {n} event(s) or more to a subscriber in 5 minutes",
                "find the subscriber in the subscriptions' dead-letter queues (a QueueWorker's "
                "DeadLetter alarm fires too) and check that the queue's policy still lets "
                "this topic send and that SNS may use the queue's KMS key",
            ),
            (
                "RedriveToDlqFailed",
                topic.metric(
                    "NumberOfNotificationsFailedToRedriveToDlq",
                    period=Duration.minutes(5),
                    statistic="Sum",
                ),
                "{n} event(s) or more could be neither delivered nor put in a subscription's "
                "dead-letter queue in 5 minutes: they are lost",
                "check that each subscription's dead-letter queue exists and its policy lets "
                "this topic send; then have the publisher send the lost events again",
            ),
        )
        for alarm_name, metric, meaning, first in checks:
            threshold = thresholds[alarm_name]
            self.alarms.append(
                metric.create_alarm(
                    self,
                    f"{alarm_name}Alarm",
                    alarm_description=describe(service, meaning.format(n=f"{threshold:g}"), first),
                    threshold=threshold,
                    evaluation_periods=1,
                    comparison_operator=(
                        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                    ),
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        notify(self.alarms, alarm_topic)

    @property
    def event_types(self) -> list[str]:
        """Names of the declared event types."""
        return sorted(self.contracts)

    def contract(self, event_type: str) -> EventContract:
        """The declared contract of ``event_type``; raises listing the declared ones."""
        if event_type not in self.contracts:
            raise fail(
                self.CONSTRUCT,
                "event_types",
                f"names {event_type!r}, which the {self.domain!r} bus does not declare; "
                f"declared: {', '.join(self.event_types)}",
            )
        return self.contracts[event_type]

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish to the topic and to use the bus's key for that.

        Only ``kms:GenerateDataKey`` and ``kms:Decrypt`` on the key, the two calls SNS
        makes for a publisher (``Topic.grant_publish`` would grant ``GenerateDataKey*``).
        For an ``existing_topic`` the grant is ``Topic.grant_publish``'s.
        """
        if self.master_key is None:
            return self.topic.grant_publish(grantee)
        self.master_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        return iam.Grant.add_to_principal_or_resource(
            grantee=grantee,
            actions=["sns:Publish"],
            resource_arns=[self.topic.topic_arn],
            resource=self.topic,
        )

    def subscribe(
        self, worker: QueueWorker[sqs.IQueue, sqs.Queue | None], *, event_types: Sequence[str]
    ) -> None:
        """Deliver events of ``event_types`` to ``worker``'s queue, raw, filtered by type.

        Messages SNS cannot deliver go to the worker's dead-letter queue, when it has one.
        """
        if not isinstance(worker, QueueWorker):
            raise fail(
                self.CONSTRUCT,
                "worker",
                f"must be a QueueWorker, got {type(worker).__name__}; use subscribe_queue "
                "for a queue that something other than a Lambda function consumes",
            )
        self.subscribe_queue(
            worker.queue, event_types=event_types, dead_letter_queue=worker.dead_letter_queue
        )

    def subscribe_queue(
        self,
        queue: sqs.IQueue,
        *,
        event_types: Sequence[str],
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        """Deliver events of ``event_types`` to ``queue`` (e.g. one a container service
        polls), raw, filtered by type; undeliverable messages go to ``dead_letter_queue``.
        """
        if isinstance(event_types, str) or not event_types:
            raise fail(self.CONSTRUCT, "event_types", "must be a non-empty list of event names")
        names = [self.contract(event_type).name for event_type in event_types]
        for argument, target in (("queue", queue), ("dead_letter_queue", dead_letter_queue)):
            if target is not None and not isinstance(target, sqs.Queue):
                # CDK adds the queue policy that lets SNS send only to a queue it creates; on
                # an imported queue that is silently skipped and nothing is ever delivered.
                raise fail(
                    self.CONSTRUCT,
                    argument,
                    "was imported, so its queue policy cannot be changed here and SNS would "
                    "not be allowed to deliver: subscribe it in the stack that creates the "
                    "queue, or add to its policy a statement allowing 'sns:SendMessage' to "
                    "the service principal sns.amazonaws.com with the condition aws:SourceArn "
                    "= this bus's topic ARN, then subscribe it with "
                    "aws_sns_subscriptions.SqsSubscription yourself",
                )
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                queue,
                raw_message_delivery=True,
                filter_policy={
                    EVENT_TYPE_ATTRIBUTE: sns.SubscriptionFilter.string_filter(
                        allowlist=sorted(set(names))
                    )
                },
                dead_letter_queue=dead_letter_queue,
            )
        )
