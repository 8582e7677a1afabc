"""Environment profiles: every per-environment difference of the reference app, in one place.

``app.py`` picks a profile per stage and hands its fields to the stacks, which pass them
to the constructs as plain arguments. Nothing else branches on the environment's name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

from cdk_microservices import Deployment

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
EVENT_CONTRACTS = REPO_ROOT / "contracts" / "events"
DEFAULT_REGION = "us-east-1"
EDGE_API_STAGE = "api"
"""Stage name of every API the edge routes to: CloudFront forwards ``/api/<service>/...``
unchanged, so API Gateway reads ``api`` as the stage and ``/<service>/...`` as the path."""


CLI_CONTEXT: dict[str, object] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}
"""Keys the CDK CLI adds to the app's context on ``cdk synth`` (path and asset metadata,
version reporting, and which stacks to bundle)."""


def cli_context() -> dict[str, object]:
    """The context ``cdk synth`` gives this app: cdk.json's (its feature flags shape the
    templates) merged with ``CLI_CONTEXT``. An ``App(context=cli_context())`` built in
    Python (tests, tools) synthesizes what the CLI does."""
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    return {**cdk_json["context"], **CLI_CONTEXT}


class ConfigurationError(ValueError):
    """The deployment target or a profile cannot work; the message says what to change."""


_AUTH_DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WEB_ORIGIN = re.compile(r"https://[a-z0-9.-]+(:[0-9]{1,5})?|http://localhost(:[0-9]{1,5})?")


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

    container_insights: bool
    """Whether the ECS cluster publishes Container Insights metrics (billed as custom
    metrics, about $11 a month for one service, idle or not: ``tools/idle_cost.py``). Off,
    the dashboards' task-count graph stays empty; ECS's own CPU and memory metrics and
    every alarm remain."""

    termination_protection: bool
    """Whether CloudFormation refuses to delete the stage's stacks (all hold state or are
    read by the others) until the flag is turned off."""

    web_origins: tuple[str, ...]
    """Origins besides the edge's own site URL (``https://host``; ``http://localhost:port``
    for local development) that may serve the web UI. The Cognito web client redirects only
    to ``<origin>/auth/callback`` after sign-in and ``<origin>/`` after sign-out."""

    alarm_emails: tuple[str, ...]
    """Addresses the alarm topic mails (each confirms its subscription first); none by
    default: subscribe your on-call address or chat integration here or after deploying."""

    deployment: Deployment
    """How new code reaches traffic in every service (Lambda functions and the container
    service): all at once, or a canary / linear shift that rolls back on the services'
    alarms. ``ContainerService`` runs every strategy as a rolling deployment with the
    circuit breaker and deployment alarms."""

    dead_letter_report_schedule: str = "cron(0 5 * * ? *)"
    """When each service's dead-letter report runs (EventBridge Scheduler expression, UTC):
    nightly, before the working day in Europe and after the nightly cleanup."""

    cleanup_schedule: str = "cron(0 3 * * ? *)"
    """When the transfers ledger's cleanup runs (EventBridge Scheduler expression, UTC):
    nightly, in the quietest hours."""

    idempotency_key_retention_hours: int = 168
    """How long the transfers API answers a retried request with its first response (the
    cleanup removes older idempotency keys): 24 to 8760 hours, a week by default."""

    outbox_retention_hours: int = 168
    """How long a published transfers event stays in the outbox for investigating (the
    cleanup removes older sent rows; unsent rows are never removed): 1 to 8760 hours."""

    edge_rate_limit: int
    """Requests one IP address may send the edge (the web UI and every API) in any 5
    minutes before the CloudFront web ACL blocks it."""

    auth_domain_prefix: str
    """Prefix of the Cognito managed-login domain (``<prefix>.auth.<region>.amazoncognito.com``):
    unique in the region across all AWS accounts, so change it if it is taken."""

    def __post_init__(self) -> None:
        self._check_retentions()
        if not isinstance(self.container_insights, bool):
            raise ConfigurationError(
                f"profile {self.name!r}: container_insights is {self.container_insights!r}; "
                "it must be True or False"
            )
        # Cognito's rule for a prefix domain; the reserved words are refused at deploy.
        if not _AUTH_DOMAIN_PREFIX.fullmatch(self.auth_domain_prefix) or any(
            word in self.auth_domain_prefix for word in ("aws", "amazon", "cognito")
        ):
            raise ConfigurationError(
                f"profile {self.name!r}: auth_domain_prefix is {self.auth_domain_prefix!r}; it "
                "must be 1-63 lowercase letters, digits and hyphens, neither starting nor "
                "ending with a hyphen, without 'aws', 'amazon' or 'cognito'"
            )
        for origin in self.web_origins:
            # Cognito accepts only HTTPS callback URLs, except http://localhost for testing.
            if not _WEB_ORIGIN.fullmatch(origin):
                raise ConfigurationError(
                    f"profile {self.name!r}: web_origins has {origin!r}; each origin must be "
                    "'https://<host>[:port]' or 'http://localhost[:port]', without a path"
                )

    def _check_retentions(self) -> None:
        """The cleanup's own bounds (container_src/transfers/transfers_service/cleanup.py):
        refused here at synth rather than by the task at night."""
        for field, value, low in (
            ("idempotency_key_retention_hours", self.idempotency_key_retention_hours, 24),
            ("outbox_retention_hours", self.outbox_retention_hours, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 8760:
                raise ConfigurationError(
                    f"profile {self.name!r}: {field} is {value!r}; it must be a whole number of "
                    f"hours from {low} to 8760"
                )


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
    # Container Insights is the largest idle line a Dev stage can drop without changing
    # what runs: about $11 a month of custom metrics (see the README's idle cost).
    container_insights=False,
    termination_protection=False,
    # The web UI's local development server.
    web_origins=("http://localhost:5173",),
    alarm_emails=(),
    # Fast feedback: the same alias and CodeDeploy group as Prod, no waiting.
    deployment=Deployment.all_at_once(),
    edge_rate_limit=1000,
    auth_domain_prefix="cdk-microservices-payments-dev",
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
    container_insights=True,
    termination_protection=True,
    # Only the edge's own site URL.
    web_origins=(),
    alarm_emails=(),
    # 10 % of the traffic for 5 minutes, rolled back if an alarm fires.
    deployment=Deployment.canary(percent=10, interval=Duration.minutes(5)),
    edge_rate_limit=2000,
    auth_domain_prefix="cdk-microservices-payments",
)

PROFILES: MappingProxyType[str, EnvironmentProfile] = MappingProxyType(
    {profile.name: profile for profile in (DEV, PROD)}
)


@dataclass(frozen=True, kw_only=True)
class DeploymentTarget:
    """Where the stages deploy: account (None = environment-agnostic) and region."""

    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    """The region's AZ names in this account (see ``resolve_availability_zones``)."""


DEFAULT_AVAILABILITY_ZONES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        # us-east-1e is left out: it is closed to new resource types in many accounts.
        "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"),
        "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
        "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"),
        "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
        # Tokyo has no "b" zone for most accounts.
        "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    }
)
"""Zone names that every account has in these regions, used when the deployment target
names none. AZ names are mapped per account in the older regions and a zone can be closed
to new resources in an account: pass the account's own with ``-c availability_zones=...``."""

AVAILABILITY_ZONES_CONTEXT = "availability_zones"
"""Context key naming the AZs to use, comma-separated (``-c availability_zones=a,b``)."""

_ZONES_HINT = (
    "pass the zones your account has with -c availability_zones=<zone>,<zone>,... (list them "
    "with: aws ec2 describe-availability-zones --region {region} --query "
    "'AvailabilityZones[?State==`available` && ZoneType==`availability-zone`].ZoneName')"
)


def lookup_context_key(account: str, region: str) -> str:
    """The key under which ``cdk context`` records an account's AZ lookup (cdk.context.json)."""
    return f"availability-zones:account={account}:region={region}"


def resolve_availability_zones(
    region: str,
    *,
    requested: str | list[str] | None,
    recorded: object = None,
) -> tuple[str, ...]:
    """The AZ names of the deployment target, never derived from the region's name.

    In order: ``requested`` (the ``availability_zones`` context, comma-separated or a
    list), ``recorded`` (the account's lookup recorded in cdk.context.json), the region's
    entry in ``DEFAULT_AVAILABILITY_ZONES``. Each name must be one of ``region``'s zones.
    """
    zone_name = re.compile(re.escape(region) + r"[a-z]")
    if requested is not None:
        names = requested.split(",") if isinstance(requested, str) else list(requested)
        source = f"context '{AVAILABILITY_ZONES_CONTEXT}'"
    elif isinstance(recorded, list):
        names, source = [str(name) for name in recorded], "cdk.context.json"
    elif region in DEFAULT_AVAILABILITY_ZONES:
        return DEFAULT_AVAILABILITY_ZONES[region]
    else:
        raise ConfigurationError(
            f"no Availability Zones known for region {region!r}: "
            + _ZONES_HINT.format(region=region)
        )
    zones = tuple(name.strip() for name in names if name.strip())
    bad = [name for name in zones if not zone_name.fullmatch(name)]
    if not zones or bad:
        raise ConfigurationError(
            f"{source} holds {', '.join(map(repr, bad)) or 'no zone'}; each entry must be an "
            f"Availability Zone name of region {region!r} such as '{region}a'"
        )
    if len(set(zones)) != len(zones):
        raise ConfigurationError(f"{source} names a zone twice: {', '.join(zones)}")
    return zones


def zones_for(profile: EnvironmentProfile, target: DeploymentTarget) -> tuple[str, ...]:
    """The first ``profile.availability_zones`` of the target's zones, or a clear error."""
    wanted = profile.availability_zones
    if wanted > len(target.availability_zones):
        raise ConfigurationError(
            f"the {profile.name} profile asks for {wanted} Availability Zones but region "
            f"{target.region!r} offers {len(target.availability_zones)} "
            f"({', '.join(target.availability_zones)}): lower availability_zones in "
            f"stacks/config.py, or " + _ZONES_HINT.format(region=target.region)
        )
    return target.availability_zones[:wanted]
