"""Safe deploys, as rules over the reference app's templates: every function of the app is
invoked through its ``live`` alias, which a CodeDeploy group moves (canary in Prod, all at
once in Dev) and rolls back on alarms; every ECS service rolls back on its circuit breaker
and its deployment alarms."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_rules import Resource, Templates, resources

CANARY_10_PERCENT_5_MINUTES = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"


def _stage(templates: Templates, stage: str) -> Templates:
    return {name: template for name, template in templates.items() if name.startswith(f"{stage}/")}


def _app_functions(templates: Templates) -> list[Resource]:
    """The app's own functions: the library's (every one names its service in
    POWERTOOLS_SERVICE_NAME), not CDK's custom-resource providers (S3 auto-delete, log
    retention, AwsCustomResource...), which CloudFormation invokes itself."""
    return [
        function
        for function in resources(templates, "AWS::Lambda::Function")
        if "POWERTOOLS_SERVICE_NAME"
        in function.properties.get("Environment", {}).get("Variables", {})
    ]


def _live_alias(templates: Templates, function: Resource) -> Resource:
    [alias] = [
        alias
        for alias in resources({function.stack: templates[function.stack]}, "AWS::Lambda::Alias")
        if alias.properties["FunctionName"] == {"Ref": function.logical_id}
    ]
    return alias


def _deployment_group(templates: Templates, alias: Resource) -> dict[str, Any]:
    update = alias.body["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group_id = update["DeploymentGroupName"]["Ref"]
    group = templates[alias.stack]["Resources"][group_id]
    assert group["Type"] == "AWS::CodeDeploy::DeploymentGroup"
    return dict(group["Properties"])


@pytest.mark.parametrize(
    ("stage", "config"), [("Prod", CANARY_10_PERCENT_5_MINUTES), ("Dev", ALL_AT_ONCE)]
)
def test_every_function_is_deployed_through_a_live_alias_gated_on_alarms(
    synthesized_app: Templates, stage: str, config: str
) -> None:
    templates = _stage(synthesized_app, stage)
    functions = _app_functions(templates)
    # accounts: three routes and the event publisher; statements: the worker and a route.
    assert len(functions) >= 6
    for function in functions:
        where = f"{function.stack}/{function.logical_id}"
        alias = _live_alias(templates, function)
        assert alias.properties["Name"] == "live", where
        group = _deployment_group(templates, alias)
        assert group["DeploymentConfigName"] == config, where
        alarms = group["AlarmConfiguration"]
        assert alarms["Enabled"] is True, where
        assert len(alarms["Alarms"]) >= 1, where
        rollback = group["AutoRollbackConfiguration"]
        assert rollback["Enabled"] is True, where
        assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"]), where


def test_nothing_invokes_an_app_function_but_through_its_alias(synthesized_app: Templates) -> None:
    """API Gateway permissions and event source mappings name the alias: invoking the
    unqualified function would run $LATEST, which CodeDeploy never shifts or rolls back."""
    for function in _app_functions(synthesized_app):
        unqualified = ({"Ref": function.logical_id}, {"Fn::GetAtt": [function.logical_id, "Arn"]})
        stack = {function.stack: synthesized_app[function.stack]}
        for type_ in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
            for invoker in resources(stack, type_):
                assert invoker.properties["FunctionName"] not in unqualified, (
                    f"{invoker.stack}/{invoker.logical_id} invokes {function.logical_id} directly"
                )


def test_every_ecs_service_rolls_back_on_its_circuit_breaker_and_its_alarms(
    synthesized_app: Templates,
) -> None:
    services = list(resources(synthesized_app, "AWS::ECS::Service"))
    assert services
    for service in services:
        where = f"{service.stack}/{service.logical_id}"
        configuration = service.properties["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}, (
            where
        )
        alarms = configuration["Alarms"]
        assert alarms["Enable"] is True, where
        assert alarms["Rollback"] is True, where
        assert len(alarms["AlarmNames"]) >= 1, where
        # Deployment alarms apply to the ECS (rolling) deployment controller only.
        assert service.properties.get("DeploymentController", {"Type": "ECS"}) == {"Type": "ECS"}


def test_no_deployment_group_has_more_alarms_than_codedeploy_accepts(
    synthesized_app: Templates,
) -> None:
    """AWS::CodeDeploy::DeploymentGroup AlarmConfiguration: "A maximum of 10 alarms can be
    added"; each alarm name only once."""
    groups = list(resources(synthesized_app, "AWS::CodeDeploy::DeploymentGroup"))
    assert groups
    for group in groups:
        alarms = group.properties["AlarmConfiguration"]["Alarms"]
        assert 1 <= len(alarms) <= 10, (group.stack, group.logical_id, len(alarms))
        names = [repr(alarm["Name"]) for alarm in alarms]
        assert len(names) == len(set(names)), (group.stack, group.logical_id)
