"""Every service stack has one dashboard and one health alarm watching all of its alarms;
the overview dashboard shows every service's health alarm."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from deploy_rules import resources, stack_of_name

from stacks.config import PROFILES, EnvironmentProfile

SERVICE_STACKS = ("Accounts", "Statements", "Transfers", "Edge")


def _text(templates: dict[str, dict[str, Any]], stack: str, value: Any) -> str:
    """A template string with each reference shown as ``<stack:LogicalId>``, cross-stack
    outputs followed to the resource they name (so references from any stack compare)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(templates, stack, item) for item in value)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(templates, stack, part) for part in parts)
    if "Ref" in value:
        return f"<{stack}:{value['Ref']}>"
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        logical_id, attribute = target if isinstance(target, list) else target.split(".", 1)
        return f"<{stack}:{logical_id}.{attribute}>"
    if "Fn::GetStackOutput" in value:
        reference = value["Fn::GetStackOutput"]
        producer = stack_of_name(templates, reference["StackName"])
        output = templates[producer]["Outputs"][reference["OutputName"]]
        return _text(templates, producer, output["Value"])
    if "Fn::ImportValue" in value:
        for producer, template in templates.items():
            for output in template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == value["Fn::ImportValue"]:
                    return _text(templates, producer, output["Value"])
    return "<" + re.sub(r"[^A-Za-z0-9:./-]", "", json.dumps(value)) + ">"


def _of_stack(templates: dict[str, dict[str, Any]], stack: str, kind: str) -> list[Any]:
    return [resource for resource in resources(templates, kind) if resource.stack == stack]


@pytest.mark.parametrize("service", SERVICE_STACKS)
@pytest.mark.parametrize("profile", PROFILES.values(), ids=lambda profile: profile.name)
def test_each_service_stack_has_one_dashboard_and_one_health_alarm_over_all_its_alarms(
    profile: EnvironmentProfile, service: str, synthesized_app: dict[str, dict[str, Any]]
) -> None:
    stack = f"{profile.stage_id}/{service}"
    [dashboard] = _of_stack(synthesized_app, stack, "AWS::CloudWatch::Dashboard")
    assert dashboard.properties["DashboardName"] == (f"payments-{profile.name}-{service.lower()}")
    [health] = _of_stack(synthesized_app, stack, "AWS::CloudWatch::CompositeAlarm")
    rule = _text(synthesized_app, stack, health.properties["AlarmRule"])
    watched = set(re.findall(rf'ALARM\("<{re.escape(stack)}:([A-Za-z0-9]+)\.Arn>"\)', rule))
    alarms = {
        alarm.logical_id for alarm in _of_stack(synthesized_app, stack, "AWS::CloudWatch::Alarm")
    }
    # A new alarm of any pattern in this stack can never be left out of the health alarm.
    assert watched == alarms
    if not alarms:
        assert rule == "FALSE"
    assert re.fullmatch(
        rf"{service.lower()}: .+\. First: .+\.", health.properties["AlarmDescription"]
    )
    # The health alarm reaches on-call through the platform's alarm topic.
    [topic] = [
        resource
        for resource in resources(synthesized_app, "AWS::SNS::Topic")
        if resource.properties.get("DisplayName") == f"payments {profile.name} alarms"
    ]
    expected = f"<{topic.stack}:{topic.logical_id}>"
    assert [
        _text(synthesized_app, stack, action) for action in health.properties["AlarmActions"]
    ] == [expected]
    assert [_text(synthesized_app, stack, action) for action in health.properties["OKActions"]] == [
        expected
    ]
    # The dashboard shows the health alarm.
    body = _text(synthesized_app, stack, dashboard.properties["DashboardBody"])
    assert f"<{stack}:{health.logical_id}.Arn>" in body


@pytest.mark.parametrize("profile", PROFILES.values(), ids=lambda profile: profile.name)
def test_the_overview_shows_every_service_s_health_alarm(
    profile: EnvironmentProfile, synthesized_app: dict[str, dict[str, Any]]
) -> None:
    stack = f"{profile.stage_id}/Observability"
    [overview] = _of_stack(synthesized_app, stack, "AWS::CloudWatch::Dashboard")
    assert overview.properties["DashboardName"] == f"payments-{profile.name}-overview"
    body = json.loads(_text(synthesized_app, stack, overview.properties["DashboardBody"]))
    shown = {
        arn
        for widget in body["widgets"]
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    }
    health_alarms = {
        f"<{alarm.stack}:{alarm.logical_id}.Arn>"
        for alarm in resources(synthesized_app, "AWS::CloudWatch::CompositeAlarm")
        if alarm.stack.startswith(f"{profile.stage_id}/")
    }
    assert shown == health_alarms
    assert len(health_alarms) == len(SERVICE_STACKS)
    titles = [widget["properties"].get("title", "") for widget in body["widgets"]]
    for service in ("accounts", "statements", "transfers"):
        assert f"{service} requests (API" in " ".join(titles)
        assert f"{service} p99 latency" in titles
