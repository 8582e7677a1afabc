"""LogRetentionAspect: a log group with a retention for every Lambda function in a scope.

The library's own constructs give every function they create, and the aws-cdk-lib custom
resource providers they cause (the S3 auto-delete function of a ``DESTROY`` bucket, the
``LogRetention`` function of a database), a log group with their ``log_retention``. What
aws-cdk-lib creates for other code of an app is not theirs to change, for example the
provider that ``ec2.Vpc`` adds under the ``@aws-cdk/aws-ec2:restrictDefaultSecurityGroup``
flag; this aspect covers it.
"""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import IConstruct

from cdk_microservices._function_logs import (
    FUNCTION_TYPE,
    LOG_GROUP_REMOVAL_POLICIES,
    give_log_group,
    has_log_group,
)
from cdk_microservices._validation import checked_arguments, fail


@jsii.implements(IAspect)
class LogRetentionAspect:
    """Gives every Lambda function in its scope that has no log group of its own one, kept
    ``retention`` and removed with ``removal_policy`` (default ``RETAIN``).

    Without a log group, Lambda writes a function's logs to ``/aws/lambda/<name>``, which
    it creates on the first invocation with no retention: kept and billed forever, and
    left behind by ``cdk destroy``. aws-cdk-lib's custom resource providers are such
    functions (S3 auto-delete, the VPC's default security group, ``LogRetention``,
    ``AwsCustomResource``...), shared stack-wide and without a log group option.

    Apply it to the app, a stage or a stack, as a mutating aspect::

        Aspects.of(stage).add(
            LogRetentionAspect(
                retention=RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
            ),
            priority=AspectPriority.MUTATING,
        )

    Each function (``AWS::Lambda::Function``, L1 or L2) without a ``LoggingConfig.LogGroup``
    gets a log group beside it (``<function id>LogGroup``) and its ``LoggingConfig.LogGroup``
    pointed there: a reference, so CloudFormation creates the group before the function
    and deletes it after. Functions that have a log group are left alone: the library's,
    those given ``log_group=``, those the ``@aws-cdk/aws-lambda:useCdkManagedLogGroup``
    flag gave one, and those a construct of this library already gave one (with its own
    settings). An L2 function's role is granted writing to the new group; aws-cdk-lib's
    L1 providers have AWS's basic execution policy, which allows any group.

    aws-cdk-lib's ``LogRetention`` function also creates ``/aws/lambda/<its name>`` itself
    on every create, with a one-day retention: that group stays empty once its logs go to
    the new one, and is left behind by ``cdk destroy``.
    """

    CONSTRUCT = "LogRetentionAspect"

    @checked_arguments("LogRetentionAspect")
    def __init__(
        self,
        *,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        name = self.CONSTRUCT
        if not isinstance(retention, logs.RetentionDays):
            raise fail(
                name,
                "retention",
                f"must be an aws_logs.RetentionDays, got {type(retention).__name__}",
            )
        if retention == logs.RetentionDays.INFINITE:
            raise fail(name, "retention", "is INFINITE; give the logs a limited retention")
        if removal_policy not in LOG_GROUP_REMOVAL_POLICIES:
            raise fail(
                name,
                "removal_policy",
                f"is {removal_policy!r}; allowed values are RemovalPolicy.RETAIN, "
                "RemovalPolicy.DESTROY and RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (log "
                "groups have no snapshots)",
            )
        self.retention = retention
        self.removal_policy = removal_policy

    def visit(self, node: IConstruct) -> None:
        """Give ``node`` a log group if it is a Lambda function without one."""
        if not isinstance(node, CfnResource) or node.cfn_resource_type != FUNCTION_TYPE:
            return
        if has_log_group(node):
            return
        group, _ = give_log_group(
            node, retention=self.retention, removal_policy=self.removal_policy
        )
        function = node.node.scope
        if isinstance(function, lambda_.Function):
            group.grant_write(function)
