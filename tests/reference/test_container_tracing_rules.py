"""Container services trace with an OpenTelemetry collector sidecar that exports to X-Ray.

Rules over every template of the reference app: each ECS task definition with an ADOT
collector logs it to a log group that has a retention, its task role may write to X-Ray
(the collector sends segments with the task role: PutTraceSegments, which supports no
resource-level permission), the application is told where the collector listens, and the
collector cannot take the task down (not essential).
"""

from __future__ import annotations

from typing import Any

from deploy_rules import Resource, actions, resolve, resources, retention_days, statements

COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:"
XRAY_WRITE = {"xray:puttracesegments", "xray:puttelemetryrecords"}


def _collector(task: Resource) -> dict[str, Any] | None:
    for container in task.properties["ContainerDefinitions"]:
        if str(container.get("Image", "")).startswith(COLLECTOR_IMAGE):
            return dict(container)
    return None


def _traced_tasks(templates: dict[str, dict[str, Any]]) -> list[tuple[Resource, dict[str, Any]]]:
    found = []
    for task in resources(templates, "AWS::ECS::TaskDefinition"):
        collector = _collector(task)
        if collector is not None:
            found.append((task, collector))
    return found


def test_the_transfers_service_is_traced_in_both_stages(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    stacks = {task.stack for task, _ in _traced_tasks(synthesized_app)}
    assert {stack for stack in stacks if stack.endswith("Transfers")} == {
        "Dev/Transfers",
        "Prod/Transfers",
    }, stacks


def test_every_collector_logs_to_a_log_group_with_retention(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    for task, collector in _traced_tasks(synthesized_app):
        name = f"{task.stack}/{task.logical_id}"
        log = collector.get("LogConfiguration", {})
        assert log.get("LogDriver") == "awslogs", name
        [group] = resolve(synthesized_app, task.stack, log["Options"]["awslogs-group"])
        assert group.type == "AWS::Logs::LogGroup", name
        assert retention_days(group), f"{name}: the collector's log group keeps logs forever"


def test_every_traced_task_role_may_write_to_x_ray(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    for task, _ in _traced_tasks(synthesized_app):
        name = f"{task.stack}/{task.logical_id}"
        [role] = resolve(synthesized_app, task.stack, task.properties["TaskRoleArn"])
        granted: set[str] = set()
        for policy in resources(synthesized_app, "AWS::IAM::Policy"):
            if role not in resolve(synthesized_app, policy.stack, policy.properties["Roles"]):
                continue
            for statement in statements(policy.properties["PolicyDocument"]):
                if statement.get("Effect") == "Allow" and statement.get("Resource") == "*":
                    granted |= actions(statement) & XRAY_WRITE
        assert granted == XRAY_WRITE, f"{name}: its task role may not send traces to X-Ray"


def test_the_collector_cannot_stop_the_task_and_the_application_finds_it(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    for task, collector in _traced_tasks(synthesized_app):
        name = f"{task.stack}/{task.logical_id}"
        assert collector["Essential"] is False, name
        assert collector.get("ReadonlyRootFilesystem") is True, name
        assert str(collector.get("User", "root")).split(":")[0] not in {"0", "root"}, name
        applications = [
            container
            for container in task.properties["ContainerDefinitions"]
            if container["Name"] != collector["Name"] and container.get("Essential", True)
        ]
        assert applications, name
        for application in applications:
            environment = {
                item["Name"]: item["Value"] for item in application.get("Environment", [])
            }
            assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318", name
            assert "xray" in environment["OTEL_PROPAGATORS"].split(","), name
