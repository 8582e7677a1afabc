"""ServiceTable: every documented default, the escape hatches, and each validation error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from unit_app import new_app

from cdk_microservices import ConstructArgumentError, ServiceTable


def _stack() -> Stack:
    app = new_app()
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
    default_template.resource_count_is("AWS::KMS::Key", 0)
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
                # Exactly this: KMS with the AWS managed key, not a customer managed one.
                "SSESpecification": Match.object_equals({"SSEEnabled": True}),
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


def test_aws_owned_encryption_key_types_and_recovery_off() -> None:
    _template(
        encryption="aws_owned",
        point_in_time_recovery=False,
        partition_key_type="B",
        sort_key_type="N",
    ).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": Match.object_equals({"SSEEnabled": False}),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": False},
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "B"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
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


@pytest.mark.parametrize(
    ("kwargs", "policy"),
    [
        ({}, "Retain"),
        ({"removal_policy": RemovalPolicy.DESTROY}, "Delete"),
        ({"table_props": {"removal_policy": RemovalPolicy.DESTROY}}, "Delete"),
        (
            {
                "removal_policy": RemovalPolicy.DESTROY,
                "table_props": {"removal_policy": RemovalPolicy.RETAIN},
            },
            "Retain",
        ),
    ],
)
def test_customer_managed_key_follows_the_table_removal_policy(
    kwargs: dict[str, Any], policy: str
) -> None:
    template = _template(encryption="customer_managed", **kwargs)
    for resource_type in ("AWS::DynamoDB::Table", "AWS::KMS::Key"):
        template.has_resource(
            resource_type, {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}
        )


def test_customer_managed_with_a_given_key_uses_it() -> None:
    stack = _stack()
    key = kms.Key(stack, "OwnKey")
    table = ServiceTable(stack, "Table", encryption="customer_managed", encryption_key=key)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)  # only the caller's
    assert table.encryption_key is key
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"SSESpecification": {"KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}},
    )


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
                        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^Table"), "Arn"]},
                    }
                ]
            }
        },
    )


@pytest.mark.parametrize(
    ("helper", "reads", "writes"),
    [
        ("grant_read_data", True, False),
        ("grant_write_data", False, True),
        ("grant_read_write_data", True, True),
    ],
)
def test_grant_data_helpers(helper: str, reads: bool, writes: bool) -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    getattr(table, helper)(role)
    [policy] = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    actions = {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in statement["Action"]
    }
    assert ("dynamodb:GetItem" in actions) is reads
    assert ("dynamodb:PutItem" in actions) is writes


def test_table_props_override_and_existing_table() -> None:
    _template(
        table_props={
            "table_class": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
            "billing_mode": dynamodb.BillingMode.PROVISIONED,
            "read_capacity": 3,
            "write_capacity": 2,
        }
    ).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableClass": "STANDARD_INFREQUENT_ACCESS",
            "BillingMode": Match.absent(),  # PROVISIONED, CloudFormation's default
            "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 2},
        },
    )
    stack = _stack()
    key = kms.Key(stack, "Key")
    existing = dynamodb.Table.from_table_attributes(
        stack, "Existing", table_name="legacy-table", encryption_key=key
    )
    table = ServiceTable(stack, "Table", existing_table=existing)
    assert table.table is existing
    assert table.encryption_key is key
    assert stack.resolve(table.table_name) == "legacy-table"
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
        ({"sort_key": "bad/key"}, "argument 'sort_key' is 'bad/key'"),
        ({"sort_key_type": "s"}, "argument 'sort_key_type' is 's'; allowed values"),
        (
            {"removal_policy": "destroy"},
            "argument 'removal_policy' must be an aws_cdk.RemovalPolicy",
        ),
        (
            {"table_props": {"removal_policy": "destroy"}},
            "argument 'table_props' has removal_policy 'destroy'; it must be an aws_cdk.Remo",
        ),
        (
            {"table_props": {"billing_mod": 1}},
            "'table_props' has unknown key\\(s\\) 'billing_mod'; accepted keys are the keyword "
            "arguments of Table: ",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        ServiceTable(_stack(), "Table", **kwargs)


def test_encryption_key_needs_customer_managed() -> None:
    stack = _stack()
    key = kms.Key(stack, "Key")
    with pytest.raises(ConstructArgumentError, match="argument 'encryption_key'"):
        ServiceTable(stack, "Table", encryption_key=key)


def test_existing_table_conflicts_with_every_table_argument() -> None:
    stack = _stack()
    existing = dynamodb.Table.from_table_name(stack, "Existing", "legacy-table")
    configuration: dict[str, Any] = {
        "partition_key": "id",
        "partition_key_type": "N",
        "sort_key": "",
        "sort_key_type": "S",
        "time_to_live_attribute": "ttl",
        "encryption": "customer_managed",
        "encryption_key": kms.Key(stack, "Key"),
        "stream": "NEW_IMAGE",
        "point_in_time_recovery": False,
        "removal_policy": RemovalPolicy.DESTROY,
        "deletion_protection": False,
        "table_props": {"table_class": dynamodb.TableClass.STANDARD},
    }
    named = ", ".join(repr(argument) for argument in sorted(configuration))
    with pytest.raises(ConstructArgumentError, match=re.escape(f"together with {named};")):
        ServiceTable(stack, "Table", existing_table=existing, **configuration)


def test_grant_rejects_empty_and_foreign_actions() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with pytest.raises(ConstructArgumentError, match="'actions' is empty"):
        table.grant(role)
    with pytest.raises(ConstructArgumentError, match="'s3:GetObject'"):
        table.grant(role, "s3:GetObject")
    with pytest.raises(ConstructArgumentError, match="has 'GetItem'"):
        table.grant(role, "dynamodb:GetItem", "GetItem")
    assert role.node.try_find_child("DefaultPolicy") is None  # nothing was granted


def test_grant_covers_indexes_only_when_asked_and_reads_only_decrypt() -> None:
    """cdk-nag flagged the consumer for index/* it never asked for (CDK's table.grant adds
    it once the table has an index) and for kms:ReEncrypt*/GenerateDataKey* on a read."""
    stack = _stack()
    table = ServiceTable(stack, "Table", encryption="customer_managed")
    table.table.add_global_secondary_index(  # type: ignore[attr-defined]
        index_name="by_email",
        partition_key=dynamodb.Attribute(name="email", type=dynamodb.AttributeType.STRING),
    )
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    searcher = iam.Role(stack, "Searcher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant(reader, "dynamodb:GetItem")
    table.grant(searcher, "dynamodb:Query", indexes=["by_email"])
    policies = {
        logical_id: policy["Properties"]["PolicyDocument"]["Statement"]
        for logical_id, policy in Template.from_stack(stack)
        .find_resources("AWS::IAM::Policy")
        .items()
    }
    [reader_statements] = [s for key, s in policies.items() if key.startswith("Reader")]
    [searcher_statements] = [s for key, s in policies.items() if key.startswith("Searcher")]
    assert "index" not in str(reader_statements)
    assert "/index/by_email" in str(searcher_statements)
    assert "index/*" not in str(searcher_statements)
    for statements in (reader_statements, searcher_statements):
        kms_actions = {
            action
            for statement in statements
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
            if action.startswith("kms:")
        }
        assert kms_actions == {"kms:Decrypt", "kms:DescribeKey"}


def test_a_write_grant_names_its_key_actions_without_wildcards() -> None:
    stack = _stack()
    table = ServiceTable(stack, "Table", encryption="customer_managed")
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    table.grant_write_data(writer)
    [policy] = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    actions = [
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    ]
    assert "dynamodb:PutItem" in actions
    assert "kms:Encrypt" in actions
    assert "kms:GenerateDataKey" in actions
    assert not [action for action in actions if "*" in action]
