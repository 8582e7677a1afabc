"""Environment profiles: every per-environment difference of the reference app, in one place.

``app.py`` picks a profile per stage and hands its fields to the stacks, which pass them
to the constructs as plain arguments. Nothing else branches on the environment's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
EVENT_CONTRACTS = REPO_ROOT / "contracts" / "events"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, kw_only=True)
class EnvironmentProfile:
    """What differs between environments of the reference app."""

    name: str
    """Lowercase environment name, used in resource names and tags (``dev``, ``prod``)."""

    stage_id: str
    """Construct id of the environment's Stage (``Dev``, ``Prod``): ``cdk deploy 'Dev/*'``."""

    log_retention: logs.RetentionDays
    """How long every log group keeps its events."""

    removal_policy: RemovalPolicy
    """What happens to stateful resources (tables, log groups, user pool) on stack deletion."""

    deletion_protection: bool
    """Whether tables refuse deletion until the flag is turned off."""

    api_throttling_rate_limit: float
    """Steady-state requests per second each API stage accepts."""

    api_throttling_burst_limit: int
    """Burst of requests each API stage accepts."""

    api_execution_logging_level: Literal["INFO", "ERROR"]
    """API Gateway execution log level: ``INFO`` (more detail) or ``ERROR`` (cheaper)."""

    cognito_threat_protection: bool
    """Cognito threat protection (Plus feature plan, billed per active user)."""

    availability_zones: int
    """How many Availability Zones the VPC spans (its subnets, NAT gateways, databases)."""

    nat_gateways: int
    """NAT gateways for the private subnets' egress: one per AZ, or fewer to save cost."""

    service_min_tasks: int
    """Fewest tasks each container service runs (autoscaling's floor)."""

    service_max_tasks: int
    """Most tasks each container service scales out to."""

    database_min_capacity: float
    """Aurora Serverless v2 floor in ACUs; 0 lets an idle database pause."""

    database_max_capacity: float
    """Aurora Serverless v2 ceiling in ACUs."""

    database_readers: int
    """Aurora readers beside the writer (in other AZs: they take over on failure)."""

    cache_mode: Literal["serverless", "node"]
    """ElastiCache Valkey flavour: serverless (no capacity to plan) or node-based."""


DEV = EnvironmentProfile(
    name="dev",
    stage_id="Dev",
    log_retention=logs.RetentionDays.ONE_WEEK,
    removal_policy=RemovalPolicy.DESTROY,
    deletion_protection=False,
    api_throttling_rate_limit=20,
    api_throttling_burst_limit=40,
    api_execution_logging_level="INFO",
    cognito_threat_protection=False,
    availability_zones=2,
    # One NAT gateway for both AZs: the cheapest layout that still gives tasks egress
    # while the databases stay in isolated subnets.
    nat_gateways=1,
    service_min_tasks=1,
    service_max_tasks=2,
    database_min_capacity=0,
    database_max_capacity=2,
    database_readers=0,
    cache_mode="serverless",
)

PROD = EnvironmentProfile(
    name="prod",
    stage_id="Prod",
    log_retention=logs.RetentionDays.ONE_YEAR,
    removal_policy=RemovalPolicy.RETAIN,
    deletion_protection=True,
    api_throttling_rate_limit=200,
    api_throttling_burst_limit=400,
    api_execution_logging_level="ERROR",
    cognito_threat_protection=True,
    availability_zones=3,
    nat_gateways=3,
    service_min_tasks=2,
    service_max_tasks=6,
    database_min_capacity=0.5,
    database_max_capacity=16,
    database_readers=1,
    cache_mode="serverless",
)

PROFILES: MappingProxyType[str, EnvironmentProfile] = MappingProxyType(
    {profile.name: profile for profile in (DEV, PROD)}
)


@dataclass(frozen=True, kw_only=True)
class DeploymentTarget:
    """Where the stages deploy: account (None = environment-agnostic) and region."""

    account: str | None
    region: str
