"""The installed library in someone else's app, at its oldest supported aws-cdk-lib and
beside AWS Solutions Constructs 2.105 (which needs aws-cdk-lib <= 2.273).

Runs in the floor environment only (``make test-floor``: tests/floor-requirements.txt, the
library from a wheel of the checkout): the development venv's aws-cdk-lib 2.275 cannot be
installed beside Solutions Constructs, so pyproject.toml keeps pytest from recursing here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).resolve().parent / "orders_app" / "app.py"

# Synthesizes the app with cdk_nag made unimportable (importing it raises ImportError even
# though the floor environment has it for the construct tests): the library must not need
# it. Prints where cdk_microservices was imported from.
DRIVER = """
import runpy, sys
sys.modules["cdk_nag"] = None
runpy.run_path(sys.argv[1], run_name="__main__")
import cdk_microservices
print(cdk_microservices.__file__)
"""


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """(where the app imported cdk_microservices from, the Orders stack's template)."""
    workdir = tmp_path_factory.mktemp("consumer")
    outdir = workdir / "cdk.out"
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(APP)],
        cwd=workdir,
        env={"PATH": _path_with_node(), "CDK_OUTDIR": str(outdir), "HOME": str(workdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    template = json.loads((outdir / "Orders.template.json").read_text(encoding="utf-8"))
    return result.stdout.strip().splitlines()[-1], template


def _path_with_node() -> str:
    """A PATH with node for jsii (make puts Node 24 first) and nothing of this checkout's."""
    node = shutil.which("node")
    assert node is not None, "jsii needs node on PATH"
    return os.pathsep.join([str(Path(node).parent), "/usr/bin", "/bin"])


def _declared_floor(package: str) -> str:
    for requirement in metadata.requires("cdk-microservices") or []:
        if re.match(rf"{re.escape(package)}\s*[<>=!~ (]", requirement):
            found = re.search(r">=\s*([0-9][0-9.]*)", requirement)
            assert found, requirement
            return found.group(1)
    raise AssertionError(f"cdk-microservices declares no {package}")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def test_runs_at_the_declared_floor() -> None:
    assert metadata.version("aws-cdk-lib") == _declared_floor("aws-cdk-lib")
    assert metadata.version("constructs") == _declared_floor("constructs")
    assert metadata.version("aws-solutions-constructs.aws-lambda-sqs") == "2.105.0"


def test_cdk_nag_is_only_an_extra() -> None:
    nag = [r for r in metadata.requires("cdk-microservices") or [] if r.startswith("cdk-nag")]
    extras = {m.group(1) for r in nag if (m := re.search(r";\s*extra\s*==\s*[\"'](\w+)", r))}
    # Each cdk-nag requirement belongs to an extra (nag for users, dev for this repository).
    assert len(extras) == len(nag), nag
    assert "nag" in extras, nag


def test_the_wheel_holds_only_the_library() -> None:
    files = metadata.files("cdk-microservices") or []
    tops = {f.parts[0] for f in files if not f.parts[0].endswith(".dist-info")}
    assert tops == {"cdk_microservices"}


def test_the_app_imports_the_installed_wheel(synthesized: tuple[str, dict[str, Any]]) -> None:
    origin, _ = synthesized
    assert Path(origin).resolve().is_relative_to(Path(sys.prefix).resolve())
    assert "site-packages" in Path(origin).parts


def test_imported_table_and_user_pool_are_used_not_created(
    synthesized: tuple[str, dict[str, Any]],
) -> None:
    _, template = synthesized
    assert _resources(template, "AWS::DynamoDB::Table") == {}
    assert _resources(template, "AWS::Cognito::UserPool") == {}
    (authorizer,) = _resources(template, "AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert "eu-west-1_Example1" in json.dumps(authorizer["Properties"]["ProviderARNs"])
    policies = json.dumps(_resources(template, "AWS::IAM::Policy"))
    assert "dynamodb:GetItem" in policies
    assert ":table/orders" in policies


def test_solutions_construct_sends_to_our_worker_queue(
    synthesized: tuple[str, dict[str, Any]],
) -> None:
    _, template = synthesized
    queues = _resources(template, "AWS::SQS::Queue")
    # The worker's queue and its dead-letter queue; LambdaToSqs creates none of its own.
    assert len(queues) == 2
    (worker_queue,) = [
        name for name, queue in queues.items() if "RedrivePolicy" in queue["Properties"]
    ]
    functions = _resources(template, "AWS::Lambda::Function")
    producer = [
        f for f in functions.values() if f["Properties"].get("Handler") == "producer.handler"
    ]
    assert len(producer) == 1
    assert worker_queue in json.dumps(producer[0]["Properties"]["Environment"])
    mappings = _resources(template, "AWS::Lambda::EventSourceMapping")
    assert worker_queue in json.dumps(mappings)
