"""ContainerService: documented defaults, the escape hatches, validation errors, cdk-nag."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Match, Template
from unit_app import function_log_groups, new_app

from cdk_microservices import ConstructArgumentError
from cdk_microservices.container_service import ContainerService
from stacks.compliance import add_compliance_checks

IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:111111111111:certificate/0b4c2a9e-example"
FIVE_ALARMS = {
    "HTTPCode_ELB_5XX_Count",
    "TargetResponseTime",
    "UnHealthyHostCount",
    "CPUUtilization",
    "MemoryUtilization",
}


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    return Stack(app, "Test", env=Environment(region="us-east-1"))


def _vpc(stack: Stack) -> ec2.Vpc:
    # Flow logs: a VPC without them is a finding (VPC7) of the test's own making.
    return ec2.Vpc(stack, "Vpc", max_azs=2, flow_logs={"All": ec2.FlowLogOptions()})


def _image() -> ecs.ContainerImage:
    return ecs.ContainerImage.from_registry(IMAGE)


def _service(stack: Stack, id_: str = "Service", **overrides: Any) -> ContainerService:
    kwargs: dict[str, Any] = {"service_name": "accounts", "image": _image(), **overrides}
    if "vpc" not in kwargs and "existing_cluster" not in kwargs:
        found = stack.node.try_find_child("Vpc")
        kwargs["vpc"] = found if found is not None else _vpc(stack)
    return ContainerService(stack, id_, **kwargs)


def _resources(template: Template, type_: str) -> list[dict[str, Any]]:
    return [resource.get("Properties", {}) for resource in template.find_resources(type_).values()]


def _one(template: Template, type_: str) -> dict[str, Any]:
    [properties] = _resources(template, type_)
    return properties


def _logical_id(template: Template, type_: str) -> str:
    [logical_id] = template.find_resources(type_)
    return logical_id


def _containers(template: Template) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = _one(template, "AWS::ECS::TaskDefinition")[
        "ContainerDefinitions"
    ]
    return containers


def _container(template: Template) -> dict[str, Any]:
    """The application container (the tracing collector is the other one)."""
    [container] = [c for c in _containers(template) if c["Name"] != "otel-collector"]
    return container


def _alarm_metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }


# -- the default service, synthesized once ---------------------------------------------


@pytest.fixture(scope="module")
def default_service() -> ContainerService:
    return _service(_stack())


@pytest.fixture(scope="module")
def default_template(default_service: ContainerService) -> Template:
    return Template.from_stack(Stack.of(default_service))


def test_load_balancer_is_internal_and_listens_on_http_80(default_template: Template) -> None:
    load_balancer = _one(default_template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert load_balancer["Scheme"] == "internal"
    attributes = {item["Key"]: item["Value"] for item in load_balancer["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true"  # follows RETAIN
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.prefix"] == "accounts"
    for subnet in load_balancer["Subnets"]:
        assert subnet["Ref"].startswith("VpcPrivateSubnet")
    listener = _one(default_template, "AWS::ElasticLoadBalancingV2::Listener")
    assert listener["Port"] == 80
    assert listener["Protocol"] == "HTTP"
    assert "Certificates" not in listener


def test_url_is_http_on_the_load_balancer(default_service: ContainerService) -> None:
    resolved = Stack.of(default_service).resolve(default_service.url)
    assert resolved["Fn::Join"][1][0] == "http://"
    assert resolved["Fn::Join"][1][1]["Fn::GetAtt"][1] == "DNSName"
    assert len(resolved["Fn::Join"][1]) == 2  # no port: 80 is the scheme's


def test_deployments_never_drop_capacity_and_roll_back(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                    "MaximumPercent": 200,
                }
            ),
            "LaunchType": "FARGATE",
            "PlatformVersion": "LATEST",
            "EnableExecuteCommand": False,
        },
    )


def test_autoscaling_owns_the_task_count_and_cloudformation_the_name(
    default_template: Template,
) -> None:
    """A DesiredCount would reset a scaled-out service on every deploy; a fixed ServiceName
    would make any replacing update fail (custom name, and Service Connect)."""
    service = _one(default_template, "AWS::ECS::Service")
    assert "DesiredCount" not in service
    assert "ServiceName" not in service


def test_tasks_run_in_private_subnets_without_public_ip(default_template: Template) -> None:
    network = _one(default_template, "AWS::ECS::Service")["NetworkConfiguration"]
    config = network["AwsvpcConfiguration"]
    assert config["AssignPublicIp"] == "DISABLED"
    assert config["Subnets"]
    for subnet in config["Subnets"]:
        assert subnet["Ref"].startswith("VpcPrivateSubnet")


def test_task_definition_is_arm64_with_default_size(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "256",
            "Memory": "512",
            "Family": "accounts",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "Volumes": [{"Name": "tmp"}],
        },
    )


def test_container_is_non_root_read_only_with_writable_tmp(default_template: Template) -> None:
    container = _container(default_template)
    assert container["User"] == "1000:1000"
    assert container["ReadonlyRootFilesystem"] is True
    assert container["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
    ]
    assert container["PortMappings"] == [
        {"AppProtocol": "http", "ContainerPort": 8080, "Name": "http", "Protocol": "tcp"}
    ]
    # Only the tracing variables (tested below): nothing of the caller's.
    assert all(item["Name"].startswith("OTEL_") for item in container["Environment"])
    assert "Secrets" not in container


def test_container_logs_to_its_own_log_group_with_retention(
    default_template: Template,
) -> None:
    log_config = _container(default_template)["LogConfiguration"]
    assert log_config["LogDriver"] == "awslogs"
    log_group_id = log_config["Options"]["awslogs-group"]["Ref"]
    log_group = default_template.to_json()["Resources"][log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"] == {"RetentionInDays": 30}
    assert log_group["DeletionPolicy"] == "Retain"


def test_target_group_health_check_and_deregistration(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Port": 8080,
            "Protocol": "HTTP",
            "TargetType": "ip",
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
            ),
        },
    )


def test_scales_on_cpu_and_request_count_between_min_and_max(
    default_template: Template,
) -> None:
    default_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 2, "MaxCapacity": 4, "ScalableDimension": "ecs:service:DesiredCount"},
    )
    targets = {
        policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for policy in _resources(default_template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    }
    assert targets == {"ECSServiceAverageCPUUtilization": 60, "ALBRequestCountPerTarget": 500}


def test_created_cluster_has_container_insights_and_a_namespace(
    default_template: Template,
) -> None:
    cluster = _one(default_template, "AWS::ECS::Cluster")
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}]
    assert cluster["ServiceConnectDefaults"]["Namespace"]["Fn::GetAtt"][1] == "Arn"
    namespace = _one(default_template, "AWS::ServiceDiscovery::HttpNamespace")
    assert namespace["Name"] == "test-accounts"


def test_service_connect_publishes_the_named_port(default_template: Template) -> None:
    config = _one(default_template, "AWS::ECS::Service")["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    # By ARN: a name is looked up in the account, where another environment may repeat it.
    assert config["Namespace"] == {
        "Fn::GetAtt": [_logical_id(default_template, "AWS::ServiceDiscovery::HttpNamespace"), "Arn"]
    }
    assert config["Services"] == [
        {
            "PortName": "http",
            "DiscoveryName": "accounts",
            "ClientAliases": [{"DnsName": "accounts", "Port": 8080}],
        }
    ]
    assert config["LogConfiguration"]["LogDriver"] == "awslogs"


def test_security_groups_admit_only_the_listener_and_the_load_balancer(
    default_service: ContainerService, default_template: Template
) -> None:
    stack = Stack.of(default_service)
    assert default_service.load_balancer_security_group is not None
    lb_group = stack.resolve(default_service.load_balancer_security_group.security_group_id)
    service_group = stack.resolve(default_service.security_group.security_group_id)
    for group in _resources(default_template, "AWS::EC2::SecurityGroup"):
        assert "SecurityGroupIngress" not in group  # no inline (unreviewed) ingress
    ingress = _resources(default_template, "AWS::EC2::SecurityGroupIngress")
    assert len(ingress) == 2
    listener_rule, task_rule = sorted(ingress, key=lambda rule: rule["FromPort"])
    assert listener_rule["CidrIp"]["Fn::GetAtt"][1] == "CidrBlock"
    assert (listener_rule["FromPort"], listener_rule["ToPort"]) == (80, 80)
    assert listener_rule["GroupId"] == lb_group
    assert task_rule["GroupId"] == service_group
    assert task_rule["SourceSecurityGroupId"] == lb_group
    assert (task_rule["FromPort"], task_rule["ToPort"]) == (8080, 8080)
    [egress] = _resources(default_template, "AWS::EC2::SecurityGroupEgress")
    assert egress["GroupId"] == lb_group
    assert egress["DestinationSecurityGroupId"] == service_group
    assert (egress["FromPort"], egress["ToPort"]) == (8080, 8080)


def test_roles_are_its_own_with_no_managed_policies(
    default_service: ContainerService, default_template: Template
) -> None:
    roles = _resources(default_template, "AWS::IAM::Role")
    for role in roles:
        assert "ManagedPolicyArns" not in role
    stack = Stack.of(default_service)
    task_role = stack.resolve(default_service.task_role.role_name)
    policies = _resources(default_template, "AWS::IAM::Policy")
    # Holds nothing but the tracing collector's X-Ray policy (see test_tracing_collector).
    assert default_service.collector is not None
    tracing_policy = stack.resolve(default_service.collector.policy.policy_name)
    assert [policy["PolicyName"] for policy in policies if task_role in policy["Roles"]] == [
        tracing_policy
    ]
    execution_role = stack.resolve(default_service.execution_role.role_name)
    [execution_policy] = [policy for policy in policies if execution_role in policy["Roles"]]
    # No image pull from ECR; log writing to the service's and the collector's log groups only.
    statements = execution_policy["PolicyDocument"]["Statement"]
    assert len(statements) == 2
    for statement in statements:
        assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"]["Fn::GetAtt"][1] == "Arn"
    [task_role_resource] = [
        role for role in roles if "application's role" in role.get("Description", "")
    ]
    [trust] = task_role_resource["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_access_logs_bucket_is_encrypted_tls_only_versioned_and_expiring(
    default_template: Template,
) -> None:
    default_template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "LifecycleConfiguration": {
                        "Rules": [Match.object_like({"ExpirationInDays": 90})]
                    },
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )
    [policy] = _resources(default_template, "AWS::S3::BucketPolicy")
    deny = policy["PolicyDocument"]["Statement"][0]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_five_alarms_without_actions_by_default(default_template: Template) -> None:
    alarms = _resources(default_template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5
    names = set().union(*(_alarm_metric_names(alarm) for alarm in alarms))
    assert FIVE_ALARMS | {"HTTPCode_Target_5XX_Count"} == names
    for alarm in alarms:
        assert "AlarmActions" not in alarm
    by_metric = {
        next(iter(_alarm_metric_names(alarm))): alarm for alarm in alarms if "MetricName" in alarm
    }
    assert by_metric["TargetResponseTime"]["ExtendedStatistic"] == "p99"
    assert by_metric["TargetResponseTime"]["Threshold"] == 1
    assert by_metric["UnHealthyHostCount"]["Threshold"] == 1
    assert by_metric["UnHealthyHostCount"]["ComparisonOperator"] == (
        "GreaterThanOrEqualToThreshold"
    )
    assert by_metric["CPUUtilization"]["Threshold"] == 80
    assert by_metric["MemoryUtilization"]["Threshold"] == 80
    [server_errors] = [alarm for alarm in alarms if "Metrics" in alarm]
    assert server_errors["Threshold"] == 1
    assert server_errors["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    periods = {query["MetricStat"]["Period"] for query in server_errors["Metrics"][1:]}
    assert periods == {300}


def test_connections_admit_other_callers_on_the_container_port(
    default_service: ContainerService,
) -> None:
    stack = _stack()
    vpc = _vpc(stack)
    service = _service(stack, vpc=vpc)
    caller = ec2.SecurityGroup(stack, "Caller", vpc=vpc)
    service.connections.allow_default_port_from(caller)
    Template.from_stack(stack).has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 8080,
            "ToPort": 8080,
            "SourceSecurityGroupId": stack.resolve(caller.security_group_id),
            "GroupId": stack.resolve(service.security_group.security_group_id),
        },
    )
    assert default_service.connections.default_port is not None


# -- a service with every option set, synthesized once --------------------------------


@pytest.fixture(scope="module")
def configured() -> tuple[ContainerService, Template]:
    stack = _stack()
    topic = sns.Topic(stack, "Alarms")
    database = secretsmanager.Secret.from_secret_name_v2(stack, "Database", "db-credentials")
    api_key = ssm.StringParameter.from_secure_string_parameter_attributes(
        stack, "ApiKey", parameter_name="/accounts/api-key"
    )
    service = _service(
        stack,
        public=True,
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
        environment={"LOG_LEVEL": "INFO"},
        secrets={
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(database, "password"),
            "API_KEY": ecs.Secret.from_ssm_parameter(api_key),
        },
        service_connect_namespace="payments",
        container_port=9000,
        cpu=1024,
        memory_limit_mib=4096,
        min_capacity=3,
        max_capacity=10,
        cpu_target_utilization=50,
        requests_per_target=200,
        health_check_path="/ready",
        user="app",
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
        alarm_topic=topic,
        latency_alarm_threshold=Duration.millis(500),
        tracing=False,
    )
    return service, Template.from_stack(stack)


def test_a_destroyed_services_emptying_function_logs_with_its_retention(
    configured: tuple[ContainerService, Template],
) -> None:
    """aws-cdk-lib's S3 auto-delete function, which empties the DESTROY access log bucket,
    would log to /aws/lambda/<name>, kept forever: it gets a group with the service's
    retention, deleted with the stack."""
    _, template = configured
    [(function_id, group)] = function_log_groups(template).items()
    assert function_id.startswith("CustomS3AutoDeleteObjectsCustomResourceProviderHandler")
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


def test_public_service_is_internet_facing_on_https_only(
    configured: tuple[ContainerService, Template],
) -> None:
    service, template = configured
    load_balancer = _one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert load_balancer["Scheme"] == "internet-facing"
    attributes = {item["Key"]: item["Value"] for item in load_balancer["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "false"  # follows DESTROY
    for subnet in load_balancer["Subnets"]:
        assert subnet["Ref"].startswith("VpcPublicSubnet")
    listeners = {
        listener["Port"]: listener
        for listener in _resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    }
    assert set(listeners) == {443, 80}
    listener = listeners[443]
    assert listener["Protocol"] == "HTTPS"
    assert listener["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    # Port 80 serves nothing: it only sends browsers to HTTPS, permanently.
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[80]["DefaultActions"] == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    open_rules = sorted(
        (rule["CidrIp"], rule["FromPort"], rule["ToPort"])
        for rule in _resources(template, "AWS::EC2::SecurityGroupIngress")
        if "CidrIp" in rule
    )
    assert open_rules == [("0.0.0.0/0", 80, 80), ("0.0.0.0/0", 443, 443)]
    resolved = Stack.of(service).resolve(service.url)
    assert resolved["Fn::Join"][1][0] == "https://"


def test_secrets_are_injected_never_plain_environment(
    configured: tuple[ContainerService, Template],
) -> None:
    service, template = configured
    container = _container(template)
    assert container["Environment"] == [{"Name": "LOG_LEVEL", "Value": "INFO"}]
    assert {secret["Name"] for secret in container["Secrets"]} == {"DB_PASSWORD", "API_KEY"}
    assert "db-credentials" not in str(container["Environment"])
    execution_role = Stack.of(service).resolve(service.execution_role.role_name)
    [policy] = [
        policy
        for policy in _resources(template, "AWS::IAM::Policy")
        if execution_role in policy["Roles"]
    ]
    actions = str(policy["PolicyDocument"])
    assert "secretsmanager:GetSecretValue" in actions
    assert "ssm:GetParameters" in actions


def test_arguments_reach_the_resources(configured: tuple[ContainerService, Template]) -> None:
    _, template = configured
    template.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "1024", "Memory": "4096"})
    container = _container(template)
    assert container["User"] == "app"
    assert container["PortMappings"][0]["ContainerPort"] == 9000
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup", {"HealthCheckPath": "/ready", "Port": 9000}
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 3, "MaxCapacity": 10}
    )
    targets = sorted(
        policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for policy in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    )
    assert targets == [50, 200]
    template.has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": 7}, "DeletionPolicy": "Delete"},
    )


def test_named_namespace_is_used_not_created(
    configured: tuple[ContainerService, Template],
) -> None:
    _, template = configured
    template.resource_count_is("AWS::ServiceDiscovery::HttpNamespace", 0)
    assert "ServiceConnectDefaults" not in _one(template, "AWS::ECS::Cluster")
    config = _one(template, "AWS::ECS::Service")["ServiceConnectConfiguration"]
    assert config["Namespace"] == "payments"
    assert config["Services"][0]["ClientAliases"] == [{"DnsName": "accounts", "Port": 9000}]


def test_every_alarm_notifies_the_topic(configured: tuple[ContainerService, Template]) -> None:
    service, template = configured
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 5 == len(service.alarms)
    [topic_id] = template.find_resources("AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    [latency] = [alarm for alarm in alarms if alarm.get("MetricName") == "TargetResponseTime"]
    assert latency["Threshold"] == 0.5


# -- escape hatches ---------------------------------------------------------------------


def test_existing_cluster_and_load_balancer_are_used() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    cluster = ecs.Cluster(stack, "Shared", vpc=vpc)
    load_balancer = elbv2.ApplicationLoadBalancer(stack, "SharedAlb", vpc=vpc)
    service = _service(
        stack,
        existing_cluster=cluster,
        existing_load_balancer=load_balancer,
        service_connect_namespace="payments",
        listener_port=8081,
    )
    assert service.cluster is cluster
    assert service.load_balancer is load_balancer
    assert service.access_logs_bucket is None
    assert service.load_balancer_security_group is None
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ECS::Cluster", 1)
    template.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 1)
    template.resource_count_is("AWS::S3::Bucket", 0)
    template.has_resource_properties(
        "AWS::ECS::Service", {"Cluster": stack.resolve(cluster.cluster_name)}
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "LoadBalancerArn": stack.resolve(load_balancer.load_balancer_arn),
            "Port": 8081,
            "Protocol": "HTTP",
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 8081,
            "ToPort": 8081,
            "GroupId": stack.resolve(
                load_balancer.connections.security_groups[0].security_group_id
            ),
            "CidrIp": Match.any_value(),
        },
    )
    resolved = stack.resolve(service.url)
    assert resolved["Fn::Join"][1][-1] == ":8081"


def test_existing_cluster_default_namespace_is_used() -> None:
    stack = _stack()
    vpc = _vpc(stack)
    cluster = ecs.Cluster(stack, "Shared", vpc=vpc)
    cluster.add_default_cloud_map_namespace(name="shared", use_for_service_connect=True)
    _service(stack, existing_cluster=cluster)
    template = Template.from_stack(stack)
    config = _one(template, "AWS::ECS::Service")["ServiceConnectConfiguration"]
    namespace = _logical_id(template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert config["Namespace"] == {"Fn::GetAtt": [namespace, "Arn"]}
    # Only the cluster's own namespace: the service created none.
    template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 1)
    template.resource_count_is("AWS::ServiceDiscovery::HttpNamespace", 0)


def test_props_overrides_reach_the_resources() -> None:
    stack = _stack()
    bucket = s3.Bucket(stack, "Logs", enforce_ssl=True)
    _service(
        stack,
        access_logs_bucket=bucket,
        task_definition_props={"ephemeral_storage_gib": 30},
        container_props={"stop_timeout": Duration.seconds(60)},
        service_props={"health_check_grace_period": Duration.seconds(120)},
        alarms=False,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition", {"EphemeralStorage": {"SizeInGiB": 30}}
    )
    assert _container(template)["StopTimeout"] == 60
    template.has_resource_properties("AWS::ECS::Service", {"HealthCheckGracePeriodSeconds": 120})
    template.resource_count_is("AWS::S3::Bucket", 1)  # the caller's, none of ours
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)


# -- cdk-nag ----------------------------------------------------------------------------


def test_no_open_cdk_nag_findings_in_a_bare_stack(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _service(_stack(app))
    app.synth()  # raises on any unacknowledged finding


def test_no_open_cdk_nag_findings_when_destroyed(tmp_path: Path) -> None:
    """With the access log bucket's emptying function and its log group."""
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _service(_stack(app), removal_policy=RemovalPolicy.DESTROY)
    app.synth()  # raises on any unacknowledged finding


def test_asset_image_synthesizes_without_docker_and_is_nag_clean(tmp_path: Path) -> None:
    """from_asset needs Docker only to deploy; public + env + secrets + exec stay nag-clean."""
    image_dir = tmp_path / "image"
    image_dir.mkdir()
    (image_dir / "Dockerfile").write_text(f"FROM {IMAGE}\nUSER 1000:1000\n")
    app = new_app(outdir=str(tmp_path / "out"))
    add_compliance_checks(app)
    stack = _stack(app)
    database = secretsmanager.Secret.from_secret_name_v2(stack, "Database", "db-credentials")
    _service(
        stack,
        image=ecs.ContainerImage.from_asset(str(image_dir)),
        public=True,
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
        environment={"LOG_LEVEL": "INFO"},
        secrets={"DB_PASSWORD": ecs.Secret.from_secrets_manager(database, "password")},
        readonly_root_filesystem=False,
        enable_execute_command=True,
    )
    assembly = app.synth()  # raises on any unacknowledged finding
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    image = _container(Template.from_json(artifact.template))["Image"]
    assert "container-assets" in str(image)


# -- validation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_stack() -> Stack:
    """One stack for the rejected services: nothing here is synthesized."""
    stack = _stack()
    _vpc(stack)
    return stack


_ids: Iterator[int] = itertools.count()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"service_name": "Accounts"}, "'service_name' is 'Accounts'"),
        ({"image": IMAGE}, "'image' must be an aws_ecs.ContainerImage"),
        ({"cpu": 300}, "'cpu' is 300; Fargate accepts 256, 512, 1024"),
        (
            {"cpu": 256, "memory_limit_mib": 4096},
            "'memory_limit_mib' is 4096; with cpu=256 Fargate accepts 512, 1024, 2048 MiB",
        ),
        (
            {"cpu": 1024, "memory_limit_mib": 1024},
            r"'memory_limit_mib' is 1024; with cpu=1024 Fargate accepts 2048..8192 in steps "
            "of 1024",
        ),
        (
            {"min_capacity": 5, "max_capacity": 3},
            r"'min_capacity' is 5, above max_capacity \(3\)",
        ),
        (
            {"desired_count": 2},
            r"'desired_count' is set, but autoscaling owns the task count",
        ),
        (
            {"service_props": {"desired_count": 2}},
            r"'service_props' sets desired_count, but autoscaling owns the task count",
        ),
        ({"min_capacity": 0}, "'min_capacity' is 0; allowed range is 1..5000"),
        ({"container_port": 0}, "'container_port' is 0; allowed range is 1..65535"),
        ({"container_port": 70000}, "'container_port' is 70000"),
        ({"listener_port": 0}, "'listener_port' is 0"),
        ({"cpu_target_utilization": 95}, "'cpu_target_utilization' is 95"),
        ({"requests_per_target": 0}, "'requests_per_target' is 0"),
        ({"health_check_path": "health"}, "'health_check_path' is 'health'"),
        ({"user": "root"}, "'user' is 'root'; the container must not run as root"),
        ({"user": "0:0"}, "'user' is '0:0'; the container must not run as root"),
        ({"user": "a b"}, "'user' is 'a b'"),
        ({"public": True}, "'certificate' is missing; a public load balancer listens on HTTPS"),
        ({"certificate": CERTIFICATE_ARN}, "'certificate' must be an aws_certificatemanager"),
        (
            {"enable_execute_command": True},
            "'enable_execute_command' is True with readonly_root_filesystem=True",
        ),
        (
            {"latency_alarm_threshold": Duration.seconds(0)},
            "'latency_alarm_threshold' is 0 seconds; it must be more than 0",
        ),
        ({"access_logs_retention": Duration.hours(36)}, "'access_logs_retention' is 1.5 days"),
        ({"access_logs_retention": Duration.hours(1)}, "'access_logs_retention' is 3600 seconds"),
        ({"environment": {"LOG-LEVEL": "x"}}, "'environment' is 'LOG-LEVEL'"),
        ({"environment": {"PORT": 8080}}, r"'environment\['PORT'\]' must be a string, got int"),
        ({"secrets": {"DB_PASSWORD": "hunter2"}}, r"'secrets\['DB_PASSWORD'\]' must be an"),
        ({"service_connect_namespace": "has space"}, "'service_connect_namespace' is 'has space'"),
        ({"vpc": None}, "'vpc' is missing; pass an ec2.IVpc, or an existing_cluster"),
        (
            {"alarms": False, "latency_alarm_threshold": Duration.seconds(2)},
            "'alarms' was given together with 'latency_alarm_threshold'",
        ),
        ({"task_definition_props": {"cpus": 1}}, r"'task_definition_props' has unknown key\(s\)"),
        ({"container_props": {"nope": 1}}, r"'container_props' has unknown key\(s\) 'nope'"),
        ({"service_props": {"desired": 1}}, r"'service_props' has unknown key\(s\) 'desired'"),
    ],
)
def test_bad_arguments_are_rejected_by_name(
    shared_stack: Stack, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConstructArgumentError, match=message):
        _service(shared_stack, f"Rejected{next(_ids)}", **overrides)


def test_a_created_load_balancer_needs_a_region() -> None:
    stack = Stack(new_app(), "Agnostic")
    with pytest.raises(ConstructArgumentError, match="'scope' is in a stack without a region"):
        _service(stack)


def test_alarm_topic_is_rejected_without_alarms(shared_stack: Stack) -> None:
    topic = sns.Topic(shared_stack, f"Topic{next(_ids)}")
    with pytest.raises(
        ConstructArgumentError, match="'alarms' was given together with 'alarm_topic'"
    ):
        _service(shared_stack, f"Rejected{next(_ids)}", alarms=False, alarm_topic=topic)


def test_secret_and_environment_cannot_share_a_name(shared_stack: Stack) -> None:
    secret = secretsmanager.Secret.from_secret_name_v2(shared_stack, f"S{next(_ids)}", "db")
    with pytest.raises(ConstructArgumentError, match="'environment' and 'secrets' both set 'DB'"):
        _service(
            shared_stack,
            f"Rejected{next(_ids)}",
            environment={"DB": "x"},
            secrets={"DB": ecs.Secret.from_secrets_manager(secret)},
        )


def test_existing_cluster_conflicts_with_vpc_and_needs_a_namespace(shared_stack: Stack) -> None:
    vpc = shared_stack.node.find_child("Vpc")
    cluster = ecs.Cluster(shared_stack, f"Cluster{next(_ids)}", vpc=vpc)  # type: ignore[arg-type]
    with pytest.raises(
        ConstructArgumentError, match=r"'existing_cluster' was given together with 'vpc'"
    ):
        _service(shared_stack, f"Rejected{next(_ids)}", existing_cluster=cluster, vpc=vpc)
    with pytest.raises(
        ConstructArgumentError,
        match="'service_connect_namespace' is missing and existing_cluster has no default",
    ):
        _service(shared_stack, f"Rejected{next(_ids)}", existing_cluster=cluster)


def test_existing_load_balancer_conflicts_with_load_balancer_arguments(
    shared_stack: Stack,
) -> None:
    vpc = shared_stack.node.find_child("Vpc")
    alb = elbv2.ApplicationLoadBalancer(shared_stack, f"Alb{next(_ids)}", vpc=vpc)  # type: ignore[arg-type]
    bucket = s3.Bucket(shared_stack, f"Bucket{next(_ids)}")
    with pytest.raises(
        ConstructArgumentError,
        match=r"'existing_load_balancer' was given together with 'access_logs_bucket', "
        "'deletion_protection'",
    ):
        _service(
            shared_stack,
            f"Rejected{next(_ids)}",
            existing_load_balancer=alb,
            access_logs_bucket=bucket,
            deletion_protection=True,
        )
