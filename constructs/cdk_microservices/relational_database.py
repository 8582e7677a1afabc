"""RelationalDatabase: the Aurora PostgreSQL Serverless v2 database that one service owns.

Creates (unless an existing cluster is passed in):

- ``security_group``: the database's own security group, with no inbound rule except the
  one for the rotation function; ``grant_connect`` opens the database port to a grantee's
  security group, one rule per grantee. It has no outbound rule (a database calls nothing);
- ``cluster``: an ``aws_rds.DatabaseCluster`` (Aurora PostgreSQL ``engine_version``, default
  ``DEFAULT_ENGINE_VERSION``) with one Serverless v2 writer and ``readers`` Serverless v2
  readers that scale with the writer, in the VPC's isolated subnets (its DB subnet group
  is created with it), storage encrypted with KMS, automated backups, deletion protection,
  Performance Insights, optional Enhanced Monitoring (its monitoring role), and its
  ``log_exports`` sent to CloudWatch Logs;
- ``secret``: the master user's credentials, generated in Secrets Manager and attached to
  the cluster (host, port, engine, database name and user are in the secret); kept when
  the cluster is (unless the removal policy is DESTROY), to log in to what a snapshot
  restores;
- a rotation schedule for ``secret``, rotated by a Secrets Manager *hosted* rotation
  function (PostgreSQL single user, named ``rotation_function_name``) that runs in the
  VPC's private subnets, with its own ``rotation_security_group`` allowed to reach the
  database port and, outbound, only HTTPS (the Secrets Manager API) and the database;
- a CDK ``LogRetention`` custom resource per log group that AWS creates by name on its
  first write: each exported log's (``/aws/rds/cluster/<id>/<log>``) and the rotation
  function's (``/aws/lambda/<rotation_function_name>``). Each creates its group (or accepts
  the one the service made first), gives it the retention ``log_retention``, and with
  ``removal_policy=DESTROY`` deletes it with the stack. They run on the stack's single
  shared LogRetention function, which logs to a log group of its own with the same
  settings (made by the first database of the stack);
- ``alarms``: per DB instance, CPU, capacity near the maximum, low freeable memory and
  many connections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast, overload

from aws_cdk import ArnFormat, CfnResource, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct, DependencyGroup, IConstruct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._function_logs import LOG_RETENTION_PROVIDER, shared_provider_log_group
from cdk_microservices._validation import (
    DESTROY_WITH_DELETION_PROTECTION,
    checked_arguments,
    deletion_protection_for,
    fail,
    format_number,
    merge_props,
    reject_conflicts,
    require_duration,
    require_pattern,
    require_range,
)
from cdk_microservices.compliance import acknowledge, nag_finding

DEFAULT_ENGINE_VERSION = rds.AuroraPostgresEngineVersion.of(
    "18.4", "18", s3_import=True, s3_export=True
)
"""Aurora PostgreSQL 18.4: the newest version that both aws-cdk-lib 2.275's built-in
template validation (which does not know 18.6 yet) and cfn-lint 1.58 accept as current.

Built with ``of`` rather than ``AuroraPostgresEngineVersion.VER_18_4``, which older releases
of aws-cdk-lib than the library supports do not have; the arguments are the ones that
constant is defined with in aws-cdk-lib 2.275, so the templates are the same."""

ClusterT = TypeVar("ClusterT", bound=rds.IDatabaseCluster, covariant=True)
"""``rds.DatabaseCluster`` when the construct creates the cluster, ``rds.IDatabaseCluster``
for an ``existing_cluster``: the type checker knows which from the arguments."""

DEFAULT_PORT = 5433
"""Not PostgreSQL's default 5432 (cdk-nag AwsSolutions-RDS11): clients read the port from
the secret or from ``RelationalDatabase.port``, so changing it costs nothing."""

MASTER_USERNAME = "postgres"
DAY_SECONDS = 86400
GIB = 1024**3
# Aurora PostgreSQL's default max_connections: LEAST(DBInstanceClassMemory / 9531392, 5000),
# with about 2 GiB of memory per ACU at the maximum capacity.
_MAX_CONNECTIONS_BYTES_PER_CONNECTION = 9531392
_MAX_CONNECTIONS_CAP = 5000
# Aurora Serverless v2 caps max_connections at 2,000 when the minimum capacity is 0 or
# 0.5 ACU (Aurora User Guide, "Maximum connections for Aurora Serverless v2").
_MAX_CONNECTIONS_CAP_AT_LOW_MINIMUM = 2000
_LOW_MINIMUM_ACU = 0.5
_ENHANCED_MONITORING_SECONDS = (1, 5, 10, 15, 30, 60)
_DATABASE_NAME = r"[a-z][a-z0-9_]{0,62}"
_DB_USER = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
# Cluster settings that an argument of this construct owns.
_CLUSTER_KEYS_OWNED = {
    "cloudwatch_logs_retention": "log_retention",
    "cloudwatch_logs_retention_role": "log_retention",
}


class RelationalDatabase(Construct, Generic[ClusterT]):
    """An Aurora PostgreSQL Serverless v2 cluster owned by exactly one service.

    Defaults (each can be changed by its argument):

    - engine ``DEFAULT_ENGINE_VERSION`` (Aurora PostgreSQL 18.4), database ``database_name``
      (required), master user ``postgres``;
    - capacity ``min_capacity=0.5`` to ``max_capacity=4`` ACU per instance (1 ACU is about
      2 GiB of memory); ``min_capacity=0`` lets idle instances pause (scale to zero);
    - one writer and ``readers=0`` readers; readers scale with the writer, so each can take
      over from it at the same capacity;
    - port ``DEFAULT_PORT`` (5433), not PostgreSQL's well-known 5432 (AwsSolutions-RDS11);
    - the VPC's isolated subnets (``subnets``; at least two availability zones) and a
      security group of its own that admits nobody but the rotation function until
      ``grant_connect`` is called;
    - storage encrypted with the AWS managed key ``aws/rds``, or ``encryption_key``, which
      then also encrypts the secret and Performance Insights data;
    - password authentication as the master user ``postgres``, whose generated secret
      ``grant_connect`` lets a grantee read, and which is kept when the cluster is deleted
      unless ``removal_policy=DESTROY``; ``iam_authentication=True`` turns on IAM database
      authentication as well (``grant_connect(..., iam_user=...)``);
    - the secret rotated every ``rotation_interval`` (30 days) by a Secrets Manager hosted
      rotation function (PostgreSQL single user) in ``rotation_subnets`` (the VPC's private
      subnets with egress: it calls the Secrets Manager API). Hosted rather than
      ``add_rotation_single_user()``: the function is created and kept up to date by
      Secrets Manager, with no Serverless Application Repository application to pin;
    - automated backups kept ``backup_retention`` (7 days; 1-35 days);
    - ``removal_policy=SNAPSHOT`` (a final snapshot is kept when the cluster is deleted)
      and deletion protection on; ``deletion_protection`` follows the removal policy when
      unset (off for ``DESTROY``, which it contradicts: both together are rejected).
      Deletion protection off makes cdk-nag report AwsSolutions-RDS10: acknowledge it in
      the stack that decides so (e.g. dev);
    - ``log_exports=["postgresql"]`` exported to CloudWatch Logs, kept ``log_retention``
      (one month), like the rotation function's logs and the LogRetention function's own;
      the log groups are deleted with the stack when ``removal_policy`` is ``DESTROY`` and
      kept otherwise. RDS writes exported logs to ``/aws/rds/cluster/<cluster id>/<log>``
      and creates that group, with no retention, if it is missing. The group is not declared
      as an ``AWS::Logs::LogGroup``: it would have to exist before the cluster first
      writes, which needs the cluster identifier before the cluster, so a fixed
      ``cluster_identifier`` (for an existing cluster a replacement, and afterwards no
      replacement is possible at all); a group created after the cluster may collide with
      the one RDS created meanwhile, and with the group of a cluster deployed by an
      earlier version of this construct. A ``LogRetention`` accepts a group that exists, is
      created before the instances (which wait for it) and removed after them;
    - Performance Insights on, with the free retention (7 days); Enhanced Monitoring off
      (``monitoring_interval`` of 1, 5, 10, 15, 30 or 60 seconds turns it on);
    - alarms per DB instance, sent (ALARM and OK) to ``alarm_topic`` if given
      (``alarms=False`` turns them off), each after 3 consecutive 5-minute periods, named
      (thresholds changed by name with ``alarm_thresholds``, all in percent, at most 100;
      defaults in ``ALARM_THRESHOLDS``): ``"Cpu"``, average CPU above 80 %;
      ``"Capacity"``, average ``ServerlessDatabaseCapacity`` at 90 % of ``max_capacity`` or
      more (the instance is about to hit its ceiling); ``"FreeableMemory"``, minimum
      ``FreeableMemory`` below 10 % of the memory at ``max_capacity`` (for Serverless v2
      this metric counts the room left up to the maximum capacity, so it only gets low at
      the ceiling); ``"Connections"``, maximum ``DatabaseConnections`` above 80 % of Aurora
      PostgreSQL's default ``max_connections`` at ``max_capacity`` (``LEAST(memory /
      9531392, 5000)``, and at most 2,000 when ``min_capacity`` is 0 or 0.5 ACU, as Aurora
      Serverless v2 caps it then). Missing data (a paused instance) is not breaching. An
      ``existing_cluster`` gets no alarms (its owner alarms it; ``alarms``,
      ``alarm_topic`` and ``alarm_thresholds`` are rejected with it).

    The hosted rotation function gets a name of its own (stack name, path and a hash, at
    most 64 characters): its log group can only be made for a name known at synth.

    Escape hatches: ``existing_cluster`` uses a cluster created elsewhere (then no other
    cluster argument may be given; ``grant_connect`` works through its connections and
    the ``existing_secret``, or the cluster's own secret when it has one; without either it
    is rejected), and ``cluster_props`` merges into the keyword arguments of
    ``aws_rds.DatabaseCluster`` (see ``merge_props``), except ``cloudwatch_logs_retention``
    and its role, which ``log_retention`` owns.
    """

    CONSTRUCT = "RelationalDatabase"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        "Cpu": 80,
        "Capacity": 90,
        "FreeableMemory": 10,
        "Connections": 80,
    }
    """Each alarm's name and default threshold, all percentages (see the class docstring)."""

    cluster: ClusterT
    """The cluster: an ``rds.DatabaseCluster`` created here, or the ``existing_cluster``
    passed in, typed as what it is (``RelationalDatabase[rds.IDatabaseCluster]``)."""

    secret: secretsmanager.ISecret
    """The master user's secret: generated here, or the ``existing_secret`` (or the existing
    cluster's own secret). ``grant_connect`` lets grantees read it."""

    security_group: ec2.ISecurityGroup | None
    """The database's security group (None for an existing cluster)."""

    rotation_security_group: ec2.ISecurityGroup | None
    """The rotation function's security group (None for an existing cluster)."""

    alarms: list[cloudwatch.Alarm]
    """The alarms created (empty with ``alarms=False`` or an existing cluster)."""

    rotation_function_name: str | None
    """The name of the hosted rotation function (None for an existing cluster), whose logs
    go to ``/aws/lambda/<rotation_function_name>``."""

    log_retention_role: iam.Role | None
    """The role of the stack's LogRetention function when this construct created the
    function (the first database of the stack), else None."""

    instances: DependencyGroup
    """The cluster's DB instances (writer and readers; empty for an existing cluster).
    CloudFormation reports the cluster created minutes before its writer accepts
    connections: whatever cannot start without the database must depend on this
    (``grant_connect`` does it for an ECS service; the rotation schedule waits too)."""

    @overload
    def __init__(
        self: RelationalDatabase[rds.DatabaseCluster],
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        database_name: str | None = None,
        engine_version: rds.AuroraPostgresEngineVersion | None = None,
        min_capacity: float | None = None,
        max_capacity: float | None = None,
        readers: int | None = None,
        port: int | None = None,
        subnets: ec2.SubnetSelection | None = None,
        encryption_key: kms.IKey | None = None,
        iam_authentication: bool | None = None,
        rotation_interval: Duration | None = None,
        rotation_subnets: ec2.SubnetSelection | None = None,
        backup_retention: Duration | None = None,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | None = None,
        log_exports: Sequence[str] | None = None,
        log_retention: logs.RetentionDays | None = None,
        monitoring_interval: Duration | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_cluster: None = None,
        existing_secret: None = None,
        cluster_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: RelationalDatabase[rds.IDatabaseCluster],
        scope: Construct,
        id: str,
        *,
        existing_cluster: rds.IDatabaseCluster,
        existing_secret: secretsmanager.ISecret | None = None,
    ) -> None: ...

    @checked_arguments("RelationalDatabase")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc | None = None,
        database_name: str | None = None,
        engine_version: rds.AuroraPostgresEngineVersion | None = None,
        min_capacity: float | None = None,
        max_capacity: float | None = None,
        readers: int | None = None,
        port: int | None = None,
        subnets: ec2.SubnetSelection | None = None,
        encryption_key: kms.IKey | None = None,
        iam_authentication: bool | None = None,
        rotation_interval: Duration | None = None,
        rotation_subnets: ec2.SubnetSelection | None = None,
        backup_retention: Duration | None = None,
        deletion_protection: bool | None = None,
        removal_policy: RemovalPolicy | None = None,
        log_exports: Sequence[str] | None = None,
        log_retention: logs.RetentionDays | None = None,
        monitoring_interval: Duration | None = None,
        alarms: bool | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_cluster: rds.IDatabaseCluster | None = None,
        existing_secret: secretsmanager.ISecret | None = None,
        cluster_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        self.alarms = []
        self.instances = DependencyGroup()
        self.log_retention_role = None
        self.rotation_function_name = None
        self._deleted_log_groups: list[str] = []
        self._iam_authentication: bool | None = None
        if existing_cluster is not None:
            reject_conflicts(
                name,
                "existing_cluster",
                {
                    "vpc": vpc,
                    "database_name": database_name,
                    "engine_version": engine_version,
                    "min_capacity": min_capacity,
                    "max_capacity": max_capacity,
                    "readers": readers,
                    "port": port,
                    "subnets": subnets,
                    "encryption_key": encryption_key,
                    "iam_authentication": iam_authentication,
                    "rotation_interval": rotation_interval,
                    "rotation_subnets": rotation_subnets,
                    "backup_retention": backup_retention,
                    "deletion_protection": deletion_protection,
                    "removal_policy": removal_policy,
                    "log_exports": log_exports,
                    "log_retention": log_retention,
                    "monitoring_interval": monitoring_interval,
                    "alarms": alarms,
                    "alarm_topic": alarm_topic,
                    "alarm_thresholds": alarm_thresholds,
                    "cluster_props": cluster_props,
                },
            )
            self.cluster = cast(ClusterT, existing_cluster)
            secret: secretsmanager.ISecret | None = existing_secret or getattr(
                existing_cluster, "secret", None
            )
            if secret is None:
                raise fail(
                    name,
                    "existing_secret",
                    "is missing and existing_cluster has no secret of its own; pass the "
                    "Secrets Manager secret whose credentials grant_connect lets grantees read",
                )
            self.secret = secret
            self.security_group = None
            self.rotation_security_group = None
            self._port: int | None = None
            return

        if existing_secret is not None:
            raise fail(
                name,
                "existing_secret",
                "was given without existing_cluster; a created cluster generates its secret",
            )
        if vpc is None:
            raise fail(name, "vpc", "is required (unless 'existing_cluster' is given)")
        if database_name is None:
            raise fail(name, "database_name", "is required (unless 'existing_cluster' is given)")
        require_pattern(
            name,
            "database_name",
            database_name,
            _DATABASE_NAME,
            "a PostgreSQL identifier: 1-63 lowercase letters, digits and '_', starting with "
            "a letter",
        )
        engine_version = engine_version or DEFAULT_ENGINE_VERSION
        if not isinstance(engine_version, rds.AuroraPostgresEngineVersion):
            raise fail(
                name,
                "engine_version",
                f"must be an aws_rds.AuroraPostgresEngineVersion, got "
                f"{type(engine_version).__name__}",
            )
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=engine_version)
        min_capacity = 0.5 if min_capacity is None else min_capacity
        max_capacity = 4 if max_capacity is None else max_capacity
        _require_acu(name, "min_capacity", min_capacity, minimum=0)
        _require_acu(name, "max_capacity", max_capacity, minimum=1)
        if max_capacity < min_capacity:
            raise fail(
                name,
                "max_capacity",
                f"is {format_number(max_capacity)} ACU, below min_capacity "
                f"({format_number(min_capacity)} ACU)",
            )
        readers = 0 if readers is None else readers
        _require_int(name, "readers", readers, minimum=0, maximum=15)
        port = DEFAULT_PORT if port is None else port
        _require_int(name, "port", port, minimum=1150, maximum=65535)
        iam_authentication = bool(iam_authentication)
        rotation_interval = rotation_interval or Duration.days(30)
        _require_days(name, "rotation_interval", rotation_interval, minimum=1, maximum=1000)
        backup_retention = backup_retention or Duration.days(7)
        _require_days(name, "backup_retention", backup_retention, minimum=1, maximum=35)
        removal_policy = removal_policy or RemovalPolicy.SNAPSHOT
        if not isinstance(removal_policy, RemovalPolicy):
            raise fail(name, "removal_policy", "must be an aws_cdk.RemovalPolicy")
        explicit_protection = deletion_protection
        deletion_protection = deletion_protection_for(name, deletion_protection, removal_policy)
        if isinstance(log_exports, str):
            raise fail(name, "log_exports", f"is {log_exports!r}; it must be a list of log types")
        log_exports = ["postgresql"] if log_exports is None else list(log_exports)
        supported = engine.supported_log_types
        for log_type in log_exports:
            if log_type not in supported:
                choices = ", ".join(repr(choice) for choice in supported)
                raise fail(
                    name, "log_exports", f"has {log_type!r}; allowed log types are {choices}"
                )
        log_retention = log_retention or logs.RetentionDays.ONE_MONTH
        if not isinstance(log_retention, logs.RetentionDays):
            raise fail(name, "log_retention", "must be an aws_logs.RetentionDays")
        if monitoring_interval is not None:
            require_duration(
                name, "monitoring_interval", monitoring_interval, min_seconds=1, max_seconds=60
            )
            interval = monitoring_interval.to_milliseconds(integral=False) / 1000
            if interval not in _ENHANCED_MONITORING_SECONDS:
                raise fail(
                    name,
                    "monitoring_interval",
                    f"is {format_number(interval)} seconds; allowed are "
                    + ", ".join(map(str, _ENHANCED_MONITORING_SECONDS))
                    + " seconds",
                )
        alarms = True if alarms is None else alarms
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            maximums=dict.fromkeys(self.ALARM_THRESHOLDS, 100),
        )
        subnets = subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        rotation_subnets = rotation_subnets or ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
        )
        _require_subnets(name, "subnets", vpc, subnets, min_zones=2)
        _require_subnets(name, "rotation_subnets", vpc, rotation_subnets, min_zones=1)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Database {self.node.path}: only granted services may connect",
            allow_all_outbound=False,
        )
        # Performance Insights is set on the cluster; saying so on each instance too keeps
        # CDK from warning that the instances would override it.
        insights: dict[str, Any] = {
            "enable_performance_insights": True,
            "performance_insight_retention": rds.PerformanceInsightRetention.DEFAULT,
        }
        if encryption_key is not None:
            insights["performance_insight_encryption_key"] = encryption_key
        defaults: dict[str, object] = {
            "engine": engine,
            "writer": rds.ClusterInstance.serverless_v2("Writer", **insights),
            "readers": [
                rds.ClusterInstance.serverless_v2(
                    f"Reader{number}", scale_with_writer=True, **insights
                )
                for number in range(1, readers + 1)
            ],
            "serverless_v2_min_capacity": min_capacity,
            "serverless_v2_max_capacity": max_capacity,
            "vpc": vpc,
            "vpc_subnets": subnets,
            "security_groups": [self.security_group],
            "port": port,
            "default_database_name": database_name,
            "credentials": rds.Credentials.from_generated_secret(
                MASTER_USERNAME, encryption_key=encryption_key
            ),
            "storage_encrypted": True,
            "iam_authentication": iam_authentication,
            "backup": rds.BackupProps(retention=backup_retention),
            "deletion_protection": deletion_protection,
            "removal_policy": removal_policy,
            "enable_performance_insights": True,
            "performance_insight_retention": rds.PerformanceInsightRetention.DEFAULT,
            "copy_tags_to_snapshot": True,
        }
        if encryption_key is not None:
            defaults["storage_encryption_key"] = encryption_key
            defaults["performance_insight_encryption_key"] = encryption_key
        if log_exports:
            defaults["cloudwatch_logs_exports"] = log_exports
        if monitoring_interval is not None:
            defaults["monitoring_interval"] = monitoring_interval
        overrides = cluster_props or {}
        for key, owner in _CLUSTER_KEYS_OWNED.items():
            if key in overrides:
                raise fail(
                    name,
                    "cluster_props",
                    f"sets {key!r}, which {owner!r} sets (the construct gives every exported "
                    "log its retention); pass it there",
                )
        override = overrides.get("removal_policy")
        if isinstance(override, RemovalPolicy) and "deletion_protection" not in overrides:
            # Unless told, deletion protection follows the removal policy that applies.
            defaults["deletion_protection"] = deletion_protection_for(
                name, explicit_protection, override
            )
        props = merge_props(
            name, "cluster_props", rds.DatabaseCluster, defaults, cluster_props, scope=self
        )
        # The overrides are held to the rules the arguments are held to.
        merged_min = _effective_number(props.get("serverless_v2_min_capacity"), min_capacity)
        merged_max = _effective_number(props.get("serverless_v2_max_capacity"), max_capacity)
        _require_acu(name, "cluster_props", merged_min, minimum=0)
        _require_acu(name, "cluster_props", merged_max, minimum=1)
        if merged_max < merged_min:
            raise fail(
                name,
                "cluster_props",
                f"leaves max capacity {format_number(merged_max)} ACU below min capacity "
                f"{format_number(merged_min)} ACU",
            )
        _require_int(
            name,
            "cluster_props",
            _effective_int(props.get("port"), port),
            minimum=1150,
            maximum=65535,
        )
        destroyed = props.get("removal_policy") == RemovalPolicy.DESTROY
        if destroyed and props.get("deletion_protection"):
            raise fail(name, "cluster_props", DESTROY_WITH_DELETION_PROTECTION)
        created = rds.DatabaseCluster(self, "Cluster", **props)  # type: ignore[arg-type]
        db_instances = [
            child
            for child in created.node.find_all()
            if isinstance(child, CfnResource) and child.cfn_resource_type == "AWS::RDS::DBInstance"
        ]
        self.instances.add(*db_instances)
        self.cluster = cast(ClusterT, created)
        # Log groups follow the cluster: deleted with it, kept when it is kept or snapshotted.
        log_removal = RemovalPolicy.DESTROY if destroyed else RemovalPolicy.RETAIN
        self._create_log_retention_role()
        exported = props.get("cloudwatch_logs_exports") or []
        for log_type in cast(Sequence[str], exported):
            retained = self._retain_log_group(
                created,
                f"LogRetention{log_type}",
                f"/aws/rds/cluster/{created.cluster_identifier}/{log_type}",
                log_retention,
                log_removal,
            )
            # Created before the first instance writes to it (RDS would otherwise create
            # it with no retention); deleted only after the last instance is gone.
            for instance in db_instances:
                instance.node.add_dependency(retained)
        self._port = _effective_int(props.get("port"), port)
        self._iam_authentication = bool(props.get("iam_authentication"))
        if created.secret is None:
            raise fail(
                name,
                "cluster_props",
                "sets credentials without a generated Secrets Manager secret; the construct "
                "rotates and grants the master user's secret, so it needs one",
            )
        self.secret = created.secret
        # The credentials outlive a cluster that leaves a snapshot or is retained: they are
        # the way back into what is restored from it.
        generated = created.node.try_find_child("Secret")
        if isinstance(generated, secretsmanager.Secret):
            generated.apply_removal_policy(
                RemovalPolicy.DESTROY
                if props.get("removal_policy") == RemovalPolicy.DESTROY
                else RemovalPolicy.RETAIN
            )
        self._acknowledge_findings(created, props)

        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            description=f"Secret rotation of {self.node.path}: the database and HTTPS only",
            allow_all_outbound=False,
        )
        self.rotation_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager API"
        )
        created.connections.allow_from(
            self.rotation_security_group,
            ec2.Port.tcp(self._port),
            "Secret rotation function",
        )
        # The hosted rotation function lives in a nested stack that Secrets Manager's
        # transform generates: it can only be given a log group through a name known now.
        self.rotation_function_name = (
            Names.unique_resource_name(self, max_length=64 - len("-rotation"), separator="-")
            + "-rotation"
        )
        rotation_logs = self._retain_log_group(
            self,
            "RotationLogRetention",
            f"/aws/lambda/{self.rotation_function_name}",
            log_retention,
            log_removal,
        )
        rotation_schedule = self.secret.add_rotation_schedule(
            "RotationSchedule",
            automatically_after=rotation_interval,
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                function_name=self.rotation_function_name,
                vpc=vpc,
                vpc_subnets=rotation_subnets,
                security_groups=[self.rotation_security_group],
            ),
        )
        # A hosted rotation rotates once as soon as it is created: against a cluster whose
        # writer is not up yet, that first rotation fails and the secret is left pending;
        # and its function's log group must be there with its retention first.
        rotation_schedule.node.add_dependency(self.instances)
        rotation_schedule.node.add_dependency(rotation_logs)
        self._give_log_retention_function_logs(log_retention, log_removal)
        self._acknowledge_log_retention_findings()

        if alarms:
            min_acu = _effective_number(props.get("serverless_v2_min_capacity"), min_capacity)
            max_acu = _effective_number(props.get("serverless_v2_max_capacity"), max_capacity)
            self._add_alarms(created, min_acu, max_acu, alarm_topic, thresholds)

    # -- attributes ---------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The writer endpoint's hostname (a token until deploy)."""
        return self.cluster.cluster_endpoint.hostname

    @property
    def port(self) -> int | float:
        """The port the database listens on (a number token for an existing cluster)."""
        if self._port is not None:
            return self._port
        return self.cluster.cluster_endpoint.port

    # -- grants ---------------------------------------------------------------------------

    def grant_connect(
        self,
        connectable: ec2.IConnectable,
        principal: iam.IGrantable,
        *,
        iam_user: str | None = None,
    ) -> None:
        """Let ``connectable`` reach the database and ``principal`` log in to it.

        Opens the database port to ``connectable``'s security groups (one ingress rule
        each, nothing else), grants ``principal`` read access to the master user's secret,
        and with ``iam_user`` (IAM database authentication must be on) ``rds-db:connect``
        as that database user. For an ECS service: ``grant_connect(service,
        service.task_definition.task_role)``. When ``connectable`` is an ECS service (or a
        ``ContainerService``), the service also waits for the cluster's ``instances``, so
        its first tasks do not start before the writer accepts connections.
        """
        name = self.CONSTRUCT
        if not hasattr(connectable, "connections"):
            raise fail(
                name,
                "connectable",
                f"must be an aws_ec2.IConnectable (with .connections), got "
                f"{type(connectable).__name__}",
            )
        if not hasattr(principal, "grant_principal"):
            raise fail(
                name,
                "principal",
                f"must be an aws_iam.IGrantable (with .grant_principal), got "
                f"{type(principal).__name__}",
            )
        if iam_user is not None:
            require_pattern(
                name,
                "iam_user",
                iam_user,
                _DB_USER,
                "a PostgreSQL user name: 1-63 letters, digits and '_', not starting with a digit",
            )
            if self._iam_authentication is False:
                raise fail(
                    name,
                    "iam_user",
                    f"is {iam_user!r} but IAM database authentication is off; pass "
                    "iam_authentication=True to the database",
                )
        # Its Connections: jsii sees those of a Python construct such as ContainerService.
        peer: ec2.Connections = connectable.connections
        if self._port is not None:
            self.cluster.connections.allow_from(
                peer, ec2.Port.tcp(self._port), f"Clients of {self.node.path}"
            )
        elif self.cluster.connections.default_port is None:
            raise fail(
                name,
                "existing_cluster",
                "has no port, so no connection can be allowed; import it with its port",
            )
        else:
            self.cluster.connections.allow_default_port_from(peer, f"Clients of {self.node.path}")
        self.secret.grant_read(principal)
        if iam_user is not None:
            self.cluster.grant_connect(principal, iam_user)
        service = getattr(connectable, "service", connectable)
        if isinstance(service, ecs.BaseService):
            # The cluster is "created" minutes before its writer instance accepts
            # connections: tasks started in between find no database.
            service.node.add_dependency(self.instances)

    # -- internals ------------------------------------------------------------------------

    def _create_log_retention_role(self) -> None:
        """Create the role of the stack-wide LogRetention function, unless the function
        exists: a role of this construct's own (no AWS managed policy), whose findings are
        acknowledged here rather than on a role the whole stack shares."""
        if Stack.of(self).node.try_find_child(LOG_RETENTION_PROVIDER) is not None:
            return
        self.log_retention_role = iam.Role(
            self,
            "LogRetentionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Sets the retention of {self.node.path}'s log groups",
        )
        # Before the function exists: the function waits for the role's policy.
        self.log_retention_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup"],
                resources=[
                    _log_groups(self, "/aws/lambda/*"),
                    _log_groups(self, "/aws/rds/cluster/*"),
                ],
            )
        )

    def _retain_log_group(
        self,
        scope: Construct,
        id: str,
        log_group_name: str,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> logs.LogRetention:
        """A LogRetention for a group an AWS service creates by name on its first write: it
        creates the group if it is not there yet (and accepts it if it is), sets its
        retention, and with ``DESTROY`` deletes it with the stack."""
        retained = logs.LogRetention(
            scope,
            id,
            log_group_name=log_group_name,
            retention=retention,
            role=self.log_retention_role,
            removal_policy=removal_policy,
        )
        if removal_policy == RemovalPolicy.DESTROY:
            self._deleted_log_groups.append(log_group_name)
        return retained

    def _give_log_retention_function_logs(
        self, retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> None:
        """The LogRetention function's own logs go to a log group of its own, made by the
        first construct of the stack that needs the function."""
        group = shared_provider_log_group(
            self,
            LOG_RETENTION_PROVIDER,
            retention=retention,
            removal_policy=removal_policy,
            construct=self.CONSTRUCT,
            function_id="Resource",
        )
        if group is not None and self.log_retention_role is not None:
            group.grant_write(self.log_retention_role)

    def _log_retention_function_role(self) -> IConstruct | None:
        """The role of the stack's LogRetention function: this construct's, another
        RelationalDatabase's, or aws-cdk-lib's default one."""
        if self.log_retention_role is not None:
            return self.log_retention_role
        stack = Stack.of(self)
        for construct in stack.node.find_all():
            role = getattr(construct, "log_retention_role", None)
            if isinstance(construct, RelationalDatabase) and isinstance(role, iam.Role):
                return role
        function = stack.node.try_find_child(LOG_RETENTION_PROVIDER)
        return function.node.try_find_child("ServiceRole") if function is not None else None

    def _acknowledge_log_retention_findings(self) -> None:
        role = self._log_retention_function_role()
        if role is None:
            return
        own = self.log_retention_role
        if own is not None:
            acknowledge(
                own,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "The role of aws-cdk-lib's LogRetention function, which sets the retention of "
                "log groups AWS services create by name: logs:PutRetentionPolicy and "
                "DeleteRetentionPolicy, granted by aws-cdk-lib on '*'.",
            )
            acknowledge(
                own,
                "AwsSolutions::AwsSolutions-IAM5[Resource::"
                + nag_finding(self, _log_groups(self, "/aws/lambda/*"))
                + "]",
                "logs:CreateLogGroup only: the LogRetention function creates the rotation "
                "function's group before its first run, and aws-cdk-lib's handler creates "
                "the group of its own name (generated at deploy) on every run.",
            )
            acknowledge(
                own,
                "AwsSolutions::AwsSolutions-IAM5[Resource::"
                + nag_finding(self, _log_groups(self, "/aws/rds/cluster/*"))
                + "]",
                "logs:CreateLogGroup only: the groups of exported database logs are named "
                "after cluster identifiers generated at deploy, of every database of the stack "
                "that shares the LogRetention function.",
            )
        stack = Stack.of(self)
        for log_group_name in self._deleted_log_groups:
            group_arn = stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"{log_group_name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            acknowledge(
                role,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_finding(self, group_arn)}]",
                f"logs:DeleteLogGroup on the log group {nag_finding(self, log_group_name)} "
                f"of {self.node.path} alone (':*' is how IAM names a log group's contents): "
                "it is deleted with the stack (removal_policy=DESTROY).",
            )

    def _acknowledge_findings(self, cluster: rds.DatabaseCluster, props: Mapping[str, Any]) -> None:
        cfn_cluster = cluster.node.default_child
        assert isinstance(cfn_cluster, Construct)
        if not props.get("iam_authentication"):
            acknowledge(
                cfn_cluster,
                "AwsSolutions::AwsSolutions-RDS6",
                "Clients authenticate as the database user whose password lives in Secrets "
                "Manager (read access granted per client, rotated on a schedule) and connect "
                "only from security groups granted explicitly. IAM database authentication "
                "is opt-in (iam_authentication=True): it needs a fresh token per connection "
                "and AWS recommends it for fewer than 200 new connections per second.",
            )
        monitoring_role = cluster.monitoring_role
        if props.get("monitoring_interval") is not None and isinstance(monitoring_role, Construct):
            acknowledge(
                monitoring_role,
                "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                "policy/service-role/AmazonRDSEnhancedMonitoringRole]",
                "RDS delivers Enhanced Monitoring with this role, which only RDS monitoring "
                "can assume; AWS documents and maintains AmazonRDSEnhancedMonitoringRole for "
                "exactly that, and it only reaches log groups named RDS* (RDSOSMetrics).",
            )

    def _add_alarms(
        self,
        cluster: rds.DatabaseCluster,
        min_acu: float,
        max_acu: float,
        alarm_topic: sns.ITopic | None,
        thresholds: Mapping[str, float],
    ) -> None:
        memory_at_max = max_acu * 2 * GIB
        max_connections = min(
            memory_at_max / _MAX_CONNECTIONS_BYTES_PER_CONNECTION,
            _MAX_CONNECTIONS_CAP_AT_LOW_MINIMUM
            if min_acu <= _LOW_MINIMUM_ACU
            else _MAX_CONNECTIONS_CAP,
        )
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        below = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        cpu = thresholds["Cpu"]
        capacity = thresholds["Capacity"]
        memory = thresholds["FreeableMemory"]
        connections = int(thresholds["Connections"] / 100 * max_connections)
        insights = "open Performance Insights for the instance and find the top SQL by load"
        # (name, metric, statistic, threshold, operator, meaning, first)
        checks: list[tuple[str, str, str, float, cloudwatch.ComparisonOperator, str, str]] = [
            (
                "Cpu",
                "CPUUtilization",
                "Average",
                cpu,
                above,
                f"CPU above {format_number(cpu)} % for 15 minutes",
                f"{insights}; if the load is legitimate, raise max_capacity",
            ),
            (
                "Capacity",
                "ServerlessDatabaseCapacity",
                "Average",
                round(capacity / 100 * max_acu, 2),
                at_least,
                f"capacity at {format_number(capacity)} % of the maximum "
                f"{format_number(max_acu)} ACU for 15 minutes: it is about to stop scaling",
                f"{insights}; if the load is legitimate, raise max_capacity",
            ),
            (
                "FreeableMemory",
                "FreeableMemory",
                "Minimum",
                round(memory / 100 * memory_at_max),
                below,
                f"freeable memory below {format_number(memory)} % of the "
                f"{format_number(max_acu * 2)} GiB at maximum capacity for 15 minutes",
                f"{insights} (large sorts, hashes, many connections); raise max_capacity if "
                "the working set has grown",
            ),
            (
                "Connections",
                "DatabaseConnections",
                "Maximum",
                connections,
                above,
                f"more than {connections} connections ({format_number(thresholds['Connections'])}"
                f" % of the default max_connections, {int(max_connections)}) for 15 minutes",
                "count the connections per client (pg_stat_activity: usename, "
                "application_name, client_addr) to find a leak or a pool too large for the "
                "number of tasks",
            ),
        ]
        created: list[cloudwatch.Alarm] = []
        for index, instance_id in enumerate(cluster.instance_identifiers):
            role = "Writer" if index == 0 else f"Reader{index}"
            for alarm_id, metric_name, statistic, threshold, operator, meaning, first in checks:
                metric = cloudwatch.Metric(
                    namespace="AWS/RDS",
                    metric_name=metric_name,
                    dimensions_map={"DBInstanceIdentifier": instance_id},
                    statistic=statistic,
                    period=Duration.minutes(5),
                )
                created.append(
                    metric.create_alarm(
                        self,
                        f"{role}{alarm_id}Alarm",
                        alarm_description=describe(
                            f"{self.node.path} {role.lower()}", meaning, first
                        ),
                        threshold=threshold,
                        evaluation_periods=3,
                        datapoints_to_alarm=3,
                        comparison_operator=operator,
                        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    )
                )
        notify(created, alarm_topic)
        self.alarms = created


def _log_groups(scope: Construct, pattern: str) -> str:
    """The ARN of the log groups whose names match ``pattern`` (``/aws/lambda/*``)."""
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{pattern}"


def _require_int(construct: str, argument: str, value: int, *, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(construct, argument, f"must be a whole number, got {value!r}")
    require_range(construct, argument, value, minimum=minimum, maximum=maximum)


def _require_acu(construct: str, argument: str, value: float, *, minimum: float) -> None:
    require_range(construct, argument, value, minimum=minimum, maximum=256)
    if not float(value * 2).is_integer():
        raise fail(
            construct,
            argument,
            f"is {format_number(value)} ACU; capacity goes in steps of 0.5 ACU",
        )


def _require_days(
    construct: str, argument: str, value: Duration, *, minimum: int, maximum: int
) -> None:
    require_duration(
        construct,
        argument,
        value,
        min_seconds=minimum * DAY_SECONDS,
        max_seconds=maximum * DAY_SECONDS,
    )
    seconds = value.to_milliseconds(integral=False) / 1000
    if not (seconds / DAY_SECONDS).is_integer():
        raise fail(
            construct, argument, f"is {format_number(seconds)} seconds; it must be whole days"
        )


def _require_subnets(
    construct: str, argument: str, vpc: ec2.IVpc, selection: ec2.SubnetSelection, *, min_zones: int
) -> None:
    """Reject a selection that selects nothing, or subnets in fewer than ``min_zones`` zones."""
    wanted = selection.subnet_type
    available = {
        ec2.SubnetType.PRIVATE_ISOLATED: vpc.isolated_subnets,
        ec2.SubnetType.PRIVATE_WITH_EGRESS: vpc.private_subnets,
        ec2.SubnetType.PUBLIC: vpc.public_subnets,
    }
    if wanted is not None and not available.get(wanted, [True]):
        raise fail(
            construct,
            argument,
            f"selects {wanted.name} subnets, and the VPC has none; pass a selection of "
            "subnets it has",
        )
    zones = set(
        vpc.select_subnets(
            availability_zones=selection.availability_zones,
            one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters,
            subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets,
            subnet_type=selection.subnet_type,
        ).availability_zones
    )
    if len(zones) < min_zones:
        raise fail(
            construct,
            argument,
            f"selects subnets in {len(zones)} availability zone(s); at least {min_zones} "
            "are needed",
        )


def _effective_number(override: object, default: float) -> float:
    return override if isinstance(override, int | float) else default


def _effective_int(override: object, default: int) -> int:
    return override if isinstance(override, int) and not isinstance(override, bool) else default
