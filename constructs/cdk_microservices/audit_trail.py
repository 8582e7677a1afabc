"""AuditTrail: a multi-Region CloudTrail trail to an encrypted bucket, with CloudWatch Logs
delivery and alarms on the account activity the CIS AWS Foundations Benchmark asks to watch.

Creates:

- ``key``: a KMS key (rotation on) that encrypts the trail's log files (the trail's
  ``KmsKeyId``) and is the trail bucket's default encryption key. Its key policy lets
  CloudTrail use it for this trail only, as the CloudTrail User Guide ("Configure AWS KMS
  key policies for CloudTrail") shows: ``kms:GenerateDataKey*`` when the encryption
  context ``aws:cloudtrail:arn`` is a trail of this account
  (``StringLike arn:<partition>:cloudtrail:*:<account>:trail/*``) and ``aws:SourceArn`` is
  this trail's ARN (``StringEquals``); ``kms:DescribeKey`` for this trail
  (``aws:SourceArn``); and ``kms:Decrypt`` for this trail (``aws:SourceArn``), which the
  same page says CloudTrail needs to create or update a trail whose bucket uses an S3
  Bucket Key. aws-cdk-lib's ``Trail`` adds none of this when given an ``encryption_key``
  (aws-cdk issue 23391): without it CloudTrail refuses to create the trail or cannot
  deliver logs. The page calls ``aws:SourceAccount`` supported but not recommended, so
  the statements name the trail (``aws:SourceArn``) instead;
- ``access_log_bucket``: the trail bucket's server access logs (who read or deleted audit
  logs): SSE-S3, TLS-only, all public access blocked, ACLs disabled (S3's logging service
  writes through the bucket policy, for the trail bucket and this account only), versioned,
  logs expire after ``retention_days``. It has no access logs of its own: S3 advises
  against logging a bucket that receives server access logs ("Enabling Amazon S3 server
  access logging"), and cdk-nag's AwsSolutions-S1 accepts a bucket that is another's log
  destination, so nothing here needs a cdk-nag acknowledgement;
- ``bucket``: the trail bucket: SSE-KMS with ``key`` and an S3 Bucket Key (fewer KMS
  requests), TLS-only, all public access blocked, ACLs disabled (bucket owner enforced),
  versioned, server access logs to ``access_log_bucket``, a lifecycle rule (log files move
  to S3 Glacier Instant Retrieval after ``transition_days`` and expire after
  ``retention_days``; old versions are removed ``NONCURRENT_VERSION_DAYS`` later), and a
  bucket policy that lets CloudTrail check the bucket's ACL and write under
  ``AWSLogs/<account>/`` for this trail only (``aws:SourceArn``), as the CloudTrail User
  Guide's "Amazon S3 bucket policy for CloudTrail" recommends. aws-cdk-lib's ``Trail``
  writes those two statements without ``aws:SourceArn`` (it adds the condition for
  organization trails only), so it is handed an imported view of the bucket, to which it
  writes nothing, and this construct writes the conditioned statements;
- ``log_group``: the CloudWatch Logs log group the trail also delivers to (kept
  ``log_retention``), encrypted by CloudWatch Logs as every log group is, not with ``key``:
  a key policy statement for CloudWatch Logs would have to name the log group, which a
  generated name cannot be without a dependency cycle, or else every log group of the
  account and region. The bucket, with log file validation, is the audit record; the log
  group feeds the alarms;
- ``logs_role``: the role aws-cdk-lib's ``Trail`` creates for CloudTrail to write to
  ``log_group`` (``logs:CreateLogStream`` and ``logs:PutLogEvents`` on it);
- ``trail``: the trail: multi-Region, events of global services (such as IAM) included,
  log file validation on (aws-cdk-lib's defaults, set here explicitly anyway), all
  management events (read and write), log files encrypted with ``key``, delivered to
  ``bucket`` and ``log_group``;
- ``metric_filters`` and ``alarms``: for each activity of ``WATCHED_ACTIVITY``, a metric
  filter on ``log_group`` with the exact pattern of its AWS Security Hub control (the
  controls pass only with the CIS patterns unchanged) publishing 1 per match to
  ``metric_namespace``, and an alarm on one match within 5 minutes that notifies
  ``alarm_topic`` of ALARM and OK.

Cost: the first trail in an account that delivers a copy of the management events of a
Region is free for those events; every further trail that delivers them again (a second
environment's trail in the same account, for instance) pays per 100,000 events (AWS
CloudTrail pricing; CloudTrail User Guide, "Managing CloudTrail trail costs"). No KMS key
usage is charged for CloudTrail's own reads and writes of log files, only for people's
("How AWS CloudTrail uses AWS KMS"); the key itself, the alarms, S3 storage and CloudWatch
Logs ingestion are billed as usual.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._function_logs import S3_AUTO_DELETE_PROVIDER, shared_provider_log_group
from cdk_microservices._log_bucket import access_log_bucket
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    merge_props,
    reject_conflicts,
    require_pattern,
    require_range,
)

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
DEFAULT_METRIC_NAMESPACE = "CloudTrailMetrics"
"""Namespace of the metric filters' metrics unless ``metric_namespace`` says otherwise."""
NONCURRENT_VERSION_DAYS = 30
"""Days a deleted or expired object of the trail bucket is kept as an old version."""
ACCESS_LOG_NONCURRENT_VERSION_DAYS = 7
"""Days an expired access log is kept as an old version in the access log bucket."""
ACCESS_LOG_PREFIX = "trail-bucket/"
"""Prefix of the trail bucket's server access logs in ``access_log_bucket``."""
ALARM_PERIOD = Duration.minutes(5)
"""Each alarm sums its metric over this period and fires on one match (by default)."""
ALARM_SERVICE = "AWS account"
"""Who the audit alarms are about, the ``<service>`` of their descriptions."""

_REMOVAL_POLICIES = (
    RemovalPolicy.RETAIN,
    RemovalPolicy.DESTROY,
    RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
)
# CloudTrail's naming rules ("Naming requirements for CloudTrail resources, S3 buckets, and
# KMS keys"): ASCII letters, digits, '.', '_', '-'; starts and ends with a letter or digit;
# 3-128 characters; no two of '.', '_', '-' side by side; not an IP address.
_TRAIL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9])){1,126}[A-Za-z0-9]"
_IP_ADDRESS = r"[0-9]{1,3}(\.[0-9]{1,3}){3}"
# CloudWatch namespaces: up to 255 of these characters, not starting with "AWS/" (reserved).
_NAMESPACE = r"(?!AWS/)(?=.*[^ ])[0-9A-Za-z._\-/#: ]{1,255}"
# Trail settings that an argument of this construct owns (and checks).
_TRAIL_KEYS_OWNED = {
    "bucket": "the construct's bucket",
    "encryption_key": "the construct's key",
    "kms_key": "the construct's key",
    "trail_name": "trail_name",
    "send_to_cloud_watch_logs": "the construct's log_group",
    "cloud_watch_log_group": "the construct's log_group",
    "cloud_watch_logs_retention": "log_retention",
}
# Trail settings for organization trails, which need bucket and key policies for the
# organization's accounts.
_TRAIL_KEYS_UNSUPPORTED = ("is_organization_trail", "org_id")
# Bucket settings that an argument of this construct owns (and checks).
_BUCKET_KEYS_OWNED = {
    "encryption": "the construct's key (SSE-KMS)",
    "encryption_key": "the construct's key (SSE-KMS)",
    "server_access_logs_bucket": "the construct's access_log_bucket",
    "removal_policy": "removal_policy",
    "auto_delete_objects": "removal_policy",
    "lifecycle_rules": "retention_days and transition_days",
}


@dataclass(frozen=True)
class WatchedActivity:
    """One kind of account activity the trail's log group is watched for."""

    id: str
    """Construct id prefix of its metric filter and alarm, and the metric's name."""
    control: str
    """The AWS Security Hub control (and CIS recommendation) that asks for it."""
    pattern: str
    """The CloudWatch Logs filter pattern, exactly as the control prescribes it."""
    meaning: str
    """What a match means."""
    first: str
    """What to do first when its alarm fires."""

    @property
    def description(self) -> str:
        """The alarm's description: what happened, and what to do first."""
        return describe(ALARM_SERVICE, self.meaning, self.first)


WATCHED_ACTIVITY: tuple[WatchedActivity, ...] = (
    WatchedActivity(
        id="RootUserUsage",
        control="Security Hub CloudWatch.1 (CIS 1.2.0 3.3, 1.4.0 4.3)",
        pattern=(
            '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS '
            '&& $.eventType !="AwsServiceEvent"}'
        ),
        meaning=(
            "the root user was used: an API call or console sign-in with the root "
            "credentials (Security Hub CloudWatch.1)"
        ),
        first=(
            "find the events with userIdentity.type Root in CloudTrail (Event history, or "
            "this trail's log group) and have whoever holds the root credentials explain "
            "them. If nobody can, treat the root credentials as compromised: change the root "
            "password, check its MFA devices, delete any root access keys, and review what "
            "the calls changed"
        ),
    ),
    WatchedActivity(
        id="ConsoleSignInWithoutMfa",
        control="Security Hub CloudWatch.3 (CIS 1.2.0 3.2)",
        pattern=(
            '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") '
            '&& ($.userIdentity.type = "IAMUser") '
            '&& ($.responseElements.ConsoleLogin = "Success") }'
        ),
        meaning=(
            "an IAM user signed in to the AWS Management Console without MFA (Security Hub "
            "CloudWatch.3)"
        ),
        first=(
            "find the ConsoleLogin event in CloudTrail, identify the user and source IP "
            "address, and confirm with the user that the sign-in was theirs. If it was not, "
            "disable the user's console password and access keys. Either way, require MFA "
            "for that user (or remove its console access)"
        ),
    ),
    WatchedActivity(
        id="IamPolicyChanges",
        control="Security Hub CloudWatch.4 (CIS 1.2.0 3.4, 1.4.0 4.4)",
        pattern=(
            "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
            "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
            "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
            "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
            "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
            "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
            "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
            "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}"
        ),
        meaning=(
            "an IAM policy was created, changed, attached, detached or deleted (Security Hub "
            "CloudWatch.4)"
        ),
        first=(
            "find the event in CloudTrail and check who made it and whether it belongs to a "
            "deployment you expect (CloudFormation and CDK deploys change policies too; Auto "
            "Scaling's DeletePolicy also matches). If it is not expected, revert the change "
            "and review the caller's credentials"
        ),
    ),
)
"""The activity the alarms watch, with the patterns of the AWS Security Hub user guide's
"Amazon CloudWatch controls" (CloudWatch.1, .3 and .4)."""


class AuditTrail(Construct):
    """A multi-Region CloudTrail trail of the account's management events, to a KMS-encrypted
    bucket and a CloudWatch Logs log group watched by alarms.

    Defaults (each can be changed by its argument):

    - ``trail_name``: generated from the construct's path (``<stack>-<id>-<hash>``, unique
      in the app). The key and bucket policies name the trail by its ARN, which is built
      from the name: a name CloudFormation would generate is known only after the trail
      exists, which needs the policies first. CloudFormation cannot replace a named
      resource in place, but CloudTrail's UpdateTrail changes every other setting of a
      trail (bucket, prefix, Regions, validation, logs, key) without replacing it. Two
      stages of one app, or two stacks, get different names, so one account can hold
      both;
    - trail: multi-Region (one trail records every Region's events; it lives in the
      stack's Region), global service events included, log file validation on, all
      management events (read and write), no data events (add them with
      ``trail.add_event_selector`` and its helpers: they are billed per event);
    - ``log_retention``: ``logs.RetentionDays.ONE_YEAR`` for the CloudWatch Logs copy;
    - ``retention_days``: 365. Log files (and their server access logs) expire a year
      after delivery; raise it to what your audit regime asks for (e.g. 2555, seven
      years). Expired files stay ``NONCURRENT_VERSION_DAYS`` (30) as old versions;
    - ``transition_days``: 90. After 90 days log files move to S3 Glacier Instant
      Retrieval (millisecond reads, cheaper storage, a per-request transition charge and a
      minimum billed storage duration); ``None`` keeps them in S3 Standard. S3 lifecycle
      rules do not move objects smaller than 128 KB to Glacier Instant Retrieval (whatever
      the bucket's ``TransitionDefaultMinimumObjectSize``), so small log files stay where
      the transition would cost more than it saves;
    - ``removal_policy``: ``RETAIN`` for the key, both buckets and the log group.
      ``DESTROY`` deletes them with the stack and empties both buckets first
      (CloudFormation deletes only empty buckets): the trail is deleted first, then the
      trail bucket is emptied, then the access log bucket (S3 logs the emptying of the
      trail bucket). S3 delivers access logs on a best-effort basis, sometimes late: a
      log that arrives after the emptying leaves the access log bucket to be deleted by
      hand. The key is scheduled for deletion (after KMS's waiting period). The emptying
      runs in aws-cdk-lib's S3 auto-delete function (one per stack), which logs to a log
      group of its own kept ``log_retention`` and deleted with the stack; the first
      construct in the stack that needs the function sets that group, a later one with
      other settings gets a warning;
    - alarms (``alarms=True``): one per ``WATCHED_ACTIVITY`` (root user usage, console
      sign-in without MFA, IAM policy changes), each on one match or more within 5
      minutes, missing data not breaching, notifying ``alarm_topic`` (if given) of ALARM
      and OK. Their names are the activities' ids (``"RootUserUsage"``,
      ``"ConsoleSignInWithoutMfa"``, ``"IamPolicyChanges"``); ``alarm_thresholds`` changes
      the number of matches in 5 minutes that fires one (default 1; ``ALARM_THRESHOLDS``).
      Their metric filters publish to ``metric_namespace`` (``"CloudTrailMetrics"``),
      metric names ``RootUserUsage``,
      ``ConsoleSignInWithoutMfa`` and ``IamPolicyChanges``, without dimensions: two
      AuditTrails of one account with the same namespace feed the same metrics (they
      see the same account's events). ``alarms=False`` creates no alarms (the metric
      filters stay, for alarms or dashboards of your own) and rejects an ``alarm_topic``
      or ``alarm_thresholds``.

    Escape hatches: ``trail_props`` overrides keyword arguments of ``aws_cloudtrail.Trail``
    (``insight_types``, ``s3_key_prefix``, ``sns_topic``, ...; not those an argument or a
    resource of this construct owns, nor organization trails), ``bucket_props`` those of
    ``aws_s3.Bucket`` for the trail bucket (``object_lock_enabled`` with
    ``object_lock_default_retention`` for write-once logs, ...; not the encryption, access
    logs, removal policy or lifecycle, which arguments own). A changed default is
    reported as a warning.

    What it does not do: give anyone read access (the key policy lets the account's IAM
    policies grant ``kms:Decrypt``; a reader needs it besides ``s3:GetObject``), record
    data events, or enable AWS Security Hub (whose controls CloudWatch.1, .3 and .4 look
    for these metric filters and alarms; they also expect the alarm topic to have a
    subscriber).
    """

    CONSTRUCT = "AuditTrail"
    ALARM_THRESHOLDS: Mapping[str, float] = {activity.id: 1 for activity in WATCHED_ACTIVITY}
    """Each alarm's name (its activity's id) and default threshold (matches in 5 minutes)."""

    @checked_arguments("AuditTrail")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        retention_days: int = 365,
        transition_days: int | None = 90,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        metric_namespace: str = DEFAULT_METRIC_NAMESPACE,
        trail_props: Mapping[str, object] | None = None,
        bucket_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        # The trail bucket's server access logs reach the access log bucket through its
        # bucket policy (the S3 logging service, for the trail bucket only), not an ACL:
        # the access log bucket has ACLs disabled. aws-cdk-lib chooses by this feature
        # flag; set here, before any child exists, it holds whatever the app's flags say.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)

        if trail_name is None:
            generated = Names.unique_resource_name(self, max_length=128, separator="-")
            if not _is_valid_trail_name(generated):
                raise fail(
                    name,
                    "trail_name",
                    f"was not given, and the name made from the construct's path, "
                    f"{generated!r}, breaks CloudTrail's naming rules: pass a trail_name",
                )
            self.trail_name = generated
        else:
            self.trail_name = _checked_trail_name(name, trail_name)
        if not isinstance(log_retention, logs.RetentionDays):
            raise fail(
                name,
                "log_retention",
                f"must be an aws_logs.RetentionDays (e.g. RetentionDays.ONE_YEAR), got "
                f"{type(log_retention).__name__}",
            )
        _require_days(name, "retention_days", retention_days, minimum=1, maximum=36500)
        if transition_days is not None:
            _require_days(name, "transition_days", transition_days, minimum=1, maximum=36500)
            if transition_days >= retention_days:
                raise fail(
                    name,
                    "transition_days",
                    f"is {transition_days}, not less than retention_days ({retention_days}); "
                    "log files would expire before they move: lower it, or pass "
                    "transition_days=None to keep them in S3 Standard",
                )
        if removal_policy not in _REMOVAL_POLICIES:
            raise fail(
                name,
                "removal_policy",
                f"is {removal_policy!r}; allowed values are RemovalPolicy.RETAIN, "
                "RemovalPolicy.DESTROY and RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (S3 "
                "buckets have no snapshots)",
            )
        if not isinstance(alarms, bool):
            raise fail(name, "alarms", f"must be True or False, got {alarms!r}")
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, self.ALARM_THRESHOLDS, alarm_thresholds)
        if alarm_topic is not None and not hasattr(alarm_topic, "topic_arn"):
            raise fail(
                name,
                "alarm_topic",
                f"must be an aws_sns.ITopic (e.g. AlarmTopic(...).topic), got "
                f"{type(alarm_topic).__name__}",
            )
        require_pattern(
            name,
            "metric_namespace",
            metric_namespace,
            _NAMESPACE,
            "1-255 letters, digits, spaces and . _ - / # :, not starting with 'AWS/' "
            "(reserved for AWS services)",
        )
        for argument, overrides, owned in (
            ("trail_props", trail_props, _TRAIL_KEYS_OWNED),
            ("bucket_props", bucket_props, _BUCKET_KEYS_OWNED),
        ):
            for key, owner in owned.items():
                if overrides and key in overrides:
                    raise fail(name, argument, f"sets {key!r}, which {owner} sets; pass it there")
        for key in _TRAIL_KEYS_UNSUPPORTED:
            if trail_props and key in trail_props:
                raise fail(
                    name,
                    "trail_props",
                    f"sets {key!r}; an organization trail needs bucket and key policies for "
                    "the organization's accounts, which this construct does not write",
                )

        stack = Stack.of(self)
        self.removal_policy = removal_policy
        destroy = removal_policy == RemovalPolicy.DESTROY
        trail_arn = stack.format_arn(
            service="cloudtrail", resource="trail", resource_name=self.trail_name
        )
        this_trail = {"aws:SourceArn": trail_arn}

        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the CloudTrail log files of {self.node.path}"[:8192],
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        principal = iam.ServicePrincipal(CLOUDTRAIL_PRINCIPAL)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToEncryptLogFiles",
                principals=[principal],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{stack.partition}:cloudtrail:*:{stack.account}:trail/*"
                        )
                    },
                    "StringEquals": this_trail,
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToDescribeTheKey",
                principals=[principal],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": this_trail},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToUseTheBucketKey",
                principals=[principal],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": this_trail},
            )
        )

        self.access_log_bucket = access_log_bucket(
            self,
            "AccessLogs",
            removal_policy=removal_policy,
            expiration_days=retention_days,
            noncurrent_version_days=ACCESS_LOG_NONCURRENT_VERSION_DAYS,
        )

        bucket_defaults: dict[str, object] = {
            "encryption": s3.BucketEncryption.KMS,
            "encryption_key": self.key,
            "bucket_key_enabled": True,
            "enforce_ssl": True,
            "versioned": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "removal_policy": removal_policy,
            "auto_delete_objects": destroy,
            "server_access_logs_bucket": self.access_log_bucket,
            "server_access_logs_prefix": ACCESS_LOG_PREFIX,
            "lifecycle_rules": [
                s3.LifecycleRule(
                    id="audit-log-retention",
                    transitions=(
                        [
                            s3.Transition(
                                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                transition_after=Duration.days(transition_days),
                            )
                        ]
                        if transition_days is not None
                        else None
                    ),
                    expiration=Duration.days(retention_days),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        }
        merged_bucket = merge_props(
            name, "bucket_props", s3.Bucket, bucket_defaults, bucket_props, scope=self
        )
        if merged_bucket.get("public_read_access"):
            raise fail(
                name,
                "bucket_props",
                "sets public_read_access; audit logs are never public",
            )
        self.bucket = s3.Bucket(self, "Bucket", **merged_bucket)  # type: ignore[arg-type]

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=log_retention,
            removal_policy=removal_policy,
        )

        # aws-cdk-lib's Trail writes its bucket policy statements without aws:SourceArn
        # into the bucket it is given; an imported view of the same bucket takes none, and
        # the statements below are the conditioned ones CloudTrail's documentation shows.
        bucket_view = s3.Bucket.from_bucket_attributes(
            self,
            "TrailBucketView",
            bucket_arn=self.bucket.bucket_arn,
            bucket_name=self.bucket.bucket_name,
        )
        trail_defaults: dict[str, object] = {
            "bucket": bucket_view,
            "encryption_key": self.key,
            "trail_name": self.trail_name,
            "is_multi_region_trail": True,
            "include_global_service_events": True,
            "enable_file_validation": True,
            "management_events": cloudtrail.ReadWriteType.ALL,
            "send_to_cloud_watch_logs": True,
            "cloud_watch_log_group": self.log_group,
        }
        merged_trail = merge_props(
            name, "trail_props", cloudtrail.Trail, trail_defaults, trail_props, scope=self
        )
        prefix = merged_trail.get("s3_key_prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise fail(
                name,
                "trail_props['s3_key_prefix']",
                f"must be a string, got {type(prefix).__name__}",
            )
        self.trail = cloudtrail.Trail(self, "Trail", **merged_trail)  # type: ignore[arg-type]

        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToCheckTheBucketAcl",
                principals=[principal],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringEquals": this_trail},
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailToWriteLogFiles",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[
                    self.bucket.arn_for_objects(
                        f"{prefix + '/' if prefix else ''}AWSLogs/{stack.account}/*"
                    )
                ],
                conditions={
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_trail}
                },
            )
        )
        # CloudTrail checks the bucket policy when the trail is created.
        assert self.bucket.policy is not None
        trail_resource = self.trail.node.default_child
        assert isinstance(trail_resource, cloudtrail.CfnTrail)
        trail_resource.node.add_dependency(self.bucket.policy)
        logs_role = self.trail.node.find_child("LogsRole")
        assert isinstance(logs_role, iam.Role)
        self.logs_role: iam.Role = logs_role

        if destroy:
            trail_emptier = self.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            log_emptier = self.access_log_bucket.node.try_find_child(
                "AutoDeleteObjectsCustomResource"
            )
            # On deletion: the trail goes first (nothing writes to the bucket after it is
            # emptied), then the trail bucket is emptied (which S3 logs), then the access
            # log bucket.
            if trail_emptier is not None:
                trail_resource.node.add_dependency(trail_emptier)
                if log_emptier is not None:
                    trail_emptier.node.add_dependency(log_emptier)
            if trail_emptier is not None or log_emptier is not None:
                # aws-cdk-lib's emptying function, one per stack, logs to a group of its own.
                shared_provider_log_group(
                    self,
                    S3_AUTO_DELETE_PROVIDER,
                    retention=log_retention,
                    removal_policy=removal_policy,
                    construct=name,
                )

        self.metric_namespace = metric_namespace
        self.metric_filters: dict[str, logs.MetricFilter] = {
            activity.id: logs.MetricFilter(
                self,
                f"{activity.id}Filter",
                log_group=self.log_group,
                filter_pattern=logs.FilterPattern.literal(activity.pattern),
                metric_namespace=metric_namespace,
                metric_name=activity.id,
                metric_value="1",
            )
            for activity in WATCHED_ACTIVITY
        }
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = [
                self.metric_filters[activity.id]
                .metric(statistic="Sum", period=ALARM_PERIOD)
                .create_alarm(
                    self,
                    f"{activity.id}Alarm",
                    alarm_description=activity.description,
                    threshold=thresholds[activity.id],
                    evaluation_periods=1,
                    comparison_operator=(
                        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                    ),
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                for activity in WATCHED_ACTIVITY
            ]
            notify(self.alarms, alarm_topic)

    @property
    def trail_arn(self) -> str:
        """The trail's ARN."""
        return self.trail.trail_arn


def _is_valid_trail_name(trail_name: str) -> bool:
    return (
        re.fullmatch(_TRAIL_NAME, trail_name) is not None
        and re.fullmatch(_IP_ADDRESS, trail_name) is None
    )


def _checked_trail_name(construct: str, trail_name: str) -> str:
    if not isinstance(trail_name, str):
        raise fail(construct, "trail_name", f"must be a string, got {type(trail_name).__name__}")
    if Token.is_unresolved(trail_name):
        return trail_name
    require_pattern(
        construct,
        "trail_name",
        trail_name,
        _TRAIL_NAME,
        "3-128 ASCII letters, digits, '.', '_' and '-', starting and ending with a letter "
        "or digit, without two of '.', '_', '-' side by side",
    )
    if re.fullmatch(_IP_ADDRESS, trail_name):
        raise fail(construct, "trail_name", f"is {trail_name!r}; CloudTrail refuses an IP address")
    return trail_name


def _require_days(construct: str, argument: str, value: int, *, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(
            construct,
            argument,
            f"must be a whole number of days, got {type(value).__name__}",
        )
    require_range(construct, argument, value, minimum=minimum, maximum=maximum)
