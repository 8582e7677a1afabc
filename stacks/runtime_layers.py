"""RuntimeLayers: what every function of the reference app gets besides its own code.

- ``runtime_dependencies``: the third-party packages the handlers import (Powertools,
  fastjsonschema and what they need), built by ``make runtime-layer`` from the exact pins
  of ``lambda_src/runtime-requirements.txt``, which equal the test environment's (a test
  checks), so the deployed versions are the tested ones. It replaces AWS's public
  Powertools layer, whose versions nobody here chose;
- ``shared_code``: the ``payments_shared`` package from ``lambda_src/shared/python``
  (lands in ``/opt/python``, on the runtime's import path);
- ``contracts``: the event contracts from ``contracts/events`` (land in ``/opt/events``,
  where ``payments_shared.events`` reads them).

Each service stack builds its own copies: a layer exported from one stack to another
could not be updated while the other still uses it, and services deploy independently.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import EVENT_CONTRACTS, LAMBDA_SRC, REPO_ROOT

SHARED_CODE = LAMBDA_SRC / "shared"
RUNTIME_REQUIREMENTS = LAMBDA_SRC / "runtime-requirements.txt"
"""Exact pins of the functions' third-party runtime dependencies."""
RUNTIME_DEPENDENCIES = REPO_ROOT / "build" / "lambda-layers" / "runtime"
"""Where ``make runtime-layer`` builds them: ``python/`` plus a copy of the requirements."""
RUNTIME_DEPENDENCIES_DESCRIPTION = (
    "Runtime dependencies (Powertools, fastjsonschema, ...) "
    "pinned in lambda_src/runtime-requirements.txt"
)
RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The runtime of every function in the reference app (the constructs' default)."""


class RuntimeLayerNotBuiltError(FileNotFoundError):
    """The runtime-dependencies layer's folder is missing or was built from other pins."""


def runtime_dependencies_folder() -> Path:
    """The built layer folder, checked to be built from the current requirements file.

    Synth never installs anything (no network): it only reads what the make target built.
    """
    built_from = RUNTIME_DEPENDENCIES / "requirements.txt"
    if not (RUNTIME_DEPENDENCIES / "python").is_dir() or not built_from.is_file():
        raise RuntimeLayerNotBuiltError(
            f"The Lambda runtime-dependencies layer is not built ({RUNTIME_DEPENDENCIES} is "
            "missing): run `make runtime-layer` (make synth and make test run it too)."
        )
    if built_from.read_bytes() != RUNTIME_REQUIREMENTS.read_bytes():
        raise RuntimeLayerNotBuiltError(
            f"The Lambda runtime-dependencies layer in {RUNTIME_DEPENDENCIES} was built from "
            f"other pins than {RUNTIME_REQUIREMENTS.relative_to(REPO_ROOT)}: run "
            "`make runtime-layer` to rebuild it."
        )
    return RUNTIME_DEPENDENCIES


class RuntimeLayers(Construct):
    """The runtime-dependencies, shared-code and event-contracts layers of one stack."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.runtime_dependencies = lambda_.LayerVersion(
            self,
            "RuntimeDependencies",
            code=lambda_.Code.from_asset(str(runtime_dependencies_folder())),
            compatible_runtimes=[RUNTIME],
            # Wheels chosen for cp314 on manylinux aarch64 (all pure Python today; a
            # compiled pin would only run there).
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description=RUNTIME_DEPENDENCIES_DESCRIPTION,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.shared_code = lambda_.LayerVersion(
            self,
            "SharedCode",
            code=lambda_.Code.from_asset(str(SHARED_CODE), exclude=["__pycache__", "*.pyc"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="payments_shared: API proxy helpers and the event envelope",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.contracts = lambda_.LayerVersion(
            self,
            "EventContracts",
            code=lambda_.Code.from_asset(str(EVENT_CONTRACTS.parent)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Event contracts (JSON Schema), in /opt/events",
            removal_policy=RemovalPolicy.RETAIN,
        )

    @property
    def layers(self) -> list[lambda_.ILayerVersion]:
        """The three layers, for a pattern's ``layers`` argument."""
        return [self.runtime_dependencies, self.shared_code, self.contracts]
