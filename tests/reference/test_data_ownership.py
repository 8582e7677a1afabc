"""Each service owns its data: no role of one service may touch another service's data store.

Derived from the synthesized IAM policies and security groups by the code that writes the
data-ownership matrix of docs/architecture.md (tools/architecture_report.py), so the report
and this test cannot disagree. The crafted assemblies below show the check fails when a
service reaches across: by IAM in its own stack, through a weak cross-stack reference, on a
wildcard, and over the network.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tools.architecture_report import (
    DATA_STORE_KINDS,
    Architecture,
    Assembly,
    grants,
    ownership_violations,
    reaches,
)

SERVICES_WITH_DATA = {"accounts", "statements", "transfers", "edge"}


@pytest.fixture(scope="module")
def architecture(synthesized_assembly: Path) -> Architecture:
    return Architecture.of(Assembly.load(synthesized_assembly))


def test_no_service_touches_another_services_data_store(architecture):
    assert ownership_violations(architecture) == []


def test_the_check_sees_every_services_own_data(architecture):
    """Not vacuous: each service's roles reach its own stores, resolved to the resource."""
    owned = {
        (grant.principal.stack.split("/")[0], grant.principal.service, grant.target.kind)
        for grant in grants(architecture)
        if grant.target is not None and grant.target.kind in DATA_STORE_KINDS
    }
    for stage in ("Dev", "Prod"):
        assert {service for s, service, _ in owned if s == stage} == SERVICES_WITH_DATA
        assert {(service, kind) for s, service, kind in owned if s == stage} >= {
            ("accounts", "table"),
            ("statements", "table"),
            ("statements", "queue"),
            ("statements", "bucket"),
            ("transfers", "queue"),
            ("transfers", "secret"),
            ("edge", "bucket"),
        }
    network = {(r.source.service, r.target.kind) for r in reaches(architecture) if r.source}
    assert {("transfers", "database"), ("transfers", "cache")} <= network


def test_publishing_to_a_platform_topic_resolves_across_stacks(architecture):
    published = {
        (grant.principal.service, grant.target.service, grant.target.label)
        for grant in grants(architecture)
        if grant.access == "publish" and grant.target and grant.target.kind == "topic"
    }
    assert ("accounts", "platform", "AccountEvents") in published
    assert ("transfers", "platform", "TransferEvents") in published


# Crafted assemblies: a platform with a topic, accounts with a table and a queue, statements
# with a function, transfers with a database behind a security group.


def _tagged(service: str) -> list[dict[str, str]]:
    return [{"Key": "service", "Value": service}]


def _weak(stack: str, output: str) -> dict[str, Any]:
    return {"Fn::GetStackOutput": {"StackName": stack, "OutputName": output}}


def _policy(role: str, actions: list[str], resource: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
            },
        },
    }


BASE: dict[str, dict[str, Any]] = {
    "Dev/Platform": {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}},
        "Outputs": {"TopicOut": {"Value": {"Ref": "Topic"}}},
    },
    "Dev/Accounts": {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"Tags": _tagged("accounts")}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": _tagged("accounts")}},
        },
        "Outputs": {
            "TableOut": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
            "QueueOut": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
        },
    },
    "Dev/Statements": {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Tags": _tagged("statements")}},
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}},
            },
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {}},
        },
        "Outputs": {"GroupOut": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}},
    },
    "Dev/Transfers": {
        "Resources": {
            "DatabaseGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {"Tags": _tagged("transfers")},
            },
            "Database": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "VpcSecurityGroupIds": [{"Fn::GetAtt": ["DatabaseGroup", "GroupId"]}]
                },
            },
        }
    },
}


def _violations(stack: str, *extra: tuple[str, dict[str, Any]]) -> list[str]:
    templates = copy.deepcopy(BASE)
    for logical_id, resource in extra:
        templates[stack]["Resources"][logical_id] = resource
    return ownership_violations(Architecture.of(Assembly.from_templates(templates)))


def test_the_crafted_assembly_alone_has_no_violation():
    assert _violations("Dev/Statements") == []


def test_statements_reading_the_accounts_table_fails():
    """The same table reached by a weak cross-stack reference, as CDK writes it."""
    problems = _violations(
        "Dev/Statements",
        (
            "Policy",
            _policy(
                "Role", ["dynamodb:GetItem", "dynamodb:Query"], _weak("Dev-Accounts", "TableOut")
            ),
        ),
    )
    assert problems == [
        "statements: Dev/Statements function Function may read accounts's Dev/Accounts table Table"
    ]


def test_statements_consuming_the_accounts_queue_fails():
    problems = _violations(
        "Dev/Statements",
        ("Policy", _policy("Role", ["sqs:ReceiveMessage"], _weak("Dev-Accounts", "QueueOut"))),
    )
    assert problems == [
        "statements: Dev/Statements function Function may consume "
        "accounts's Dev/Accounts queue Queue"
    ]


def test_publishing_to_a_platform_topic_is_allowed():
    problems = _violations(
        "Dev/Statements",
        ("Policy", _policy("Role", ["sns:Publish"], _weak("Dev-Platform", "TopicOut"))),
    )
    assert problems == []


def test_a_data_action_on_any_resource_fails():
    problems = _violations(
        "Dev/Statements",
        ("Policy", _policy("Role", ["dynamodb:Scan", "xray:PutTraceSegments"], "*")),
    )
    assert problems == ["statements: Dev/Statements function Function may read * (no owner)"]


def test_listing_streams_on_any_resource_is_no_data_access():
    problems = _violations(
        "Dev/Statements", ("Policy", _policy("Role", ["dynamodb:ListStreams"], "*"))
    )
    assert problems == []


def test_another_services_security_group_reaching_the_database_fails():
    templates = copy.deepcopy(BASE)
    templates["Dev/Statements"]["Resources"]["Function"]["Properties"]["VpcConfig"] = {
        "SecurityGroupIds": [{"Fn::GetAtt": ["Group", "GroupId"]}]
    }
    templates["Dev/Transfers"]["Resources"]["Ingress"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": ["DatabaseGroup", "GroupId"]},
            "SourceSecurityGroupId": _weak("Dev-Statements", "GroupOut"),
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
        },
    }
    assert ownership_violations(Architecture.of(Assembly.from_templates(templates))) == [
        "statements: Dev/Statements function Function may reach "
        "transfers's Dev/Transfers database Database on tcp 5432"
    ]
