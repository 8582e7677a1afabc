"""RuntimeLayers: what every function of the reference app gets besides its own code.

- ``shared_code``: the ``payments_shared`` package from ``lambda_src/shared/python``
  (lands in ``/opt/python``, on the runtime's import path);
- ``contracts``: the event contracts from ``contracts/events`` (land in ``/opt/events``,
  where ``payments_shared.events`` reads them).

Each service stack builds its own copies: a layer exported from one stack to another
could not be updated while the other still uses it, and services deploy independently.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import EVENT_CONTRACTS, LAMBDA_SRC

SHARED_CODE = LAMBDA_SRC / "shared"
RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The runtime of every function in the reference app (the constructs' default)."""


class RuntimeLayers(Construct):
    """The shared-code layer and the event-contracts layer of one stack."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
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
        """Both layers, for a pattern's ``layers`` argument."""
        return [self.shared_code, self.contracts]
