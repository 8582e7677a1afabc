"""The Lambda function every pattern builds its handlers from.

One place decides what a well-kept function looks like: the newest Python runtime, arm64,
its own log group with retention, its own role holding only what it is granted (no
AWS managed policies), active X-Ray tracing, and Powertools from its public Lambda layer
(``powertools_layer_version``: see ``DEFAULT_POWERTOOLS_LAYER_VERSION`` for what it ships,
and ``None`` to leave it out and bring your own pinned layer).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_microservices._validation import fail, merge_props, require_environment
from cdk_microservices.compliance import acknowledge
from cdk_microservices.deployment import Deployment

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
DEFAULT_POWERTOOLS_LAYER_VERSION = 27
"""Version of the public ``AWSLambdaPowertoolsPythonV3`` layer used unless told otherwise.

Layer version 27 ships Powertools 3.23.0, the last release before 3.24.0 (the Python 3.9
layers stop at version 27: aws-powertools/powertools-lambda-python#8434). AWS builds the
public layer with an unlocked ``pip install aws-lambda-powertools[all]``, so the versions of
its dependencies (fastjsonschema, aws-xray-sdk, ...) are whatever resolved on release day.
A team that pins Powertools (or imports those dependencies) should ship its own layer built
from its pins and pass ``powertools_layer_version=None``, as this repository's reference app
does (``stacks/runtime_layers.py``, ``lambda_src/runtime-requirements.txt``).
"""
ASSET_EXCLUDES = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
"""Never shipped in a function's asset (and never part of its hash)."""


def asset_code(construct: str, code: str | Path | lambda_.Code) -> lambda_.Code:
    """``code`` as a Lambda asset: a handler folder (checked to exist) or any ``Code``."""
    if isinstance(code, lambda_.Code):
        return code
    if not isinstance(code, str | Path):
        raise fail(
            construct,
            "code",
            f"must be a handler folder (str or Path) or an aws_lambda.Code, got "
            f"{type(code).__name__}",
        )
    # Resolved here: jsii's Node process would resolve a relative path against the
    # directory it started in, not the caller's current directory.
    folder = Path(code).resolve()
    if not folder.is_dir():
        raise fail(
            construct,
            "code",
            f"is {str(code)!r}, which is not a directory ({folder}); pass the handler "
            "folder or an aws_lambda.Code",
        )
    return lambda_.Code.from_asset(str(folder), exclude=list(ASSET_EXCLUDES))


def checked_layers(
    construct: str, layers: Sequence[lambda_.ILayerVersion]
) -> tuple[lambda_.ILayerVersion, ...]:
    """``layers`` as a tuple, each checked to be a Lambda layer version."""
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise fail(construct, "layers", "must be a list of aws_lambda.ILayerVersion")
    for index, layer in enumerate(layers):
        if not hasattr(layer, "layer_version_arn"):  # jsii interfaces defy isinstance
            raise fail(
                construct,
                f"layers[{index}]",
                f"must be an aws_lambda.ILayerVersion, got {type(layer).__name__}",
            )
    return tuple(layers)


def powertools_layer_arn(
    scope: Construct,
    *,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    version: int,
) -> str:
    """ARN of the public Powertools for AWS Lambda (Python) v3 layer in the stack's region."""
    stack = Stack.of(scope)
    python = runtime.name.replace(".", "")
    # jsii returns a new Architecture object per access: compare names, not objects.
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    return (
        f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{arch}:{version}"
    )


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """What a pattern passes down to every function it creates."""

    service_name: str
    code: lambda_.Code
    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    tracing: bool
    powertools_layer_version: int | None
    environment: Mapping[str, str]
    function_props: Mapping[str, object] | None
    layers: Sequence[lambda_.ILayerVersion] = ()


class ServiceFunction(Construct):
    """A Lambda function with its own log group and least-privilege role."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: FunctionSettings,
        handler: str,
        memory_size: int,
        timeout: Duration,
        description: str,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        construct_name: str,
        unscoped_reason: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        require_environment(construct_name, "environment", settings.environment)
        require_environment(construct_name, "environment", environment)
        require_environment(
            construct_name,
            "function_props['environment']",
            (settings.function_props or {}).get("environment"),
        )
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {self.node.path}; holds only what it is granted",
        )
        self.log_group.grant_write(self.role)

        all_layers = [*settings.layers, *layers]
        if settings.powertools_layer_version is not None:
            all_layers.insert(
                0,
                lambda_.LayerVersion.from_layer_version_arn(
                    self,
                    "PowertoolsLayer",
                    powertools_layer_arn(
                        self,
                        runtime=settings.runtime,
                        architecture=settings.architecture,
                        version=settings.powertools_layer_version,
                    ),
                ),
            )
        defaults: dict[str, object] = {
            "code": settings.code,
            "handler": handler,
            "runtime": settings.runtime,
            "architecture": settings.architecture,
            "memory_size": memory_size,
            "timeout": timeout,
            "description": description,
            "role": self.role,
            "log_group": self.log_group,
            "tracing": lambda_.Tracing.ACTIVE if settings.tracing else lambda_.Tracing.DISABLED,
            "layers": all_layers,
            "environment": {
                "POWERTOOLS_SERVICE_NAME": settings.service_name,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **settings.environment,
                **(environment or {}),
            },
        }
        overrides = dict(settings.function_props or {})
        # merge_props merges an environment mapping key by key: the pattern's variables
        # (POWERTOOLS_SERVICE_NAME...) stay, the caller's keys win.
        props = merge_props(
            construct_name, "function_props", lambda_.Function, defaults, overrides, scope=self
        )
        self.function = lambda_.Function(self, "Function", **props)  # type: ignore[arg-type]
        unscoped = []
        if settings.tracing:
            unscoped.append(
                "X-Ray's PutTraceSegments and PutTelemetryRecords do not support resource-level "
                "permissions, so active tracing needs Resource '*'."
            )
        if unscoped_reason:
            unscoped.append(unscoped_reason)
        if unscoped:
            acknowledge(
                self.role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                " ".join([*unscoped, "The role is otherwise scoped."]),
            )


MAX_DEPLOYMENT_GROUP_ALARMS = 10
"""CodeDeploy: "A maximum of 10 alarms can be added" to a deployment group's
AlarmConfiguration (CloudFormation, AWS::CodeDeploy::DeploymentGroup AlarmConfiguration)."""

LIVE_ALIAS = "live"
"""Name of the alias every pattern's event sources and integrations invoke."""
_APPLICATION_ID = "Deployments"


class LiveDeployment(NamedTuple):
    """A function's ``live`` alias and the CodeDeploy group that moves it."""

    alias: lambda_.Alias
    deployment_group: codedeploy.LambdaDeploymentGroup


def deploy_through_alias(
    service_function: ServiceFunction, deployment: Deployment
) -> LiveDeployment:
    """Give ``service_function`` its ``live`` alias on the current version and a CodeDeploy
    deployment group that shifts the alias as ``deployment`` says.

    The group rolls back when the deployment fails, when an operator stops it, and (once
    ``gate_deployments`` has given it alarms) when one of its alarms is in ALARM. One
    CodeDeploy application per pattern holds the groups of all its functions.
    """
    pattern = service_function.node.scope
    assert isinstance(pattern, Construct)
    application = pattern.node.try_find_child(_APPLICATION_ID)
    if not isinstance(application, codedeploy.LambdaApplication):
        application = codedeploy.LambdaApplication(pattern, _APPLICATION_ID)
    alias = lambda_.Alias(
        service_function,
        "LiveAlias",
        alias_name=LIVE_ALIAS,
        version=service_function.function.current_version,
        description="What callers invoke; CodeDeploy moves it to each new version",
    )
    # CodeDeploy's own role, with an inline policy naming this function and alias: the
    # AWS managed policy aws-cdk-lib attaches otherwise may update any alias in the account.
    role = iam.Role(
        service_function,
        "DeploymentRole",
        assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
        description=f"CodeDeploy moves the {LIVE_ALIAS} alias of {service_function.node.path}",
    )
    function = service_function.function
    policy = iam.Policy(
        service_function,
        "DeploymentPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                # What AWSCodeDeployRoleForLambdaLimited allows for the alias shift, named
                # here for this function and its alias only.
                actions=[
                    "lambda:GetAlias",
                    "lambda:UpdateAlias",
                    "lambda:GetProvisionedConcurrencyConfig",
                ],
                # The alias ARN written out, not the alias's Ref: the alias's update policy
                # already refers to the group, which waits for this policy.
                resources=[function.function_arn, f"{function.function_arn}:{LIVE_ALIAS}"],
            ),
            iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=["*"]),
        ],
    )
    acknowledge(
        policy,
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:DescribeAlarms is how CodeDeploy reads the state of the alarms that gate "
        "this deployment group; it is read-only and granted on '*' as in AWS's own "
        "CodeDeploy policy for Lambda. The alias actions are scoped to this function.",
    )
    group = codedeploy.LambdaDeploymentGroup(
        service_function,
        "Deployment",
        application=application,
        alias=alias,
        deployment_config=deployment.lambda_deployment_config(pattern),
        alarms=list(deployment.alarms),
        # Immutable: aws-cdk-lib would attach its managed policy to a mutable role.
        role=role.without_policy_updates(),
        # Roll back on a failed deployment, a stopped one and (with alarms) an alarm.
        auto_rollback=codedeploy.AutoRollbackConfig(
            failed_deployment=True, stopped_deployment=True
        ),
    )
    # The group may start a deployment only once its role may shift the alias.
    group.node.add_dependency(policy)
    return LiveDeployment(alias=alias, deployment_group=group)


def gate_deployments(
    construct_name: str,
    deployments: Mapping[ServiceFunction, LiveDeployment],
    alarms: Sequence[cloudwatch.Alarm],
    deployment: Deployment,
    *,
    not_gating: Collection[str] = (),
    shared_alarms_gate: bool = True,
) -> dict[ServiceFunction, list[cloudwatch.IAlarm]]:
    """Gate each function's deployments on the pattern's alarms that concern it.

    An alarm created inside one function's subtree (its errors alarm) gates only that
    function; an alarm created elsewhere in the pattern gates every function, unless
    ``shared_alarms_gate`` is False (ApiService, when its API alarms' metrics refer to the
    stage, which depends on the methods, which invoke the alias, whose update policy names
    the group: gating on them would be a dependency cycle CloudFormation refuses). Alarms whose
    construct id is in ``not_gating`` do not gate: backlog alarms (messages already
    dead-lettered, an old message) stay in ALARM after an incident until someone drains
    the queue, and would roll back the very deploy that fixes it.
    ``deployment.alarms`` were given to every group when it was created. A gradual
    (canary or linear) deployment without any alarm is refused: it would only be slower.
    """
    paths = {function: function.node.path + "/" for function in deployments}
    gating: dict[ServiceFunction, list[cloudwatch.IAlarm]] = {}
    for function, live in deployments.items():
        chosen: list[cloudwatch.IAlarm] = []
        for alarm in alarms:
            if alarm.node.id in not_gating:
                continue
            owner = next(
                (other for other, path in paths.items() if alarm.node.path.startswith(path)),
                None,
            )
            if (owner is None and shared_alarms_gate) or owner is function:
                chosen.append(alarm)
                live.deployment_group.add_alarm(alarm)
        gating[function] = [*deployment.alarms, *chosen]
        if len(gating[function]) > MAX_DEPLOYMENT_GROUP_ALARMS:
            raise fail(
                construct_name,
                "deployment",
                f"gives {function.node.path}'s deployment group {len(gating[function])} "
                f"alarms ({len(deployment.alarms)} from Deployment.alarms, "
                f"{len(chosen)} of the pattern's own); CodeDeploy accepts at most "
                f"{MAX_DEPLOYMENT_GROUP_ALARMS}: pass at most "
                f"{max(MAX_DEPLOYMENT_GROUP_ALARMS - len(chosen), 0)} alarms to Deployment, "
                "or one composite alarm over them",
            )
        if deployment.shifts_gradually and not gating[function]:
            raise fail(
                construct_name,
                "deployment",
                f"is {deployment.describe()} but no alarm watches it (alarms=False and no "
                "Deployment alarms): it could never roll back. Keep the alarms on, pass "
                "Deployment.canary(alarms=[...]), or use Deployment.all_at_once()",
            )
    return gating
