"""Log groups for the Lambda functions aws-cdk-lib creates without one.

A function with no log group of its own writes to ``/aws/lambda/<name>``, which Lambda
creates on its first invocation with no retention: kept (and billed) forever, and left
behind by ``cdk destroy``. aws-cdk-lib's custom resource providers are such functions
(the S3 auto-delete provider, the VPC's default security group provider, the
``LogRetention`` function): L1 ``AWS::Lambda::Function`` resources at the stack's root,
shared by everything in the stack that needs them, with no option for a log group.

``give_log_group`` gives one such function a log group beside it, and points the
function's ``LoggingConfig.LogGroup`` at it: a reference, so CloudFormation creates the
group before the function (and deletes it after). ``shared_provider_log_group`` does it for
a stack-wide provider on behalf of a construct of this library, which may not be the first
in the stack to need that provider.
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

FUNCTION_TYPE = "AWS::Lambda::Function"

LOG_GROUP_REMOVAL_POLICIES = (
    RemovalPolicy.RETAIN,
    RemovalPolicy.DESTROY,
    RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
)
"""The removal policies a log group takes (it has no snapshots)."""

S3_AUTO_DELETE_PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
"""The stack-wide provider of aws-cdk-lib's ``auto_delete_objects`` buckets."""

LOG_RETENTION_PROVIDER = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"
"""The stack-wide function behind every ``aws_logs.LogRetention`` (its L1 function is
``Resource``)."""


class FunctionLogGroup(logs.LogGroup):
    """The log group ``give_log_group`` made for a function, with the settings it got."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id, retention=retention, removal_policy=removal_policy)
        self.retention_days = retention
        self.removal = removal_policy


def log_group_id(function: IConstruct) -> str:
    """The id of the log group ``give_log_group`` puts beside ``function``."""
    return f"{function.node.id}LogGroup"


def has_log_group(function: CfnResource) -> bool:
    """Whether ``function`` (an ``AWS::Lambda::Function``) already logs to a group of the
    app's: one ``give_log_group`` made, a ``LoggingConfig.LogGroup`` set by its creator, or
    the group that aws-cdk-lib's ``@aws-cdk/aws-lambda:useCdkManagedLogGroup`` flag gives
    an L2 function (``/aws/lambda/<name>``, with a retention)."""
    scope = function.node.scope
    if scope is None:
        return False
    if scope.node.try_find_child(log_group_id(function)) is not None:
        return True
    if isinstance(function, lambda_.CfnFunction):
        config = function.logging_config
        if isinstance(config, lambda_.CfnFunction.LoggingConfigProperty):
            return config.log_group is not None
        resolved = Stack.of(function).resolve(config)
        if isinstance(resolved, dict) and (resolved.get("logGroup") or resolved.get("LogGroup")):
            return True
    else:
        # The properties an L1 CfnResource was created with (jsii's protected getter).
        properties = Stack.of(function).resolve(function._cfn_properties)
        if isinstance(properties, dict) and "LogGroup" in properties.get("LoggingConfig", {}):
            return True
    managed = scope.node.try_find_child("LogGroup")
    return isinstance(scope, lambda_.Function) and isinstance(managed, logs.LogGroup)


def give_log_group(
    function: CfnResource, *, retention: logs.RetentionDays, removal_policy: RemovalPolicy
) -> tuple[logs.LogGroup, bool]:
    """Give ``function`` a log group beside it, unless ``give_log_group`` already did:
    returns the group and whether it was created now.

    The function's role must let it write there: aws-cdk-lib's providers have AWS's basic
    execution policy (any group); for another role, grant it (``grant_write``)."""
    scope = function.node.scope
    assert isinstance(scope, Construct), "a function is never the root of the tree"
    existing = scope.node.try_find_child(log_group_id(function))
    if isinstance(existing, logs.LogGroup):
        return existing, False
    group = FunctionLogGroup(
        scope, log_group_id(function), retention=retention, removal_policy=removal_policy
    )
    function.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
    return group, True


def shared_provider_log_group(
    owner: Construct,
    provider_id: str,
    *,
    retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    construct: str,
    function_id: str = "Handler",
) -> logs.LogGroup | None:
    """Give the stack-wide custom resource provider ``provider_id`` (a child of the stack's
    root, with its function at ``function_id``) a log group, on behalf of ``owner``.

    The provider is shared by the whole stack: its log group is made by the first
    construct that needs it, with that construct's settings. A later one whose
    ``retention`` or ``removal_policy`` differ gets a warning saying which apply. Returns
    None when the stack has no such provider, or when its function already logs to a group
    made elsewhere."""
    provider = Stack.of(owner).node.try_find_child(provider_id)
    handler = provider.node.try_find_child(function_id) if provider is not None else None
    if not isinstance(handler, CfnResource) or handler.cfn_resource_type != FUNCTION_TYPE:
        return None
    assert provider is not None
    if provider.node.try_find_child(log_group_id(handler)) is None and has_log_group(handler):
        return None
    group, created = give_log_group(handler, retention=retention, removal_policy=removal_policy)
    if (
        not created
        and isinstance(group, FunctionLogGroup)
        and (group.retention_days != retention or group.removal != removal_policy)
    ):
        Annotations.of(owner).add_warning_v2(
            "cdk-microservices:shared-provider-logs",
            f"{construct}: this stack's {provider_id} function already logs to "
            f"{group.node.path} (retention {group.retention_days.name}, removal policy "
            f"{group.removal.name}), made for the construct that needed it first; this "
            "construct's log_retention and removal_policy do not apply to it.",
        )
    return group
