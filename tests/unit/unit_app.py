"""The bare App of the construct tests, on every aws-cdk-lib the library supports."""

from __future__ import annotations

import inspect
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template

# aws-cdk-lib 2.275 validates every template during synth (about half the synth time);
# releases before it, down to the library's floor (make test-floor), have no such option.
_HAS_BUILTIN_VALIDATION = (
    "builtin_cloud_formation_validation" in inspect.signature(App.__init__).parameters
)


def new_app(outdir: str | None = None) -> App:
    """An ``App`` without CloudFormation's built-in template validation, where it exists."""
    if _HAS_BUILTIN_VALIDATION:
        return App(outdir=outdir, builtin_cloud_formation_validation=False)
    return App(outdir=outdir)


def three_tier_vpc(stack: Stack) -> ec2.Vpc:
    """Two zones of public, private (with one NAT) and isolated subnets, with flow logs:
    what every pattern that runs in a VPC expects, and clean for cdk-nag."""
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
        flow_logs={"FlowLogs": ec2.FlowLogOptions()},
    )


def function_log_groups(template: Template) -> dict[str, dict[str, Any]]:
    """For every Lambda function of ``template``, by logical id, the log group of the same
    template that its ``LoggingConfig.LogGroup`` refers to (``{}`` for a function without
    one: it would write to ``/aws/lambda/<name>``, which Lambda creates with no retention)."""
    groups = template.find_resources("AWS::Logs::LogGroup")
    found: dict[str, dict[str, Any]] = {}
    for logical_id, function in template.find_resources("AWS::Lambda::Function").items():
        reference = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        target = reference.get("Ref") if isinstance(reference, dict) else None
        found[logical_id] = groups.get(target, {}) if isinstance(target, str) else {}
    return found
