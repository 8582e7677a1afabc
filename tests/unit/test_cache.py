"""Cache: documented defaults in both modes, grants, validation errors, cdk-nag, and
cfn-lint over a template holding a RelationalDatabase and both kinds of Cache."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import ConstructArgumentError
from cdk_microservices.cache import (
    DEFAULT_NODE_ENGINE_VERSION,
    DEFAULT_SERVERLESS_MAJOR_VERSION,
    Cache,
)
from cdk_microservices.relational_database import RelationalDatabase
from stacks.compliance import add_compliance_checks

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = "AWS::ElastiCache::ServerlessCache"
GROUP = "AWS::ElastiCache::ReplicationGroup"
INGRESS = "AWS::EC2::SecurityGroupIngress"
ALARM = "AWS::CloudWatch::Alarm"


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _vpc(stack: Stack) -> ec2.Vpc:
    return three_tier_vpc(stack)


def _cache(stack: Stack | None = None, **overrides: Any) -> Cache:
    stack = stack or _stack()
    vpc = stack.node.try_find_child("Vpc") or _vpc(stack)
    return Cache(stack, "Cache", vpc=vpc, **overrides)


def _client(stack: Stack) -> ec2.SecurityGroup:
    vpc = stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    return ec2.SecurityGroup(stack, "ClientSecurityGroup", vpc=vpc)


def _isolated(stack: Stack) -> list[Any]:
    vpc = stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    return [stack.resolve(subnet.subnet_id) for subnet in vpc.isolated_subnets]


def _ingress_rules(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(INGRESS).values()]


@pytest.fixture(scope="module")
def serverless() -> tuple[Cache, Template]:
    cache = _cache()
    return cache, Template.from_stack(Stack.of(cache))


@pytest.fixture(scope="module")
def node() -> tuple[Cache, Template]:
    cache = _cache(mode="node")
    return cache, Template.from_stack(Stack.of(cache))


# -- serverless (default) ----------------------------------------------------------------


def test_serverless_defaults(serverless: tuple[Cache, Template]) -> None:
    cache, template = serverless
    stack = Stack.of(cache)
    assert cache.mode == "serverless"
    template.resource_count_is(SERVERLESS, 1)
    template.resource_count_is(GROUP, 0)
    template.resource_count_is("AWS::SecretsManager::Secret", 0)
    template.has_resource(
        SERVERLESS,
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "Engine": "valkey",
                "MajorEngineVersion": "8",
                # Derived from the construct path: lowercase, unique, at most 40 characters.
                "ServerlessCacheName": Match.string_like_regexp("^test-cache-[0-9a-f]{8}$"),
                "SubnetIds": _isolated(stack),
                "SecurityGroupIds": [stack.resolve(cache.security_group.security_group_id)],
                "SnapshotRetentionLimit": 1,
                "CacheUsageLimits": Match.absent(),
                "KmsKeyId": Match.absent(),  # encrypted with an AWS owned key
                "UserGroupId": Match.absent(),
            },
        },
    )
    assert DEFAULT_SERVERLESS_MAJOR_VERSION == "8"
    # No limits, nothing to be near; throttling is alarmed on whatever the limits.
    [alarm] = [a["Properties"] for a in template.find_resources(ALARM).values()]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
        "ThrottledCmds",
        "Sum",
        1,
    )
    assert len(cache.alarms) == 1
    assert cache.replication_group is None
    assert cache.auth_secret is None
    assert cache.serverless_cache is not None
    assert (cache.port, cache.reader_port) == (6379, 6380)
    assert stack.resolve(cache.endpoint_address) == {
        "Fn::GetAtt": [stack.get_logical_id(cache.serverless_cache), "Endpoint.Address"]
    }
    assert stack.resolve(cache.reader_endpoint_address) == {
        "Fn::GetAtt": [stack.get_logical_id(cache.serverless_cache), "ReaderEndpoint.Address"]
    }


def test_no_inbound_or_outbound_rule_without_a_grant(serverless: tuple[Cache, Template]) -> None:
    _, template = serverless
    template.resource_count_is(INGRESS, 0)
    [group] = template.find_resources("AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["GroupDescription"] == (
        "Cache Test/Cache: only granted services may connect"
    )
    assert "SecurityGroupIngress" not in group["Properties"]
    # CDK's placeholder egress rule that matches no traffic: no outbound at all.
    assert [r["CidrIp"] for r in group["Properties"]["SecurityGroupEgress"]] == [
        "255.255.255.255/32"
    ]


def test_serverless_grant_opens_the_endpoint_and_reader_ports_to_the_grantee() -> None:
    stack = _stack()
    cache = _cache(stack)
    client = _client(stack)
    cache.grant_connect(client)
    assert _ingress_rules(Template.from_stack(stack)) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 6379,
            "ToPort": 6380,
            "GroupId": stack.resolve(cache.security_group.security_group_id),
            "SourceSecurityGroupId": stack.resolve(client.security_group_id),
            "Description": "Clients of Test/Cache",
        }
    ]


def test_serverless_limits_key_name_and_alarms() -> None:
    stack = _stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Alarms")
    cache = _cache(
        stack,
        cache_name="statements-cache",
        max_data_storage_gb=10,
        max_ecpu_per_second=5000,
        encryption_key=key,
        snapshot_retention_days=0,
        removal_policy=RemovalPolicy.RETAIN,
        alarm_topic=topic,
    )
    template = Template.from_stack(stack)
    template.has_resource(
        SERVERLESS,
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "ServerlessCacheName": "statements-cache",
                "CacheUsageLimits": {
                    "DataStorage": {"Maximum": 10, "Unit": "GB"},
                    "ECPUPerSecond": {"Maximum": 5000},
                },
                "KmsKeyId": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]},  # type: ignore[arg-type]
                "SnapshotRetentionLimit": Match.absent(),
            },
        },
    )
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in template.find_resources(ALARM).values()
    }
    assert len(cache.alarms) == 3
    assert {name: (a["Threshold"], a["Statistic"]) for name, a in alarms.items()} == {
        "ThrottledCmds": (1, "Sum"),
        "BytesUsedForCache": (8_000_000_000, "Maximum"),  # 80 % of 10 GB
        "ElastiCacheProcessingUnits": (1_200_000, "Sum"),  # 80 % of 5000 ECPU/s x 300 s
    }
    topic_ref = {"Ref": stack.get_logical_id(topic.node.default_child)}  # type: ignore[arg-type]
    for alarm in alarms.values():
        assert alarm["Dimensions"] == [{"Name": "clusterId", "Value": "statements-cache"}]
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            300,
            3,
            3,
        )
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [topic_ref]


def test_serverless_alarms_can_be_turned_off() -> None:
    cache = _cache(max_data_storage_gb=10, alarms=False)
    Template.from_stack(Stack.of(cache)).resource_count_is(ALARM, 0)
    assert cache.alarms == []


# -- node --------------------------------------------------------------------------------


def test_node_defaults(node: tuple[Cache, Template]) -> None:
    cache, template = node
    stack = Stack.of(cache)
    assert cache.mode == "node"
    template.resource_count_is(SERVERLESS, 0)
    template.resource_count_is(GROUP, 1)
    assert cache.subnet_group is not None
    assert cache.auth_secret is not None
    template.has_resource_properties(
        "AWS::ElastiCache::SubnetGroup", {"SubnetIds": _isolated(stack)}
    )
    secret_id = stack.get_logical_id(cache.auth_secret.node.default_child)  # type: ignore[arg-type]
    template.has_resource(
        GROUP,
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "Engine": "valkey",
                "EngineVersion": "8.2",
                "CacheNodeType": "cache.t4g.micro",
                "NumNodeGroups": 1,
                "ReplicasPerNodeGroup": 1,
                "AutomaticFailoverEnabled": True,
                "MultiAZEnabled": True,
                "Port": 6379,
                "TransitEncryptionEnabled": True,
                "TransitEncryptionMode": "required",
                "AtRestEncryptionEnabled": True,
                "KmsKeyId": Match.absent(),
                "AuthToken": {
                    "Fn::Join": [
                        "",
                        ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"],
                    ]
                },
                "AutoMinorVersionUpgrade": True,
                "SnapshotRetentionLimit": 1,
                "CacheSubnetGroupName": {"Ref": stack.get_logical_id(cache.subnet_group)},
                "SecurityGroupIds": [stack.resolve(cache.security_group.security_group_id)],
            },
        },
    )
    assert DEFAULT_NODE_ENGINE_VERSION == "8.2"
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "GenerateSecretString": {
                    "ExcludePunctuation": True,
                    "IncludeSpace": False,
                    "PasswordLength": 64,
                }
            },
        },
    )
    template.resource_count_is(INGRESS, 0)
    assert (cache.port, cache.reader_port) == (6379, 6379)
    assert cache.replication_group is not None
    assert stack.resolve(cache.endpoint_address) == {
        "Fn::GetAtt": [stack.get_logical_id(cache.replication_group), "PrimaryEndPoint.Address"]
    }


def test_node_alarms_per_node(node: tuple[Cache, Template]) -> None:
    cache, template = node
    group_id = cache.node.find_child("ReplicationGroup")
    ref = {"Ref": Stack.of(cache).get_logical_id(group_id)}  # type: ignore[arg-type]
    alarms = [a["Properties"] for a in template.find_resources(ALARM).values()]
    assert len(alarms) == len(cache.alarms) == 8  # 4 per node, primary + 1 replica
    seen = {
        (a["MetricName"], a["Dimensions"][0]["Value"]["Fn::Join"][1][1], a["Threshold"])
        for a in alarms
    }
    assert seen == {
        (metric, member, threshold)
        for member in ("-001", "-002")
        for metric, threshold in (
            ("CPUUtilization", 80),
            ("EngineCPUUtilization", 80),
            ("DatabaseMemoryUsagePercentage", 80),
            ("Evictions", 1),
        )
    }
    for alarm in alarms:
        assert alarm["Dimensions"][0]["Name"] == "CacheClusterId"
        assert alarm["Dimensions"][0]["Value"]["Fn::Join"][1][0] == ref
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            300,
            3,
            3,
        )
        assert "AlarmActions" not in alarm


def test_node_grant_opens_the_port_to_the_grantee_only() -> None:
    stack = _stack()
    cache = _cache(stack, mode="node", port=6390)
    client = _client(stack)
    cache.grant_connect(client)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    assert cache.auth_secret is not None
    cache.auth_secret.grant_read(role)
    template = Template.from_stack(stack)
    assert _ingress_rules(template) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 6390,
            "ToPort": 6390,
            "GroupId": stack.resolve(cache.security_group.security_group_id),
            "SourceSecurityGroupId": stack.resolve(client.security_group_id),
            "Description": "Clients of Test/Cache",
        }
    ]
    template.has_resource_properties(GROUP, {"Port": 6390})


def test_node_without_replicas_single_az_kept_with_a_snapshot() -> None:
    stack = _stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    cache = _cache(
        stack,
        mode="node",
        replicas_per_node_group=0,
        multi_az=False,
        cache_node_type="cache.r7g.large",
        engine_version="7.2",
        snapshot_retention_days=7,
        encryption_key=key,
        removal_policy=RemovalPolicy.SNAPSHOT,
    )
    template = Template.from_stack(stack)
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}  # type: ignore[arg-type]
    template.has_resource(
        GROUP,
        {
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "ReplicasPerNodeGroup": 0,
                "AutomaticFailoverEnabled": False,
                "MultiAZEnabled": False,
                "CacheNodeType": "cache.r7g.large",
                "EngineVersion": "7.2",
                "SnapshotRetentionLimit": 7,
                "KmsKeyId": key_arn,
            },
        },
    )
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {"DeletionPolicy": "Retain", "Properties": {"KmsKeyId": key_arn}},
    )
    assert len(cache.alarms) == 4


def test_node_replicas_without_multi_az() -> None:
    cache = _cache(mode="node", replicas_per_node_group=2, multi_az=False, alarms=False)
    template = Template.from_stack(Stack.of(cache))
    template.has_resource_properties(
        GROUP,
        {"ReplicasPerNodeGroup": 2, "AutomaticFailoverEnabled": True, "MultiAZEnabled": False},
    )
    template.resource_count_is(ALARM, 0)


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "cluster"}, "argument 'mode' is 'cluster'; allowed values are 'node', 'serverl"),
        (
            {"cache_node_type": "cache.t4g.small", "replicas_per_node_group": 2},
            "argument 'mode' is 'serverless', but 'cache_node_type', 'replicas_per_node_group' "
            "only apply to mode='node'",
        ),
        ({"port": 6380}, "argument 'mode' is 'serverless', but 'port' only applies to mode='n"),
        ({"multi_az": False}, "argument 'mode' is 'serverless', but 'multi_az' only applies"),
        (
            {"mode": "node", "max_ecpu_per_second": 5000},
            "argument 'mode' is 'node', but 'max_ecpu_per_second' only applies to mode='serverl",
        ),
        (
            {"mode": "node", "cache_name": "x", "max_data_storage_gb": 5},
            "argument 'mode' is 'node', but 'cache_name', 'max_data_storage_gb' only apply",
        ),
        (
            {"mode": "node", "replicas_per_node_group": 6},
            r"argument 'replicas_per_node_group' is 6; allowed range is 0..5",
        ),
        (
            {"mode": "node", "replicas_per_node_group": -1},
            r"argument 'replicas_per_node_group' is -1; allowed range is 0..5",
        ),
        (
            {"mode": "node", "replicas_per_node_group": 0, "multi_az": True},
            "argument 'multi_az' is True with replicas_per_node_group=0",
        ),
        ({"max_data_storage_gb": 0}, r"argument 'max_data_storage_gb' is 0; allowed range is 1"),
        ({"max_data_storage_gb": 5001}, r"'max_data_storage_gb' is 5001; allowed range is 1..50"),
        ({"max_data_storage_gb": 2.5}, "'max_data_storage_gb' must be a whole number, got 2.5"),
        ({"max_ecpu_per_second": 0}, r"'max_ecpu_per_second' is 0; allowed range is 1000..1500"),
        ({"max_ecpu_per_second": 999}, r"'max_ecpu_per_second' is 999; allowed range is 1000"),
        ({"snapshot_retention_days": 36}, r"'snapshot_retention_days' is 36; allowed range is 0"),
        ({"snapshot_retention_days": -1}, r"'snapshot_retention_days' is -1; allowed range is 0"),
        ({"cache_name": "Cache"}, "argument 'cache_name' is 'Cache'; it must be 1-40 lowercase"),
        ({"cache_name": "my--cache"}, "argument 'cache_name' is 'my--cache'"),
        ({"cache_name": "cache-"}, "argument 'cache_name' is 'cache-'"),
        ({"cache_name": "c" * 41}, "argument 'cache_name' is 'c{41}'"),
        ({"engine_version": "8.2"}, "argument 'engine_version' is '8.2'; it must be a major ver"),
        (
            {"mode": "node", "engine_version": "8"},
            "argument 'engine_version' is '8'; it must be 'major.minor'",
        ),
        (
            {"mode": "node", "cache_node_type": "t4g.micro"},
            "argument 'cache_node_type' is 't4g.micro'; it must be a node type like",
        ),
        ({"mode": "node", "port": 80}, r"argument 'port' is 80; allowed range is 1024..65535"),
        (
            {"removal_policy": RemovalPolicy.SNAPSHOT},
            "argument 'removal_policy' is SNAPSHOT; CloudFormation takes final snapshots of node",
        ),
        ({"removal_policy": "destroy"}, "argument 'removal_policy' must be an aws_cdk.Removal"),
        (
            {"alarms": False, "alarm_topic": sns.Topic(Stack(), "Topic")},
            "argument 'alarms' was given together with 'alarm_topic'",
        ),
        (
            {"subnets": ec2.SubnetSelection(availability_zones=["us-east-1a"])},
            "argument 'subnets' selects subnets in ",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _cache(**overrides)


def test_a_vpc_without_isolated_subnets_is_rejected() -> None:
    stack = _stack()
    public = ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[public])
    with pytest.raises(
        ConstructArgumentError,
        match="argument 'subnets' selects PRIVATE_ISOLATED subnets, and the VPC has none",
    ):
        Cache(stack, "Cache", vpc=vpc)


def test_grant_connect_rejects_what_has_no_connections() -> None:
    stack = _stack()
    cache = _cache(stack)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    with pytest.raises(ConstructArgumentError, match="argument 'connectable' must be an aws_ec2"):
        cache.grant_connect(role)  # type: ignore[arg-type]
    Template.from_stack(stack).resource_count_is(INGRESS, 0)


# -- cdk-nag -----------------------------------------------------------------------------


def _synth_with_nag(tmp_path: Path, **overrides: Any) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _cache(_stack(app), **overrides)
    app.synth()  # raises on any unacknowledged finding


def test_no_open_cdk_nag_findings_serverless(tmp_path: Path) -> None:
    _synth_with_nag(tmp_path)


def test_no_open_cdk_nag_findings_node(tmp_path: Path) -> None:
    _synth_with_nag(tmp_path, mode="node")


def test_a_single_node_is_left_for_the_stack_to_acknowledge(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        _synth_with_nag(tmp_path, mode="node", replicas_per_node_group=0, multi_az=False)
    report = (tmp_path / "validation-report.json").read_text(encoding="utf-8")
    assert "AwsSolutions-AEC4" in report


# -- cfn-lint ----------------------------------------------------------------------------


def test_cfn_lint_accepts_a_template_with_both_constructs(tmp_path: Path) -> None:
    """cfn-lint, with the repository's .cfnlintrc.yaml, finds nothing in a stack holding a
    RelationalDatabase (defaults, and prod-like) and a Cache in each mode, all granted."""
    app = new_app(outdir=str(tmp_path))
    stack = _stack(app)
    vpc = _vpc(stack)
    client = _client(stack)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    RelationalDatabase(stack, "Database", vpc=vpc, database_name="accounts").grant_connect(
        client, role
    )
    RelationalDatabase(
        stack,
        "ProdDatabase",
        vpc=vpc,
        database_name="statements",
        readers=1,
        min_capacity=0,
        iam_authentication=True,
    ).grant_connect(client, role, iam_user="statements_app")
    Cache(stack, "Serverless", vpc=vpc, max_data_storage_gb=5).grant_connect(client)
    Cache(stack, "Node", vpc=vpc, mode="node").grant_connect(client)
    app.synth()
    template = tmp_path / f"{stack.artifact_id}.template.json"
    assert template.is_file()
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        # The floor environment (make test-floor) has no cfn-lint: use the development
        # one, which make puts on PATH.
        found = shutil.which("cfn-lint")
        assert found is not None, "cfn-lint is neither beside this Python nor on PATH"
        cfn_lint = Path(found)
    # Run from the repository root, so that cfn-lint reads its .cfnlintrc.yaml.
    result = subprocess.run(
        [str(cfn_lint), str(template)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
