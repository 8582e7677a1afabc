"""The Lambda function every pattern builds its handlers from.

One place decides what a well-kept function looks like: the newest Python runtime, arm64,
its own log group with retention, its own role holding only what it is granted (no
AWS managed policies), active X-Ray tracing, and Powertools from its public Lambda layer
(``powertools_layer_version``: see ``DEFAULT_POWERTOOLS_LAYER_VERSION`` for what it ships,
and ``None`` to leave it out and bring your own pinned layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_microservices._validation import fail, merge_props, require_environment
from cdk_microservices.compliance import acknowledge

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
