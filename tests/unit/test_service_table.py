"""ServiceTable: every documented default, the escape hatches, and each validation error."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from cdk_microservices import ConstructArgumentError, ServiceTable


def _stack() -> Stack:
    app = App(builtin_cloud_formation_validation=False)
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _template(**kwargs: Any) -> Template:
    stack = _stack()
    ServiceTable(stack, "Table", **kwargs)
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def default_template() -> Template:
    return _template()


def test_defaults(default_template: Template) -> None:
    default_template.resource_count_is("AWS::DynamoDB::Table", 1)
    default_template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                "SSESpecification": {"SSEEnabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "DeletionProtectionEnabled": True,
                "TimeToLiveSpecification": Match.absent(),
                "StreamSpecification": Match.absent(),
            },
        },
    )


def test_relaxed_profile_ttl_and_stream() -> None:
    template = _template(
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        time_to_live_attribute="expires_at",
        stream="NEW_IMAGE",
        sort_key="",
        partition_key="id",
        partition_key_type="N",
    )
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "DeletionProtectionEnabled": False,
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            },
        },
    )


def test_customer_managed_key_rotates_and_grant_covers_it() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table", encryption="customer_managed")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant(role, "dynamodb:GetItem")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            }
        },
    )
    statements = template.find_resources("AWS::IAM::Policy")
    [policy] = statements.values()
    actions = [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert "dynamodb:GetItem" in actions
    assert any(isinstance(a, list) and "kms:Decrypt" in a for a in actions)


def test_grant_gives_exactly_the_named_actions() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table")
    role = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem")
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
                        "Effect": "Allow",
                        "Resource": [{"Fn::GetAtt": [Match.string_like_regexp("^Table"), "Arn"]}],
                    }
                ]
            }
        },
    )


def test_table_props_override_and_existing_table() -> None:
    _template(
        table_props={"table_class": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS}
    ).has_resource_properties("AWS::DynamoDB::Table", {"TableClass": "STANDARD_INFREQUENT_ACCESS"})
    stack = _stack()
    existing = dynamodb.Table.from_table_name(stack, "Existing", "legacy-table")
    table = ServiceTable(stack, "Table", existing_table=existing)
    assert table.table is existing
    Template.from_stack(stack).resource_count_is("AWS::DynamoDB::Table", 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"partition_key": "bad key!"}, "argument 'partition_key'"),
        ({"sort_key": "pk"}, "argument 'sort_key' is 'pk', the same as 'partition_key'"),
        ({"sort_key": "", "sort_key_type": "S"}, "argument 'sort_key_type'"),
        ({"partition_key_type": "X"}, "argument 'partition_key_type' is 'X'; allowed values"),
        ({"encryption": "none"}, "argument 'encryption' is 'none'; allowed values"),
        ({"stream": "ALL"}, "argument 'stream' is 'ALL'; allowed values"),
        ({"time_to_live_attribute": ""}, "argument 'time_to_live_attribute'"),
        ({"table_props": {"billing_mod": 1}}, "'table_props' has unknown key\\(s\\) 'billing_mod'"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        ServiceTable(_stack(), "Table", **kwargs)


def test_encryption_key_needs_customer_managed() -> None:
    from aws_cdk import aws_kms as kms

    stack = _stack()
    key = kms.Key(stack, "Key")
    with pytest.raises(ConstructArgumentError, match="argument 'encryption_key'"):
        ServiceTable(stack, "Table", encryption_key=key)


def test_existing_table_conflicts_with_configuration() -> None:
    stack = _stack()
    existing = dynamodb.Table.from_table_name(stack, "Existing", "legacy-table")
    with pytest.raises(ConstructArgumentError, match=r"'existing_table'.*'stream'"):
        ServiceTable(stack, "Table", existing_table=existing, stream="NEW_IMAGE")


def test_grant_rejects_empty_and_foreign_actions() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with pytest.raises(ConstructArgumentError, match="'actions' is empty"):
        table.grant(role)
    with pytest.raises(ConstructArgumentError, match="'s3:GetObject'"):
        table.grant(role, "s3:GetObject")
