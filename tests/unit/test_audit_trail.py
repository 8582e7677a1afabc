"""AuditTrail: every documented default, the key and bucket policies CloudTrail needs (with
their exact conditions), the CIS metric filters and alarms, validation errors, props
overrides, DESTROY ordering, pinned logical ids, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import function_log_groups, new_app

from cdk_microservices import AlarmTopic, AuditTrail, ConstructArgumentError
from cdk_microservices import audit_trail as audit_trail_module
from stacks.compliance import add_compliance_checks

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111111111111"
REGION = "eu-west-1"
TRAIL = "AuditTrail90B6CA04"
BUCKET = "AuditBucket7486E833"
ACCESS_LOGS = "AuditAccessLogs9A4BEAE3"
KEY = "AuditKey2ED08D30"
LOG_GROUP = "AuditLogGroup4CD660E1"
TRAIL_NAME = "Test-Audit-AEBFCB0B"
TRAIL_ARN = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, f":cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL_NAME}"],
    ]
}
THIS_TRAIL = {"aws:SourceArn": TRAIL_ARN}

# The patterns of the AWS Security Hub user guide's "Amazon CloudWatch controls", copied
# here character for character: Security Hub fails the controls on any other text.
ROOT_USER_PATTERN = (
    '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && '
    '$.eventType !="AwsServiceEvent"}'
)
NO_MFA_PATTERN = (
    '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && '
    '($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'
)
IAM_POLICY_PATTERN = (
    "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || "
    "($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || "
    "($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || "
    "($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || "
    "($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || "
    "($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || "
    "($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || "
    "($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}"
)
PATTERNS = {
    "RootUserUsage": ROOT_USER_PATTERN,
    "ConsoleSignInWithoutMfa": NO_MFA_PATTERN,
    "IamPolicyChanges": IAM_POLICY_PATTERN,
}


def _stack(app: App | None = None, env: Environment | None = None) -> Stack:
    return Stack(app or new_app(), "Test", env=env or Environment(account=ACCOUNT, region=REGION))


def _trail(stack: Stack, **overrides: Any) -> AuditTrail:
    return AuditTrail(stack, "Audit", **overrides)


def _resources(template: Template, type_: str) -> dict[str, Any]:
    return dict(template.find_resources(type_))


def _policy_of(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    [statements] = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in _resources(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return list(statements)


def _warnings(stack: Stack) -> list[str]:
    return [
        str(entry.entry.data)
        for entry in Annotations.from_stack(stack).find_warning("*", Match.any_value())
    ]


@pytest.fixture(scope="module")
def default_stack() -> Stack:
    stack = _stack()
    _trail(stack)
    return stack


@pytest.fixture(scope="module")
def template(default_stack: Stack) -> Template:
    return Template.from_stack(default_stack)


# -- the trail -------------------------------------------------------------------------


def test_the_trail_records_every_region_and_all_management_events(template: Template) -> None:
    trail = _resources(template, "AWS::CloudTrail::Trail")[TRAIL]["Properties"]
    assert trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["EventSelectors"] == [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
    assert trail["TrailName"] == TRAIL_NAME
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [KEY, "Arn"]}
    assert trail["S3BucketName"] == {"Ref": BUCKET}
    assert "S3KeyPrefix" not in trail
    assert "IsOrganizationTrail" not in trail
    assert "InsightSelectors" not in trail


def test_the_trail_delivers_to_cloudwatch_logs_through_its_own_role(
    template: Template,
) -> None:
    trail = _resources(template, "AWS::CloudTrail::Trail")[TRAIL]
    properties = trail["Properties"]
    assert properties["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [LOG_GROUP, "Arn"]}
    role_id = properties["CloudWatchLogsRoleArn"]["Fn::GetAtt"][0]
    role = _resources(template, "AWS::IAM::Role")[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
        }
    ]
    [policy] = [
        policy
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert statement["Resource"] == {"Fn::GetAtt": [LOG_GROUP, "Arn"]}
    # CloudTrail checks the bucket policy and the role when the trail is created.
    assert {"AuditBucketPolicyE6CAAC5C", role_id} <= set(trail["DependsOn"])


def test_the_log_group_keeps_events_a_year_and_is_retained(template: Template) -> None:
    log_group = _resources(template, "AWS::Logs::LogGroup")[LOG_GROUP]
    assert log_group["Properties"] == {"RetentionInDays": 365}
    assert log_group["DeletionPolicy"] == "Retain"


def test_log_retention_sets_the_log_groups_retention() -> None:
    stack = _stack()
    _trail(stack, log_retention=logs.RetentionDays.ONE_WEEK)
    log_group = _resources(Template.from_stack(stack), "AWS::Logs::LogGroup")[LOG_GROUP]
    assert log_group["Properties"]["RetentionInDays"] == 7


# -- the key ---------------------------------------------------------------------------


def _key_statements(template: Template) -> list[dict[str, Any]]:
    key = _resources(template, "AWS::KMS::Key")[KEY]
    return list(key["Properties"]["KeyPolicy"]["Statement"])


def test_the_key_rotates_and_is_retained(template: Template) -> None:
    key = _resources(template, "AWS::KMS::Key")[KEY]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_the_key_lets_cloudtrail_encrypt_for_this_trail_only(template: Template) -> None:
    """Configure AWS KMS key policies for CloudTrail: GenerateDataKey* on the encryption
    context of this account's trails, and aws:SourceArn naming the trail."""
    [encrypt] = [s for s in _key_statements(template) if s["Action"] == "kms:GenerateDataKey*"]
    assert encrypt["Effect"] == "Allow"
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert encrypt["Resource"] == "*"
    assert encrypt["Condition"] == {
        "StringLike": {
            "kms:EncryptionContext:aws:cloudtrail:arn": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, f":cloudtrail:*:{ACCOUNT}:trail/*"],
                ]
            }
        },
        "StringEquals": THIS_TRAIL,
    }


def test_the_key_lets_cloudtrail_describe_it_and_use_the_bucket_key(template: Template) -> None:
    by_action = {
        s["Action"]: s
        for s in _key_statements(template)
        if s.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    }
    assert set(by_action) == {"kms:GenerateDataKey*", "kms:DescribeKey", "kms:Decrypt"}
    for action in ("kms:DescribeKey", "kms:Decrypt"):
        assert by_action[action]["Effect"] == "Allow"
        assert by_action[action]["Condition"] == {"StringEquals": THIS_TRAIL}


def test_nobody_else_gets_a_service_statement_on_the_key(template: Template) -> None:
    """The account's root (so IAM policies can grant readers kms:Decrypt) and CloudTrail."""
    principals = [json.dumps(s["Principal"], sort_keys=True) for s in _key_statements(template)]
    assert len(principals) == 4
    assert sum("cloudtrail.amazonaws.com" in p for p in principals) == 3
    assert sum(":root" in p for p in principals) == 1


def test_the_trail_arn_in_the_policies_follows_an_environment_agnostic_stack() -> None:
    stack = Stack(new_app(), "Agnostic")
    _trail(stack, trail_name="audit")
    [encrypt] = [
        s
        for s in _key_statements(Template.from_stack(stack))
        if s["Action"] == "kms:GenerateDataKey*"
    ]
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudtrail:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":trail/audit",
            ],
        ]
    }


# -- the trail bucket ------------------------------------------------------------------


def test_the_bucket_is_kms_encrypted_private_versioned_and_logged(template: Template) -> None:
    bucket = _resources(template, "AWS::S3::Bucket")[BUCKET]
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": {"Fn::GetAtt": [KEY, "Arn"]},
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]
    }
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": ACCESS_LOGS},
        "LogFilePrefix": "trail-bucket/",
    }


def test_log_files_move_to_glacier_instant_retrieval_and_expire(template: Template) -> None:
    bucket = _resources(template, "AWS::S3::Bucket")[BUCKET]
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "audit-log-retention",
            "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}],
            "ExpirationInDays": 365,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        }
    ]


@pytest.mark.parametrize(
    ("kwargs", "transitions", "expiration"),
    [
        ({"retention_days": 2555}, [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}], 2555),
        (
            {"retention_days": 400, "transition_days": 30},
            [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}],
            400,
        ),
        ({"retention_days": 30, "transition_days": None}, None, 30),
    ],
)
def test_retention_and_transition_days_set_the_lifecycle(
    kwargs: dict[str, Any], transitions: list[dict[str, Any]] | None, expiration: int
) -> None:
    stack = _stack()
    _trail(stack, **kwargs)
    buckets = _resources(Template.from_stack(stack), "AWS::S3::Bucket")
    [rule] = buckets[BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule.get("Transitions") == transitions
    assert rule["ExpirationInDays"] == expiration
    [access_rule] = buckets[ACCESS_LOGS]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert access_rule["ExpirationInDays"] == expiration


def test_the_bucket_policy_is_tls_only_and_admits_only_this_trail(template: Template) -> None:
    """Amazon S3 bucket policy for CloudTrail: GetBucketAcl on the bucket and PutObject under
    AWSLogs/<account>/, each conditioned on aws:SourceArn = this trail."""
    bucket_arn = {"Fn::GetAtt": [BUCKET, "Arn"]}
    statements = _policy_of(template, BUCKET)
    assert statements[0] == {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
    }
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "s3:GetBucketAcl",
            "Condition": {"StringEquals": THIS_TRAIL},
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Resource": bucket_arn,
            "Sid": "AllowCloudTrailToCheckTheBucketAcl",
        },
        {
            "Action": "s3:PutObject",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **THIS_TRAIL}
            },
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Resource": {"Fn::Join": ["", [bucket_arn, f"/AWSLogs/{ACCOUNT}/*"]]},
            "Sid": "AllowCloudTrailToWriteLogFiles",
        },
    ]


def test_the_access_log_bucket_takes_only_the_trail_buckets_logs(template: Template) -> None:
    bucket = _resources(template, "AWS::S3::Bucket")[ACCESS_LOGS]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert properties["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert "LoggingConfiguration" not in properties
    assert properties["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "expire-access-logs",
            "ExpirationInDays": 365,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        }
    ]
    statements = _policy_of(template, ACCESS_LOGS)
    assert statements[0]["Effect"] == "Deny"
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [BUCKET, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    }


# -- metric filters and alarms ----------------------------------------------------------


def test_three_metric_filters_with_the_security_hub_patterns(template: Template) -> None:
    filters = _resources(template, "AWS::Logs::MetricFilter").values()
    found = {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"] for f in filters
    }
    assert set(found) == set(PATTERNS)
    for metric, properties in found.items():
        assert properties["FilterPattern"] == PATTERNS[metric]
        assert properties["LogGroupName"] == {"Ref": LOG_GROUP}
        assert properties["MetricTransformations"] == [
            {"MetricName": metric, "MetricNamespace": "CloudTrailMetrics", "MetricValue": "1"}
        ]


def test_three_alarms_on_one_match_in_five_minutes_without_actions(template: Template) -> None:
    alarms = [a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()]
    assert sorted(a["MetricName"] for a in alarms) == sorted(PATTERNS)
    for alarm in alarms:
        assert alarm["Namespace"] == "CloudTrailMetrics"
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm
        assert "OKActions" not in alarm
        # Each says what happened and what to do first.
        assert "First:" in alarm["AlarmDescription"]
        assert len(alarm["AlarmDescription"]) <= 1024


def test_the_alarms_notify_the_topic_of_alarm_and_ok() -> None:
    stack = _stack()
    topic = AlarmTopic(stack, "Alarms")
    _trail(stack, alarm_topic=topic.topic, metric_namespace="Payments/Audit")
    template = Template.from_stack(stack)
    topic_ref = {"Ref": stack.get_logical_id(topic.topic.node.default_child)}  # type: ignore[arg-type]
    alarms = [a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()]
    assert len(alarms) == 3
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic_ref]
        assert alarm["OKActions"] == [topic_ref]
        assert alarm["Namespace"] == "Payments/Audit"


def test_alarms_off_keeps_the_metric_filters() -> None:
    stack = _stack()
    audit = _trail(stack, alarms=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::Logs::MetricFilter", 3)
    assert audit.alarms == []
    assert set(audit.metric_filters) == set(PATTERNS)


# -- every created resource is an attribute ---------------------------------------------


def test_every_resource_is_an_attribute_and_the_stateful_logical_ids_are_pinned(
    default_stack: Stack,
) -> None:
    """Renaming a construct would replace the trail, its bucket (and the logs in it) or its
    key (and with it the ability to read those logs): these ids must not change by accident."""
    audit = default_stack.node.find_child("Audit")
    assert isinstance(audit, AuditTrail)
    ids = {
        name: default_stack.get_logical_id(resource.node.default_child)  # type: ignore[arg-type]
        for name, resource in (
            ("trail", audit.trail),
            ("bucket", audit.bucket),
            ("access_log_bucket", audit.access_log_bucket),
            ("key", audit.key),
            ("log_group", audit.log_group),
        )
    }
    assert ids == {
        "trail": TRAIL,
        "bucket": BUCKET,
        "access_log_bucket": ACCESS_LOGS,
        "key": KEY,
        "log_group": LOG_GROUP,
    }
    assert audit.trail_name == TRAIL_NAME
    assert default_stack.resolve(audit.trail_arn) == {"Fn::GetAtt": [TRAIL, "Arn"]}
    role_id = default_stack.get_logical_id(audit.logs_role.node.default_child)  # type: ignore[arg-type]
    assert role_id in _resources(Template.from_stack(default_stack), "AWS::IAM::Role")
    assert len(audit.alarms) == 3
    assert audit.metric_namespace == "CloudTrailMetrics"


def test_a_trail_name_is_used_everywhere_the_trail_is_named() -> None:
    stack = _stack()
    _trail(stack, trail_name="payments.audit_trail-1")
    template = Template.from_stack(stack)
    [trail] = _resources(template, "AWS::CloudTrail::Trail").values()
    assert trail["Properties"]["TrailName"] == "payments.audit_trail-1"
    arn = json.dumps(_policy_of(template, BUCKET))
    assert ":trail/payments.audit_trail-1" in arn


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retention_days": 0}, r"'retention_days' is 0; allowed range is 1\.\.36500"),
        ({"retention_days": 36501}, r"'retention_days' is 36501; allowed range"),
        ({"retention_days": 365.5}, r"'retention_days' must be a whole number of days"),
        ({"retention_days": True}, r"'retention_days' must be a whole number of days"),
        ({"transition_days": 0}, r"'transition_days' is 0; allowed range is 1\.\.36500"),
        (
            {"retention_days": 90, "transition_days": 90},
            r"'transition_days' is 90, not less than retention_days \(90\)",
        ),
        (
            {"log_retention": 365},
            r"'log_retention' must be an aws_logs\.RetentionDays.*got int",
        ),
        (
            {"removal_policy": RemovalPolicy.SNAPSHOT},
            r"'removal_policy' is .*allowed values are RemovalPolicy\.RETAIN",
        ),
        ({"alarms": "yes"}, r"'alarms' must be True or False"),
        ({"alarm_topic": "arn:aws:sns:eu-west-1:1:t"}, r"'alarm_topic' must be an aws_sns\.ITopic"),
        ({"metric_namespace": "AWS/CloudTrail"}, r"'metric_namespace' is 'AWS/CloudTrail'"),
        ({"metric_namespace": ""}, r"'metric_namespace' is ''"),
        ({"metric_namespace": "x" * 256}, r"'metric_namespace'"),
        ({"trail_name": "ab"}, r"'trail_name' is 'ab'; it must be 3-128 ASCII letters"),
        ({"trail_name": "my--trail"}, r"'trail_name' is 'my--trail'"),
        ({"trail_name": "my-_trail"}, r"'trail_name' is 'my-_trail'"),
        ({"trail_name": "-trail"}, r"'trail_name' is '-trail'"),
        ({"trail_name": "t" * 129}, r"'trail_name'"),
        ({"trail_name": "192.168.5.4"}, r"'trail_name' is '192\.168\.5\.4'; CloudTrail refuses"),
        ({"trail_name": 42}, r"'trail_name' must be a string, got int"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=rf"AuditTrail: argument {message}"):
        _trail(_stack(), **kwargs)


def test_an_alarm_topic_without_alarms_is_rejected() -> None:
    stack = _stack()
    topic = sns.Topic(stack, "Topic")
    with pytest.raises(
        ConstructArgumentError, match=r"'alarms' was given together with 'alarm_topic'"
    ):
        _trail(stack, alarms=False, alarm_topic=topic)


def test_the_longest_valid_trail_name_is_accepted() -> None:
    name = "a" + "b." * 63 + "c"
    assert len(name) == 128
    assert _trail(_stack(), trail_name=name).trail_name == name


def test_a_generated_trail_name_is_valid_for_any_construct_id() -> None:
    for construct_id in ("_", "a_b", "x" * 300):
        name = AuditTrail(_stack(), construct_id).trail_name
        assert len(name) <= 128
        assert name.startswith("Test-")
        assert "--" not in name


def test_a_generated_name_that_breaks_cloudtrails_rules_asks_for_a_trail_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class _Names:
        @staticmethod
        def unique_resource_name(*_args: object, **_kwargs: object) -> str:
            return "Test--Audit"

    monkeypatch.setattr(audit_trail_module, "Names", _Names)
    with pytest.raises(
        ConstructArgumentError,
        match=r"'trail_name' was not given, and the name made from the construct's path, "
        r"'Test--Audit', breaks CloudTrail's naming rules",
    ):
        _trail(_stack())


# -- props overrides --------------------------------------------------------------------


def test_trail_props_merge_and_report_what_they_change() -> None:
    stack = _stack()
    _trail(
        stack,
        trail_props={
            "insight_types": [cloudtrail.InsightType.API_CALL_RATE],
            "is_multi_region_trail": False,
            "s3_key_prefix": "cloudtrail",
        },
    )
    template = Template.from_stack(stack)
    [trail] = _resources(template, "AWS::CloudTrail::Trail").values()
    properties = trail["Properties"]
    assert properties["InsightSelectors"] == [{"InsightType": "ApiCallRateInsight"}]
    assert properties["IsMultiRegionTrail"] is False
    assert properties["S3KeyPrefix"] == "cloudtrail"
    # What the override did not name stays.
    assert properties["EnableLogFileValidation"] is True
    assert properties["KMSKeyId"] == {"Fn::GetAtt": [KEY, "Arn"]}
    [write] = [s for s in _policy_of(template, BUCKET) if s["Action"] == "s3:PutObject"]
    assert write["Resource"]["Fn::Join"][1][1] == f"/cloudtrail/AWSLogs/{ACCOUNT}/*"
    warnings = _warnings(stack)
    assert any("'trail_props' overrides" in w and "'is_multi_region_trail'" in w for w in warnings)
    assert not any("'enable_file_validation'" in w for w in warnings)


def test_bucket_props_merge_and_keep_the_encryption() -> None:
    stack = _stack()
    _trail(
        stack,
        bucket_props={
            "object_lock_enabled": True,
            "object_lock_default_retention": s3.ObjectLockRetention.governance(Duration.days(90)),
        },
    )
    bucket = _resources(Template.from_stack(stack), "AWS::S3::Bucket")[BUCKET]["Properties"]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE",
        "Days": 90,
    }
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trail_props": {"bucket": None}}, r"'trail_props' sets 'bucket'"),
        ({"trail_props": {"encryption_key": None}}, r"'trail_props' sets 'encryption_key'"),
        (
            {"trail_props": {"trail_name": "x"}},
            r"'trail_props' sets 'trail_name', which trail_name",
        ),
        (
            {"trail_props": {"send_to_cloud_watch_logs": False}},
            r"'trail_props' sets 'send_to_cloud_watch_logs'",
        ),
        (
            {"trail_props": {"cloud_watch_logs_retention": logs.RetentionDays.ONE_DAY}},
            r"sets 'cloud_watch_logs_retention', which log_retention sets",
        ),
        (
            {"trail_props": {"is_organization_trail": True}},
            r"'trail_props' sets 'is_organization_trail'; an organization trail needs",
        ),
        ({"trail_props": {"org_id": "o-abc"}}, r"'trail_props' sets 'org_id'; an organization"),
        ({"trail_props": {"is_multiregion": True}}, r"'trail_props' has unknown key\(s\)"),
        ({"trail_props": {"s3_key_prefix": 5}}, r"'trail_props\['s3_key_prefix'\]' must be a"),
        (
            {"bucket_props": {"encryption": s3.BucketEncryption.S3_MANAGED}},
            r"'bucket_props' sets 'encryption'",
        ),
        ({"bucket_props": {"lifecycle_rules": []}}, r"which retention_days and transition_days"),
        (
            {"bucket_props": {"removal_policy": RemovalPolicy.DESTROY}},
            r"'bucket_props' sets 'removal_policy', which removal_policy sets",
        ),
        ({"bucket_props": {"public_read_access": True}}, r"audit logs are never public"),
    ],
)
def test_props_that_an_argument_owns_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _trail(_stack(), **kwargs)


# -- DESTROY -----------------------------------------------------------------------------


def test_destroy_deletes_everything_and_empties_the_buckets_in_order() -> None:
    """The trail goes before its bucket is emptied, and the trail bucket is emptied (which
    S3 logs) before the access log bucket."""
    stack = _stack()
    _trail(stack, removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    for type_ in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
        assert {r["DeletionPolicy"] for r in _resources(template, type_).values()} == {"Delete"}
    emptiers = {
        emptier["Properties"]["BucketName"]["Ref"]: emptier_id
        for emptier_id, emptier in _resources(template, "Custom::S3AutoDeleteObjects").items()
    }
    assert set(emptiers) == {BUCKET, ACCESS_LOGS}
    trail = _resources(template, "AWS::CloudTrail::Trail")[TRAIL]
    assert emptiers[BUCKET] in trail["DependsOn"]
    bucket_emptier = _resources(template, "Custom::S3AutoDeleteObjects")[emptiers[BUCKET]]
    assert emptiers[ACCESS_LOGS] in bucket_emptier["DependsOn"]


def test_the_emptying_function_logs_with_the_trails_retention() -> None:
    """aws-cdk-lib's S3 auto-delete function would log to /aws/lambda/<name>, kept forever:
    it gets a group with the trail's log_retention, deleted with the stack."""
    stack = _stack()
    _trail(stack, removal_policy=RemovalPolicy.DESTROY, log_retention=logs.RetentionDays.ONE_WEEK)
    [(function_id, group)] = function_log_groups(Template.from_stack(stack)).items()
    assert function_id.startswith("CustomS3AutoDeleteObjectsCustomResourceProviderHandler")
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


def test_retain_empties_nothing(template: Template) -> None:
    assert not _resources(template, "Custom::S3AutoDeleteObjects")


# -- cdk-nag and cfn-lint -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "removal_policy"),
    [
        (Environment(account=ACCOUNT, region=REGION), RemovalPolicy.RETAIN),
        (Environment(account=ACCOUNT, region=REGION), RemovalPolicy.DESTROY),
        (None, RemovalPolicy.RETAIN),
    ],
    ids=["retain", "destroy", "environment-agnostic"],
)
def test_a_bare_stack_has_no_cdk_nag_finding_and_needs_no_acknowledgement(
    tmp_path: Path, env: Environment | None, removal_policy: RemovalPolicy
) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = Stack(app, "Test", env=env)
    _trail(stack, removal_policy=removal_policy, alarm_topic=AlarmTopic(stack, "Alarms").topic)
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    findings = [
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for key in ("violations", "suppressedViolations")
        for violation in plugin.get(key, [])
    ]
    assert findings == []


def test_cfn_lint_accepts_the_template(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    stack = _stack(app)
    _trail(stack, removal_policy=RemovalPolicy.DESTROY, alarm_topic=sns.Topic(stack, "Topic"))
    app.synth()
    template = tmp_path / f"{stack.artifact_id}.template.json"
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        # The floor environment has no cfn-lint: use the development one on PATH.
        found = shutil.which("cfn-lint")
        assert found is not None, "cfn-lint is neither beside this Python nor on PATH"
        cfn_lint = Path(found)
    result = subprocess.run(
        [str(cfn_lint), str(template)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
