"""Cache: an ElastiCache Valkey cache in the VPC, reachable only from granted services.

Creates, in either ``mode``:

- ``security_group``: the cache's own security group, with no inbound rule until
  ``grant_connect`` opens the cache's port(s) to a grantee's security group, and no outbound
  rule (a cache calls nothing);
- ``alarms`` (see the class docstring), sent to ``alarm_topic`` if given.

``mode="serverless"`` (the default) also creates:

- ``serverless_cache``: an ``aws_elasticache.CfnServerlessCache`` (Valkey
  ``DEFAULT_SERVERLESS_MAJOR_VERSION``) in the chosen subnets, TLS-only and encrypted at
  rest by the service (with ``encryption_key`` if given), with optional usage limits and
  daily snapshots.

``mode="node"`` also creates:

- ``subnet_group``: an ``aws_elasticache.CfnSubnetGroup`` over the chosen subnets;
- ``auth_secret``: a Secrets Manager secret holding a generated 64-character AUTH token;
- ``replication_group``: an ``aws_elasticache.CfnReplicationGroup`` (Valkey
  ``DEFAULT_NODE_ENGINE_VERSION``, cluster mode disabled: one shard, a primary and
  ``replicas_per_node_group`` replicas), TLS required, encrypted at rest, AUTH token
  required, automatic failover and Multi-AZ when it has replicas, daily snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Generic, Literal, TypeVar, cast, overload

from aws_cdk import Duration, Names, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    format_number,
    reject_conflicts,
    require_choice,
    require_pattern,
    require_range,
)
from cdk_microservices.compliance import acknowledge

CacheMode = Literal["serverless", "node"]
AuthT = TypeVar("AuthT", bound=secretsmanager.Secret | None, covariant=True)
"""``secretsmanager.Secret`` for a node-based cache (its AUTH token), None for a serverless
one: the type checker knows which from ``mode``."""

DEFAULT_SERVERLESS_MAJOR_VERSION = "8"
"""Valkey major version of a serverless cache (ElastiCache picks and patches the minor)."""

DEFAULT_NODE_ENGINE_VERSION = "8.2"
"""Valkey version of a node-based cache: the newest 8.x that cfn-lint 1.58 knows."""

DEFAULT_NODE_TYPE = "cache.t4g.micro"
VALKEY_PORT = 6379
"""The port of a serverless cache's endpoint (fixed by the service) and, by default, of a
node-based one; a serverless cache's reader endpoint listens on the next port, 6380."""

_MODES = ("serverless", "node")
_NODE_TYPE = r"cache\.[a-z0-9]+\.[a-z0-9]+"
_CACHE_NAME = r"(?!.*--)[a-z][a-z0-9-]{0,38}[a-z0-9]|[a-z]"
_MAJOR_VERSION = r"[0-9]+"
_NODE_VERSION = r"[0-9]+\.[0-9]+"
_GB = 10**9


class Cache(Construct, Generic[AuthT]):
    """A Valkey cache (ElastiCache) in a VPC, reachable only from granted services.

    ``mode`` chooses the kind of cache:

    - ``"serverless"`` (default): no capacity to plan or resize, it scales with the load
      and costs little when idle, and it is always TLS-only and encrypted at rest. Clients
      connect with TLS and no password (ElastiCache serverless without a user group admits
      the default user): the security group is the access control;
    - ``"node"``: a replication group of fixed-size nodes, for predictable load, engine
      settings (parameter groups) or a port other than 6379. Clients connect with TLS and
      the AUTH token from ``auth_secret``. AUTH token rather than an RBAC user group: one
      secret to read, no user or user group resources to manage, and what
      AwsSolutions-AEC6 checks.

    Defaults (each can be changed by its argument):

    - the VPC's isolated subnets (``subnets``; at least two availability zones) and a
      security group of its own that admits nobody until ``grant_connect`` is called;
    - encryption at rest with an AWS owned key, or ``encryption_key`` (which then also
      encrypts ``auth_secret``); TLS required in transit;
    - daily snapshots kept ``snapshot_retention_days=1`` (0-35; 0 takes none);
    - ``removal_policy=DESTROY``: a cache holds data that can be rebuilt; ``RETAIN`` keeps
      it, and in node mode ``SNAPSHOT`` takes a final snapshot. ``auth_secret`` is kept
      unless the cache is destroyed;
    - serverless: Valkey ``DEFAULT_SERVERLESS_MAJOR_VERSION`` (``engine_version``, a major
      version), no usage limits; ``max_data_storage_gb`` (1-5000) and
      ``max_ecpu_per_second`` (1000-15,000,000) cap what it scales to, and cost;
      ``cache_name`` defaults to a name derived from the construct path;
    - node: Valkey ``DEFAULT_NODE_ENGINE_VERSION`` (``engine_version``, ``major.minor``),
      ``cache_node_type="cache.t4g.micro"``, one shard with ``replicas_per_node_group=1``
      replica (0-5), automatic failover and ``multi_az`` on when there is a replica
      (``replicas_per_node_group=0`` needs ``multi_az=False``, and makes cdk-nag report
      AwsSolutions-AEC4: acknowledge it in the stack that decides so), port 6379
      (``port``), minor version upgrades applied automatically;
    - alarms (``alarms=False`` turns them off), each after 3 consecutive 5-minute periods,
      sent (ALARM and OK) to ``alarm_topic`` if given; thresholds changed by name with
      ``alarm_thresholds`` (a name of the other mode is rejected; percentages at most 100).
      Serverless (``SERVERLESS_ALARM_THRESHOLDS``): ``"Throttled"``, ``ThrottledCmds`` at
      least 1 in every period (the cache scales slower than the load, or hit its ECPU
      limit), and for the limits given, ``"DataStorage"``, ``BytesUsedForCache`` at 80 %
      of ``max_data_storage_gb`` (1 GB = 10^9 bytes), ``"Ecpu"``, ECPUs consumed at 80 %
      of ``max_ecpu_per_second``. Node, per node (``NODE_ALARM_THRESHOLDS``): ``"Cpu"``
      (``CPUUtilization``) and ``"EngineCpu"`` (``EngineCPUUtilization``) above 80 %,
      ``"Memory"`` (``DatabaseMemoryUsagePercentage``) above 80 %, and ``"Evictions"``, at
      least 1 in every period (the data no longer fits).
    """

    CONSTRUCT = "Cache"
    SERVERLESS_ALARM_THRESHOLDS: Mapping[str, float] = {
        "Throttled": 1,
        "DataStorage": 80,
        "Ecpu": 80,
    }
    """A serverless cache's alarm names and default thresholds (see the class docstring)."""
    NODE_ALARM_THRESHOLDS: Mapping[str, float] = {
        "Cpu": 80,
        "EngineCpu": 80,
        "Memory": 80,
        "Evictions": 1,
    }
    """A node-based cache's alarm names and default thresholds (see the class docstring)."""

    mode: CacheMode
    security_group: ec2.SecurityGroup
    serverless_cache: elasticache.CfnServerlessCache | None
    """The serverless cache (mode ``"serverless"``), else None."""
    replication_group: elasticache.CfnReplicationGroup | None
    """The replication group (mode ``"node"``), else None."""
    subnet_group: elasticache.CfnSubnetGroup | None
    auth_secret: AuthT
    """The AUTH token clients send: a ``secretsmanager.Secret`` in mode ``"node"`` (typed so
    for ``Cache(..., mode="node")``), None in mode ``"serverless"``."""
    alarms: list[cloudwatch.Alarm]

    @overload
    def __init__(
        self: Cache[None],
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        mode: Literal["serverless"] = "serverless",
        subnets: ec2.SubnetSelection | None = None,
        engine_version: str | None = None,
        encryption_key: kms.IKey | None = None,
        snapshot_retention_days: int = 1,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        cache_name: str | None = None,
        max_data_storage_gb: int | None = None,
        max_ecpu_per_second: int | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Cache[secretsmanager.Secret],
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        mode: Literal["node"],
        subnets: ec2.SubnetSelection | None = None,
        engine_version: str | None = None,
        encryption_key: kms.IKey | None = None,
        snapshot_retention_days: int = 1,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        cache_node_type: str | None = None,
        replicas_per_node_group: int | None = None,
        multi_az: bool | None = None,
        port: int | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Cache[secretsmanager.Secret | None],
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        mode: CacheMode,
        subnets: ec2.SubnetSelection | None = None,
        engine_version: str | None = None,
        encryption_key: kms.IKey | None = None,
        snapshot_retention_days: int = 1,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        cache_name: str | None = None,
        max_data_storage_gb: int | None = None,
        max_ecpu_per_second: int | None = None,
        cache_node_type: str | None = None,
        replicas_per_node_group: int | None = None,
        multi_az: bool | None = None,
        port: int | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
    ) -> None: ...

    @checked_arguments("Cache")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        mode: CacheMode = "serverless",
        subnets: ec2.SubnetSelection | None = None,
        engine_version: str | None = None,
        encryption_key: kms.IKey | None = None,
        snapshot_retention_days: int = 1,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        cache_name: str | None = None,
        max_data_storage_gb: int | None = None,
        max_ecpu_per_second: int | None = None,
        cache_node_type: str | None = None,
        replicas_per_node_group: int | None = None,
        multi_az: bool | None = None,
        port: int | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_choice(name, "mode", mode, _MODES)
        node_arguments = {
            "cache_node_type": cache_node_type,
            "replicas_per_node_group": replicas_per_node_group,
            "multi_az": multi_az,
            "port": port,
        }
        serverless_arguments = {
            "cache_name": cache_name,
            "max_data_storage_gb": max_data_storage_gb,
            "max_ecpu_per_second": max_ecpu_per_second,
        }
        _reject_other_mode(mode, node_arguments if mode == "serverless" else serverless_arguments)
        if not isinstance(vpc, ec2.Vpc) and not hasattr(vpc, "select_subnets"):
            raise fail(name, "vpc", f"must be an aws_ec2.IVpc, got {type(vpc).__name__}")
        _require_int(name, "snapshot_retention_days", snapshot_retention_days, 0, 35)
        if not isinstance(removal_policy, RemovalPolicy):
            raise fail(name, "removal_policy", "must be an aws_cdk.RemovalPolicy")
        if removal_policy == RemovalPolicy.SNAPSHOT and mode == "serverless":
            raise fail(
                name,
                "removal_policy",
                "is SNAPSHOT; CloudFormation takes final snapshots of node-based caches only "
                "(mode='node'); use DESTROY or RETAIN",
            )
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        defaults = (
            self.SERVERLESS_ALARM_THRESHOLDS if mode == "serverless" else self.NODE_ALARM_THRESHOLDS
        )
        self._thresholds = resolve_thresholds(
            name,
            defaults,
            alarm_thresholds,
            maximums=dict.fromkeys(("DataStorage", "Ecpu", "Cpu", "EngineCpu", "Memory"), 100),
        )
        subnets = subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        if subnets.subnet_type == ec2.SubnetType.PRIVATE_ISOLATED and not vpc.isolated_subnets:
            raise fail(
                name,
                "subnets",
                "selects PRIVATE_ISOLATED subnets, and the VPC has none; pass a selection of "
                "subnets it has",
            )
        selected = vpc.select_subnets(
            availability_zones=subnets.availability_zones,
            one_per_az=subnets.one_per_az,
            subnet_filters=subnets.subnet_filters,
            subnet_group_name=subnets.subnet_group_name,
            subnets=subnets.subnets,
            subnet_type=subnets.subnet_type,
        )
        zones = len(set(selected.availability_zones))
        if zones < 2:
            raise fail(
                name,
                "subnets",
                f"selects subnets in {zones} availability zone(s); at least 2 are needed",
            )

        self.mode = mode
        self.serverless_cache = None
        self.replication_group = None
        self.subnet_group = None
        self.auth_secret = cast(AuthT, None)
        self.alarms = []
        self._with_alarms = alarms
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Cache {self.node.path}: only granted services may connect",
            allow_all_outbound=False,
        )
        if mode == "serverless":
            self._create_serverless(
                subnet_ids=selected.subnet_ids,
                engine_version=engine_version or DEFAULT_SERVERLESS_MAJOR_VERSION,
                encryption_key=encryption_key,
                snapshot_retention_days=snapshot_retention_days,
                removal_policy=removal_policy,
                cache_name=cache_name,
                max_data_storage_gb=max_data_storage_gb,
                max_ecpu_per_second=max_ecpu_per_second,
            )
        else:
            self._create_replication_group(
                subnet_ids=selected.subnet_ids,
                engine_version=engine_version or DEFAULT_NODE_ENGINE_VERSION,
                encryption_key=encryption_key,
                snapshot_retention_days=snapshot_retention_days,
                removal_policy=removal_policy,
                cache_node_type=cache_node_type or DEFAULT_NODE_TYPE,
                replicas=1 if replicas_per_node_group is None else replicas_per_node_group,
                multi_az=multi_az,
                port=VALKEY_PORT if port is None else port,
            )
        notify(self.alarms, alarm_topic)

    # -- attributes ---------------------------------------------------------------------

    @property
    def endpoint_address(self) -> str:
        """The primary endpoint's hostname (a token until deploy)."""
        if self.serverless_cache is not None:
            return self.serverless_cache.attr_endpoint_address
        assert self.replication_group is not None
        return self.replication_group.attr_primary_end_point_address

    @property
    def reader_endpoint_address(self) -> str:
        """The reader endpoint's hostname (port ``reader_port``; a token until deploy)."""
        if self.serverless_cache is not None:
            return self.serverless_cache.attr_reader_endpoint_address
        assert self.replication_group is not None
        return self.replication_group.attr_reader_end_point_address

    @property
    def port(self) -> int:
        """The primary endpoint's port."""
        if self.replication_group is not None:
            return int(self.replication_group.port or VALKEY_PORT)
        return VALKEY_PORT

    @property
    def reader_port(self) -> int:
        """The reader endpoint's port: 6380 for a serverless cache, ``port`` otherwise."""
        return VALKEY_PORT + 1 if self.serverless_cache is not None else self.port

    # -- grants ---------------------------------------------------------------------------

    def grant_connect(self, connectable: ec2.IConnectable) -> None:
        """Open the cache's port(s) to ``connectable``'s security groups, and nothing else.

        Serverless: 6379 and 6380 (the reader endpoint), in one rule; node: ``port``.
        Node mode clients also need the AUTH token: grant it with
        ``cache.auth_secret.grant_read(role)``.
        """
        if not hasattr(connectable, "connections"):
            raise fail(
                self.CONSTRUCT,
                "connectable",
                f"must be an aws_ec2.IConnectable (with .connections), got "
                f"{type(connectable).__name__}",
            )
        ports = (
            ec2.Port.tcp_range(self.port, self.reader_port)
            if self.reader_port != self.port
            else ec2.Port.tcp(self.port)
        )
        self.security_group.connections.allow_from(
            connectable, ports, f"Clients of {self.node.path}"
        )

    # -- internals ------------------------------------------------------------------------

    def _create_serverless(
        self,
        *,
        subnet_ids: list[str],
        engine_version: str,
        encryption_key: kms.IKey | None,
        snapshot_retention_days: int,
        removal_policy: RemovalPolicy,
        cache_name: str | None,
        max_data_storage_gb: int | None,
        max_ecpu_per_second: int | None,
    ) -> None:
        name = self.CONSTRUCT
        require_pattern(
            name, "engine_version", engine_version, _MAJOR_VERSION, "a major version, e.g. '8'"
        )
        if cache_name is None:
            cache_name = _derived_cache_name(self)
        require_pattern(
            name,
            "cache_name",
            cache_name,
            _CACHE_NAME,
            "1-40 lowercase letters, digits and single '-', starting with a letter and not "
            "ending with '-'",
        )
        limits: elasticache.CfnServerlessCache.CacheUsageLimitsProperty | None = None
        if max_data_storage_gb is not None:
            _require_int(name, "max_data_storage_gb", max_data_storage_gb, 1, 5000)
        if max_ecpu_per_second is not None:
            _require_int(name, "max_ecpu_per_second", max_ecpu_per_second, 1000, 15_000_000)
        if max_data_storage_gb is not None or max_ecpu_per_second is not None:
            limits = elasticache.CfnServerlessCache.CacheUsageLimitsProperty(
                data_storage=(
                    elasticache.CfnServerlessCache.DataStorageProperty(
                        unit="GB", maximum=max_data_storage_gb
                    )
                    if max_data_storage_gb is not None
                    else None
                ),
                ecpu_per_second=(
                    elasticache.CfnServerlessCache.ECPUPerSecondProperty(
                        maximum=max_ecpu_per_second
                    )
                    if max_ecpu_per_second is not None
                    else None
                ),
            )
        cache = elasticache.CfnServerlessCache(
            self,
            "ServerlessCache",
            engine="valkey",
            serverless_cache_name=cache_name,
            major_engine_version=engine_version,
            description=f"Valkey cache {self.node.path}",
            security_group_ids=[self.security_group.security_group_id],
            subnet_ids=subnet_ids,
            cache_usage_limits=limits,
            kms_key_id=encryption_key.key_arn if encryption_key is not None else None,
            snapshot_retention_limit=snapshot_retention_days or None,
        )
        cache.apply_removal_policy(removal_policy)
        self.serverless_cache = cache

        def metric(metric_name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ElastiCache",
                metric_name=metric_name,
                # Serverless caches publish their metrics under the dimension clusterId.
                dimensions_map={"clusterId": cache_name},
                statistic=statistic,
                period=Duration.minutes(5),
            )

        if not self._with_alarms:
            return
        service = self.node.path
        thresholds = self._thresholds
        # Throttled commands fail, and every caller falls back to the database: the cache is
        # scaling slower than the load grows (or has hit its ECPU limit).
        self.alarms.append(
            self._alarm(
                "ThrottledAlarm",
                metric("ThrottledCmds", "Sum"),
                thresholds["Throttled"],
                describe(
                    service,
                    f"{format_number(thresholds['Throttled'])} command(s) or more throttled in "
                    "each of 3 five-minute periods: the cache cannot keep up and callers fall "
                    "back to the database",
                    "compare ElastiCacheProcessingUnits with max_ecpu_per_second (raise the "
                    "limit if it is reached), else look for a hot key or a burst in the "
                    "callers' traffic",
                ),
            )
        )
        if max_data_storage_gb is not None:
            share = thresholds["DataStorage"]
            self.alarms.append(
                self._alarm(
                    "DataStorageAlarm",
                    metric("BytesUsedForCache", "Maximum"),
                    share / 100 * max_data_storage_gb * _GB,
                    describe(
                        service,
                        f"data stored at {format_number(share)} % of the "
                        f"{max_data_storage_gb} GB limit for 15 minutes; at the limit the "
                        "cache evicts keys",
                        "check that keys get a TTL (the idempotency keys and balance entries "
                        "should expire), then raise max_data_storage_gb if the data is needed",
                    ),
                )
            )
        if max_ecpu_per_second is not None:
            share = thresholds["Ecpu"]
            self.alarms.append(
                self._alarm(
                    "EcpuAlarm",
                    metric("ElastiCacheProcessingUnits", "Sum"),
                    share / 100 * max_ecpu_per_second * 300,
                    describe(
                        service,
                        f"ECPUs consumed at {format_number(share)} % of the "
                        f"{max_ecpu_per_second} ECPU/s limit for 15 minutes; at the limit "
                        "commands are throttled",
                        "look for expensive commands or a traffic burst (the service's request "
                        "rate), then raise max_ecpu_per_second if the load is legitimate",
                    ),
                )
            )

    def _create_replication_group(
        self,
        *,
        subnet_ids: list[str],
        engine_version: str,
        encryption_key: kms.IKey | None,
        snapshot_retention_days: int,
        removal_policy: RemovalPolicy,
        cache_node_type: str,
        replicas: int,
        multi_az: bool | None,
        port: int,
    ) -> None:
        name = self.CONSTRUCT
        require_pattern(
            name, "engine_version", engine_version, _NODE_VERSION, "'major.minor', e.g. '8.2'"
        )
        require_pattern(
            name,
            "cache_node_type",
            cache_node_type,
            _NODE_TYPE,
            "a node type like 'cache.t4g.micro'",
        )
        _require_int(name, "replicas_per_node_group", replicas, 0, 5)
        _require_int(name, "port", port, 1024, 65535)
        multi_az = replicas > 0 if multi_az is None else multi_az
        if multi_az and replicas == 0:
            raise fail(
                name,
                "multi_az",
                "is True with replicas_per_node_group=0; Multi-AZ fails over to a replica in "
                "another zone, so it needs at least one (or pass multi_az=False)",
            )

        self.subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description=f"Subnets of the Valkey cache {self.node.path}",
            subnet_ids=subnet_ids,
        )
        auth_secret = secretsmanager.Secret(
            self,
            "AuthToken",
            description=f"AUTH token of the Valkey cache {self.node.path}",
            encryption_key=encryption_key,
            # 16-128 printable characters without @ " / (ElastiCache's rule): letters and
            # digits only, 64 of them.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, include_space=False, password_length=64
            ),
            removal_policy=(
                RemovalPolicy.DESTROY
                if removal_policy == RemovalPolicy.DESTROY
                else RemovalPolicy.RETAIN
            ),
        )
        self.auth_secret = cast(AuthT, auth_secret)
        acknowledge(
            auth_secret,
            "AwsSolutions::AwsSolutions-SMG4",
            "Secrets Manager has no rotation function for ElastiCache AUTH tokens; rotating "
            "one is a two-step ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE, then "
            "SET once every client uses the new token) that must be coordinated with the "
            "clients. The token is 64 random characters, sent only over TLS, and the cache "
            "is reachable only from granted security groups.",
        )
        group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description=f"Valkey cache {self.node.path}",
            engine="valkey",
            engine_version=engine_version,
            cache_node_type=cache_node_type,
            num_node_groups=1,
            replicas_per_node_group=replicas,
            automatic_failover_enabled=replicas > 0,
            multi_az_enabled=multi_az,
            cache_subnet_group_name=self.subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            port=port,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=encryption_key.key_arn if encryption_key is not None else None,
            auth_token=auth_secret.secret_value.unsafe_unwrap(),
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=snapshot_retention_days,
        )
        group.apply_removal_policy(removal_policy)
        self.replication_group = group

        for number in range(1, replicas + 2 if self._with_alarms else 1):
            member = f"{group.ref}-{number:03d}"

            def metric(metric_name: str, statistic: str, member: str = member) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace="AWS/ElastiCache",
                    metric_name=metric_name,
                    dimensions_map={"CacheClusterId": member},
                    statistic=statistic,
                    period=Duration.minutes(5),
                )

            node = f"Node{number}"
            service = f"{self.node.path} node {number}"
            thresholds = self._thresholds
            cpu, engine, memory = (thresholds[key] for key in ("Cpu", "EngineCpu", "Memory"))
            self.alarms += [
                self._alarm(
                    f"{node}CpuAlarm",
                    metric("CPUUtilization", "Average"),
                    cpu,
                    describe(
                        service,
                        f"host CPU above {format_number(cpu)} % for 15 minutes",
                        "compare with EngineCPUUtilization: if the engine is not the cause, "
                        "look at connections and TLS handshakes; else see the EngineCpu alarm",
                    ),
                    above=True,
                ),
                self._alarm(
                    f"{node}EngineCpuAlarm",
                    metric("EngineCPUUtilization", "Average"),
                    engine,
                    describe(
                        service,
                        f"Valkey engine CPU above {format_number(engine)} % for 15 minutes",
                        "find slow or O(N) commands with SLOWLOG GET, and hot keys; then move "
                        "reads to the replica or choose a larger cache_node_type",
                    ),
                    above=True,
                ),
                self._alarm(
                    f"{node}MemoryAlarm",
                    metric("DatabaseMemoryUsagePercentage", "Average"),
                    memory,
                    describe(
                        service,
                        f"memory used by data above {format_number(memory)} % for 15 minutes; "
                        "at 100 % keys are evicted",
                        "check that keys get a TTL (INFO keyspace: keys vs expires), then "
                        "choose a larger cache_node_type if the data is needed",
                    ),
                    above=True,
                ),
                self._alarm(
                    f"{node}EvictionsAlarm",
                    metric("Evictions", "Sum"),
                    thresholds["Evictions"],
                    describe(
                        service,
                        f"{format_number(thresholds['Evictions'])} key(s) or more evicted in "
                        "each of 3 five-minute periods: the data no longer fits",
                        "check that keys get a TTL (INFO keyspace: keys vs expires), then "
                        "choose a larger cache_node_type",
                    ),
                ),
            ]

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.Metric,
        threshold: float,
        description: str,
        *,
        above: bool = False,
    ) -> cloudwatch.Alarm:
        return metric.create_alarm(
            self,
            id_,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison_operator=(
                cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                if above
                else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


def _reject_other_mode(mode: str, given: Mapping[str, object]) -> None:
    """Reject arguments that only configure the other mode's cache."""
    wrong = sorted(argument for argument, value in given.items() if value is not None)
    if wrong:
        other = "node" if mode == "serverless" else "serverless"
        raise fail(
            Cache.CONSTRUCT,
            "mode",
            f"is {mode!r}, but "
            + ", ".join(repr(argument) for argument in wrong)
            + f" only appl{'ies' if len(wrong) == 1 else 'y'} to mode={other!r}",
        )


def _require_int(construct: str, argument: str, value: int, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(construct, argument, f"must be a whole number, got {value!r}")
    require_range(construct, argument, value, minimum=minimum, maximum=maximum)


def _derived_cache_name(scope: Construct) -> str:
    """A serverless cache name from the construct path: lowercase, at most 40 characters."""
    raw = Names.unique_resource_name(scope, max_length=40, separator="-").lower()
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")
    if not cleaned[:1].isalpha():
        cleaned = f"c-{cleaned}"[:40].rstrip("-")
    return cleaned
