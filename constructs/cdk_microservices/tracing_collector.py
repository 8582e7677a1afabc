"""Tracing for ContainerService: an AWS Distro for OpenTelemetry (ADOT) collector sidecar.

The application sends its spans over OTLP to the collector in its own task
(``http://localhost:4318``); the collector batches them and sends them to AWS X-Ray with the
task role. The X-Ray SDKs and daemon reach end of support on 25 February 2027; this is the
path AWS recommends instead (OpenTelemetry SDK in the application, a collector exporting
to X-Ray).

Trace ids: the collector's X-Ray exporter turns a W3C trace id into an X-Ray one
(``1-<first 8 hex digits>-<the other 24>``). It used to reject ids whose first 32 bits
are not a recent Unix time; since collector-contrib v0.84 that check is off by default
(feature gate ``exporter.awsxray.skiptimestampvalidation``, beta), so random ids are
accepted. Applications may still generate X-Ray-format ids (the Python SDK's
``AwsXRayIdGenerator``, as the reference app's transfers service does), which every
collector version and every X-Ray tool accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_microservices._validation import fail, format_number, require_range
from cdk_microservices.compliance import acknowledge

DEFAULT_COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.50.0"
"""The ADOT collector, pinned (v0.50.0, August 2026: OpenTelemetry Collector v0.158)."""
XRAY_CONFIG = "/etc/ecs/ecs-xray.yaml"
"""A configuration built into the ADOT collector image: OTLP in (gRPC 4317, HTTP 4318),
ECS resource detection, batches of spans to X-Ray. Nothing else (no metrics, no logs)."""
COLLECTOR_CONTAINER_NAME = "otel-collector"
OTLP_HTTP_ENDPOINT = "http://localhost:4318"
"""Where the application sends spans: the collector shares the task's network namespace."""
PROPAGATORS = "tracecontext,baggage,xray"
"""W3C ``traceparent`` and ``baggage``, then AWS ``X-Amzn-Trace-Id`` (set by API Gateway
and by the load balancer): the last one found wins, so a request that came through API
Gateway continues API Gateway's trace."""
COLLECTOR_USER = "10001:10001"
"""Non-root; the image runs as its own non-root user, this pins the id regardless."""
MIN_APPLICATION_MEMORY_MIB = 256
XRAY_WRITE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)
"""What AWS's ``AWSXRayDaemonWriteAccess`` grants: sending segments and telemetry, and
reading the sampling rules (for a collector configured with X-Ray remote sampling)."""


@dataclass(frozen=True, kw_only=True)
class TracingCollector:
    """How ContainerService traces its tasks (``tracing=TracingCollector(...)``;
    ``tracing=True`` means all the defaults).

    - ``image``: the collector image (``DEFAULT_COLLECTOR_IMAGE``, pinned);
    - ``config``: ``--config`` for the collector, a file in the image (``XRAY_CONFIG``,
      OTLP to X-Ray) or any URI the collector reads;
    - ``cpu`` (64 units) and ``memory_limit_mib`` (128, a hard limit): the collector's
      share of the task; the application keeps the rest (at least 256 MiB and some CPU);
    - ``sample_ratio`` (0.05): the share of traces the application starts itself (no
      sampled parent: requests that did not come through API Gateway, background work)
      that it records; a request whose caller decided (API Gateway's X-Ray sampling, a
      ``traceparent``) follows that decision (``parentbased_traceidratio``).
    """

    image: str = DEFAULT_COLLECTOR_IMAGE
    config: str = XRAY_CONFIG
    cpu: int = 64
    memory_limit_mib: int = 128
    sample_ratio: float = 0.05


def resolve_tracing(
    construct: str, tracing: bool | TracingCollector, *, cpu: int, memory_limit_mib: int
) -> TracingCollector | None:
    """``tracing`` checked against the task's size; ``None`` for no tracing."""
    if isinstance(tracing, bool):
        collector = TracingCollector() if tracing else None
    elif isinstance(tracing, TracingCollector):
        collector = tracing
    else:
        raise fail(
            construct,
            "tracing",
            f"must be True, False or a TracingCollector, got {type(tracing).__name__}",
        )
    if collector is None:
        return None
    if not isinstance(collector.image, str) or not collector.image.strip():
        raise fail(construct, "tracing", "has an empty image; pass the collector image's URI")
    if not isinstance(collector.config, str) or not collector.config.strip():
        raise fail(construct, "tracing", "has an empty config; pass the collector's --config")
    require_range(construct, "tracing.sample_ratio", collector.sample_ratio, minimum=0, maximum=1)
    require_range(construct, "tracing.cpu", collector.cpu, minimum=0, maximum=cpu - 1)
    room = memory_limit_mib - MIN_APPLICATION_MEMORY_MIB
    if isinstance(collector.memory_limit_mib, bool) or not (
        isinstance(collector.memory_limit_mib, int) and 6 <= collector.memory_limit_mib <= room
    ):
        raise fail(
            construct,
            "tracing",
            f"gives the collector memory_limit_mib={collector.memory_limit_mib!r}; with "
            f"memory_limit_mib={memory_limit_mib} for the task it must be 6 to {room} MiB, "
            f"so that the application keeps at least {MIN_APPLICATION_MEMORY_MIB} MiB "
            "(or give the task more memory)",
        )
    return collector


def application_environment(collector: TracingCollector, service_name: str) -> dict[str, str]:
    """What the application container is told, as the OpenTelemetry SDKs read it."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_HTTP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_PROPAGATORS": PROPAGATORS,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": format_number(collector.sample_ratio),
        # Traces only: the collector's configuration has no metrics or logs pipeline.
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }


class CollectorSidecar(Construct):
    """The collector container, its log group and the task role's X-Ray permissions."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        collector: TracingCollector,
        service_name: str,
        task_definition: ecs.FargateTaskDefinition,
        task_role: iam.Role,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=removal_policy
        )
        self.container = task_definition.add_container(
            "Collector",
            container_name=COLLECTOR_CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(collector.image),
            command=[f"--config={collector.config}"],
            # Not essential: if the collector stops, the task goes on serving (its spans
            # are dropped) instead of ECS stopping the task for a telemetry failure.
            essential=False,
            cpu=collector.cpu,
            memory_limit_mib=collector.memory_limit_mib,
            user=COLLECTOR_USER,
            readonly_root_filesystem=True,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=f"{service_name}-otel-collector",
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            # The image is built FROM scratch (no shell, no curl); it ships this probe of
            # the collector's health_check extension (port 13133).
            health_check=ecs.HealthCheck(
                command=["CMD", "/healthcheck"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(10),
            ),
        )
        self.policy = iam.Policy(
            self,
            "XRayWrite",
            statements=[iam.PolicyStatement(actions=list(XRAY_WRITE_ACTIONS), resources=["*"])],
            roles=[task_role],
        )
        acknowledge(
            self.policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "The tracing collector sends spans to X-Ray with the task role: X-Ray's "
            "PutTraceSegments, PutTelemetryRecords and sampling-rule reads do not support "
            "resource-level permissions, so they need Resource '*'.",
        )
