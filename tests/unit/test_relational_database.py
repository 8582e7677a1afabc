"""RelationalDatabase: documented defaults, dev/prod settings, grants, escape hatches,
validation errors and cdk-nag."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import function_log_groups, new_app

from cdk_microservices import ConstructArgumentError, acknowledge
from cdk_microservices.relational_database import (
    DEFAULT_ENGINE_VERSION,
    DEFAULT_PORT,
    RelationalDatabase,
)
from stacks.compliance import add_compliance_checks

CLUSTER = "AWS::RDS::DBCluster"
INSTANCE = "AWS::RDS::DBInstance"
INGRESS = "AWS::EC2::SecurityGroupIngress"


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _vpc(stack: Stack, **overrides: Any) -> ec2.Vpc:
    """Two zones of public, private (with NAT) and isolated subnets, with flow logs."""
    kwargs: dict[str, Any] = {
        "max_azs": 2,
        "nat_gateways": 1,
        "subnet_configuration": [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
        "flow_logs": {"FlowLogs": ec2.FlowLogOptions()},
        **overrides,
    }
    return ec2.Vpc(stack, "Vpc", **kwargs)


def _database(stack: Stack | None = None, **overrides: Any) -> RelationalDatabase:
    stack = stack or _stack()
    vpc = stack.node.try_find_child("Vpc") or _vpc(stack)
    kwargs: dict[str, Any] = {"vpc": vpc, "database_name": "accounts", **overrides}
    return RelationalDatabase(stack, "Database", **kwargs)


def _client(stack: Stack, name: str = "Client") -> tuple[ec2.SecurityGroup, iam.Role]:
    vpc = stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    group = ec2.SecurityGroup(stack, f"{name}SecurityGroup", vpc=vpc)
    role = iam.Role(
        stack, f"{name}Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
    )
    return group, role


def _logical_id(stack: Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def _ingress_rules(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(INGRESS).values()]


def _statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.fixture(scope="module")
def default() -> tuple[RelationalDatabase, Template]:
    database = _database()
    return database, Template.from_stack(Stack.of(database))


@pytest.fixture(scope="module")
def granted() -> tuple[Stack, RelationalDatabase, Template]:
    stack = _stack()
    database = _database(stack)
    group, role = _client(stack)
    database.grant_connect(group, role)
    return stack, database, Template.from_stack(stack)


@pytest.fixture(scope="module")
def dev() -> Template:
    """What a short-lived development environment uses."""
    database = _database(
        min_capacity=0,
        max_capacity=2,
        readers=0,
        deletion_protection=False,
        removal_policy=RemovalPolicy.DESTROY,
        backup_retention=Duration.days(1),
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    return Template.from_stack(Stack.of(database))


@pytest.fixture(scope="module")
def prod() -> tuple[Stack, Template]:
    """What production uses: readers, IAM auth, monitoring, own key, alarm topic."""
    stack = _stack()
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Alarms")
    database = _database(
        stack,
        min_capacity=2,
        max_capacity=16,
        readers=2,
        deletion_protection=True,
        removal_policy=RemovalPolicy.SNAPSHOT,
        iam_authentication=True,
        encryption_key=key,
        monitoring_interval=Duration.seconds(60),
        backup_retention=Duration.days(35),
        rotation_interval=Duration.days(7),
        alarm_topic=topic,
    )
    group, role = _client(stack)
    database.grant_connect(group, role, iam_user="accounts_app")
    return stack, Template.from_stack(stack)


# -- documented defaults ---------------------------------------------------------------


def test_cluster_defaults(default: tuple[RelationalDatabase, Template]) -> None:
    database, template = default
    template.resource_count_is(CLUSTER, 1)
    template.has_resource(
        CLUSTER,
        {
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
            "Properties": {
                "Engine": "aurora-postgresql",
                "EngineVersion": "18.4",
                "DatabaseName": "accounts",
                "MasterUsername": "postgres",
                "Port": 5433,
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4},
                "StorageEncrypted": True,
                "KmsKeyId": Match.absent(),  # the AWS managed key aws/rds
                "EnableIAMDatabaseAuthentication": False,
                "BackupRetentionPeriod": 7,
                "DeletionProtection": True,
                "EnableCloudwatchLogsExports": ["postgresql"],
                "PerformanceInsightsEnabled": True,
                "PerformanceInsightsRetentionPeriod": 7,
                "PerformanceInsightsKmsKeyId": Match.absent(),
                "MonitoringInterval": Match.absent(),
            },
        },
    )
    assert DEFAULT_ENGINE_VERSION.aurora_postgres_full_version == "18.4"
    assert DEFAULT_PORT == 5433
    assert database.port == 5433


def test_one_serverless_writer_and_no_reader_by_default(
    default: tuple[RelationalDatabase, Template],
) -> None:
    _, template = default
    instances = template.find_resources(INSTANCE)
    [writer] = instances.values()
    assert writer["Properties"]["DBInstanceClass"] == "db.serverless"
    assert writer["Properties"]["PromotionTier"] == 0
    assert writer["Properties"]["PubliclyAccessible"] is False
    assert "MonitoringInterval" not in writer["Properties"]
    template.resource_count_is("AWS::IAM::Role", 2)  # flow logs + LogRetention: no monitoring


def test_isolated_subnets_by_default(default: tuple[RelationalDatabase, Template]) -> None:
    database, template = default
    stack = Stack.of(database)
    vpc = stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    isolated = [stack.resolve(subnet.subnet_id) for subnet in vpc.isolated_subnets]
    template.has_resource_properties("AWS::RDS::DBSubnetGroup", {"SubnetIds": isolated})


def test_generated_secret_is_attached_and_kept(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    template.resource_count_is("AWS::SecretsManager::Secret", 1)
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"username":"postgres"}',
                    "GenerateStringKey": "password",
                },
                "KmsKeyId": Match.absent(),
            },
        },
    )
    template.has_resource_properties(
        "AWS::SecretsManager::SecretTargetAttachment",
        {"TargetType": "AWS::RDS::DBCluster", "TargetId": {"Ref": _cluster_id(database)}},
    )
    assert database.secret is not None


def _cluster_id(database: RelationalDatabase) -> str:
    return Stack.of(database).get_logical_id(database.cluster.node.default_child)  # type: ignore[arg-type]


def test_secret_rotation_is_hosted_in_private_subnets(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    stack = Stack.of(database)
    vpc = stack.node.find_child("Vpc")
    assert isinstance(vpc, ec2.Vpc)
    private = [stack.resolve(subnet.subnet_id) for subnet in vpc.private_subnets]
    assert database.rotation_security_group is not None
    rotation_group = stack.resolve(database.rotation_security_group.security_group_id)
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 1)
    template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {
            "SecretId": {"Ref": Match.string_like_regexp("SecretAttachment")},
            "RotationRules": {"ScheduleExpression": "rate(30 days)"},
            "HostedRotationLambda": {
                "RotationType": "PostgreSQLSingleUser",
                "VpcSubnetIds": {"Fn::Join": ["", [private[0], ",", private[1]]]},
                "VpcSecurityGroupIds": rotation_group,
            },
        },
    )
    assert template.to_json()["Transform"] == "AWS::SecretsManager-2024-09-16"


def test_no_inbound_rule_but_the_rotation_function_without_a_grant(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    stack = Stack.of(database)
    assert database.security_group is not None
    assert database.rotation_security_group is not None
    database_group = stack.resolve(database.security_group.security_group_id)
    rotation_group = stack.resolve(database.rotation_security_group.security_group_id)
    assert _ingress_rules(template) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 5433,
            "ToPort": 5433,
            "GroupId": database_group,
            "SourceSecurityGroupId": rotation_group,
            "Description": "Secret rotation function",
        }
    ]
    [group] = [
        g["Properties"]
        for logical_id, g in template.find_resources("AWS::EC2::SecurityGroup").items()
        if {"Fn::GetAtt": [logical_id, "GroupId"]} == database_group
    ]
    assert "SecurityGroupIngress" not in group
    # No outbound either: CDK's placeholder rule that matches no traffic.
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    # The rotation function reaches the database and HTTPS, nothing else.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("^Secret rotation"),
            "SecurityGroupEgress": [
                {"CidrIp": "0.0.0.0/0", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}
            ],
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"GroupId": rotation_group, "DestinationSecurityGroupId": database_group, "FromPort": 5433},
    )


def _log_retentions(template: Template, log_group_name: object) -> dict[str, Any]:
    return template.find_resources(
        "Custom::LogRetention", {"Properties": {"LogGroupName": log_group_name}}
    )


def _exported_log_group(database: RelationalDatabase, log: str = "postgresql") -> object:
    return {"Fn::Join": ["", ["/aws/rds/cluster/", {"Ref": _cluster_id(database)}, f"/{log}"]]}


def test_logs_exported_with_retention(default: tuple[RelationalDatabase, Template]) -> None:
    database, template = default
    template.has_resource_properties(CLUSTER, {"EnableCloudwatchLogsExports": ["postgresql"]})
    [(retention_id, retention)] = _log_retentions(template, _exported_log_group(database)).items()
    # RDS creates the group on its first write: the LogRetention creates it first (or
    # accepts the one RDS made), and keeps it with the cluster (SNAPSHOT).
    assert retention["Properties"]["RetentionInDays"] == 30
    assert retention["Properties"]["RemovalPolicy"] == "retain"
    # There before the first instance writes, deleted only after the last one.
    for instance in template.find_resources(INSTANCE).values():
        assert retention_id in instance["DependsOn"]


def test_the_rotation_function_logs_with_retention(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    name = database.rotation_function_name
    assert name is not None
    assert re.fullmatch(r"Test-Database-[0-9A-F]{8}-rotation", name)
    [schedule] = template.find_resources("AWS::SecretsManager::RotationSchedule").values()
    assert schedule["Properties"]["HostedRotationLambda"]["RotationLambdaName"] == name
    [(retention_id, retention)] = _log_retentions(template, f"/aws/lambda/{name}").items()
    assert retention["Properties"]["RetentionInDays"] == 30
    # The schedule rotates at once: the group and its retention are there before.
    assert retention_id in schedule["DependsOn"]


def test_the_log_retention_function_logs_to_a_group_with_retention(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    [group] = function_log_groups(template).values()
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"
    # Its role (this construct's) writes there, and creates groups only under the two
    # prefixes it retains: its own and the rotation function's, and the exported logs'.
    assert database.log_retention_role is not None
    role = {"Ref": _logical_id(Stack.of(database), database.log_retention_role)}
    policy = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [role]}})
    [document] = [p["Properties"]["PolicyDocument"] for p in policy.values()]
    actions = sorted(
        action
        for statement in document["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    )
    assert actions == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DeleteRetentionPolicy",
        "logs:PutLogEvents",
        "logs:PutRetentionPolicy",
    ]


def test_alarms_per_instance_with_documented_thresholds(
    default: tuple[RelationalDatabase, Template],
) -> None:
    database, template = default
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert len(database.alarms) == 4
    assert {
        name: (a["Threshold"], a["ComparisonOperator"], a["Statistic"])
        for name, a in alarms.items()
    } == {
        "CPUUtilization": (80, "GreaterThanThreshold", "Average"),
        "ServerlessDatabaseCapacity": (3.6, "GreaterThanOrEqualToThreshold", "Average"),
        "FreeableMemory": (858993459, "LessThanThreshold", "Minimum"),  # 10 % of 8 GiB
        "DatabaseConnections": (720, "GreaterThanThreshold", "Maximum"),  # 80 % of 901
    }
    writer = Stack.of(database).get_logical_id(
        database.cluster.node.find_child("Writer").node.default_child  # type: ignore[arg-type]
    )
    for alarm in alarms.values():
        assert alarm["Namespace"] == "AWS/RDS"
        assert alarm["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": writer}}]
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            300,
            3,
            3,
        )
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm


def test_attributes(default: tuple[RelationalDatabase, Template]) -> None:
    database, _ = default
    stack = Stack.of(database)
    assert stack.resolve(database.endpoint) == {
        "Fn::GetAtt": [_cluster_id(database), "Endpoint.Address"]
    }
    assert isinstance(database.cluster, rds.DatabaseCluster)
    assert isinstance(database.security_group, ec2.SecurityGroup)


# -- grants ---------------------------------------------------------------------------


def test_grant_connect_opens_the_port_to_the_grantee_and_reads_the_secret(
    granted: tuple[Stack, RelationalDatabase, Template],
) -> None:
    stack, database, template = granted
    client_group = stack.node.find_child("ClientSecurityGroup")
    assert database.security_group is not None
    database_group = stack.resolve(database.security_group.security_group_id)
    client = stack.resolve(client_group.security_group_id)  # type: ignore[attr-defined]
    from_client = [r for r in _ingress_rules(template) if r["SourceSecurityGroupId"] == client]
    assert from_client == [
        {
            "IpProtocol": "tcp",
            "FromPort": 5433,
            "ToPort": 5433,
            "GroupId": database_group,
            "SourceSecurityGroupId": client,
            "Description": "Clients of Test/Database",
        }
    ]
    assert len(_ingress_rules(template)) == 2  # the client's and the rotation function's
    role_id = _logical_id(stack, stack.node.find_child("ClientRole"))
    secret_attachment = stack.resolve(database.secret.secret_arn)  # type: ignore[union-attr]
    assert _statements(template, role_id) == [
        {
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Effect": "Allow",
            "Resource": secret_attachment,
        }
    ]


def test_grant_connect_with_iam_user_adds_rds_db_connect(prod: tuple[Stack, Template]) -> None:
    stack, template = prod
    role_id = _logical_id(stack, stack.node.find_child("ClientRole"))
    statements = _statements(template, role_id)
    connect = [s for s in statements if s["Action"] == "rds-db:connect"]
    assert len(connect) == 1
    resource = json.dumps(connect[0]["Resource"])
    assert "DBClusterResourceId" in resource
    assert resource.endswith('"/accounts_app"]]}')
    assert any("secretsmanager:GetSecretValue" in s["Action"] for s in statements)
    # With a customer managed key, reading the secret includes decrypting it (key policy).
    [key] = template.find_resources("AWS::KMS::Key").values()
    role_arn = {"Fn::GetAtt": [role_id, "Arn"]}
    assert any(
        statement["Principal"] == {"AWS": role_arn} and "kms:Decrypt" in statement["Action"]
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
    )


def test_grant_connect_with_iam_user_needs_iam_authentication() -> None:
    stack = _stack()
    database = _database(stack)
    group, role = _client(stack)
    with pytest.raises(
        ConstructArgumentError, match="'iam_user' is 'app' but IAM database authentication is off"
    ):
        database.grant_connect(group, role, iam_user="app")
    with pytest.raises(ConstructArgumentError, match="'iam_user' is 'bad-user'"):
        _database(_stack(), iam_authentication=True).grant_connect(group, role, iam_user="bad-user")
    with pytest.raises(ConstructArgumentError, match="'connectable' must be an aws_ec2"):
        database.grant_connect(role, role)  # type: ignore[arg-type]
    with pytest.raises(ConstructArgumentError, match="'principal' must be an aws_iam"):
        database.grant_connect(group, group)  # type: ignore[arg-type]
    assert role.node.try_find_child("DefaultPolicy") is None  # nothing was granted


# -- dev-like vs prod-like ----------------------------------------------------------------


def test_dev_settings(dev: Template) -> None:
    dev.has_resource(
        CLUSTER,
        {
            "DeletionPolicy": "Delete",
            "Properties": {
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 2},
                "DeletionProtection": False,
                "BackupRetentionPeriod": 1,
            },
        },
    )
    dev.resource_count_is(INSTANCE, 1)
    dev.has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Delete"})
    # Every log group is kept a week and deleted with the stack: nothing is left behind.
    retentions = dev.find_resources("Custom::LogRetention")
    assert len(retentions) == 2  # the exported log and the rotation function's
    for retention in retentions.values():
        assert retention["Properties"]["RetentionInDays"] == 7
        assert retention["Properties"]["RemovalPolicy"] == "destroy"
    [group] = function_log_groups(dev).values()
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"
    dev.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ServerlessDatabaseCapacity", "Threshold": 1.8},
    )


def test_prod_settings(prod: tuple[Stack, Template]) -> None:
    stack, template = prod
    key = {"Fn::GetAtt": [_logical_id(stack, stack.node.find_child("Key")), "Arn"]}
    template.has_resource(
        CLUSTER,
        {
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 2, "MaxCapacity": 16},
                "DeletionProtection": True,
                "EnableIAMDatabaseAuthentication": True,
                "BackupRetentionPeriod": 35,
                "KmsKeyId": key,
                "PerformanceInsightsKmsKeyId": key,
            },
        },
    )
    template.has_resource_properties("AWS::SecretsManager::Secret", {"KmsKeyId": key})
    template.has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Retain"})
    template.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {"RotationRules": {"ScheduleExpression": "rate(7 days)"}},
    )
    instances = sorted(
        (i["Properties"]["PromotionTier"], i["Properties"]["MonitoringInterval"])
        for i in template.find_resources(INSTANCE).values()
    )
    # Readers in promotion tier 0-1 scale with the writer.
    assert instances == [(0, 60), (1, 60), (1, 60)]
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "monitoring.rds.amazonaws.com"}})
                ]
            }
        },
    )
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 12  # 4 per instance
    topic = {"Ref": _logical_id(stack, stack.node.find_child("Alarms"))}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["OKActions"] == [topic]
    thresholds = {
        a["Properties"]["MetricName"]: a["Properties"]["Threshold"] for a in alarms.values()
    }
    assert thresholds["ServerlessDatabaseCapacity"] == 14.4
    assert thresholds["FreeableMemory"] == 3435973837  # 10 % of 32 GiB
    assert thresholds["DatabaseConnections"] == 2883  # 80 % of LEAST(32 GiB / 9531392, 5000)


def test_engine_version_and_port_arguments() -> None:
    database = _database(engine_version=rds.AuroraPostgresEngineVersion.VER_17_7, port=6543)
    template = Template.from_stack(Stack.of(database))
    template.has_resource_properties(CLUSTER, {"EngineVersion": "17.7", "Port": 6543})
    assert database.port == 6543


def test_alarms_off_and_log_exports_off() -> None:
    database = _database(alarms=False, log_exports=[])
    template = Template.from_stack(Stack.of(database))
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    # Only the rotation function's group is retained.
    [retention] = template.find_resources("Custom::LogRetention").values()
    rotation_logs = f"/aws/lambda/{database.rotation_function_name}"
    assert retention["Properties"]["LogGroupName"] == rotation_logs
    template.has_resource_properties(CLUSTER, {"EnableCloudwatchLogsExports": Match.absent()})
    assert database.alarms == []


# -- escape hatches ----------------------------------------------------------------------


def test_cluster_props_override_the_defaults() -> None:
    database = _database(
        cluster_props={
            "preferred_maintenance_window": "sun:03:00-sun:04:00",
            "serverless_v2_max_capacity": 8,
            "port": 15432,
        }
    )
    template = Template.from_stack(Stack.of(database))
    template.has_resource_properties(
        CLUSTER,
        {
            "PreferredMaintenanceWindow": "sun:03:00-sun:04:00",
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 8},
            "Port": 15432,
        },
    )
    # Alarms and grants follow the overrides.
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ServerlessDatabaseCapacity", "Threshold": 7.2}
    )
    template.has_resource_properties(INGRESS, {"FromPort": 15432, "ToPort": 15432})
    assert database.port == 15432


def test_existing_cluster() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    group = ec2.SecurityGroup(stack, "LegacyGroup", vpc=vpc)
    secret = secretsmanager.Secret(stack, "LegacySecret")
    existing = rds.DatabaseCluster.from_database_cluster_attributes(
        stack,
        "Legacy",
        cluster_identifier="legacy",
        cluster_endpoint_address="legacy.cluster-x.us-east-1.rds.amazonaws.com",
        port=5432,
        security_groups=[group],
        secret=secret,
    )
    database = RelationalDatabase(stack, "Database", existing_cluster=existing)
    assert database.cluster is existing
    assert database.secret is secret
    assert database.security_group is None
    assert database.alarms == []
    assert database.endpoint == "legacy.cluster-x.us-east-1.rds.amazonaws.com"
    client, role = _client(stack)
    database.grant_connect(client, role)
    template = Template.from_stack(stack)
    template.resource_count_is(CLUSTER, 0)
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 0)
    template.has_resource_properties(
        INGRESS,
        {
            "FromPort": 5432,
            "GroupId": stack.resolve(group.security_group_id),
            "SourceSecurityGroupId": stack.resolve(client.security_group_id),
        },
    )
    assert len(_statements(template, _logical_id(stack, role))) == 1


def test_existing_cluster_without_a_port_cannot_be_granted() -> None:
    stack = _stack()
    _vpc(stack)
    existing = rds.DatabaseCluster.from_database_cluster_attributes(
        stack, "Legacy", cluster_identifier="legacy"
    )
    with pytest.raises(ConstructArgumentError, match="'existing_secret' is missing"):
        RelationalDatabase(stack, "NoSecret", existing_cluster=existing)
    secret = secretsmanager.Secret(stack, "LegacySecret")
    database = RelationalDatabase(
        stack, "Database", existing_cluster=existing, existing_secret=secret
    )
    assert database.secret is secret
    client, role = _client(stack)
    with pytest.raises(
        ConstructArgumentError, match="argument 'existing_cluster' has no port, so no connection"
    ):
        database.grant_connect(client, role)


def test_an_existing_secret_needs_an_existing_cluster() -> None:
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match="'existing_secret' was given without"):
        _database(stack, existing_secret=secretsmanager.Secret(stack, "Stray"))


def test_existing_cluster_conflicts_with_every_cluster_argument() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    existing = rds.DatabaseCluster.from_database_cluster_attributes(
        stack, "Legacy", cluster_identifier="legacy"
    )
    configuration: dict[str, Any] = {
        "vpc": vpc,
        "database_name": "app",
        "engine_version": rds.AuroraPostgresEngineVersion.VER_17_7,
        "min_capacity": 1,
        "max_capacity": 2,
        "readers": 1,
        "port": 5432,
        "subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        "encryption_key": kms.Key(stack, "Key"),
        "iam_authentication": True,
        "rotation_interval": Duration.days(7),
        "rotation_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        "backup_retention": Duration.days(3),
        "deletion_protection": False,
        "removal_policy": RemovalPolicy.DESTROY,
        "log_exports": ["postgresql"],
        "log_retention": logs.RetentionDays.ONE_DAY,
        "monitoring_interval": Duration.seconds(60),
        "alarms": True,
        "alarm_topic": sns.Topic(stack, "Topic"),
        "cluster_props": {"port": 1},
    }
    named = ", ".join(repr(argument) for argument in sorted(configuration))
    with pytest.raises(ConstructArgumentError, match=re.escape(f"together with {named};")):
        RelationalDatabase(stack, "Database", existing_cluster=existing, **configuration)


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vpc": None}, "argument 'vpc' is required"),
        ({"database_name": None}, "argument 'database_name' is required"),
        ({"database_name": "Accounts"}, "argument 'database_name' is 'Accounts'; it must be a Pos"),
        ({"database_name": "1st"}, "argument 'database_name' is '1st'"),
        ({"database_name": "a" * 64}, "argument 'database_name' is 'a{64}'"),
        ({"engine_version": "18.6"}, "argument 'engine_version' must be an aws_rds.AuroraPostgr"),
        ({"min_capacity": -0.5}, r"argument 'min_capacity' is -0.5; allowed range is 0..256"),
        ({"min_capacity": 0.3}, "argument 'min_capacity' is 0.3 ACU; capacity goes in steps of"),
        ({"max_capacity": 0.5}, r"argument 'max_capacity' is 0.5; allowed range is 1..256"),
        ({"max_capacity": 257}, r"argument 'max_capacity' is 257; allowed range is 1..256"),
        ({"max_capacity": 2.25}, "argument 'max_capacity' is 2.25 ACU; capacity goes in steps"),
        (
            {"min_capacity": 8, "max_capacity": 4},
            r"argument 'max_capacity' is 4 ACU, below min_capacity \(8 ACU\)",
        ),
        ({"readers": 16}, r"argument 'readers' is 16; allowed range is 0..15"),
        ({"readers": -1}, r"argument 'readers' is -1; allowed range is 0..15"),
        ({"readers": 1.5}, "argument 'readers' must be a whole number, got 1.5"),
        ({"port": 80}, r"argument 'port' is 80; allowed range is 1150..65535"),
        (
            {"backup_retention": Duration.days(36)},
            r"argument 'backup_retention' is 3110400 seconds; allowed range is 86400..3024000",
        ),
        (
            {"backup_retention": Duration.hours(12)},
            "argument 'backup_retention' is 43200 seconds; allowed range",
        ),
        (
            {"backup_retention": Duration.hours(36)},
            "argument 'backup_retention' is 129600 seconds; it must be whole days",
        ),
        (
            {"rotation_interval": Duration.days(1001)},
            "argument 'rotation_interval' is 86486400 seconds; allowed range",
        ),
        (
            {"rotation_interval": Duration.hours(30)},
            "argument 'rotation_interval' is 108000 seconds; it must be whole days",
        ),
        ({"removal_policy": "snapshot"}, "argument 'removal_policy' must be an aws_cdk.Removal"),
        ({"log_exports": "postgresql"}, "argument 'log_exports' is 'postgresql'; it must be a"),
        (
            {"log_exports": ["postgresql", "audit"]},
            "argument 'log_exports' has 'audit'; allowed log types are 'postgresql', ",
        ),
        ({"log_retention": 30}, "argument 'log_retention' must be an aws_logs.RetentionDays"),
        (
            {"monitoring_interval": Duration.seconds(20)},
            "argument 'monitoring_interval' is 20 seconds; allowed are 1, 5, 10, 15, 30, 60",
        ),
        (
            {"monitoring_interval": Duration.minutes(5)},
            "argument 'monitoring_interval' is 300 seconds; allowed range is 1..60 seconds",
        ),
        (
            {"alarms": False, "alarm_topic": sns.Topic(Stack(), "Topic")},
            "argument 'alarms' was given together with 'alarm_topic'",
        ),
        (
            {"subnets": ec2.SubnetSelection(availability_zones=["us-east-1a"])},
            "argument 'subnets' selects subnets in ",
        ),
        (
            {"cluster_props": {"cloudwatch_logs_retention": logs.RetentionDays.ONE_DAY}},
            "argument 'cluster_props' sets 'cloudwatch_logs_retention', which 'log_retention' sets",
        ),
        (
            {"cluster_props": {"backup_retention": 3}},
            r"argument 'cluster_props' has unknown key\(s\) 'backup_retention'; accepted keys "
            "are the keyword arguments of DatabaseCluster: ",
        ),
        (
            {
                "cluster_props": {
                    "credentials": rds.Credentials.from_password(
                        "app", SecretValue.unsafe_plain_text("not-a-secret")
                    )
                }
            },
            "argument 'cluster_props' sets credentials without a generated Secrets Manager",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _database(**overrides)


def _isolated_only_vpc(stack: Stack) -> ec2.Vpc:
    isolated = ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    return _vpc(stack, nat_gateways=0, subnet_configuration=[isolated])


def test_a_vpc_without_the_default_subnets_is_rejected() -> None:
    stack = _stack()
    public = ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)
    _vpc(stack, nat_gateways=0, subnet_configuration=[public])
    with pytest.raises(
        ConstructArgumentError,
        match="argument 'subnets' selects PRIVATE_ISOLATED subnets, and the VPC has none",
    ):
        _database(stack)
    stack = _stack()
    _isolated_only_vpc(stack)
    with pytest.raises(
        ConstructArgumentError,
        match="argument 'rotation_subnets' selects PRIVATE_WITH_EGRESS subnets, and the VPC",
    ):
        _database(stack)


def test_rotation_may_run_in_isolated_subnets_with_an_endpoint() -> None:
    stack = _stack()
    vpc = _isolated_only_vpc(stack)
    vpc.add_interface_endpoint(
        "SecretsManager", service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER
    )
    isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    _database(stack, rotation_subnets=isolated)
    subnets = [stack.resolve(subnet.subnet_id) for subnet in vpc.isolated_subnets]
    Template.from_stack(stack).has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {
            "HostedRotationLambda": {
                "VpcSubnetIds": {"Fn::Join": ["", [subnets[0], ",", subnets[1]]]}
            }
        },
    )


# -- cdk-nag -----------------------------------------------------------------------------


def _synth_with_nag(tmp_path: Path, **overrides: Any) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _database(_stack(app), **overrides)
    app.synth()  # raises on any unacknowledged finding


def test_no_open_cdk_nag_findings_with_defaults(tmp_path: Path) -> None:
    _synth_with_nag(tmp_path)
    # Every acknowledgement sits inside the construct: none on the stack-wide LogRetention
    # function's role, where it would hide other constructs' findings.
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    places = {
        suppressed["acknowledgedAt"]
        for plugin in report["pluginReports"]
        for suppressed in plugin["suppressedViolations"]
    }
    assert places
    assert all(place.startswith("Test/Database/") for place in places), places


def test_no_open_cdk_nag_findings_with_iam_auth_and_enhanced_monitoring(tmp_path: Path) -> None:
    _synth_with_nag(
        tmp_path,
        iam_authentication=True,
        monitoring_interval=Duration.seconds(30),
        readers=1,
    )


def test_two_databases_share_the_log_retention_function(tmp_path: Path) -> None:
    """The stack's LogRetention function is the first database's, with its role and log
    group; the second's grants on it are acknowledged there, and it is told that its
    settings do not apply to the shared group."""
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = _stack(app)
    first = _database(stack)
    second = RelationalDatabase(
        stack,
        "Ledger",
        vpc=stack.node.find_child("Vpc"),  # type: ignore[arg-type]
        database_name="ledger",
        removal_policy=RemovalPolicy.DESTROY,
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    acknowledge(second.cluster, "AwsSolutions::AwsSolutions-RDS10", "A disposable test database.")
    assert first.log_retention_role is not None
    assert second.log_retention_role is None
    template = Template.from_stack(stack)
    [group] = function_log_groups(template).values()
    assert group["Properties"]["RetentionInDays"] == 30
    Annotations.from_stack(stack).has_warning(
        "/Test/Ledger", Match.string_like_regexp("LogRetention.* already logs to ")
    )
    for retention in _log_retentions(template, _exported_log_group(second)).values():
        assert retention["Properties"]["RemovalPolicy"] == "destroy"
    app.synth()  # raises on any unacknowledged finding


def test_turning_deletion_protection_off_is_left_for_the_stack_to_acknowledge(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        _synth_with_nag(tmp_path, deletion_protection=False)
    report = (tmp_path / "validation-report.json").read_text(encoding="utf-8")
    assert "AwsSolutions-RDS10" in report
