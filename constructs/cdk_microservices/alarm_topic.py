"""AlarmTopic: the encrypted SNS topic that CloudWatch alarms notify, and that lets them.

Creates:

- ``key``: a KMS key (rotation on) that encrypts the topic, whose policy lets CloudWatch
  use it (``kms:Decrypt``, ``kms:GenerateDataKey*``) only for alarms of this account and
  region (``aws:SourceAccount``, ``aws:SourceArn`` conditions);
- ``topic``: the SNS topic, TLS-only (``enforce_ssl``), encrypted with ``key``, whose
  resource policy lets ``cloudwatch.amazonaws.com`` publish, with the same conditions.

Why a construct: a topic policy replaces SNS's default policy, so the TLS-only statement
that ``enforce_ssl`` writes is the whole policy, and it holds no Allow. Without the Allow
written here, CloudWatch may not publish: every alarm goes off and nobody is told.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._validation import checked_arguments, fail, require_pattern

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
_DISPLAY_NAME = r"[ -~]{1,100}"
_EMAIL = r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+"


def cloudwatch_alarm_conditions(scope: Construct) -> dict[str, dict[str, str]]:
    """IAM conditions that admit CloudWatch only on behalf of alarms of ``scope``'s account
    and region (the confused-deputy guard AWS recommends for service principals)."""
    stack = Stack.of(scope)
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
            f"{stack.account}:alarm:*"
        },
    }


class AlarmTopic(Construct):
    """An encrypted, TLS-only SNS topic that CloudWatch alarms of this account may notify.

    Defaults (each can be changed by its argument):

    - ``display_name``: none (up to 100 printable ASCII characters; email subscribers see
      it as the sender name);
    - ``email_addresses``: none; each one given gets an email subscription (SNS mails a
      confirmation link first: nothing arrives until the recipient confirms it);
    - ``removal_policy=RETAIN`` for the key (a deleted key cannot decrypt what a retained
      subscriber queue still holds); the topic itself holds no data and is always deleted
      with its stack.

    Pass ``alarm_topic=AlarmTopic(...).topic`` to the patterns' ``alarm_topic`` argument.
    """

    CONSTRUCT = "AlarmTopic"

    @checked_arguments("AlarmTopic")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        display_name: str | None = None,
        email_addresses: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        if display_name is not None:
            require_pattern(
                name,
                "display_name",
                display_name,
                _DISPLAY_NAME,
                "1-100 printable ASCII characters",
            )
        if not isinstance(removal_policy, RemovalPolicy):
            raise fail(name, "removal_policy", "must be an aws_cdk.RemovalPolicy")
        if isinstance(email_addresses, str):
            raise fail(name, "email_addresses", "must be a list of addresses, not one string")
        for address in email_addresses:
            require_pattern(
                name, "email_addresses", address, _EMAIL, "addresses such as 'oncall@example.org'"
            )
        if len(set(email_addresses)) != len(email_addresses):
            raise fail(name, "email_addresses", "names an address twice")
        conditions = cloudwatch_alarm_conditions(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the alarm topic {self.node.path}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=display_name,
            master_key=self.key,
            enforce_ssl=True,
        )
        self.email_subscriptions: list[sns.Subscription] = [
            sns.Subscription(
                self,
                f"Email{index}",
                topic=self.topic,
                protocol=sns.SubscriptionProtocol.EMAIL,
                endpoint=address,
            )
            for index, address in enumerate(email_addresses)
        ]
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=conditions,
            )
        )

    @property
    def topic_arn(self) -> str:
        """The topic's ARN."""
        return self.topic.topic_arn
