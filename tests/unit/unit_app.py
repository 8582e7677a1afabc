"""The bare App of the construct tests, on every aws-cdk-lib the library supports."""

from __future__ import annotations

import inspect

from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2

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
