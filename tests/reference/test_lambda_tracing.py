"""Our functions are traced by Lambda itself (active tracing), with no tracing SDK inside.

The AWS X-Ray SDKs, and with them Powertools' Tracer, reach end of support on 25 February
2027. Lambda's active tracing needs neither: with ``TracingConfig: {Mode: Active}`` Lambda
records a segment for each invocation (its initialization, the invocation and its overhead)
and sends it to X-Ray itself, under the function's execution role. These rules hold over
every template of the reference app, and over the Lambda code as written.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from deploy_rules import Resource, actions, resolve, resources, statements

from tools.cold_imports import handler_modules

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO_ROOT / "lambda_src"
BUCKET_DEPLOYMENT_HANDLER = "CustomCDKBucketDeployment"
"""aws-cdk-lib's own BucketDeployment function (the web UI's upload): not our code."""
TRACE_ACTIONS = {"xray:puttracesegments", "xray:puttelemetryrecords"}

FORBIDDEN_MODULES = ("aws_xray_sdk", "aws_lambda_powertools.tracing")
"""Modules (and their submodules) the Lambda code must not import."""


def _our_handlers() -> set[str]:
    return {f"{handler.module}.handler" for handler in handler_modules(LAMBDA_SRC)}


def _python_functions(templates: dict[str, Any]) -> list[Resource]:
    return [
        function
        for function in resources(templates, "AWS::Lambda::Function")
        if str(function.properties.get("Runtime", "")).startswith("python")
    ]


def test_every_python_function_is_ours_or_aws_cdk_libs(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    """So that the rules below cannot miss a function: a new Python function either runs a
    handler from lambda_src/ or is named here."""
    ours = _our_handlers()
    for function in _python_functions(synthesized_app):
        assert function.properties["Handler"] in ours or function.logical_id.startswith(
            BUCKET_DEPLOYMENT_HANDLER
        ), (function.stack, function.logical_id, function.properties["Handler"])


def test_every_function_of_ours_has_active_tracing(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    ours = _our_handlers()
    functions = [f for f in _python_functions(synthesized_app) if f.properties["Handler"] in ours]
    # Accounts (3 routes + publisher) and Statements (worker + 1 route), in Dev and Prod.
    assert len(functions) >= 12
    # Every handler module of lambda_src/ is deployed, and so held to this rule.
    assert {function.properties["Handler"] for function in functions} == ours
    for function in functions:
        assert function.properties.get("TracingConfig") == {"Mode": "Active"}, (
            function.stack,
            function.logical_id,
        )


def _grants_tracing(policy: Resource) -> bool:
    return any(
        statement.get("Effect") == "Allow"
        and actions(statement) >= TRACE_ACTIONS
        and statement.get("Resource") == "*"
        for statement in statements(policy.properties["PolicyDocument"])
    )


def test_every_traced_function_may_send_its_segments_before_it_is_created(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    """Lambda sends the segments with the execution role's permissions, and refuses to create
    or update a function with active tracing whose role lacks them ("The provided execution
    role does not have permissions to call PutTraceSegments on XRAY"): the policy granting
    them must exist first, so the function depends on it."""
    traced = [
        function
        for function in resources(synthesized_app, "AWS::Lambda::Function")
        if function.properties.get("TracingConfig") == {"Mode": "Active"}
    ]
    assert traced
    for function in traced:
        name = f"{function.stack}/{function.logical_id}"
        [role] = resolve(synthesized_app, function.stack, function.properties["Role"])
        granting = [
            policy.logical_id
            for policy in resources(synthesized_app, "AWS::IAM::Policy")
            if _grants_tracing(policy)
            and role in resolve(synthesized_app, policy.stack, policy.properties.get("Roles", []))
        ]
        assert granting, f"{name}: its role may not send traces to X-Ray"
        assert function.depends_on & set(granting), f"{name} must depend on {granting}"


def _imports(tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """(module, name imported from it or None, line) for every import in ``tree``."""
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.extend((node.module, alias.name, node.lineno) for alias in node.names)
    return found


def _forbidden(module: str, name: str | None) -> bool:
    full = f"{module}.{name}" if name else module
    if any(full == root or full.startswith(f"{root}.") for root in FORBIDDEN_MODULES):
        return True
    return module == "aws_lambda_powertools" and name == "Tracer"


def test_no_lambda_code_imports_a_tracing_sdk() -> None:
    """Not the X-Ray SDK, not Powertools' Tracer (built on it): the layer no longer ships the
    SDK, and importing it cost about half of each handler's cold start."""
    sources = sorted(LAMBDA_SRC.rglob("*.py"))
    assert len(sources) >= 10
    offending = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module, name, line in _imports(tree):
            if _forbidden(module, name):
                offending.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module} {name or ''}")
        # ``import aws_lambda_powertools`` then ``aws_lambda_powertools.Tracer()``.
        offending.extend(
            f"{path.relative_to(REPO_ROOT)}:{node.lineno}: .Tracer"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "Tracer"
        )
    assert not offending, offending


def test_the_import_check_recognizes_each_way_of_importing_a_tracer() -> None:
    source = """
import aws_xray_sdk
import aws_xray_sdk.core as core
from aws_xray_sdk.core import xray_recorder
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.tracing import Tracer as T
import aws_lambda_powertools.tracing.tracer
from aws_lambda_powertools.logging import correlation_paths
import boto3
"""
    verdicts = {
        (module, name): _forbidden(module, name) for module, name, _ in _imports(ast.parse(source))
    }
    assert verdicts == {
        ("aws_xray_sdk", None): True,
        ("aws_xray_sdk.core", None): True,
        ("aws_xray_sdk.core", "xray_recorder"): True,
        ("aws_lambda_powertools", "Logger"): False,
        ("aws_lambda_powertools", "Tracer"): True,
        ("aws_lambda_powertools.tracing", "Tracer"): True,
        ("aws_lambda_powertools.tracing.tracer", None): True,
        ("aws_lambda_powertools.logging", "correlation_paths"): False,
        ("boto3", None): False,
    }
