"""Library rules that AWS enforces at deploy: what waits for the database, what a DESTROY
removal policy implies (nothing deletion-protected, buckets emptied, log buckets last), and
alarm topics that CloudWatch may publish to."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import (
    AlarmTopic,
    ConstructArgumentError,
    ContainerService,
    RelationalDatabase,
    ServiceTable,
    StaticSite,
)

IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"


def _stack() -> Stack:
    return Stack(
        new_app(),
        "Test",
        env=Environment(account="111111111111", region="eu-west-1"),
    )


def _vpc(stack: Stack) -> ec2.Vpc:
    return three_tier_vpc(stack)


def _service(stack: Stack, vpc: ec2.Vpc, **overrides: Any) -> ContainerService:
    kwargs: dict[str, Any] = {
        "service_name": "ledger",
        "image": ecs.ContainerImage.from_registry(IMAGE),
        "vpc": vpc,
        **overrides,
    }
    return ContainerService(stack, "Service", **kwargs)


def _resources(template: Template, type_: str) -> dict[str, Any]:
    return dict(template.find_resources(type_))


def _depends_on(resource: dict[str, Any]) -> set[str]:
    return set(resource.get("DependsOn", []))


# -- waiting for the database --------------------------------------------------------------


@pytest.mark.parametrize("readers", [0, 2])
def test_a_granted_container_service_waits_for_every_instance(readers: int) -> None:
    stack = _stack()
    vpc = _vpc(stack)
    database = RelationalDatabase(stack, "Db", vpc=vpc, database_name="ledger", readers=readers)
    service = _service(stack, vpc)
    database.grant_connect(service, service.task_role)
    template = Template.from_stack(stack)

    instances = set(_resources(template, "AWS::RDS::DBInstance"))
    assert len(instances) == readers + 1
    [ecs_service] = _resources(template, "AWS::ECS::Service").values()
    assert instances <= _depends_on(ecs_service)
    [schedule] = _resources(template, "AWS::SecretsManager::RotationSchedule").values()
    assert instances <= _depends_on(schedule)


def test_a_plain_fargate_service_granted_through_its_connections_waits_too() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    database = RelationalDatabase(stack, "Db", vpc=vpc, database_name="ledger")
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("App", image=ecs.ContainerImage.from_registry(IMAGE))
    fargate = ecs.FargateService(stack, "Fargate", cluster=cluster, task_definition=task)
    database.grant_connect(fargate, task.task_role)
    template = Template.from_stack(stack)

    [ecs_service] = _resources(template, "AWS::ECS::Service").values()
    assert set(_resources(template, "AWS::RDS::DBInstance")) <= _depends_on(ecs_service)


def test_other_grantees_add_no_dependency() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    database = RelationalDatabase(stack, "Db", vpc=vpc, database_name="ledger")
    group = ec2.SecurityGroup(stack, "Client", vpc=vpc)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    database.grant_connect(group, role)
    template = Template.from_stack(stack)
    for resource in _resources(template, "AWS::IAM::Role").values():
        assert not _depends_on(resource) & set(_resources(template, "AWS::RDS::DBInstance"))


# -- DESTROY means nothing is protected and buckets are emptied ----------------------------


def test_a_destroyed_database_is_not_deletion_protected() -> None:
    stack = _stack()
    RelationalDatabase(
        stack, "Db", vpc=_vpc(stack), database_name="ledger", removal_policy=RemovalPolicy.DESTROY
    )
    [cluster] = _resources(Template.from_stack(stack), "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["DeletionPolicy"] == "Delete"


def test_a_database_destroyed_through_cluster_props_is_not_protected_either() -> None:
    stack = _stack()
    RelationalDatabase(
        stack,
        "Db",
        vpc=_vpc(stack),
        database_name="ledger",
        cluster_props={"removal_policy": RemovalPolicy.DESTROY},
    )
    [cluster] = _resources(Template.from_stack(stack), "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["DeletionProtection"] is False


def test_a_destroyed_table_is_not_deletion_protected() -> None:
    stack = _stack()
    ServiceTable(stack, "Table", removal_policy=RemovalPolicy.DESTROY)
    [table] = _resources(Template.from_stack(stack), "AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_a_destroyed_service_empties_its_log_bucket_after_its_load_balancer_is_gone() -> None:
    stack = _stack()
    _service(stack, _vpc(stack), removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)

    [load_balancer] = _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {
        item["Key"]: item["Value"] for item in load_balancer["Properties"]["LoadBalancerAttributes"]
    }
    assert attributes["deletion_protection.enabled"] == "false"
    [(bucket_id, bucket)] = _resources(template, "AWS::S3::Bucket").items()
    assert bucket["DeletionPolicy"] == "Delete"
    [(emptier_id, emptier)] = _resources(template, "Custom::S3AutoDeleteObjects").items()
    assert emptier["Properties"]["BucketName"] == {"Ref": bucket_id}
    assert emptier_id in _depends_on(load_balancer)


def test_a_retained_service_keeps_its_logs_and_protection() -> None:
    stack = _stack()
    _service(stack, _vpc(stack))
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    [load_balancer] = _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {
        item["Key"]: item["Value"] for item in load_balancer["Properties"]["LoadBalancerAttributes"]
    }
    assert attributes["deletion_protection.enabled"] == "true"


def test_a_destroyed_static_site_empties_its_log_bucket_after_the_log_sources() -> None:
    """CloudFormation deletes only empty buckets: both are emptied, and the log bucket
    last, after the distribution is gone and the site bucket's emptying (which S3 logs)."""
    stack = _stack()
    StaticSite(stack, "Site", removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    buckets = _resources(template, "AWS::S3::Bucket")
    assert {bucket["DeletionPolicy"] for bucket in buckets.values()} == {"Delete"}
    emptiers = {
        emptier["Properties"]["BucketName"]["Ref"]: emptier_id
        for emptier_id, emptier in _resources(template, "Custom::S3AutoDeleteObjects").items()
    }
    assert set(emptiers) == set(buckets)
    log_bucket = next(
        bucket_id
        for bucket_id, bucket in buckets.items()
        if "LoggingConfiguration" not in bucket["Properties"]
    )
    [site_bucket] = set(buckets) - {log_bucket}
    log_emptier = emptiers[log_bucket]
    [distribution] = _resources(template, "AWS::CloudFront::Distribution").values()
    assert log_emptier in _depends_on(distribution)
    site_emptier = _resources(template, "Custom::S3AutoDeleteObjects")[emptiers[site_bucket]]
    assert log_emptier in _depends_on(site_emptier)


def test_deletion_protection_with_destroy_is_rejected_everywhere() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    destroy = RemovalPolicy.DESTROY
    message = r"'deletion_protection' turns deletion protection on with removal_policy=DESTROY"
    with pytest.raises(ConstructArgumentError, match=message):
        ServiceTable(stack, "Table", removal_policy=destroy, deletion_protection=True)
    with pytest.raises(ConstructArgumentError, match=message):
        RelationalDatabase(
            stack,
            "Db",
            vpc=vpc,
            database_name="ledger",
            removal_policy=destroy,
            deletion_protection=True,
        )
    with pytest.raises(ConstructArgumentError, match=message):
        _service(stack, vpc, removal_policy=destroy, deletion_protection=True)
    with pytest.raises(ConstructArgumentError, match=r"'table_props' turns deletion protection"):
        ServiceTable(
            stack,
            "Table2",
            table_props={"removal_policy": destroy, "deletion_protection": True},
        )


# -- alarm topics --------------------------------------------------------------------------


def test_cloudwatch_may_publish_to_the_alarm_topic_for_this_accounts_alarms_only() -> None:
    stack = _stack()
    alarms = AlarmTopic(stack, "Alarms", display_name="team alarms")
    template = Template.from_stack(stack)
    conditions = {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":cloudwatch:eu-west-1:111111111111:alarm:*",
                    ],
                ]
            }
        },
    }

    [policy] = _resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"] == conditions
    # enforce_ssl's Deny stays.
    assert any(s["Effect"] == "Deny" for s in statements)

    [key] = _resources(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    [key_statement] = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(key_statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert key_statement["Condition"] == conditions
    [topic] = _resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {
        "Fn::GetAtt": [stack.get_logical_id(alarms.key.node.default_child), "Arn"]  # type: ignore[arg-type]
    }
    assert topic["Properties"]["DisplayName"] == "team alarms"
    assert not _resources(template, "AWS::SNS::Subscription")  # none unless asked for
    assert alarms.email_subscriptions == []


def test_the_alarm_topic_mails_the_addresses_it_is_given() -> None:
    stack = _stack()
    alarms = AlarmTopic(stack, "Alarms", email_addresses=["oncall@example.org", "b@example.org"])
    subscriptions = _resources(Template.from_stack(stack), "AWS::SNS::Subscription").values()
    topic = stack.resolve(alarms.topic.topic_arn)
    assert sorted(
        (s["Properties"]["Protocol"], s["Properties"]["Endpoint"], str(s["Properties"]["TopicArn"]))
        for s in subscriptions
    ) == [("email", "b@example.org", str(topic)), ("email", "oncall@example.org", str(topic))]
    assert len(alarms.email_subscriptions) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"display_name": ""}, "'display_name' is ''"),
        ({"display_name": "x" * 101}, "'display_name'"),
        ({"removal_policy": "destroy"}, "'removal_policy' must be an aws_cdk.RemovalPolicy"),
        ({"email_addresses": "oncall@example.org"}, "'email_addresses' must be a list"),
        ({"email_addresses": ["oncall"]}, "'email_addresses' is 'oncall'"),
        ({"email_addresses": ["a@b.org", "a@b.org"]}, "names an address twice"),
    ],
)
def test_alarm_topic_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        AlarmTopic(_stack(), "Alarms", **kwargs)
