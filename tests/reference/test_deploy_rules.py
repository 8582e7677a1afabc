"""What AWS enforces at deploy and at run time, stated as rules over every template.

Nobody here can run ``cdk deploy``, so each rule AWS applies and that our templates can
break is written down once, over all stacks of the reference app, so that a stack added
later is held to it too. Each rule names the AWS behaviour it models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_rules import (
    Resource,
    Templates,
    actions,
    reads_of_other_stacks,
    render,
    resolve,
    resources,
    service_principals,
    statements,
)
from reference_app import stack_artifacts

from stacks.config import DEFAULT_AVAILABILITY_ZONES, DEFAULT_REGION, DEV, PROD
from stacks.edge_stack import WEB_CALLBACK_PATH

# -- the service waits for the database --------------------------------------------------


def _clusters_behind(templates: Templates, stack: str, value: Any) -> list[Resource]:
    """The Aurora clusters whose credentials or endpoint ``value`` reads."""
    clusters: list[Resource] = []
    for resource in resolve(templates, stack, value):
        if resource.type == "AWS::RDS::DBCluster":
            clusters.append(resource)
        elif resource.type == "AWS::SecretsManager::SecretTargetAttachment":
            clusters.extend(
                target
                for target in resolve(templates, resource.stack, resource.properties["TargetId"])
                if target.type == "AWS::RDS::DBCluster"
            )
    return clusters


def _instances_of(templates: Templates, cluster: Resource) -> set[str]:
    return {
        instance.logical_id
        for instance in resources({cluster.stack: templates[cluster.stack]}, "AWS::RDS::DBInstance")
        if instance.properties.get("DBClusterIdentifier") == {"Ref": cluster.logical_id}
    }


def test_every_service_that_reads_a_database_waits_for_its_instances(synthesized_app):
    """Aurora reports a cluster created minutes before its writer accepts connections; an
    ECS service created in between starts tasks that find no database, and the deployment
    circuit breaker fails a stack create (nothing to roll back to)."""
    checked = 0
    for service in resources(synthesized_app, "AWS::ECS::Service"):
        task_definitions = resolve(
            synthesized_app, service.stack, service.properties["TaskDefinition"]
        )
        for task_definition in task_definitions:
            containers = task_definition.properties["ContainerDefinitions"]
            for cluster in _clusters_behind(synthesized_app, service.stack, containers):
                checked += 1
                assert cluster.stack == service.stack, "cross-stack: use a stack dependency"
                missing = _instances_of(synthesized_app, cluster) - service.depends_on
                assert not missing, f"{service.stack}/{service.logical_id} must wait for {missing}"
    assert checked, "expected at least one service reading a database"


def test_every_hosted_rotation_waits_for_the_database_instances(synthesized_app):
    """A hosted rotation schedule rotates the secret as soon as it is created: before the
    writer is up, that first rotation fails."""
    schedules = list(resources(synthesized_app, "AWS::SecretsManager::RotationSchedule"))
    assert schedules
    for schedule in schedules:
        for cluster in _clusters_behind(
            synthesized_app, schedule.stack, schedule.properties["SecretId"]
        ):
            missing = _instances_of(synthesized_app, cluster) - schedule.depends_on
            assert not missing, f"{schedule.stack}/{schedule.logical_id} must wait for {missing}"


# -- Availability Zones --------------------------------------------------------------------


def _availability_zones(value: Any) -> set[str]:
    zones: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "AvailabilityZone" and isinstance(item, str):
                zones.add(item)
            zones |= _availability_zones(item)
    elif isinstance(value, list):
        for item in value:
            zones |= _availability_zones(item)
    return zones


def test_every_availability_zone_is_one_the_target_has(synthesized_app):
    """AZ names are not the region's name plus a letter: ap-northeast-1 has no "b", some
    regions have two zones, and names are mapped per account."""
    known = set(DEFAULT_AVAILABILITY_ZONES[DEFAULT_REGION])
    used = _availability_zones(synthesized_app)
    assert used, "expected subnets in named zones"
    assert used <= known, f"zones the target does not have: {sorted(used - known)}"


# -- alarms reach someone ------------------------------------------------------------------

_ALARM_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")


def _alarm_topics(templates: Templates) -> dict[tuple[str, str], Resource]:
    topics: dict[tuple[str, str], Resource] = {}
    for alarm_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        for alarm in resources(templates, alarm_type):
            for field in _ALARM_ACTIONS:
                for target in resolve(templates, alarm.stack, alarm.properties.get(field, [])):
                    if target.type == "AWS::SNS::Topic":
                        topics[(target.stack, target.logical_id)] = target
    return topics


def _admits_cloudwatch_alarms(statement: dict[str, Any], *, needed: set[str]) -> bool:
    conditions = statement.get("Condition", {})
    source_arn = conditions.get("ArnLike", {}).get("aws:SourceArn") or conditions.get(
        "ArnEquals", {}
    ).get("aws:SourceArn")
    return (
        statement.get("Effect") == "Allow"
        and "cloudwatch.amazonaws.com" in service_principals(statement)
        and needed <= actions(statement)
        and "aws:SourceAccount" in conditions.get("StringEquals", {})
        and source_arn is not None
        and ":alarm:" in repr(source_arn)
    )


def test_every_topic_an_alarm_notifies_lets_cloudwatch_publish(synthesized_app):
    """A topic policy replaces SNS's default policy: CloudWatch may publish only if a
    statement allows it (conditioned on the account and alarm ARNs, the confused-deputy
    guard), and only if the topic's KMS key lets CloudWatch use it."""
    topics = _alarm_topics(synthesized_app)
    assert topics, "expected alarms with SNS actions"
    for (stack, logical_id), topic in topics.items():
        policies = [
            policy
            for policy in resources({stack: synthesized_app[stack]}, "AWS::SNS::TopicPolicy")
            if {"Ref": logical_id} in policy.properties["Topics"]
        ]
        assert any(
            _admits_cloudwatch_alarms(statement, needed={"sns:publish"})
            for policy in policies
            for statement in statements(policy.properties["PolicyDocument"])
        ), f"{stack}/{logical_id}: CloudWatch may not publish"
        key_reference = topic.properties.get("KmsMasterKeyId")
        if key_reference is None:
            continue
        assert key_reference != "alias/aws/sns", "CloudWatch cannot use the AWS managed SNS key"
        keys = [key for key in resolve(synthesized_app, stack, key_reference)]
        assert [key.type for key in keys] == ["AWS::KMS::Key"]
        assert any(
            _admits_cloudwatch_alarms(statement, needed={"kms:decrypt", "kms:generatedatakey*"})
            for statement in statements(keys[0].properties["KeyPolicy"])
        ), f"{stack}/{logical_id}: CloudWatch may not use the topic's key"


# -- a Dev stage can be destroyed ----------------------------------------------------------

_PROTECTED_VALUES = (True, "true", "ACTIVE")


def _deletion_protection(resource: Resource) -> list[str]:
    found = [
        f"{key}={value!r}"
        for key, value in resource.properties.items()
        if "DeletionProtection" in key and value in _PROTECTED_VALUES
    ]
    for attribute in resource.properties.get("LoadBalancerAttributes", []):
        if attribute["Key"] == "deletion_protection.enabled" and attribute["Value"] == "true":
            found.append("deletion_protection.enabled=true")
    return found


def _stage_templates(templates: Templates, stage_id: str) -> Templates:
    return {name: t for name, t in templates.items() if name.startswith(f"{stage_id}/")}


def test_nothing_in_dev_is_deletion_protected(synthesized_app):
    """``cdk destroy`` of a stage whose profile removes everything fails on the first
    resource with deletion protection on."""
    dev = _stage_templates(synthesized_app, DEV.stage_id)
    protected = {
        f"{resource.stack}/{resource.logical_id}": _deletion_protection(resource)
        for resource in resources(dev)
        if _deletion_protection(resource)
    }
    assert not protected


def test_prod_keeps_deletion_protection(synthesized_app):
    prod = _stage_templates(synthesized_app, PROD.stage_id)
    assert any(_deletion_protection(resource) for resource in resources(prod))


def test_every_dev_bucket_that_is_deleted_is_emptied_first(synthesized_app):
    """CloudFormation deletes only empty buckets, and ALB log delivery writes a test object
    the moment logging is turned on: a Delete bucket needs its objects removed first, after
    whatever writes to it is gone."""
    dev = _stage_templates(synthesized_app, DEV.stage_id)
    emptiers = {
        (emptier.stack, target.logical_id): emptier.logical_id
        for emptier in resources(dev, "Custom::S3AutoDeleteObjects")
        for target in resolve(dev, emptier.stack, emptier.properties["BucketName"])
    }
    buckets = [
        bucket
        for bucket in resources(dev, "AWS::S3::Bucket")
        if bucket.body.get("DeletionPolicy", "Delete") == "Delete"
    ]
    assert buckets
    for bucket in buckets:
        assert (bucket.stack, bucket.logical_id) in emptiers, f"{bucket.logical_id} is not emptied"
    for load_balancer in resources(dev, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        for attribute in load_balancer.properties.get("LoadBalancerAttributes", []):
            if attribute["Key"] != "access_logs.s3.bucket":
                continue
            for bucket in resolve(dev, load_balancer.stack, attribute["Value"]):
                emptier = emptiers[(bucket.stack, bucket.logical_id)]
                # Deleted before its log bucket is emptied: no log arrives afterwards.
                assert emptier in load_balancer.depends_on


# -- account-wide settings and names shared by environments --------------------------------


def test_account_wide_api_gateway_settings_outlive_their_stack(synthesized_app):
    """``AWS::ApiGateway::Account`` is one setting per account and region that every
    Platform stack deployed there sets: deleting one stack must neither reset it nor leave
    it pointing at a deleted role."""
    accounts = list(resources(synthesized_app, "AWS::ApiGateway::Account"))
    assert accounts
    for account in accounts:
        assert account.body.get("DeletionPolicy") == "Retain"
        roles = resolve(synthesized_app, account.stack, account.properties["CloudWatchRoleArn"])
        assert roles
        assert all(role.body.get("DeletionPolicy") == "Retain" for role in roles)


def test_service_connect_namespaces_are_referenced_by_arn_and_unique(synthesized_app):
    """ECS looks a namespace given by name up in the account and region: two environments
    with namespaces of the same name in one account make that ambiguous."""
    services = [
        service
        for service in resources(synthesized_app, "AWS::ECS::Service")
        if "ServiceConnectConfiguration" in service.properties
    ]
    assert services
    for service in services:
        namespace = service.properties["ServiceConnectConfiguration"]["Namespace"]
        assert not (isinstance(namespace, str) and not namespace.startswith("arn:")), namespace
    names = [
        namespace.properties["Name"]
        for namespace_type in (
            "AWS::ServiceDiscovery::PrivateDnsNamespace",
            "AWS::ServiceDiscovery::HttpNamespace",
            "AWS::ServiceDiscovery::PublicDnsNamespace",
        )
        for namespace in resources(synthesized_app, namespace_type)
    ]
    assert len(names) == len(set(names)), f"namespace names repeat: {sorted(names)}"


# -- sign-in ------------------------------------------------------------------------------


def test_every_cognito_client_uses_the_code_grant_to_known_origins_only(synthesized_app):
    """No implicit grant (tokens in URLs), no placeholder callback, PKCE (a public client:
    no secret), and HTTPS callbacks except localhost, which Cognito allows for testing."""
    clients = list(resources(synthesized_app, "AWS::Cognito::UserPoolClient"))
    assert clients
    for client in clients:
        properties = client.properties
        assert not properties.get("GenerateSecret", False)
        callbacks = properties.get("CallbackURLs", [])
        if not properties.get("AllowedOAuthFlowsUserPoolClient", False):
            assert not properties.get("AllowedOAuthFlows")
            assert not callbacks
            continue
        assert properties["AllowedOAuthFlows"] == ["code"]
        assert callbacks
        for url in [*callbacks, *properties.get("LogoutURLs", [])]:
            rendered = render(synthesized_app, client.stack, url)
            assert re.fullmatch(r"https://[^/]+/.*|http://localhost(:\d+)?/.*", rendered), url
            assert "example.com" not in rendered


@pytest.mark.parametrize("profile", [DEV, PROD], ids=lambda profile: profile.name)
def test_cognito_callbacks_are_the_site_and_the_profiles_web_origins(profile, synthesized_app):
    """The web client sends customers back to the distribution that serves the UI (and to
    the profile's other origins, e.g. a local development server), and nowhere else."""
    stage = _stage_templates(synthesized_app, profile.stage_id)
    (client,) = resources(stage, "AWS::Cognito::UserPoolClient")
    site = "https://<AWS::CloudFront::Distribution.DomainName>"
    origins = [site, *profile.web_origins]
    rendered = [render(stage, client.stack, url) for url in client.properties["CallbackURLs"]]
    assert rendered == [origin + WEB_CALLBACK_PATH for origin in origins]
    logout = [render(stage, client.stack, url) for url in client.properties["LogoutURLs"]]
    assert logout == [origin + "/" for origin in origins]


# -- capacity owned by autoscaling ---------------------------------------------------------


def test_no_autoscaled_service_sets_a_desired_count(synthesized_app):
    """A DesiredCount in the template is applied on every update: a deploy would reset a
    service that autoscaling scaled out. Unset, a new service starts one task and an
    update keeps the current count."""
    scaled: set[tuple[str, str]] = set()
    for target in resources(synthesized_app, "AWS::ApplicationAutoScaling::ScalableTarget"):
        if target.properties.get("ServiceNamespace") != "ecs":
            continue
        for service in resolve(synthesized_app, target.stack, target.properties["ResourceId"]):
            if service.type == "AWS::ECS::Service":
                scaled.add((service.stack, service.logical_id))
    assert scaled
    for service in resources(synthesized_app, "AWS::ECS::Service"):
        if (service.stack, service.logical_id) in scaled:
            assert "DesiredCount" not in service.properties, service.logical_id


# -- stacks that must not be deleted by mistake --------------------------------------------


def test_prod_stacks_with_state_or_readers_are_termination_protected(
    synthesized_app, synthesized_assembly: Path
):
    """Weak cross-stack references do not stop a producer stack's deletion, and a stack
    holding data is deleted with one command: termination protection stops both in Prod."""
    artifacts = stack_artifacts(synthesized_assembly)
    readers = reads_of_other_stacks(synthesized_app)
    prod = _stage_templates(synthesized_app, PROD.stage_id)
    for stack in prod:
        holds_state = any(
            resource.body.get("DeletionPolicy") in ("Retain", "Snapshot")
            for resource in resources({stack: prod[stack]})
        )
        if holds_state or readers[stack]:
            assert artifacts[stack].get("terminationProtection") is True, stack
    for stack in _stage_templates(synthesized_app, DEV.stage_id):
        assert not artifacts[stack].get("terminationProtection"), stack


def test_no_service_connect_service_has_a_fixed_name(synthesized_app):
    """CloudFormation cannot replace a custom-named resource, and an ECS service with a
    ServiceConnectConfiguration fails every update that needs a replacement: a fixed
    ServiceName would leave such a change undeployable."""
    services = list(resources(synthesized_app, "AWS::ECS::Service"))
    assert services
    for service in services:
        if "ServiceConnectConfiguration" in service.properties:
            assert "ServiceName" not in service.properties, service.logical_id


def test_database_connection_alarms_can_fire(synthesized_app):
    """Aurora Serverless v2 caps max_connections at 2,000 when the minimum capacity is 0 or
    0.5 ACU: an alarm threshold at or above the cap can never be reached."""
    checked = 0
    for alarm in resources(synthesized_app, "AWS::CloudWatch::Alarm"):
        if alarm.properties.get("MetricName") != "DatabaseConnections":
            continue
        for dimension in alarm.properties["Dimensions"]:
            for instance in resolve(synthesized_app, alarm.stack, dimension["Value"]):
                for cluster in resolve(
                    synthesized_app, alarm.stack, instance.properties["DBClusterIdentifier"]
                ):
                    scaling = cluster.properties["ServerlessV2ScalingConfiguration"]
                    if scaling["MinCapacity"] <= 0.5:
                        checked += 1
                        assert alarm.properties["Threshold"] < 2000, alarm.logical_id
    assert checked


def test_api_gateway_alarms_watch_one_api_stage_of_one_environment(synthesized_app):
    """API Gateway's metrics are keyed by the API's name (and stage): two APIs of one name
    in an account add up in one metric, so an alarm on it watches both environments."""
    watched: dict[tuple[str, str], str] = {}
    for alarm in resources(synthesized_app, "AWS::CloudWatch::Alarm"):
        if alarm.properties.get("Namespace") != "AWS/ApiGateway":
            continue
        dimensions = {item["Name"]: item["Value"] for item in alarm.properties["Dimensions"]}
        assert set(dimensions) >= {"ApiName", "Stage"}, alarm.logical_id
        key = (repr(dimensions["ApiName"]), repr(dimensions["Stage"]))
        stage = alarm.stack.split("/")[0]
        assert watched.setdefault(key, stage) == stage, f"{key} is watched by two stages"
    assert watched
    names = [
        api.properties["Name"] for api in resources(synthesized_app, "AWS::ApiGateway::RestApi")
    ]
    assert len(names) == len(set(names)), names


def test_every_serverless_cache_is_alarmed(synthesized_app):
    """A serverless cache that throttles fails its commands, and the service silently falls
    back to the database: someone must hear of it. Alarms name a serverless cache by its
    ``clusterId`` dimension, the cache's name."""
    caches = list(resources(synthesized_app, "AWS::ElastiCache::ServerlessCache"))
    assert caches
    for cache in caches:
        name = cache.properties["ServerlessCacheName"]
        alarmed = [
            alarm
            for alarm in resources(
                {cache.stack: synthesized_app[cache.stack]}, "AWS::CloudWatch::Alarm"
            )
            if alarm.properties.get("Namespace") == "AWS/ElastiCache"
            and {"Name": "clusterId", "Value": name} in alarm.properties.get("Dimensions", [])
        ]
        assert alarmed, f"{cache.stack}/{cache.logical_id} has no alarm"
