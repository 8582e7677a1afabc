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
    log_groups_named,
    reads_of_other_stacks,
    render,
    resolve,
    resources,
    retention_days,
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


# -- every log group keeps its events a limited time ---------------------------------------
#
# A service that finds no log group where it writes creates one with no retention: kept,
# and billed, forever, and left behind by ``cdk destroy``. Lambda does so on a function's
# first invocation (``/aws/lambda/<name>``), RDS for exported logs, API Gateway for
# execution logs, CloudFront for a CloudFront function's console output. So every group
# anything writes to is declared in the templates with a retention, and exists before the
# first write: the group itself (``AWS::Logs::LogGroup``), or aws-cdk-lib's
# ``Custom::LogRetention``, which creates the group or accepts the one the service made.
#
# Not checked, as no template can hold them: ECS Container Insights creates
# ``/aws/ecs/containerinsights/<cluster>/performance`` itself (reportedly with a one-day
# retention), and RDS Enhanced Monitoring (off here) writes to the account-wide
# ``RDSOSMetrics`` group.

_LOG_GROUP = "AWS::Logs::LogGroup"


def _retained(groups: list[Resource]) -> bool:
    return bool(groups) and all(retention_days(group) is not None for group in groups)


def test_every_log_group_has_a_retention(synthesized_app):
    """A LogGroup (or LogRetention) without RetentionInDays keeps its events forever."""
    forever = [
        f"{group.stack}/{group.logical_id}"
        for resource_type in (_LOG_GROUP, "Custom::LogRetention")
        for group in resources(synthesized_app, resource_type)
        if retention_days(group) is None
    ]
    assert not forever, f"kept forever: {forever}"


def _function_log_groups(templates: Templates, function: Resource) -> list[Resource]:
    """The declared groups a function logs to, present before its first invocation: its
    ``LoggingConfig.LogGroup`` (a reference, so created first), or a group named
    ``/aws/lambda/<FunctionName>`` for a name known before deploy that the function
    depends on."""
    config = function.properties.get("LoggingConfig", {})
    if "LogGroup" in config:
        return [
            group
            for group in resolve(templates, function.stack, config["LogGroup"])
            if group.type == _LOG_GROUP
        ]
    name = function.properties.get("FunctionName")
    if not isinstance(name, str):
        return []
    return [
        group
        for group in log_groups_named(templates, function.stack, f"/aws/lambda/{name}")
        if group.logical_id in function.depends_on
    ]


def test_every_function_logs_to_a_group_with_a_retention(synthesized_app):
    """Lambda writes a function without a log group of its own to ``/aws/lambda/<name>``,
    which it creates on the first invocation with no retention: ours, and aws-cdk-lib's
    custom resource providers (S3 auto-delete, BucketDeployment, LogRetention, the VPC's
    default security group) alike."""
    functions = list(resources(synthesized_app, "AWS::Lambda::Function"))
    assert functions
    unkept = [
        f"{function.stack}/{function.logical_id}"
        for function in functions
        if not _retained(_function_log_groups(synthesized_app, function))
    ]
    assert not unkept, f"functions whose logs Lambda keeps forever: {unkept}"


def test_every_hosted_rotation_function_logs_to_a_group_with_a_retention(synthesized_app):
    """A Secrets Manager hosted rotation function lives in a nested stack the transform
    generates, so it cannot be given a log group of its own: it needs a name known before
    deploy, and ``/aws/lambda/<that name>`` declared before the first rotation (which the
    schedule starts as soon as it is created)."""
    schedules = [
        schedule
        for schedule in resources(synthesized_app, "AWS::SecretsManager::RotationSchedule")
        if "HostedRotationLambda" in schedule.properties
    ]
    assert schedules
    for schedule in schedules:
        where = f"{schedule.stack}/{schedule.logical_id}"
        name = schedule.properties["HostedRotationLambda"].get("RotationLambdaName")
        assert name is not None, f"{where}: a generated function name has no log group"
        groups = log_groups_named(
            synthesized_app, schedule.stack, {"Fn::Join": ["", ["/aws/lambda/", name]]}
        )
        assert _retained(groups), f"{where}: /aws/lambda/{name} is kept forever"
        assert {group.logical_id for group in groups} <= schedule.depends_on, where


def test_every_exported_database_log_has_a_retention(synthesized_app):
    """RDS exports a cluster's logs to ``/aws/rds/cluster/<cluster id>/<log>``, creating
    the group if it is missing. The declared group is in place before the first instance
    writes to it, and (removed with the stack) is deleted only after the last one."""
    checked = 0
    for cluster in resources(synthesized_app, "AWS::RDS::DBCluster"):
        instances = [
            instance
            for instance in resources(
                {cluster.stack: synthesized_app[cluster.stack]}, "AWS::RDS::DBInstance"
            )
            if instance.properties.get("DBClusterIdentifier") == {"Ref": cluster.logical_id}
        ]
        for log in cluster.properties.get("EnableCloudwatchLogsExports", []):
            checked += 1
            name = {"Fn::Join": ["", ["/aws/rds/cluster/", {"Ref": cluster.logical_id}, f"/{log}"]]}
            groups = log_groups_named(synthesized_app, cluster.stack, name)
            where = f"{cluster.stack}/{cluster.logical_id} {log}"
            assert _retained(groups), f"{where}: exported to a group kept forever"
            for instance in instances:
                missing = {group.logical_id for group in groups} - instance.depends_on
                assert not missing, f"{where}: {instance.logical_id} may write before {missing}"
    assert checked, "expected a database exporting logs"


def test_every_api_stage_with_execution_logs_has_its_group(synthesized_app):
    """API Gateway writes a stage's execution logs to
    ``API-Gateway-Execution-Logs_<api id>/<stage>``, which it creates when missing."""
    logged = 0
    for stage in resources(synthesized_app, "AWS::ApiGateway::Stage"):
        settings = stage.properties.get("MethodSettings", [])
        if not any(
            setting.get("LoggingLevel", "OFF") != "OFF" or setting.get("DataTraceEnabled")
            for setting in settings
        ):
            continue
        logged += 1
        name = {
            "Fn::Join": [
                "",
                [
                    "API-Gateway-Execution-Logs_",
                    stage.properties["RestApiId"],
                    f"/{stage.properties['StageName']}",
                ],
            ]
        }
        groups = log_groups_named(synthesized_app, stage.stack, name)
        assert _retained(groups), f"{stage.stack}/{stage.logical_id}: execution logs kept forever"
    assert logged, "expected stages with execution logs"


def _log_destinations(resource: Resource) -> list[tuple[str, Any]]:
    """(what, value) for each CloudWatch Logs destination ``resource`` names: a group
    that the service writes to, but only creates if told to (ECS's awslogs-create-group)."""
    properties = resource.properties
    found: list[tuple[str, Any]] = []
    if resource.type == "AWS::ECS::TaskDefinition":
        for container in properties.get("ContainerDefinitions", []):
            log_configuration = container.get("LogConfiguration", {})
            if log_configuration.get("LogDriver") == "awslogs":
                options = log_configuration.get("Options", {})
                assert str(options.get("awslogs-create-group", "false")).lower() != "true"
                found.append((f"container {container.get('Name')}", options["awslogs-group"]))
    elif resource.type == "AWS::ECS::Service":
        log_configuration = properties.get("ServiceConnectConfiguration", {}).get(
            "LogConfiguration", {}
        )
        if log_configuration.get("LogDriver") == "awslogs":
            found.append(("Service Connect proxy", log_configuration["Options"]["awslogs-group"]))
    elif resource.type == "AWS::EC2::FlowLog":
        if properties.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs":
            found.append(
                ("flow log", properties.get("LogGroupName") or properties.get("LogDestination"))
            )
    elif resource.type == "AWS::CloudTrail::Trail":
        if "CloudWatchLogsLogGroupArn" in properties:
            found.append(("trail", properties["CloudWatchLogsLogGroupArn"]))
    elif resource.type == "AWS::StepFunctions::StateMachine":
        for destination in properties.get("LoggingConfiguration", {}).get("Destinations", []):
            found.append(("state machine", destination["CloudWatchLogsLogGroup"]["LogGroupArn"]))
    elif resource.type == "AWS::ApiGateway::Stage":
        destination = properties.get("AccessLogSetting", {}).get("DestinationArn")
        if destination is not None and ":firehose:" not in repr(destination):
            found.append(("access logs", destination))
    return found


def test_every_log_destination_is_a_declared_group(synthesized_app):
    """Containers, flow logs, trails, state machines and API access logs name the group
    they write to: it must be a LogGroup of the templates (with its retention), not a name
    that some service would create."""
    checked = 0
    for resource in resources(synthesized_app):
        for what, destination in _log_destinations(resource):
            checked += 1
            groups = [
                group
                for group in resolve(synthesized_app, resource.stack, destination)
                if group.type == _LOG_GROUP
            ]
            assert groups, f"{resource.stack}/{resource.logical_id} {what}: {destination!r}"
    assert checked, "expected log destinations"


def test_no_cloudfront_function_writes_logs(synthesized_app):
    """CloudFront sends a CloudFront function's ``console.log`` lines to
    ``/aws/cloudfront/function/<name>`` in us-east-1, a group it creates with no retention."""
    functions = list(resources(synthesized_app, "AWS::CloudFront::Function"))
    assert functions
    for function in functions:
        assert "console." not in function.properties["FunctionCode"], function.logical_id


def test_every_dev_log_group_is_deleted_with_its_stack(synthesized_app):
    """``cdk destroy`` of Dev leaves no log group behind: each declared group is deleted
    with its stack (a LogRetention deletes the group with ``RemovalPolicy: destroy``)."""
    dev = _stage_templates(synthesized_app, DEV.stage_id)
    kept = [
        f"{group.stack}/{group.logical_id}"
        for group in resources(dev, _LOG_GROUP)
        if group.body.get("DeletionPolicy", "Delete") != "Delete"
    ] + [
        f"{retention.stack}/{retention.logical_id}"
        for retention in resources(dev, "Custom::LogRetention")
        if retention.properties.get("RemovalPolicy") != "destroy"
    ]
    assert not kept, f"left behind by cdk destroy: {kept}"
