"""ContainerService: a Fargate service with its own task definition behind a load balancer.

Creates (the cluster and the load balancer unless existing ones are passed in):

- ``cluster``: an ECS cluster in ``vpc`` with Container Insights enabled and an HTTP Cloud
  Map namespace of its own as default Service Connect namespace;
- ``task_definition``: a Fargate task definition (ARM64 Linux, ``cpu`` / ``memory_limit_mib``)
  with its own ``task_role`` (holds only what it is granted) and ``execution_role`` (image
  pull, log writing, reading the container's ``secrets``), and a writable ``/tmp`` volume;
- ``container``: the application container, running as a non-root ``user`` on a read-only
  root filesystem, its one port mapping named ``http``, logging with the awslogs driver to
  ``log_group`` (kept ``log_retention``);
- ``collector`` (unless ``tracing=False``): an AWS Distro for OpenTelemetry collector
  sidecar (not essential, non-root, read-only) logging to a log group of its own (kept
  ``log_retention``), sending the application's spans to X-Ray with the task role, which
  an ``iam.Policy`` of its own lets write to X-Ray (see ``tracing_collector``);
- ``security_group``: the tasks' security group, reachable on ``container_port`` only from
  the load balancer (and from whatever is allowed through ``connections``);
- ``service``: a Fargate service (platform ``LATEST``) in private subnets without public IPs,
  named by CloudFormation (so a replacing update can succeed), with Service Connect, a
  deployment circuit breaker that rolls back, and deployments that never drop below the
  desired capacity;
- ``scaling``: target tracking on CPU and on requests per target between ``min_capacity``
  and ``max_capacity``;
- ``load_balancer``: an Application Load Balancer (internal unless ``public``) that drops
  invalid header fields, with ``load_balancer_security_group`` admitting only the listener
  port, from the VPC (internal) or anywhere (public);
- ``access_logs_bucket``: an S3 bucket for the load balancer's access logs (SSE-S3,
  TLS-only, versioned, no public access, expiring), unless one is passed in;
- ``listener``: HTTP on port 80, or HTTPS on port 443 when a ``certificate`` is given
  (always when ``public``);
- ``target_group``: the service's tasks, health-checked on ``health_check_path``;
- ``alarms``: 5XX answers, p99 target response time, unhealthy targets, service CPU and
  service memory;
- ``deployment_alarms``: the alarms ECS watches during each deployment (rolling back on
  ALARM), as named in the service's ``DeploymentConfiguration.Alarms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, Literal, TypeVar, cast, overload

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import describe, notify, resolve_thresholds, seconds_of
from cdk_microservices._function_logs import S3_AUTO_DELETE_PROVIDER, shared_provider_log_group
from cdk_microservices._log_bucket import access_log_bucket
from cdk_microservices._validation import (
    checked_arguments,
    deletion_protection_for,
    fail,
    format_number,
    merge_props,
    reject_conflicts,
    require_choice,
    require_duration,
    require_pattern,
    require_range,
    require_service_name,
)
from cdk_microservices.compliance import acknowledge
from cdk_microservices.deployment import Deployment, require_deployment
from cdk_microservices.tracing_collector import (
    CollectorSidecar,
    TracingCollector,
    application_environment,
    resolve_tracing,
)

FARGATE_MEMORY_MIB: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
"""Memory sizes (MiB) Fargate accepts for each task CPU size (CPU units)."""

LoadBalancerAccess = Literal["vpc", "explicit"]
"""Who reaches an internal load balancer's listener: the whole VPC, or only the peers
allowed through ``load_balancer.connections`` (e.g. an API Gateway VPC link)."""

_DESIRED_COUNT_OWNED_BY_SCALING = (
    "but autoscaling owns the task count (between min_capacity and max_capacity); a "
    "DesiredCount in the template would reset a scaled-out service on every deploy. Leave it "
    "out: a new service starts one task and autoscaling raises it to min_capacity"
)

NOT_GATING_ALARMS = frozenset({"CpuAlarm", "MemoryAlarm"})
"""Saturation alarms (construct ids) do not gate deployments: a traffic peak is not a bad
revision, and a rollback in the middle of one would only add churn."""

HTTP_PORT = 80
PORT_MAPPING_NAME = "http"
"""Name of the container's port mapping, which Service Connect refers to."""
TMP_VOLUME = "tmp"
_HEALTH_CHECK_PATH = r"/[!-~]{0,1023}"
_USER = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?"
_ENVIRONMENT_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ROOT_USERS = {"0", "root"}


ClusterT = TypeVar("ClusterT", bound=ecs.ICluster, covariant=True)
"""``ecs.Cluster`` when the service creates its cluster, ``ecs.ICluster`` for an existing one."""
LoadBalancerT = TypeVar("LoadBalancerT", bound=elbv2.IApplicationLoadBalancer, covariant=True)
"""``elbv2.ApplicationLoadBalancer`` when the service creates its load balancer, the
interface for an ``existing_load_balancer``."""


class ContainerService(Construct, Generic[ClusterT, LoadBalancerT]):
    """A Fargate service behind an Application Load Balancer, scaled, alarmed and locked down.

    Defaults (each can be changed by its argument):

    - a cluster is created in ``vpc`` with Container Insights enabled; ``existing_cluster``
      runs the service in a cluster created elsewhere (its VPC is used; ``vpc`` is rejected);
    - tasks: 256 CPU units / 512 MiB (``cpu`` / ``memory_limit_mib``; only the combinations
      Fargate accepts), ARM64 Linux, Fargate platform ``LATEST``, in ``PRIVATE_WITH_EGRESS``
      subnets without public IPs;
    - the container listens on ``container_port`` 8080, runs as ``user`` ``"1000:1000"``
      (root is rejected) on a read-only root filesystem (``readonly_root_filesystem``) with a
      writable ``/tmp`` volume, gets ``environment`` as plain variables and ``secrets``
      (``ecs.Secret``: Secrets Manager or SSM) injected at start, never as plain variables;
      the execution role may read exactly those secrets; ECS Exec is off
      (``enable_execute_command``; it needs ``readonly_root_filesystem=False``);
    - roles: the task role starts empty and trusts only ECS tasks of this account; the
      execution role gets only what ECS needs for this task (log writing, the secrets, an
      ECR pull when the image is in ECR); no AWS managed policies;
    - logs: awslogs driver (non-blocking) to a log group of its own, kept ``log_retention``
      (one month), also for the Service Connect proxy;
    - tracing (``tracing=True``, or a ``TracingCollector`` to change its defaults; ``False``
      adds none of this): an ADOT collector container (``otel-collector``, image
      ``aws-otel-collector`` pinned in ``DEFAULT_COLLECTOR_IMAGE``, built-in config
      ``/etc/ecs/ecs-xray.yaml``: OTLP in on localhost 4317/4318, spans out to X-Ray) with
      64 CPU units and a 128 MiB hard memory limit taken from the task's size (the
      application must keep at least 256 MiB), running as ``10001:10001`` on a read-only
      root filesystem, health-checked with the image's ``/healthcheck``, logging to a log
      group of its own kept ``log_retention``. It is not essential: when it stops, the
      task keeps serving and only its spans are lost (an essential one would get every
      task stopped for a telemetry failure); the application container starts after it.
      Its image comes from ECR Public, which has no VPC endpoint: tasks need a route to
      the internet (a NAT gateway) to pull it; in subnets without one, copy the image to
      your private ECR and pass ``TracingCollector(image=...)``, or ``tracing=False``.
      The task role gets X-Ray's write actions (``Resource: *``, which they require) in a
      policy of its own. The application container is told where to send spans and how:
      ``OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318`` (http/protobuf),
      ``OTEL_SERVICE_NAME=<service_name>``, ``OTEL_PROPAGATORS=tracecontext,baggage,xray``
      (continue API Gateway's ``X-Amzn-Trace-Id``), ``OTEL_TRACES_SAMPLER=
      parentbased_traceidratio`` with ``OTEL_TRACES_SAMPLER_ARG`` 0.05 (``sample_ratio``),
      and no metrics or logs exporters; ``environment`` overrides any of them. The
      application must have an OpenTelemetry SDK that reads them;
    - deployments: circuit breaker with rollback, ``min_healthy_percent=100`` and
      ``max_healthy_percent=200`` (a deployment never drops capacity), and ECS deployment
      alarms with rollback (``ROLLBACK_ON_ALARM``): the 5XX, latency and unhealthy-target
      alarms plus ``Deployment.alarms`` (not CPU and memory: a traffic peak is not a bad
      revision). ECS watches them while the deployment runs and for a bake time after it,
      which it derives from the alarms' own periods; a deployment they fail is rolled back
      to the last completed one. ``deployment`` (default ``Deployment.all_at_once()``)
      takes the same value as the Lambda patterns, but every strategy is this rolling
      deployment: ECS's native blue/green, canary and linear strategies shift traffic
      between two target groups by rewriting the listener rule, and aws-cdk-lib puts the
      rule back as written in the template on any later stack update, sending traffic to
      the scaled-in revision (open aws-cdk issue 36649). ``canary`` and ``linear`` here
      mean rolling + circuit breaker + alarms, and refuse to run without alarms;
    - capacity: autoscaling owns the task count, between ``min_capacity`` 2 and
      ``max_capacity`` 4, so the template sets no ``DesiredCount`` (a deploy would reset a
      scaled-out service to it; ``desired_count`` is rejected): a new service starts one
      task and autoscaling raises it to ``min_capacity``. Scaling is on CPU
      (``cpu_target_utilization`` 60 %, allowed 10-90) and on requests per target
      (``requests_per_target`` 500); scale-out cooldown 60 s, scale-in cooldown 300 s;
      new tasks get CDK's 60 s health check grace period;
    - Service Connect: the service is published as ``service_name`` on port
      ``container_port`` (clients call ``http://<service_name>:<container_port>``) in
      ``service_connect_namespace`` (the name or ARN of an existing
      Cloud Map namespace shared by the services that call each other); without it, the
      cluster's default namespace, referred to by ARN (a created cluster gets an HTTP
      namespace ``<stack name>-<service_name>`` of its own; an existing cluster must have
      one). The ECS service itself has no fixed name, so CloudFormation can replace it;
      its replacement is created before the old one is deleted and registers
      ``service_name`` in the namespace while the old one may still hold it: plan a
      change that replaces the service (e.g. its deployment controller) with a new
      ``service_name``, or in two deploys (unverified against a real account);
    - load balancer: internal (``public=False``), listening on HTTP port 80, or on HTTPS
      port 443 with the ``RECOMMENDED_TLS`` policy when ``certificate`` (an ACM certificate
      or ``elbv2.IListenerCertificate``) is given; ``public=True`` requires a certificate and
      listens on HTTPS, with an HTTP listener on port 80 that only answers a permanent
      redirect to HTTPS (created load balancer only); ``listener_port`` changes the port;
      invalid header fields dropped; deletion protection follows ``removal_policy``
      (off for ``DESTROY``, on otherwise) unless ``deletion_protection`` says otherwise
      (on together with ``DESTROY`` is rejected);
    - security groups: the load balancer's admits only the listener port, from the VPC's
      CIDR (internal) or from anywhere (public), or, with ``load_balancer_access="explicit"``
      (internal only), from nobody until a peer is allowed through
      ``load_balancer.connections``, and sends only to the tasks'; the tasks'
      admits ``container_port`` only from the load balancer's (use ``connections`` to admit
      other callers, e.g. Service Connect clients) and may send anywhere (image pulls,
      Secrets Manager, the services it calls);
    - target group: health check ``GET health_check_path`` ("/health") every 15 s, 5 s
      timeout, 2 successes healthy, 3 failures unhealthy, answers 200-399; deregistration
      delay 30 s;
    - access logs: to ``access_logs_bucket``, or to a created bucket (SSE-S3, which ALB
      log delivery requires, TLS-only, versioned, no public access) whose logs expire after
      ``access_logs_retention`` (90 days; old versions after 7 more days); the bucket
      follows ``removal_policy`` (default ``RETAIN``), like the log group, and with
      ``DESTROY`` is emptied before it is deleted (CloudFormation deletes only empty
      buckets; the load balancer is deleted first, so no log arrives after) by aws-cdk-lib's
      S3 auto-delete function, which logs to a log group of its own kept ``log_retention``
      and deleted with the stack (the function is one per stack: the first construct that
      needs it sets its log group, a later one with other settings gets a warning); a created load
      balancer needs a stack with a concrete region (ELB log delivery is regional);
    - alarms, sent (ALARM and OK) to ``alarm_topic`` if given; ``alarms=False`` turns them
      off. Thresholds by name in ``alarm_thresholds`` (defaults in ``ALARM_THRESHOLDS``):
      ``"ServerErrors"``, 5XX answers of the load balancer and the targets in 5 minutes
      (count, default 1; the load balancer's count covers the whole load balancer, which
      matters with ``existing_load_balancer``); and for 3 of 5 minutes: ``"Latency"``, p99
      target response time above it (seconds, default 1, at most 4000;
      ``latency_alarm_threshold``, a Duration, sets the same threshold, and giving both is
      rejected); ``"UnhealthyTargets"``, unhealthy targets (count, default 1); ``"Cpu"``
      and ``"Memory"``, service CPU and memory utilization above it (percent, default 80).

    Escape hatches: ``existing_cluster`` and ``existing_load_balancer`` (a listener for this
    service is added to it; its scheme must match ``public``, its security groups and
    access logs are the caller's), ``task_definition_props`` overrides keyword arguments of
    ``aws_ecs.FargateTaskDefinition``, ``container_props`` those of
    ``aws_ecs.ContainerDefinitionOptions`` and ``service_props`` those of
    ``aws_ecs.FargateService``.
    """

    CONSTRUCT = "ContainerService"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        "ServerErrors": 1,
        "Latency": 1,
        "UnhealthyTargets": 1,
        "Cpu": 80,
        "Memory": 80,
    }
    """Each alarm's name and default threshold (see the class docstring for units)."""

    @overload
    def __init__(
        self: ContainerService[ecs.Cluster, elbv2.ApplicationLoadBalancer],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        image: ecs.ContainerImage,
        vpc: ec2.IVpc | None = None,
        existing_cluster: None = None,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int | None = None,
        min_capacity: int = 2,
        max_capacity: int = 4,
        cpu_target_utilization: float = 60,
        requests_per_target: int = 500,
        health_check_path: str = "/health",
        public: bool = False,
        load_balancer_access: LoadBalancerAccess = "vpc",
        certificate: acm.ICertificate | elbv2.IListenerCertificate | None = None,
        listener_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        service_connect_namespace: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        user: str = "1000:1000",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        tracing: bool | TracingCollector = True,
        deletion_protection: bool | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_retention: Duration | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_load_balancer: None = None,
        task_definition_props: Mapping[str, object] | None = None,
        container_props: Mapping[str, object] | None = None,
        service_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: ContainerService[ecs.ICluster, elbv2.ApplicationLoadBalancer],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        image: ecs.ContainerImage,
        existing_cluster: ecs.ICluster,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int | None = None,
        min_capacity: int = 2,
        max_capacity: int = 4,
        cpu_target_utilization: float = 60,
        requests_per_target: int = 500,
        health_check_path: str = "/health",
        public: bool = False,
        load_balancer_access: LoadBalancerAccess = "vpc",
        certificate: acm.ICertificate | elbv2.IListenerCertificate | None = None,
        listener_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        service_connect_namespace: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        user: str = "1000:1000",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        tracing: bool | TracingCollector = True,
        deletion_protection: bool | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_retention: Duration | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_load_balancer: None = None,
        task_definition_props: Mapping[str, object] | None = None,
        container_props: Mapping[str, object] | None = None,
        service_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: ContainerService[ecs.Cluster, elbv2.IApplicationLoadBalancer],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        image: ecs.ContainerImage,
        vpc: ec2.IVpc | None = None,
        existing_cluster: None = None,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int | None = None,
        min_capacity: int = 2,
        max_capacity: int = 4,
        cpu_target_utilization: float = 60,
        requests_per_target: int = 500,
        health_check_path: str = "/health",
        public: bool = False,
        load_balancer_access: LoadBalancerAccess = "vpc",
        certificate: acm.ICertificate | elbv2.IListenerCertificate | None = None,
        listener_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        service_connect_namespace: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        user: str = "1000:1000",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        tracing: bool | TracingCollector = True,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_load_balancer: elbv2.IApplicationLoadBalancer,
        task_definition_props: Mapping[str, object] | None = None,
        container_props: Mapping[str, object] | None = None,
        service_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: ContainerService[ecs.ICluster, elbv2.IApplicationLoadBalancer],
        scope: Construct,
        id: str,
        *,
        service_name: str,
        image: ecs.ContainerImage,
        existing_cluster: ecs.ICluster,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int | None = None,
        min_capacity: int = 2,
        max_capacity: int = 4,
        cpu_target_utilization: float = 60,
        requests_per_target: int = 500,
        health_check_path: str = "/health",
        public: bool = False,
        load_balancer_access: LoadBalancerAccess = "vpc",
        certificate: acm.ICertificate | elbv2.IListenerCertificate | None = None,
        listener_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        service_connect_namespace: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        user: str = "1000:1000",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        tracing: bool | TracingCollector = True,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_load_balancer: elbv2.IApplicationLoadBalancer,
        task_definition_props: Mapping[str, object] | None = None,
        container_props: Mapping[str, object] | None = None,
        service_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @checked_arguments("ContainerService")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        image: ecs.ContainerImage,
        vpc: ec2.IVpc | None = None,
        existing_cluster: ecs.ICluster | None = None,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int | None = None,
        min_capacity: int = 2,
        max_capacity: int = 4,
        cpu_target_utilization: float = 60,
        requests_per_target: int = 500,
        health_check_path: str = "/health",
        public: bool = False,
        load_balancer_access: LoadBalancerAccess = "vpc",
        certificate: acm.ICertificate | elbv2.IListenerCertificate | None = None,
        listener_port: int | None = None,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        service_connect_namespace: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        user: str = "1000:1000",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        tracing: bool | TracingCollector = True,
        deletion_protection: bool | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_retention: Duration | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        existing_load_balancer: elbv2.IApplicationLoadBalancer | None = None,
        task_definition_props: Mapping[str, object] | None = None,
        container_props: Mapping[str, object] | None = None,
        service_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, service_name)
        self.deployment = require_deployment(name, deployment)
        if not isinstance(image, ecs.ContainerImage):
            raise fail(
                name,
                "image",
                f"must be an aws_ecs.ContainerImage (e.g. ContainerImage.from_asset(...)), "
                f"got {type(image).__name__}",
            )
        self._validate_sizes(cpu=cpu, memory_limit_mib=memory_limit_mib)
        collector = resolve_tracing(name, tracing, cpu=cpu, memory_limit_mib=memory_limit_mib)
        require_choice(name, "load_balancer_access", load_balancer_access, ("vpc", "explicit"))
        if public and load_balancer_access == "explicit":
            raise fail(
                name,
                "load_balancer_access",
                "is 'explicit' but public=True; a public load balancer is open to the "
                "internet: use public=False to admit only the peers you allow",
            )
        self._validate_capacity(
            desired_count=desired_count, min_capacity=min_capacity, max_capacity=max_capacity
        )
        if service_props and "desired_count" in service_props:
            raise fail(
                name, "service_props", "sets desired_count, " + _DESIRED_COUNT_OWNED_BY_SCALING
            )
        require_range(name, "container_port", container_port, minimum=1, maximum=65535)
        if listener_port is not None:
            require_range(name, "listener_port", listener_port, minimum=1, maximum=65535)
        require_range(
            name, "cpu_target_utilization", cpu_target_utilization, minimum=10, maximum=90
        )
        require_range(
            name, "requests_per_target", requests_per_target, minimum=1, maximum=1_000_000
        )
        require_pattern(
            name,
            "health_check_path",
            health_check_path,
            _HEALTH_CHECK_PATH,
            "a path starting with '/', at most 1024 printable characters without spaces",
        )
        self._validate_user(user)
        environment = dict(environment or {})
        secrets = dict(secrets or {})
        self._validate_environment(environment, secrets)
        if collector is not None:
            # The caller's variables (and secrets) win over the tracing defaults.
            environment = {
                **{
                    key: value
                    for key, value in application_environment(collector, service_name).items()
                    if key not in secrets
                },
                **environment,
            }
        if certificate is not None and not hasattr(certificate, "certificate_arn"):
            raise fail(
                name,
                "certificate",
                "must be an aws_certificatemanager.ICertificate or an aws_elasticloadbalancingv2."
                f"IListenerCertificate, got {type(certificate).__name__}",
            )
        if public and certificate is None:
            raise fail(
                name,
                "certificate",
                "is missing; a public load balancer listens on HTTPS only: pass an ACM "
                "certificate for the service's domain",
            )
        if enable_execute_command and readonly_root_filesystem:
            raise fail(
                name,
                "enable_execute_command",
                "is True with readonly_root_filesystem=True; ECS Exec's agent needs a "
                "writable root filesystem: pass readonly_root_filesystem=False as well",
            )
        if service_connect_namespace is not None:
            require_pattern(
                name,
                "service_connect_namespace",
                service_connect_namespace,
                r"[!-~]{1,1024}",
                "the name or ARN of a Cloud Map namespace (1-1024 printable characters)",
            )
        if access_logs_retention is not None:
            require_duration(
                name,
                "access_logs_retention",
                access_logs_retention,
                min_seconds=86400,
                max_seconds=3650 * 86400,
            )
            retention_days = access_logs_retention.to_milliseconds(integral=False) / 86_400_000
            if not retention_days.is_integer():
                raise fail(
                    name,
                    "access_logs_retention",
                    f"is {format_number(retention_days)} days; S3 lifecycle rules expire "
                    "objects after whole days",
                )
        if latency_alarm_threshold is not None:
            require_duration(
                name,
                "latency_alarm_threshold",
                latency_alarm_threshold,
                min_seconds=0,
                exclusive_minimum=True,
                max_seconds=4000,
            )
        if not alarms:
            reject_conflicts(
                name,
                "alarms",
                {
                    "alarm_topic": alarm_topic,
                    "latency_alarm_threshold": latency_alarm_threshold,
                    "alarm_thresholds": alarm_thresholds,
                },
            )
        thresholds = resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            old_arguments={
                "Latency": ("latency_alarm_threshold", seconds_of(latency_alarm_threshold))
            },
            # The load balancer's idle timeout can be at most 4000 s; CPU and memory are %.
            maximums={"Latency": 4000, "Cpu": 100, "Memory": 100},
        )
        if access_logs_bucket is not None:
            reject_conflicts(
                name, "access_logs_bucket", {"access_logs_retention": access_logs_retention}
            )
        if existing_load_balancer is not None:
            reject_conflicts(
                name,
                "existing_load_balancer",
                {
                    "access_logs_bucket": access_logs_bucket,
                    "access_logs_retention": access_logs_retention,
                    "deletion_protection": deletion_protection,
                },
            )
        if existing_cluster is not None:
            reject_conflicts(name, "existing_cluster", {"vpc": vpc})
            vpc = existing_cluster.vpc
            if (
                service_connect_namespace is None
                and existing_cluster.default_cloud_map_namespace is None
            ):
                raise fail(
                    name,
                    "service_connect_namespace",
                    "is missing and existing_cluster has no default Cloud Map namespace; "
                    "pass the name or ARN of the namespace shared by the services that "
                    "call each other",
                )
        elif vpc is None:
            raise fail(
                name,
                "vpc",
                "is missing; pass an ec2.IVpc, or an existing_cluster (whose VPC is used)",
            )
        if existing_load_balancer is None and Token.is_unresolved(Stack.of(self).region):
            raise fail(
                name,
                "scope",
                "is in a stack without a region; the load balancer's access logs need one "
                "(its log bucket policy names the region's ELB log delivery): give the stack "
                "env=Environment(region=...), or pass an existing_load_balancer",
            )

        self.service_name = service_name
        self.public = public
        self.load_balancer_access: LoadBalancerAccess = load_balancer_access
        self.container_port = container_port
        self.listener_port = listener_port or (80 if certificate is None else 443)
        self._https = certificate is not None
        self.listener_protocol: Literal["HTTP", "HTTPS"] = "HTTPS" if self._https else "HTTP"

        # -- cluster, logs, roles, task definition, container ---------------------------
        self.cluster = cast(
            ClusterT,
            existing_cluster
            or ecs.Cluster(
                self,
                "Cluster",
                vpc=vpc,
                container_insights_v2=ecs.ContainerInsights.ENABLED,
                default_cloud_map_namespace=ecs.CloudMapNamespaceOptions(
                    name=f"{Stack.of(self).stack_name}-{service_name}".lower(),
                    type=servicediscovery.NamespaceType.HTTP,
                    use_for_service_connect=True,
                )
                if service_connect_namespace is None
                else None,
            ),
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=removal_policy
        )
        stack = Stack.of(self)
        self.task_role = iam.Role(
            self,
            "TaskRole",
            # Only ECS tasks of this account and region may assume it (confused deputy).
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com",
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:ecs:{stack.region}:"
                        f"{stack.account}:*"
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            ),
            description=f"{service_name}: the application's role; holds only what it is granted",
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{service_name}: lets ECS pull the image, write logs and read secrets",
        )
        task_defaults: dict[str, object] = {
            "family": service_name,
            "cpu": cpu,
            "memory_limit_mib": memory_limit_mib,
            "runtime_platform": ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            "task_role": self.task_role,
            "execution_role": self.execution_role,
        }
        if readonly_root_filesystem:
            task_defaults["volumes"] = [ecs.Volume(name=TMP_VOLUME)]
        task_props = merge_props(
            name,
            "task_definition_props",
            ecs.FargateTaskDefinition,
            task_defaults,
            task_definition_props,
            scope=self,
        )
        volumes = task_props.get("volumes") or []
        if readonly_root_filesystem and TMP_VOLUME not in [
            getattr(volume, "name", None)
            for volume in volumes  # type: ignore[attr-defined]
        ]:
            raise fail(
                name,
                "task_definition_props",
                f"replaces volumes without the {TMP_VOLUME!r} volume; on a read-only root "
                "filesystem the container's /tmp is mounted from it: keep "
                f"ecs.Volume(name={TMP_VOLUME!r}) in the list",
            )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            **task_props,  # type: ignore[arg-type]
        )
        # A jsii static property, which mypy reads as a function.
        http_protocol: ecs.AppProtocol = ecs.AppProtocol.http  # type: ignore[assignment]
        container_defaults: dict[str, object] = {
            "image": image,
            "container_name": service_name,
            "essential": True,
            "user": user,
            "readonly_root_filesystem": readonly_root_filesystem,
            "port_mappings": [
                ecs.PortMapping(
                    container_port=container_port,
                    protocol=ecs.Protocol.TCP,
                    name=PORT_MAPPING_NAME,
                    app_protocol=http_protocol,
                )
            ],
            "logging": ecs.LogDrivers.aws_logs(
                stream_prefix=service_name,
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            "environment": environment or None,
            "secrets": secrets or None,
        }
        container_options = merge_props(
            name,
            "container_props",
            ecs.ContainerDefinitionOptions,
            container_defaults,
            container_props,
            scope=self,
        )
        self._validate_container_overrides(container_options, container_props or {})
        self.container = self.task_definition.add_container(
            "Container",
            **container_options,  # type: ignore[arg-type]
        )
        if readonly_root_filesystem:
            self.container.add_mount_points(
                ecs.MountPoint(container_path="/tmp", source_volume=TMP_VOLUME, read_only=False)
            )
        self.tracing: TracingCollector | None = collector
        self.collector: CollectorSidecar | None = None
        if collector is not None:
            self.collector = CollectorSidecar(
                self,
                "Tracing",
                collector=collector,
                service_name=service_name,
                task_definition=self.task_definition,
                task_role=self.task_role,
                log_retention=log_retention,
                removal_policy=removal_policy,
            )
            # Started first, so that the application's first spans have somewhere to go.
            self.container.add_container_dependencies(
                ecs.ContainerDependency(
                    container=self.collector.container,
                    condition=ecs.ContainerDependencyCondition.START,
                )
            )
        if container_options.get("environment"):
            acknowledge(
                self.task_definition,
                "AwsSolutions::AwsSolutions-ECS2",
                "The environment holds only non-secret configuration passed as 'environment'; "
                "secrets are passed as 'secrets' and injected from Secrets Manager or SSM "
                "Parameter Store when the task starts.",
            )
        if isinstance(image, ecs.EcrImage | ecs.AssetImage | ecs.TagParameterContainerImage):
            acknowledge(
                self.execution_role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken, which ECS calls to pull the image from ECR, "
                "supports only Resource '*'; the pull actions are scoped to the repository.",
            )

        # -- security groups, service --------------------------------------------------
        assert vpc is not None  # checked above; narrowed for the type checker
        self.security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=vpc,
            description=f"{service_name} tasks: container port from the load balancer only",
            allow_all_outbound=True,
        )
        default_namespace = self.cluster.default_cloud_map_namespace
        service_connect = ecs.ServiceConnectProps(
            # By ARN: a namespace name is looked up in the account and region, where another
            # environment's namespace of the same name makes it ambiguous.
            namespace=service_connect_namespace
            or (default_namespace.namespace_arn if default_namespace is not None else None),
            services=[
                ecs.ServiceConnectService(
                    port_mapping_name=PORT_MAPPING_NAME,
                    discovery_name=service_name,
                    dns_name=service_name,
                    port=container_port,
                )
            ],
            log_driver=ecs.LogDrivers.aws_logs(
                stream_prefix=f"{service_name}-service-connect",
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
        )
        service_defaults: dict[str, object] = {
            "cluster": self.cluster,
            "task_definition": self.task_definition,
            # No ServiceName: CloudFormation cannot replace a custom-named resource, and an
            # ECS service with Service Connect fails any replacing update. Callers find the
            # service by its Service Connect name, ``service_name``.
            "min_healthy_percent": 100,
            "max_healthy_percent": 200,
            "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            "platform_version": ecs.FargatePlatformVersion.LATEST,
            "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            "assign_public_ip": False,
            "security_groups": [self.security_group],
            "enable_execute_command": enable_execute_command,
            "service_connect_configuration": service_connect,
            "propagate_tags": ecs.PropagatedTagSource.SERVICE,
            "enable_ecs_managed_tags": True,
        }
        self.service = ecs.FargateService(
            self,
            "Service",
            **merge_props(  # type: ignore[arg-type]
                name,
                "service_props",
                ecs.FargateService,
                service_defaults,
                service_props,
                scope=self,
            ),
        )
        if enable_execute_command:
            acknowledge(
                self.task_role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "ECS Exec (enable_execute_command=True) needs the ssmmessages channel actions, "
                "which support only Resource '*', and CDK grants the exec session logging "
                "actions (logs:DescribeLogGroups, CreateLogStream, DescribeLogStreams, "
                "PutLogEvents) on '*' as the cluster's exec log destination is not known here.",
            )
        self.connections = ec2.Connections(
            security_groups=self.service.connections.security_groups,
            default_port=ec2.Port.tcp(container_port),
        )

        # -- load balancer, listener, target group -------------------------------------
        self.access_logs_bucket: s3.IBucket | None = None
        self.load_balancer_security_group: ec2.ISecurityGroup | None = None
        if existing_load_balancer is not None:
            self.load_balancer = cast(LoadBalancerT, existing_load_balancer)
        else:
            self.load_balancer = cast(
                LoadBalancerT,
                self._create_load_balancer(
                    vpc=vpc,
                    public=public,
                    deletion_protection=deletion_protection_for(
                        name, deletion_protection, removal_policy
                    ),
                    access_logs_bucket=access_logs_bucket,
                    access_logs_retention=access_logs_retention or Duration.days(90),
                    removal_policy=removal_policy,
                    log_retention=log_retention,
                ),
            )
        self.listener = self.load_balancer.add_listener(
            "Listener",
            port=self.listener_port,
            protocol=elbv2.ApplicationProtocol.HTTPS
            if self._https
            else elbv2.ApplicationProtocol.HTTP,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate.certificate_arn)]
            if certificate is not None
            else None,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if self._https else None,
            open=False,
        )
        self.redirect_listener: elbv2.ApplicationListener | None = None
        ports = [self.listener_port]
        if public and existing_load_balancer is None and self.listener_port != HTTP_PORT:
            # Browsers try http:// first: answer with a permanent redirect, never content.
            self.redirect_listener = self.load_balancer.add_listener(
                "HttpRedirect",
                port=HTTP_PORT,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port=str(self.listener_port), permanent=True
                ),
                open=False,
            )
            ports.append(HTTP_PORT)
        if load_balancer_access == "vpc":
            self._admit_listener_traffic(vpc=vpc, public=public, ports=ports)
        self.target_group = self.listener.add_targets(
            "Targets",
            port=container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[
                self.service.load_balancer_target(
                    container_name=self.container.container_name, container_port=container_port
                )
            ],
            health_check=elbv2.HealthCheck(
                path=health_check_path,
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200-399",
            ),
            deregistration_delay=Duration.seconds(30),
        )

        # -- scaling, alarms -----------------------------------------------------------
        self.scaling = self.service.auto_scale_task_count(
            min_capacity=min_capacity, max_capacity=max_capacity
        )
        self.scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=cpu_target_utilization,
            scale_out_cooldown=Duration.seconds(60),
            scale_in_cooldown=Duration.seconds(300),
        )
        self.scaling.scale_on_request_count(
            "RequestCountScaling",
            requests_per_target=requests_per_target,
            target_group=self.target_group,
            scale_out_cooldown=Duration.seconds(60),
            scale_in_cooldown=Duration.seconds(300),
        )

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self._add_alarms(alarm_topic, thresholds)
        self._gate_deployments()

    def _gate_deployments(self) -> None:
        """ECS deployment alarms: a deployment during which one of them goes to ALARM fails
        and ECS rolls the service back to its last completed deployment."""
        gating: list[cloudwatch.IAlarm] = [
            *self.deployment.alarms,
            *(alarm for alarm in self.alarms if alarm.node.id not in NOT_GATING_ALARMS),
        ]
        self.deployment_alarms: list[cloudwatch.IAlarm] = gating
        if not gating:
            if self.deployment.shifts_gradually:
                raise fail(
                    self.CONSTRUCT,
                    "deployment",
                    f"is {self.deployment.describe()} but no alarm watches it (alarms=False "
                    "and no Deployment alarms): only the circuit breaker could roll it back. "
                    "Keep the alarms on, pass Deployment.canary(alarms=[...]), or use "
                    "Deployment.all_at_once()",
                )
            return
        self.service.enable_deployment_alarms(
            [alarm.alarm_name for alarm in gating],
            behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
        )

    # -- validation ---------------------------------------------------------------------

    def _validate_sizes(self, *, cpu: int, memory_limit_mib: int) -> None:
        name = self.CONSTRUCT
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu not in FARGATE_MEMORY_MIB:
            raise fail(
                name,
                "cpu",
                f"is {cpu!r}; Fargate accepts "
                + ", ".join(str(size) for size in FARGATE_MEMORY_MIB)
                + " CPU units",
            )
        allowed = FARGATE_MEMORY_MIB[cpu]
        if (
            isinstance(memory_limit_mib, bool)
            or not isinstance(memory_limit_mib, int)
            or memory_limit_mib not in allowed
        ):
            if len(allowed) <= 3:
                shown = ", ".join(str(size) for size in allowed)
            else:
                shown = f"{allowed[0]}..{allowed[-1]} in steps of {allowed[1] - allowed[0]}"
            raise fail(
                name,
                "memory_limit_mib",
                f"is {memory_limit_mib!r}; with cpu={cpu} Fargate accepts {shown} MiB",
            )

    def _validate_capacity(
        self, *, desired_count: int | None, min_capacity: int, max_capacity: int
    ) -> None:
        name = self.CONSTRUCT
        require_range(name, "min_capacity", min_capacity, minimum=1, maximum=5000)
        require_range(name, "max_capacity", max_capacity, minimum=1, maximum=5000)
        if min_capacity > max_capacity:
            raise fail(
                name,
                "min_capacity",
                f"is {min_capacity}, above max_capacity ({max_capacity})",
            )
        if desired_count is not None:
            raise fail(name, "desired_count", "is set, " + _DESIRED_COUNT_OWNED_BY_SCALING)

    def _validate_container_overrides(
        self, merged: Mapping[str, object], overrides: Mapping[str, object]
    ) -> None:
        """Hold ``container_props`` to the rules the arguments are held to."""
        name = self.CONSTRUCT
        if "user" in overrides:
            user = merged.get("user")
            if not isinstance(user, str):
                raise fail(name, "container_props", "sets 'user' to no user; root is refused")
            self._validate_user(user)
        if "environment" in overrides or "secrets" in overrides:
            self._validate_environment(
                dict(merged.get("environment") or {}),  # type: ignore[call-overload]
                dict(merged.get("secrets") or {}),  # type: ignore[call-overload]
            )
        if "port_mappings" in overrides:
            mappings = merged.get("port_mappings") or []
            names = [getattr(mapping, "name", None) for mapping in mappings]  # type: ignore[attr-defined]
            if PORT_MAPPING_NAME not in names:
                raise fail(
                    name,
                    "container_props",
                    f"replaces port_mappings without one named {PORT_MAPPING_NAME!r}; Service "
                    "Connect and the load balancer use that mapping",
                )

    def _validate_user(self, user: str) -> None:
        name = self.CONSTRUCT
        require_pattern(name, "user", user, _USER, "'uid', 'uid:gid', 'name' or 'name:group'")
        if user.split(":")[0] in _ROOT_USERS:
            raise fail(name, "user", f"is {user!r}; the container must not run as root (uid 0)")

    def _validate_environment(
        self, environment: Mapping[str, str], secrets: Mapping[str, ecs.Secret]
    ) -> None:
        name = self.CONSTRUCT
        for key, value in environment.items():
            require_pattern(name, "environment", key, _ENVIRONMENT_NAME, "names like 'LOG_LEVEL'")
            if not isinstance(value, str):
                raise fail(
                    name,
                    f"environment[{key!r}]",
                    f"must be a string, got {type(value).__name__}",
                )
        for key, secret in secrets.items():
            require_pattern(name, "secrets", key, _ENVIRONMENT_NAME, "names like 'DB_PASSWORD'")
            if not isinstance(secret, ecs.Secret):
                raise fail(
                    name,
                    f"secrets[{key!r}]",
                    "must be an aws_ecs.Secret (Secret.from_secrets_manager(...) or "
                    f"Secret.from_ssm_parameter(...)), got {type(secret).__name__}",
                )
        both = sorted(set(environment) & set(secrets))
        if both:
            raise fail(
                name,
                "environment",
                f"and 'secrets' both set {', '.join(map(repr, both))}; a variable is either "
                "plain configuration or a secret",
            )

    # -- construction -------------------------------------------------------------------

    def _create_load_balancer(
        self,
        *,
        vpc: ec2.IVpc,
        public: bool,
        deletion_protection: bool,
        access_logs_bucket: s3.IBucket | None,
        access_logs_retention: Duration,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
    ) -> elbv2.ApplicationLoadBalancer:
        security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            description=f"{self.service_name} load balancer: listener port in, tasks out",
            allow_all_outbound=False,
        )
        self.load_balancer_security_group = security_group
        load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=public,
            vpc_subnets=ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PUBLIC if public else ec2.SubnetType.PRIVATE_WITH_EGRESS
            ),
            security_group=security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        if access_logs_bucket is None:
            days = int(access_logs_retention.to_days())
            bucket = access_log_bucket(
                self,
                "AccessLogs",
                removal_policy=removal_policy,
                expiration_days=days,
                noncurrent_version_days=7,
            )
            acknowledge(
                bucket,
                "AwsSolutions::AwsSolutions-S1",
                "This bucket only receives the load balancer's access logs (its policy lets "
                "only ELB log delivery write); server access logs for it would need yet another "
                "log bucket, which would need one in turn.",
            )
            access_logs_bucket = bucket
            emptier = bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if emptier is not None:
                # Deleted before the emptying runs: no log object arrives after it.
                load_balancer.node.add_dependency(emptier)
                # aws-cdk-lib's emptying function, one per stack, logs to a group of its own.
                shared_provider_log_group(
                    self,
                    S3_AUTO_DELETE_PROVIDER,
                    retention=log_retention,
                    removal_policy=removal_policy,
                    construct=self.CONSTRUCT,
                )
        self.access_logs_bucket = access_logs_bucket
        load_balancer.log_access_logs(access_logs_bucket, prefix=self.service_name)
        return load_balancer

    def _admit_listener_traffic(self, *, vpc: ec2.IVpc, public: bool, ports: list[int]) -> None:
        """Open the listener ports on the load balancer's security groups, and nothing else.

        One ingress resource per security group and port, so that a cdk-nag acknowledgement
        can sit on exactly that rule and the security group itself stays checked.
        """
        cidr = "0.0.0.0/0" if public else vpc.vpc_cidr_block
        source = "anywhere (public load balancer)" if public else "the VPC"
        for port in ports:
            redirect = port != self.listener_port
            for index, group in enumerate(self.load_balancer.connections.security_groups):
                base = "RedirectIngress" if redirect else "ListenerIngress"
                ingress = ec2.CfnSecurityGroupIngress(
                    self,
                    f"{base}{index}" if index else base,
                    group_id=group.security_group_id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ip=cidr,
                    description=f"{self.service_name} "
                    + ("HTTP to HTTPS redirect" if redirect else "listener")
                    + f" from {source}",
                )
                self._acknowledge_ingress(ingress, public=public, cidr=cidr, redirect=redirect)

    def _acknowledge_ingress(
        self, ingress: ec2.CfnSecurityGroupIngress, *, public: bool, cidr: str, redirect: bool
    ) -> None:
        if public:
            acknowledge(
                ingress,
                "AwsSolutions::AwsSolutions-EC23",
                "The load balancer is public (public=True): this rule opens "
                + (
                    "port 80 to the internet, whose listener only redirects to HTTPS."
                    if redirect
                    else "its HTTPS listener port, and only that port, to the internet."
                ),
            )
        elif Token.is_unresolved(cidr):
            acknowledge(
                ingress,
                "AwsSolutions::AwsSolutions-EC23",
                "The rule cannot resolve a CIDR given as a CloudFormation reference; this "
                "one is the VPC's own CIDR block (internal load balancer), never 0.0.0.0/0.",
            )

    def _add_alarms(self, alarm_topic: sns.ITopic | None, thresholds: Mapping[str, float]) -> None:
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        minute = Duration.minutes(1)
        five_minutes = Duration.minutes(5)
        service = self.service_name
        server_errors = cloudwatch.MathExpression(
            expression="FILL(elb, 0) + FILL(target, 0)",
            using_metrics={
                "elb": self.load_balancer.metrics.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=five_minutes, statistic="Sum"
                ),
                "target": self.target_group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five_minutes, statistic="Sum"
                ),
            },
            label="5XX answers (load balancer + targets)",
            period=five_minutes,
        )
        errors = thresholds["ServerErrors"]
        latency = thresholds["Latency"]
        cpu = thresholds["Cpu"]
        memory = thresholds["Memory"]
        alarms = [
            server_errors.create_alarm(
                self,
                "ServerErrorsAlarm",
                alarm_description=describe(
                    service,
                    f"the load balancer or the tasks answered 5XX {format_number(errors)} "
                    "time(s) or more in 5 minutes",
                    "check the UnhealthyTargets alarm (a 502/503 from the load balancer means "
                    "no healthy task), then read the service's log group for the errors",
                ),
                threshold=errors,
                evaluation_periods=1,
                comparison_operator=at_least,
                treat_missing_data=not_breaching,
            ),
            # The metric is in seconds; a threshold such as 0.5 s is fine.
            self.target_group.metrics.target_response_time(
                period=minute, statistic="p99"
            ).create_alarm(
                self,
                "LatencyAlarm",
                alarm_description=describe(
                    service,
                    f"p99 target response time above {format_number(latency)} s for 3 of 5 minutes",
                    "check the Cpu and Memory alarms and the running task count (scaling at "
                    "max_capacity?), then what the slow requests wait on (database, cache)",
                ),
                threshold=latency,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=above,
                treat_missing_data=not_breaching,
            ),
            self.target_group.metrics.unhealthy_host_count(
                period=minute, statistic="Maximum"
            ).create_alarm(
                self,
                "UnhealthyTargetsAlarm",
                alarm_description=describe(
                    service,
                    f"{format_number(thresholds['UnhealthyTargets'])} task(s) or more failed "
                    "the load balancer's health check for 3 of 5 minutes",
                    "read the ECS service's events and the stopped tasks' stop reasons, then "
                    "the failing task's logs around its health check",
                ),
                threshold=thresholds["UnhealthyTargets"],
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=at_least,
                treat_missing_data=not_breaching,
            ),
            self.service.metric_cpu_utilization(period=minute, statistic="Average").create_alarm(
                self,
                "CpuAlarm",
                alarm_description=describe(
                    service,
                    f"service CPU above {format_number(cpu)} % for 3 of 5 minutes",
                    "check whether scaling has reached max_capacity; if so raise it or the "
                    "task's cpu, else look for a hot loop in the service's logs",
                ),
                threshold=cpu,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=above,
                treat_missing_data=not_breaching,
            ),
            self.service.metric_memory_utilization(period=minute, statistic="Average").create_alarm(
                self,
                "MemoryAlarm",
                alarm_description=describe(
                    service,
                    f"service memory above {format_number(memory)} % for 3 of 5 minutes; a "
                    "task that reaches its limit is stopped",
                    "look for tasks stopped with OutOfMemoryError in the service's events; "
                    "raise memory_limit_mib or find the leak",
                ),
                threshold=memory,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=above,
                treat_missing_data=not_breaching,
            ),
        ]
        notify(alarms, alarm_topic)
        self.alarms = alarms

    # -- public API ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http(s)://<load balancer DNS name>``, with the port when it is not the scheme's."""
        scheme = "https" if self._https else "http"
        default_port = 443 if self._https else 80
        port = "" if self.listener_port == default_port else f":{self.listener_port}"
        return f"{scheme}://{self.load_balancer.load_balancer_dns_name}{port}"
