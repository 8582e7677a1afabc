"""LogRetentionAspect: every Lambda function in its scope logs to a group with a retention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, AspectPriority, Aspects, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from unit_app import function_log_groups, new_app, three_tier_vpc

from cdk_microservices import ConstructArgumentError, LogRetentionAspect, StaticSite
from stacks.compliance import add_compliance_checks

RESTRICT_DEFAULT_SECURITY_GROUP = "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup"


def _stack(app: App | None = None) -> Stack:
    app = app or new_app()
    app.node.set_context(RESTRICT_DEFAULT_SECURITY_GROUP, True)
    return Stack(app, "Test", env=Environment(region="eu-west-1"))


def _apply(stack: Stack, **overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "retention": logs.RetentionDays.TWO_WEEKS,
        "removal_policy": RemovalPolicy.DESTROY,
        **overrides,
    }
    Aspects.of(stack).add(LogRetentionAspect(**kwargs), priority=AspectPriority.MUTATING)


def _inline_function(stack: Stack, id_: str, **overrides: Any) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id_,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        **overrides,
    )


def test_aws_cdk_lib_providers_and_bare_functions_get_a_log_group() -> None:
    """The VPC's default security group provider and the S3 auto-delete provider (L1
    functions at the stack's root) and an L2 function created without a log group."""
    stack = _stack()
    ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    s3.Bucket(stack, "Bucket", removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True)
    bare = _inline_function(stack, "Bare")
    _apply(stack)
    template = Template.from_stack(stack)
    groups = function_log_groups(template)
    assert len(groups) == 3
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 14
        assert group["DeletionPolicy"] == "Delete"
    # The L2 function's role may write to its new group.
    bare_id = stack.get_logical_id(bare.node.default_child)  # type: ignore[arg-type]
    group_id = template.to_json()["Resources"][bare_id]["Properties"]["LoggingConfig"]["LogGroup"]
    policies = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [group_id["Ref"], "Arn"]},
    } in policies


def test_functions_with_a_log_group_are_left_alone() -> None:
    """A function given log_group=, and the S3 auto-delete provider that a construct of
    the library already gave a group with its own settings."""
    stack = _stack()
    own = logs.LogGroup(stack, "Own", retention=logs.RetentionDays.ONE_YEAR)
    _inline_function(stack, "Logged", log_group=own)
    StaticSite(stack, "Site", removal_policy=RemovalPolicy.DESTROY)
    _apply(stack)
    template = Template.from_stack(stack)
    retention = sorted(
        group["Properties"]["RetentionInDays"] for group in function_log_groups(template).values()
    )
    assert retention == [30, 365]  # the site's and the function's own: none of the aspect's
    template.resource_count_is("AWS::Logs::LogGroup", 2)


def test_a_function_with_the_cdk_managed_log_group_is_left_alone() -> None:
    stack = _stack()
    stack.node.set_context("@aws-cdk/aws-lambda:useCdkManagedLogGroup", True)
    _inline_function(stack, "Managed")
    _apply(stack)
    template = Template.from_stack(stack)
    [group] = template.find_resources("AWS::Logs::LogGroup").values()
    assert group["Properties"]["RetentionInDays"] == 731  # aws-cdk-lib's default, not ours


def test_no_open_cdk_nag_findings_from_the_new_log_groups(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    stack = _stack(app)
    three_tier_vpc(stack)
    StaticSite(stack, "Site", removal_policy=RemovalPolicy.DESTROY)
    _apply(stack)
    app.synth()  # raises on any unacknowledged finding
    assert len(function_log_groups(Template.from_stack(stack))) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retention": 30}, r"'retention' must be an aws_logs.RetentionDays, got int"),
        ({"retention": logs.RetentionDays.INFINITE}, r"'retention' is INFINITE"),
        (
            {"removal_policy": RemovalPolicy.SNAPSHOT},
            r"'removal_policy' is .*; allowed values are RemovalPolicy.RETAIN, ",
        ),
    ],
)
def test_bad_arguments_are_rejected_by_name(overrides: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {"retention": logs.RetentionDays.ONE_WEEK, **overrides}
    with pytest.raises(ConstructArgumentError, match=rf"^LogRetentionAspect: argument {message}"):
        LogRetentionAspect(**kwargs)
