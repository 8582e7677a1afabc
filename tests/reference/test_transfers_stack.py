"""The transfers stack in both profiles: database, cache, service, queue and who may reach what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from reference_app import resources_of_type

from stacks.config import DEV, EDGE_API_STAGE, PROD, EnvironmentProfile

PROFILES = [DEV, PROD]
# Pinned: a new logical ID would make CloudFormation replace the cluster and lose the ledger.
LEDGER_CLUSTER_LOGICAL_ID = "LedgerClusterB694961F"


def _transfers(templates: dict[str, Any], profile: EnvironmentProfile) -> dict[str, Any]:
    template: dict[str, Any] = templates[f"{profile.stage_id}/Transfers"]
    return template


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = resources_of_type(template, resource_type)
    return logical_id, resource


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_ledger_database_follows_the_profile(profile: EnvironmentProfile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    cluster = template["Resources"][LEDGER_CLUSTER_LOGICAL_ID]
    properties = cluster["Properties"]
    assert properties["Engine"] == "aurora-postgresql"
    assert properties["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": profile.database_min_capacity,
        "MaxCapacity": profile.database_max_capacity,
    }
    assert properties["StorageEncrypted"] is True
    assert properties["DeletionProtection"] is profile.deletion_protection
    assert cluster["DeletionPolicy"] == ("Snapshot" if profile is PROD else "Delete")
    instances = list(resources_of_type(template, "AWS::RDS::DBInstance"))
    assert len(instances) == 1 + profile.database_readers
    subnet_group = _only(template, "AWS::RDS::DBSubnetGroup")[1]["Properties"]
    assert all("Isolated" in json.dumps(subnet) for subnet in subnet_group["SubnetIds"])


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_service_scales_within_the_profile(profile: EnvironmentProfile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    target = _only(template, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        profile.service_min_tasks,
        profile.service_max_tasks,
    )
    service = _only(template, "AWS::ECS::Service")[1]["Properties"]
    assert "DesiredCount" not in service  # autoscaling owns the count
    assert service["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100
    load_balancer = _only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")[1]
    assert load_balancer["Properties"]["Scheme"] == "internal"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_container_gets_its_configuration_and_the_database_secret_arn(profile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    service = _only(template, "AWS::ECS::Service")[1]["Properties"]
    task = template["Resources"][service["TaskDefinition"]["Ref"]]["Properties"]
    # The application, and the tracing collector beside it (see test_container_tracing_rules).
    [container] = [c for c in task["ContainerDefinitions"] if c["Name"] == "transfers"]
    assert [c["Name"] for c in task["ContainerDefinitions"]] == ["transfers", "otel-collector"]
    assert container["User"] == "10001:10001"  # the user the Dockerfile creates
    assert container["ReadonlyRootFilesystem"] is True
    assert "cdk-hnb659fds-container-assets" in json.dumps(container["Image"])
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert environment.pop("OTEL_SERVICE_NAME") == "transfers"
    assert {name for name in environment if name.startswith("OTEL_")} >= {
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_PROPAGATORS",
    }
    assert {name for name in environment if not name.startswith("OTEL_")} == {
        "DATABASE_SECRET_ARN",
        "EVENT_TOPIC_ARN",
        "ACCOUNT_EVENTS_QUEUE_URL",
        "REDIS_URL",
        "STRIP_PATH_PREFIX",
    }
    # API Gateway's private integration puts the stage in front of the path it sends.
    assert environment["STRIP_PATH_PREFIX"] == f"/{EDGE_API_STAGE}"
    assert json.dumps(environment["REDIS_URL"]).startswith('{"Fn::Join": ["", ["rediss://')
    assert "TransferEventsTopic" in json.dumps(environment["EVENT_TOPIC_ARN"])
    # The attached secret (it carries the cluster's host and port too), read by the
    # service at connect time, so rotations reach new connections; no password in sight.
    assert environment["DATABASE_SECRET_ARN"]["Ref"].startswith("LedgerClusterSecretAttachment")
    assert "Secrets" not in container


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_account_events_arrive_on_the_services_own_queue(profile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    subscription = _only(template, "AWS::SNS::Subscription")[1]["Properties"]
    assert subscription["FilterPolicy"] == {"event_type": ["AccountOpened"]}
    assert subscription["RawMessageDelivery"] is True
    assert "AccountEventsTopic" in json.dumps(subscription["TopicArn"])
    queue_id = subscription["Endpoint"]["Fn::GetAtt"][0]
    queue = template["Resources"][queue_id]["Properties"]
    dead_letters = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] == dead_letters
    alarms = [a["Properties"] for _, a in resources_of_type(template, "AWS::CloudWatch::Alarm")]
    assert any(
        isinstance(dimension["Value"], dict)
        and dimension["Value"].get("Fn::GetAtt", [None])[0] == dead_letters
        for alarm in alarms
        for dimension in alarm.get("Dimensions", [])
    )


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_task_role_holds_only_what_the_service_uses(profile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    service = _only(template, "AWS::ECS::Service")[1]["Properties"]
    task_definition = template["Resources"][service["TaskDefinition"]["Ref"]]["Properties"]
    task_role = task_definition["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for _, policy in resources_of_type(template, "AWS::IAM::Policy")
        if {"Ref": task_role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = set().union(*(_actions(s) for s in statements))
    # The outbox publisher calls PublishBatch, which sns:Publish authorizes (SNS API
    # permissions reference: "both publish and publish batch"); there is no other action.
    assert "sns:Publish" in actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    assert "secretsmanager:GetSecretValue" in actions
    assert not any(a.startswith(("dynamodb:", "sqs:SendMessage", "rds:")) for a in actions)
    publish = next(s for s in statements if "sns:Publish" in _actions(s))
    assert "TransferEventsTopic" in json.dumps(publish["Resource"])


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_database_and_cache_admit_only_the_service(profile, synthesized_app):
    template = _transfers(synthesized_app, profile)
    service = _only(template, "AWS::ECS::Service")[1]["Properties"]
    service_groups = service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    [service_group] = [group["Fn::GetAtt"][0] for group in service_groups]
    ingress = [
        r["Properties"] for _, r in resources_of_type(template, "AWS::EC2::SecurityGroupIngress")
    ]
    database_port = template["Resources"][LEDGER_CLUSTER_LOGICAL_ID]["Properties"]["Port"]
    to_database = [rule for rule in ingress if rule["FromPort"] == database_port]
    sources = {rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in to_database}
    # the service, the secret-rotation function and the nightly cleanup task
    # (tests/reference/test_operations_jobs.py)
    [cleanup_schedule] = [
        r["Properties"]
        for _, r in resources_of_type(template, "AWS::Scheduler::Schedule")
        if "EcsParameters" in r["Properties"]["Target"]
    ]
    cleanup_network = cleanup_schedule["Target"]["EcsParameters"]["NetworkConfiguration"]
    [cleanup_group] = [
        group["Fn::GetAtt"][0] for group in cleanup_network["AwsvpcConfiguration"]["SecurityGroups"]
    ]
    assert service_group in sources
    assert all(
        "Rotation" in source or source in {service_group, cleanup_group} for source in sources
    )
    to_cache = [rule for rule in ingress if rule["FromPort"] == 6379]
    assert [rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in to_cache] == [service_group]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_customers_reach_the_service_only_through_the_authorized_api(profile, synthesized_app):
    """The internal load balancer admits the API's VPC link and nothing else: anything else
    in the VPC could otherwise send a forged X-Caller-Sub."""
    template = _transfers(synthesized_app, profile)
    resources = template["Resources"]
    balancer = _only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")[1]["Properties"]
    [balancer_group] = balancer["SecurityGroups"]
    group_id = balancer_group["Fn::GetAtt"][0]
    assert "SecurityGroupIngress" not in resources[group_id]["Properties"]
    ingress = [
        body["Properties"]
        for body in resources.values()
        if body["Type"] == "AWS::EC2::SecurityGroupIngress"
        and body["Properties"]["GroupId"] == balancer_group
    ]
    [link] = [body for body in resources.values() if body["Type"] == "AWS::ApiGatewayV2::VpcLink"]
    [link_group] = link["Properties"]["SecurityGroupIds"]
    assert [(rule["SourceSecurityGroupId"], rule["FromPort"]) for rule in ingress] == [
        (link_group, 80)
    ]
    methods = [
        body["Properties"]
        for body in resources.values()
        if body["Type"] == "AWS::ApiGateway::Method"
    ]
    assert methods
    for method in methods:
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["Integration"]["ConnectionType"] == "VPC_LINK"
        assert (
            method["Integration"]["RequestParameters"]["integration.request.header.X-Caller-Sub"]
            == "context.authorizer.claims.sub"
        )
    stage = _only(template, "AWS::ApiGateway::Stage")[1]["Properties"]
    assert stage["StageName"] == EDGE_API_STAGE
