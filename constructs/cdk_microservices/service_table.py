"""ServiceTable: the DynamoDB table that one service owns.

Creates (unless an existing table is passed in):

- ``table``: an ``aws_dynamodb.Table`` billed on demand, encrypted with a KMS key (AWS
  managed by default, customer managed on request), with point-in-time recovery,
  an optional TTL attribute, an optional stream, deletion protection and a removal
  policy chosen by the caller (from the environment profile in the reference app);
- ``alarms``: throttled reads, throttled writes and DynamoDB system errors.

Only the owning service's code should ever be granted access: use the ``grant_*``
helpers from that service's stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, Literal, TypeVar, cast, overload

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._validation import (
    DESTROY_WITH_DELETION_PROTECTION,
    checked_arguments,
    deletion_protection_for,
    fail,
    merge_props,
    reject_conflicts,
    require_choice,
    require_pattern,
)

_READ_ACTIONS = frozenset(
    {
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }
)
"""Item and table reads: a customer managed key needs only to decrypt for them."""
_WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
# aws-cdk-lib's write grants name kms:ReEncrypt* and kms:GenerateDataKey*, wildcards that
# cdk-nag reports in the grantee's policy; these are the actions they cover that apply to
# a symmetric table key (not the asymmetric data key pairs).
_KEY_WRITE_ACTIONS = (
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
)

TableT = TypeVar("TableT", bound=dynamodb.ITable, covariant=True)
"""``dynamodb.Table`` when the construct creates the table, ``dynamodb.ITable`` for one
passed in as ``existing_table``: the type checker knows which from the arguments."""

KeyType = Literal["S", "N", "B"]
TableEncryption = Literal["aws_owned", "aws_managed", "customer_managed"]
StreamView = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]

_KEY_TYPES: dict[str, dynamodb.AttributeType] = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_ENCRYPTION: dict[str, dynamodb.TableEncryption] = {
    "aws_owned": dynamodb.TableEncryption.DEFAULT,
    "aws_managed": dynamodb.TableEncryption.AWS_MANAGED,
    "customer_managed": dynamodb.TableEncryption.CUSTOMER_MANAGED,
}
_STREAM_VIEWS: dict[str, dynamodb.StreamViewType] = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}
_ATTRIBUTE_NAME = r"[A-Za-z0-9_.\-]{1,255}"
# ThrottledRequests and SystemErrors are published per operation (dimensions TableName and
# Operation); an alarm sums them with metric math, which takes at most 10 metrics.
_READ_OPERATIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
_WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


class ServiceTable(Construct, Generic[TableT]):
    """A DynamoDB table owned by exactly one service.

    Defaults (each can be changed by its argument):

    - partition key ``pk`` (string) and sort key ``sk`` (string): the single-table layout;
      pass ``sort_key=""`` for a table without a sort key;
    - on-demand billing (``PAY_PER_REQUEST``): no capacity to plan, nothing paid when idle;
    - encryption at rest with an AWS managed KMS key (``encryption="aws_managed"``, so key
      use shows in CloudTrail); ``"customer_managed"`` creates a key with rotation, kept or
      removed with the table (``removal_policy``, or ``table_props``' one), or uses
      ``encryption_key``;
    - point-in-time recovery on (35 days);
    - no TTL attribute; pass ``time_to_live_attribute`` to let DynamoDB expire items;
    - no stream; pass ``stream`` to publish item changes (e.g. for an outbox);
    - ``removal_policy=RETAIN`` and deletion protection on: losing a service's data must
      be a deliberate act. ``deletion_protection`` follows the removal policy when unset
      (off for ``DESTROY``; on together with ``DESTROY`` is rejected). The reference app's
      dev profile relaxes both;
    - alarms (``alarms=False`` turns them off), sent (ALARM and OK) to ``alarm_topic`` if
      given, each on the sum over 5 minutes reaching its threshold in 3 consecutive
      periods (15 minutes: the AWS SDKs retry throttled requests and system errors, so a
      short burst is absorbed), missing data not breaching; thresholds changed by name with
      ``alarm_thresholds`` (defaults in ``ALARM_THRESHOLDS``): ``"ReadThrottles"`` and
      ``"WriteThrottles"``, ``ThrottledRequests`` of the table's read operations (GetItem,
      BatchGetItem, Query, Scan, TransactGetItems) and of its write operations (PutItem,
      UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) (count, default 1);
      ``"SystemErrors"``, ``SystemErrors`` (HTTP 500 from DynamoDB) of those operations
      (count, default 1). An ``existing_table`` gets no alarms (its owner alarms it).

    Escape hatches: ``existing_table`` uses a table created elsewhere (then no other table
    argument may be given), and ``table_props`` overrides any keyword argument of
    ``aws_dynamodb.Table`` after the defaults above are applied.
    """

    CONSTRUCT = "ServiceTable"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        "ReadThrottles": 1,
        "WriteThrottles": 1,
        "SystemErrors": 1,
    }
    """Each alarm's name and default threshold (see the class docstring for units)."""

    table: TableT
    """The table: a ``dynamodb.Table`` created here (so ``add_global_secondary_index`` and
    the other methods of the class are there), or the ``existing_table`` passed in, typed
    as what it is (``ServiceTable[dynamodb.ITable]``)."""

    encryption_key: kms.IKey | None
    """The customer managed key, when ``encryption="customer_managed"``; otherwise None."""

    alarms: list[cloudwatch.Alarm]
    """The alarms created (empty with ``alarms=False`` or an existing table)."""

    @overload
    def __init__(
        self: ServiceTable[dynamodb.Table],
        scope: Construct,
        id: str,
        *,
        partition_key: str | None = None,
        partition_key_type: KeyType | None = None,
        sort_key: str | None = None,
        sort_key_type: KeyType | None = None,
        time_to_live_attribute: str | None = None,
        encryption: TableEncryption | None = None,
        encryption_key: kms.IKey | None = None,
        stream: StreamView | None = None,
        point_in_time_recovery: bool | None = None,
        removal_policy: RemovalPolicy | None = None,
        deletion_protection: bool | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_table: None = None,
        table_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: ServiceTable[dynamodb.ITable],
        scope: Construct,
        id: str,
        *,
        existing_table: dynamodb.ITable,
    ) -> None: ...

    @checked_arguments("ServiceTable")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        partition_key: str | None = None,
        partition_key_type: KeyType | None = None,
        sort_key: str | None = None,
        sort_key_type: KeyType | None = None,
        time_to_live_attribute: str | None = None,
        encryption: TableEncryption | None = None,
        encryption_key: kms.IKey | None = None,
        stream: StreamView | None = None,
        point_in_time_recovery: bool | None = None,
        removal_policy: RemovalPolicy | None = None,
        deletion_protection: bool | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_table: dynamodb.ITable | None = None,
        table_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        self.alarms = []
        if existing_table is not None:
            reject_conflicts(
                name,
                "existing_table",
                {
                    "partition_key": partition_key,
                    "partition_key_type": partition_key_type,
                    "sort_key": sort_key,
                    "sort_key_type": sort_key_type,
                    "time_to_live_attribute": time_to_live_attribute,
                    "encryption": encryption,
                    "encryption_key": encryption_key,
                    "stream": stream,
                    "point_in_time_recovery": point_in_time_recovery,
                    "removal_policy": removal_policy,
                    "deletion_protection": deletion_protection,
                    "alarms": alarms,
                    "alarm_topic": alarm_topic,
                    "alarm_thresholds": alarm_thresholds,
                    "table_props": table_props,
                },
            )
            self.table = cast(TableT, existing_table)
            self.encryption_key = existing_table.encryption_key
            return

        alarms = True if alarms is None else alarms
        if not isinstance(alarms, bool):
            raise fail(name, "alarms", f"must be True or False, got {alarms!r}")
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, self.ALARM_THRESHOLDS, alarm_thresholds)
        partition_key = partition_key if partition_key is not None else "pk"
        sort_key = sort_key if sort_key is not None else "sk"
        require_pattern(name, "partition_key", partition_key, _ATTRIBUTE_NAME, "an attribute name")
        if sort_key:
            require_pattern(name, "sort_key", sort_key, _ATTRIBUTE_NAME, "an attribute name")
            if sort_key == partition_key:
                raise fail(name, "sort_key", f"is {sort_key!r}, the same as 'partition_key'")
        elif sort_key_type is not None:
            raise fail(name, "sort_key_type", "was given but 'sort_key' is empty (no sort key)")
        if time_to_live_attribute is not None:
            require_pattern(
                name,
                "time_to_live_attribute",
                time_to_live_attribute,
                _ATTRIBUTE_NAME,
                "an attribute name",
            )
        pk_type = require_choice(name, "partition_key_type", partition_key_type or "S", _KEY_TYPES)
        sk_type = require_choice(name, "sort_key_type", sort_key_type or "S", _KEY_TYPES)
        encryption = encryption or "aws_managed"
        require_choice(name, "encryption", encryption, _ENCRYPTION)
        if encryption_key is not None and encryption != "customer_managed":
            raise fail(
                name,
                "encryption_key",
                f"was given with encryption={encryption!r}; a key is only used with "
                "encryption='customer_managed'",
            )
        if stream is not None:
            require_choice(name, "stream", stream, _STREAM_VIEWS)
        if removal_policy is not None and not isinstance(removal_policy, RemovalPolicy):
            raise fail(name, "removal_policy", "must be an aws_cdk.RemovalPolicy")
        # What the table is removed with: table_props wins over the argument, as in the merge.
        effective_removal_policy = removal_policy or RemovalPolicy.RETAIN
        override = (table_props or {}).get("removal_policy")
        if override is not None:
            if not isinstance(override, RemovalPolicy):
                raise fail(
                    name,
                    "table_props",
                    f"has removal_policy {override!r}; it must be an aws_cdk.RemovalPolicy",
                )
            effective_removal_policy = override

        created_key: kms.IKey | None = encryption_key
        if encryption == "customer_managed" and created_key is None:
            created_key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the DynamoDB table {self.node.path}",
                enable_key_rotation=True,
                # The key follows the table: a retained table whose key is gone is unreadable.
                removal_policy=effective_removal_policy,
            )

        defaults: dict[str, object] = {
            "partition_key": dynamodb.Attribute(name=partition_key, type=_KEY_TYPES[pk_type]),
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "encryption": _ENCRYPTION[encryption],
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=(
                    True if point_in_time_recovery is None else point_in_time_recovery
                )
            ),
            "removal_policy": removal_policy or RemovalPolicy.RETAIN,
            "deletion_protection": deletion_protection_for(
                name, deletion_protection, effective_removal_policy
            ),
        }
        if sort_key:
            defaults["sort_key"] = dynamodb.Attribute(name=sort_key, type=_KEY_TYPES[sk_type])
        if created_key is not None:
            defaults["encryption_key"] = created_key
        if time_to_live_attribute:
            defaults["time_to_live_attribute"] = time_to_live_attribute
        if stream is not None:
            defaults["stream"] = _STREAM_VIEWS[stream]

        props = merge_props(name, "table_props", dynamodb.Table, defaults, table_props, scope=self)
        destroyed = props.get("removal_policy") == RemovalPolicy.DESTROY
        if destroyed and props.get("deletion_protection"):
            raise fail(name, "table_props", DESTROY_WITH_DELETION_PROTECTION)
        created = dynamodb.Table(self, "Table", **props)  # type: ignore[arg-type]
        self.table = cast(TableT, created)
        self.encryption_key = created_key
        if alarms:
            self._add_alarms(created, thresholds, alarm_topic)

    def _add_alarms(
        self,
        table: dynamodb.Table,
        thresholds: Mapping[str, float],
        alarm_topic: sns.ITopic | None,
    ) -> None:
        service = self.node.path
        period = Duration.minutes(5)
        hot_partition = (
            "find the throttled table or index and the reason in the error's "
            "ThrottlingReasons or the cause-specific metrics (KeyRangeThroughput: a hot "
            "partition key; MaxOnDemandThroughput or AccountLimit: a limit to raise), then "
            "spread the hot keys or raise the limit"
        )
        checks: list[tuple[str, cloudwatch.IMetric, str, str]] = [
            (
                "ReadThrottles",
                _sum_over_operations(table, "ThrottledRequests", _READ_OPERATIONS, period),
                "read requests throttled",
                hot_partition,
            ),
            (
                "WriteThrottles",
                _sum_over_operations(table, "ThrottledRequests", _WRITE_OPERATIONS, period),
                "write requests throttled",
                hot_partition,
            ),
            (
                "SystemErrors",
                _sum_over_operations(
                    table, "SystemErrors", (*_READ_OPERATIONS, *_WRITE_OPERATIONS), period
                ),
                "DynamoDB answered requests with system errors (HTTP 500)",
                "check the AWS Health Dashboard for DynamoDB in this region, and whether the "
                "callers' retries still succeed (their error logs)",
            ),
        ]
        for alarm_name, metric, what, first in checks:
            threshold = thresholds[alarm_name]
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{alarm_name}Alarm",
                    metric=metric,
                    alarm_description=describe(
                        service,
                        f"{what}: {threshold:g} or more in each of 3 five-minute periods",
                        first,
                    ),
                    threshold=threshold,
                    evaluation_periods=3,
                    datapoints_to_alarm=3,
                    comparison_operator=(
                        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                    ),
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        notify(self.alarms, alarm_topic)

    @property
    def table_name(self) -> str:
        """The table's name (a token until deploy)."""
        return self.table.table_name

    @property
    def table_arn(self) -> str:
        """The table's ARN (a token until deploy)."""
        return self.table.table_arn

    def metric_throttled_reads(self, period: Duration | None = None) -> cloudwatch.IMetric:
        """Sum of ``ThrottledRequests`` of the read operations (see ``alarms``)."""
        return _sum_over_operations(
            self.table, "ThrottledRequests", _READ_OPERATIONS, period or Duration.minutes(5)
        )

    def metric_throttled_writes(self, period: Duration | None = None) -> cloudwatch.IMetric:
        """Sum of ``ThrottledRequests`` of the write operations (see ``alarms``)."""
        return _sum_over_operations(
            self.table, "ThrottledRequests", _WRITE_OPERATIONS, period or Duration.minutes(5)
        )

    def grant_read_data(self, grantee: iam.IGrantable, *, indexes: Sequence[str] = ()) -> iam.Grant:
        """Allow ``grantee`` to read items (GetItem, Query, Scan, BatchGetItem...), on the
        table and the ``indexes`` named (see ``grant``)."""
        return self.grant(grantee, *sorted(_READ_ACTIONS), indexes=indexes)

    def grant_write_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to write items (PutItem, UpdateItem, DeleteItem...)."""
        return self.grant(grantee, *_WRITE_ACTIONS)

    def grant_read_write_data(
        self, grantee: iam.IGrantable, *, indexes: Sequence[str] = ()
    ) -> iam.Grant:
        """Allow ``grantee`` to read and write items (reads on the ``indexes`` named too)."""
        self.grant(grantee, *_WRITE_ACTIONS)
        return self.grant(grantee, *sorted(_READ_ACTIONS), indexes=indexes)

    def grant(
        self, grantee: iam.IGrantable, *actions: str, indexes: Sequence[str] = ()
    ) -> iam.Grant:
        """Allow ``grantee`` exactly ``actions`` (e.g. ``"dynamodb:GetItem"``) on the table,
        and on the ``indexes`` named (e.g. for a ``Query`` on a GSI), each by its own ARN:
        no ``index/*`` wildcard that cdk-nag would report in the grantee's policy.

        With a customer managed key, the key use those actions need is granted too: only
        ``kms:Decrypt`` and ``kms:DescribeKey`` for reads, as aws-cdk-lib's own read grants
        do, and encryption as well when an action writes.
        """
        if not actions:
            raise fail(self.CONSTRUCT, "actions", "is empty; name at least one dynamodb: action")
        for action in actions:
            if not isinstance(action, str):
                raise fail(
                    self.CONSTRUCT,
                    "actions",
                    f"has {action!r} ({type(action).__name__}); pass each action as its own "
                    "argument: grant(grantee, 'dynamodb:GetItem', 'dynamodb:Query')",
                )
            if not action.startswith("dynamodb:"):
                raise fail(self.CONSTRUCT, "actions", f"has {action!r}; only dynamodb:* actions")
        if isinstance(indexes, str):
            raise fail(self.CONSTRUCT, "indexes", "must be a list of index names, not a string")
        for index in indexes:
            require_pattern(
                self.CONSTRUCT, "indexes", index, r"[A-Za-z0-9_.-]{3,255}", "an index name"
            )
        resources = [self.table.table_arn]
        resources.extend(f"{self.table.table_arn}/index/{index}" for index in indexes)
        # Not self.table.grant(): once the table has an index it always adds index/*.
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=resources
        )
        if self.encryption_key is not None:
            key_actions: tuple[str, ...] = _KEY_READ_ACTIONS
            if not set(actions) <= _READ_ACTIONS:
                key_actions = key_actions + _KEY_WRITE_ACTIONS
            self.encryption_key.grant(grantee, *key_actions)
        return grant


def _sum_over_operations(
    table: dynamodb.ITable,
    metric_name: str,
    operations: Sequence[str],
    period: Duration,
) -> cloudwatch.MathExpression:
    """The sum of a per-operation metric (dimensions TableName and Operation) over
    ``operations``, each missing value counted as 0: an operation that no one calls
    publishes nothing, and a sum with a missing term would be missing too."""
    using = {
        operation.lower(): table.metric(
            metric_name,
            dimensions_map={"TableName": table.table_name, "Operation": operation},
            statistic="Sum",
            period=period,
        )
        for operation in operations
    }
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({key}, 0)" for key in using),
        using_metrics=using,
        label=f"{metric_name} of {', '.join(operations)}",
        period=period,
    )
