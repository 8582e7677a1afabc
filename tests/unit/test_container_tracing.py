"""ContainerService tracing: the ADOT collector sidecar, its logs, the X-Ray permissions,
what the application is told, ``tracing=False``, and the task's size. (cdk-nag over the
default, traced, service: test_container_service.)"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from unit_app import new_app

from cdk_microservices import ConstructArgumentError
from cdk_microservices.container_service import ContainerService
from cdk_microservices.tracing_collector import (
    DEFAULT_COLLECTOR_IMAGE,
    XRAY_WRITE_ACTIONS,
    TracingCollector,
)

IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"


def _service(**overrides: Any) -> tuple[ContainerService, Template]:
    stack = Stack(new_app(), "Test", env=Environment(region="us-east-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, flow_logs={"All": ec2.FlowLogOptions()})
    service = ContainerService(
        stack,
        "Service",
        service_name="accounts",
        image=ecs.ContainerImage.from_registry(IMAGE),
        vpc=vpc,
        **overrides,
    )
    return service, Template.from_stack(stack)


def _containers(template: Template) -> dict[str, dict[str, Any]]:
    [task] = template.find_resources("AWS::ECS::TaskDefinition").values()
    return {c["Name"]: c for c in task["Properties"]["ContainerDefinitions"]}


def _environment(container: dict[str, Any]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


@pytest.fixture(scope="module")
def traced() -> tuple[ContainerService, Template]:
    return _service()


def test_a_collector_sidecar_that_cannot_stop_the_task(
    traced: tuple[ContainerService, Template],
) -> None:
    _, template = traced
    containers = _containers(template)
    assert set(containers) == {"accounts", "otel-collector"}
    collector = containers["otel-collector"]
    assert collector["Image"] == DEFAULT_COLLECTOR_IMAGE
    assert DEFAULT_COLLECTOR_IMAGE.startswith(
        "public.ecr.aws/aws-observability/aws-otel-collector:v"
    )
    assert collector["Command"] == ["--config=/etc/ecs/ecs-xray.yaml"]
    assert collector["Essential"] is False
    assert containers["accounts"]["Essential"] is True
    assert collector["ReadonlyRootFilesystem"] is True
    assert collector["User"] == "10001:10001"
    assert (collector["Cpu"], collector["Memory"]) == (64, 128)
    assert collector["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
    # No port is published: the application reaches it on localhost, nobody else at all.
    assert "PortMappings" not in collector
    assert containers["accounts"]["DependsOn"] == [
        {"Condition": "START", "ContainerName": "otel-collector"}
    ]


def test_the_collector_logs_to_its_own_log_group_with_retention(
    traced: tuple[ContainerService, Template],
) -> None:
    service, template = traced
    assert service.collector is not None
    log = _containers(template)["otel-collector"]["LogConfiguration"]
    assert log["LogDriver"] == "awslogs"
    assert log["Options"]["mode"] == "non-blocking"
    group_id = log["Options"]["awslogs-group"]["Ref"]
    app_group = _containers(template)["accounts"]["LogConfiguration"]["Options"]["awslogs-group"]
    assert group_id != app_group["Ref"]
    group = template.to_json()["Resources"][group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["DeletionPolicy"] == "Retain"
    assert Stack.of(service).resolve(service.collector.log_group.log_group_name) == {
        "Ref": group_id
    }


def test_the_application_is_told_where_and_how_to_send_spans(
    traced: tuple[ContainerService, Template],
) -> None:
    _, template = traced
    assert _environment(_containers(template)["accounts"]) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "accounts",
        "OTEL_PROPAGATORS": "tracecontext,baggage,xray",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.05",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    assert "Environment" not in _containers(template)["otel-collector"]


def test_the_task_role_may_write_to_x_ray_in_a_policy_of_its_own(
    traced: tuple[ContainerService, Template],
) -> None:
    service, template = traced
    stack = Stack.of(service)
    assert service.collector is not None
    policy_name = stack.resolve(service.collector.policy.policy_name)
    [policy] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::IAM::Policy").values()
        if resource["Properties"]["PolicyName"] == policy_name
    ]
    assert policy["Roles"] == [stack.resolve(service.task_role.role_name)]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Action": list(XRAY_WRITE_ACTIONS), "Effect": "Allow", "Resource": "*"}
    ]
    assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= set(XRAY_WRITE_ACTIONS)


def test_tracing_false_adds_nothing() -> None:
    service, template = _service(tracing=False)
    assert service.collector is None
    assert service.tracing is None
    containers = _containers(template)
    assert set(containers) == {"accounts"}
    assert "Environment" not in containers["accounts"]
    assert "DependsOn" not in containers["accounts"]
    assert len(template.find_resources("AWS::Logs::LogGroup")) == 2  # the VPC flow logs + the app
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(str(a).startswith("xray:") for a in statement["Action"])


def test_a_tracing_collector_changes_the_defaults_and_the_environment_wins() -> None:
    service, template = _service(
        tracing=TracingCollector(
            image="public.ecr.aws/aws-observability/aws-otel-collector:v0.49.0",
            config="/etc/ecs/ecs-cloudwatch-xray.yaml",
            cpu=128,
            memory_limit_mib=256,
            sample_ratio=1,
        ),
        cpu=512,
        memory_limit_mib=1024,
        environment={"OTEL_SERVICE_NAME": "accounts-api"},
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
    )
    containers = _containers(template)
    collector = containers["otel-collector"]
    assert collector["Image"].endswith(":v0.49.0")
    assert collector["Command"] == ["--config=/etc/ecs/ecs-cloudwatch-xray.yaml"]
    assert (collector["Cpu"], collector["Memory"]) == (128, 256)
    environment = _environment(containers["accounts"])
    assert environment["OTEL_SERVICE_NAME"] == "accounts-api"
    assert environment["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert service.collector is not None
    group = template.to_json()["Resources"][
        Stack.of(service).resolve(service.collector.log_group.log_group_name)["Ref"]
    ]
    assert group["Properties"]["RetentionInDays"] == 7
    assert group["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tracing": "yes"}, "'tracing' must be True, False or a TracingCollector"),
        # 512 MiB task: the collector may take 256 at most, the application keeps 256.
        ({"tracing": TracingCollector(memory_limit_mib=384)}, "must be 6 to 256 MiB"),
        (
            {"tracing": TracingCollector(memory_limit_mib=384), "memory_limit_mib": 1024},
            None,
        ),
        ({"tracing": TracingCollector(cpu=256)}, "'tracing.cpu' is 256; allowed range is 0..255"),
        ({"tracing": TracingCollector(sample_ratio=1.5)}, "'tracing.sample_ratio' is 1.5"),
        ({"tracing": TracingCollector(image=" ")}, "has an empty image"),
    ],
)
def test_the_collector_must_fit_in_the_task(overrides: dict[str, Any], message: str | None) -> None:
    if message is None:
        _service(**overrides)
        return
    with pytest.raises(ConstructArgumentError, match=f"ContainerService: argument .*{message}"):
        _service(**overrides)
