"""What each stage of a synthesized cloud assembly costs a month with no traffic, and what
one million API requests add: from the templates' resources and a price table in code.

Usage: ``python tools/idle_cost.py cdk.out [--no-levers]`` prints the markdown section that
``idle_cost_markdown`` returns (the architecture report embeds it). The estimator is a set of
pure functions over parsed templates (``estimate_stage``), so tests feed it fixtures.

Prices are us-east-1 on-demand list prices, each with the page it was read from and the day
(``PRICE_DATE``). No page could be opened live here: each was read from a stored copy of the
AWS page or of a third-party page quoting it (named in ``source``); a price whose figure no
such copy showed is marked ``verified=False`` and shown as *unverified* in the output.
Free tiers are not subtracted: they are per account and shared with whatever else runs there
(the output names the ones that would apply).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Template = Mapping[str, Any]
HOURS_PER_MONTH = 730.0
"""AWS's pricing pages' month (8,760 hours a year / 12)."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
PRICE_DATE = "2026-11-26"
"""The day the prices below were read (from stored copies of the pages, see module doc)."""


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit`` in us-east-1."""

    usd: float
    unit: str
    source: str
    verified: bool = True
    note: str = ""


_VPC = "https://aws.amazon.com/vpc/pricing/"
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
PRICES: Mapping[str, Price] = {
    "nat_gateway_hour": Price(
        0.045,
        "NAT gateway-hour",
        _VPC + " (quoted by cloudburn.io and basavytix.com, 2026)",
    ),
    "nat_gateway_gb": Price(0.045, "GB processed", _VPC + " (same quotes)"),
    "public_ipv4_hour": Price(
        0.005,
        "public IPv4 address-hour",
        _VPC + " (in-use and idle alike since 2024-02-01; quoted by doit.com)",
    ),
    "interface_endpoint_hour": Price(
        0.01,
        "interface endpoint-hour per AZ",
        "https://aws.amazon.com/privatelink/pricing/ (quoted by knbrlo.com, 2026)",
    ),
    "alb_hour": Price(
        0.0225,
        "load balancer-hour",
        "https://aws.amazon.com/elasticloadbalancing/pricing/ (quoted by cloud-horizons.com, 2026)",
    ),
    "alb_lcu_hour": Price(0.008, "LCU-hour", "same page (same quote)"),
    "fargate_arm_vcpu_hour": Price(
        0.03238,
        "vCPU-hour (Linux/ARM)",
        "https://aws.amazon.com/fargate/pricing/ (quoted by vantage.sh)",
    ),
    "fargate_arm_gb_hour": Price(0.00356, "GB-hour (Linux/ARM)", "same page (same quote)"),
    "fargate_x86_vcpu_hour": Price(0.04048, "vCPU-hour (Linux/x86)", "same page (same quote)"),
    "fargate_x86_gb_hour": Price(0.004445, "GB-hour (Linux/x86)", "same page (same quote)"),
    "aurora_acu_hour": Price(
        0.12,
        "ACU-hour (Aurora Standard)",
        "https://aws.amazon.com/rds/aurora/pricing/ (quoted by c3x.dev and awsnegotiations.com)",
    ),
    "aurora_storage_gb_month": Price(0.10, "GB-month", "same page (same quotes)"),
    "aurora_io_million": Price(
        0.20, "million I/O requests", "https://aws.amazon.com/rds/aurora/pricing/", verified=False
    ),
    "valkey_serverless_gb_hour": Price(
        0.084,
        "GB-hour stored (Valkey serverless, 100 MB minimum)",
        "https://aws.amazon.com/elasticache/pricing/ (quoted by usage.ai, June 2026)",
    ),
    "redis_serverless_gb_hour": Price(
        0.125,
        "GB-hour stored (Redis OSS serverless, 1 GB minimum)",
        "AWS Database Blog, ElastiCache Serverless cost examples",
    ),
    "valkey_ecpu_million": Price(
        0.0023, "million ECPUs (Valkey)", "https://aws.amazon.com/elasticache/pricing/ (usage.ai)"
    ),
    "cache_node_hour": Price(
        0.0128,
        "node-hour (cache.t4g.micro, Valkey)",
        "https://aws.amazon.com/elasticache/pricing/",
        verified=False,
        note="Redis OSS t4g.micro $0.016 less Valkey's 20 %; no copy of the page showed it",
    ),
    "kms_key_month": Price(
        1.00,
        "customer managed key-month",
        "https://aws.amazon.com/kms/pricing/ (quoted by cloudburn.io, March 2026)",
        note="each of a key's first two yearly rotations adds $1 a month",
    ),
    "secret_month": Price(
        0.40,
        "secret-month",
        "https://aws.amazon.com/secrets-manager/pricing/",
        verified=False,
        note="only third-party copies of the figure were found",
    ),
    "waf_acl_month": Price(
        5.00,
        "web ACL-month",
        "https://aws.amazon.com/waf/pricing/ (quoted by c3x.dev and awsnegotiations.com, 2026)",
    ),
    "waf_rule_month": Price(1.00, "rule-month (a managed rule group counts as one)", "same"),
    "waf_request_million": Price(0.60, "million requests inspected", "same"),
    "dashboard_month": Price(
        3.00, "dashboard-month", _CW + " (quoted by factualminds.com, June 2026)"
    ),
    "alarm_metric_month": Price(
        0.10, "alarm metric-month (standard resolution)", _CW + " (quoted by c3x.dev)"
    ),
    "alarm_high_res_metric_month": Price(0.30, "alarm metric-month (high resolution)", "same"),
    "composite_alarm_month": Price(0.50, "composite alarm-month", "same"),
    "custom_metric_month": Price(
        0.30,
        "custom metric-month (first 10,000)",
        _CW,
        verified=False,
        note="Container Insights metrics are billed as custom metrics (AWS docs, via "
        "aws-observability/observability-best-practices issue 123); the figure itself unseen",
    ),
    "logs_ingest_gb": Price(
        0.50, "GB ingested (CloudWatch Logs standard)", _CW + " (quoted by factualminds.com)"
    ),
    "hosted_zone_month": Price(
        0.50,
        "hosted zone-month (first 25)",
        "https://aws.amazon.com/route53/pricing/ (quoted by ns1.com)",
    ),
    "cloud_map_instance_month": Price(
        0.10,
        "registered instance-month",
        "https://aws.amazon.com/cloud-map/pricing/",
        verified=False,
    ),
    "lambda_arm_gb_second": Price(
        0.0000133334,
        "GB-second (arm64)",
        "https://aws.amazon.com/lambda/pricing/ (quoted by cloudchipr.com)",
    ),
    "lambda_request_million": Price(0.20, "million requests", "same"),
    "apigw_rest_million": Price(
        3.50,
        "million REST API requests (first 333 million)",
        "https://aws.amazon.com/api-gateway/pricing/ (AWS whitepaper 'Best Practices for "
        "Designing Amazon API Gateway Private APIs', table 4)",
    ),
    "cloudfront_https_million": Price(
        1.00,
        "million HTTPS requests (United States)",
        "https://aws.amazon.com/cloudfront/pricing/",
        verified=False,
        note="$0.0100 per 10,000; the stored copies cut off before the request table",
    ),
    "cloudfront_transfer_gb": Price(
        0.085,
        "GB out to the internet (United States, first 10 TB)",
        "https://aws.amazon.com/cloudfront/pricing/ (stored copy of the AWS page)",
    ),
    "dynamodb_wru_million": Price(
        0.625,
        "million write request units (on demand)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the Nov 2024 cut; airbyte.com)",
    ),
    "dynamodb_rru_million": Price(0.125, "million read request units (on demand)", "same"),
    "sqs_request_million": Price(
        0.40, "million requests (standard queue)", "https://aws.amazon.com/sqs/pricing/", False
    ),
    "xray_trace_million": Price(
        5.00, "million traces recorded", "https://aws.amazon.com/xray/pricing/", verified=False
    ),
    "step_functions_transition_thousand": Price(
        0.025,
        "thousand state transitions (standard)",
        "https://aws.amazon.com/step-functions/pricing/",
        verified=False,
    ),
}


@dataclass(frozen=True)
class Assumptions:
    """Usage that no template states: each figure is shown in the report."""

    aurora_idle_storage_gb: float = 1.0
    """What an all-but-empty Aurora cluster volume holds (system tables, WAL)."""
    aurora_wake_acu: float = 0.5
    """Capacity billed while a paused Aurora Serverless v2 instance is awake."""
    job_minutes: float = 1.0
    """How long a scheduled Fargate task runs (Fargate bills at least one minute)."""
    lambda_job_seconds: float = 2.0
    """How long a scheduled Lambda job runs."""
    step_function_transitions: int = 10
    """State transitions of one scheduled workflow run."""
    container_insights_log_kb_per_task_minute: float = 2.0
    """Container Insights performance log events per running task and minute."""
    esm_idle_sqs_pollers: int = 5
    """ReceiveMessage long polls (20 s) a Lambda SQS event source mapping keeps open idle."""
    flow_log_records_per_minute: float = 20.0
    """VPC flow log records at idle (load balancer health checks, long polls)."""
    flow_log_record_bytes: int = 150
    audit_events_per_day: int = 5000
    """Management events an idle stage's services record (role sessions, KMS, ECS agent)."""
    audit_event_bytes: int = 1500


ASSUMPTIONS = Assumptions()

# Container Insights (not "enhanced") on ECS: each task-level metric (CpuUtilized,
# CpuReserved, MemoryUtilized, MemoryReserved, NetworkRx/TxBytes, StorageRead/WriteBytes,
# EphemeralStorageReserved/Utilized) per cluster, per service and per task family, plus
# counts (cluster: TaskCount, ServiceCount, ContainerInstanceCount; service: DeploymentCount,
# DesiredTaskCount, PendingTaskCount, RunningTaskCount, TaskSetCount). Metric names from
# the CloudWatch docs' ECS Container Insights list; the per-dimension count is unverified.
CI_METRICS_PER_CLUSTER = 13
CI_METRICS_PER_SERVICE = 15
CI_METRICS_PER_TASK_FAMILY = 10


@dataclass(frozen=True)
class LineItem:
    """One priced line of a stack's idle cost."""

    stack: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    monthly: float
    price_keys: tuple[str, ...] = ()
    note: str = ""

    @property
    def verified(self) -> bool:
        return all(PRICES[key].verified for key in self.price_keys)


def _item(
    stack: str,
    item: str,
    quantity: float,
    price_key: str,
    *,
    unit: str | None = None,
    factor: float = 1.0,
    note: str = "",
) -> LineItem:
    """quantity x price x factor (factor: hours a month for hourly prices)."""
    price = PRICES[price_key]
    return LineItem(
        stack=stack,
        item=item,
        quantity=quantity,
        unit=unit or price.unit,
        unit_price=price.usd * factor,
        monthly=quantity * price.usd * factor,
        price_keys=(price_key,),
        note=note,
    )


def _free(stack: str, item: str, quantity: float, unit: str, note: str) -> LineItem:
    return LineItem(stack, item, quantity, unit, 0.0, 0.0, (), note)


# -- reading templates ------------------------------------------------------------------


def _resources(template: Template, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    ]


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether ``value`` (an intrinsic) references ``logical_id`` (Ref or GetAtt)."""
    if isinstance(value, Mapping):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att and get_att[0] == logical_id:
            return True
        return any(_refers_to(item, logical_id) for item in value.values())
    if isinstance(value, list):
        return any(_refers_to(item, logical_id) for item in value)
    return False


def _ref_target(value: Any) -> str | None:
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        get_att = value.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att:
            return str(get_att[0])
    return None


def task_size(task_definition: Mapping[str, Any]) -> tuple[float, float, str]:
    """(vCPU, GB, architecture) Fargate bills for a task: the task-level size, which holds
    every container (sidecars included); the containers' sum where the task gives none."""
    containers = task_definition.get("ContainerDefinitions", [])
    cpu_units = task_definition.get("Cpu") or sum(int(c.get("Cpu", 0)) for c in containers)
    memory_mb = task_definition.get("Memory") or sum(
        int(c.get("Memory") or c.get("MemoryReservation") or 0) for c in containers
    )
    platform = task_definition.get("RuntimePlatform", {})
    architecture = str(platform.get("CpuArchitecture", "X86_64")).upper()
    return int(cpu_units) / 1024, int(memory_mb) / 1024, architecture


def _fargate_keys(architecture: str) -> tuple[str, str]:
    if architecture == "ARM64":
        return "fargate_arm_vcpu_hour", "fargate_arm_gb_hour"
    return "fargate_x86_vcpu_hour", "fargate_x86_gb_hour"


def _fargate_hourly(vcpu: float, gb: float, architecture: str) -> float:
    cpu_key, memory_key = _fargate_keys(architecture)
    return vcpu * PRICES[cpu_key].usd + gb * PRICES[memory_key].usd


_DAY_NAMES = {
    name: index
    for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}


def _expand_cron_field(field: str, low: int, high: int) -> int:
    """How many values a cron field matches (``*``, ``?``, lists, ranges, steps, day
    names)."""
    for name, number in _DAY_NAMES.items():
        field = field.upper().replace(name, str(number))
    if field in ("*", "?"):
        return high - low + 1
    count = 0
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = int(part) if part.isdigit() else low
            end = start if step == 1 else high
        count += len(range(start, end + 1, step))
    return count


def runs_per_month(expression: str) -> float:
    """How often an EventBridge schedule expression fires in an average month."""
    rate = re.fullmatch(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        minutes = {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")]
        return HOURS_PER_MONTH * 60 / (int(rate.group(1)) * minutes)
    cron = re.fullmatch(r"cron\((.+)\)", expression)
    if not cron:
        return 0.0  # at(...): once
    minute, hour, day_of_month, _month, day_of_week, *_ = cron.group(1).split()
    per_day = _expand_cron_field(minute, 0, 59) * _expand_cron_field(hour, 0, 23)
    if day_of_week not in ("*", "?"):
        days = _expand_cron_field(day_of_week, 1, 7) * DAYS_PER_MONTH / 7
    elif day_of_month not in ("*", "?"):
        days = min(_expand_cron_field(day_of_month, 1, 31), DAYS_PER_MONTH)
    else:
        days = DAYS_PER_MONTH
    return per_day * days


# -- the estimator ----------------------------------------------------------------------


@dataclass(frozen=True)
class StageFacts:
    """What one stack's estimate needs from the rest of its stage."""

    container_insights: bool = False


def stage_facts(stacks: Mapping[str, Template]) -> StageFacts:
    insights = any(
        setting.get("Name") == "containerInsights"
        and setting.get("Value") in ("enabled", "enhanced")
        for template in stacks.values()
        for _, cluster in _resources(template, "AWS::ECS::Cluster")
        for setting in cluster.get("ClusterSettings", [])
    )
    return StageFacts(container_insights=insights)


def _network(stack: str, template: Template) -> list[LineItem]:
    items: list[LineItem] = []
    nats = _resources(template, "AWS::EC2::NatGateway")
    if nats:
        items.append(
            _item(
                stack,
                "NAT gateway",
                len(nats),
                "nat_gateway_hour",
                factor=HOURS_PER_MONTH,
                unit="gateway-month",
                note="plus $0.045 per GB it processes",
            )
        )
    eips = _resources(template, "AWS::EC2::EIP")
    if eips:
        items.append(
            _item(
                stack,
                "Elastic IP (public IPv4)",
                len(eips),
                "public_ipv4_hour",
                factor=HOURS_PER_MONTH,
                unit="address-month",
            )
        )
    interface = [
        props
        for _, props in _resources(template, "AWS::EC2::VPCEndpoint")
        if props.get("VpcEndpointType") == "Interface"
    ]
    gateway = len(_resources(template, "AWS::EC2::VPCEndpoint")) - len(interface)
    if interface:
        endpoint_azs = sum(max(1, len(props.get("SubnetIds", []))) for props in interface)
        items.append(
            _item(
                stack,
                "interface VPC endpoints",
                endpoint_azs,
                "interface_endpoint_hour",
                factor=HOURS_PER_MONTH,
                unit="endpoint-AZ-month",
            )
        )
    if gateway:
        items.append(
            _free(stack, "gateway VPC endpoints (S3, DynamoDB)", gateway, "endpoint", "no charge")
        )
    for _, balancer in _resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        kind = balancer.get("Type", "application")
        items.append(
            _item(
                stack,
                f"{kind} load balancer ({balancer.get('Scheme', 'internet-facing')})",
                1,
                "alb_hour",
                factor=HOURS_PER_MONTH,
                unit="balancer-month",
                note="0 LCU without traffic (health checks assumed not to count)",
            )
        )
        if balancer.get("Scheme", "internet-facing") == "internet-facing":
            addresses = len(balancer.get("Subnets", [])) or len(balancer.get("SubnetMappings", []))
            items.append(
                _item(
                    stack,
                    "load balancer public IPv4",
                    addresses,
                    "public_ipv4_hour",
                    factor=HOURS_PER_MONTH,
                    unit="address-month",
                )
            )
    zones = (
        _resources(template, "AWS::Route53::HostedZone")
        + _resources(template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
        + _resources(template, "AWS::ServiceDiscovery::PublicDnsNamespace")
    )
    if zones:
        items.append(
            _item(
                stack,
                "Route 53 hosted zone (incl. Cloud Map DNS namespace)",
                len(zones),
                "hosted_zone_month",
                unit="zone-month",
            )
        )
    flow_logs = [
        props
        for _, props in _resources(template, "AWS::EC2::FlowLog")
        if props.get("LogDestinationType", "cloud-watch-logs") == "cloud-watch-logs"
    ]
    if flow_logs:
        a = ASSUMPTIONS
        gb = a.flow_log_records_per_minute * 60 * HOURS_PER_MONTH * a.flow_log_record_bytes / 1e9
        items.append(
            _item(
                stack,
                "VPC flow logs to CloudWatch Logs",
                round(gb * len(flow_logs), 3),
                "logs_ingest_gb",
                unit="GB",
                note=f"assumed {a.flow_log_records_per_minute:g} records a minute at idle",
            )
        )
    return items


def _min_count(template: Template, service_id: str, service: Mapping[str, Any]) -> int:
    for _, target in _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget"):
        if target.get("ServiceNamespace") == "ecs" and _refers_to(
            target.get("ResourceId"), service_id
        ):
            return int(target["MinCapacity"])
    return int(service.get("DesiredCount", 1))


def _containers(stack: str, template: Template, facts: StageFacts) -> list[LineItem]:
    items: list[LineItem] = []
    task_definitions = dict(_resources(template, "AWS::ECS::TaskDefinition"))
    for service_id, service in _resources(template, "AWS::ECS::Service"):
        task_id = _ref_target(service.get("TaskDefinition"))
        if task_id not in task_definitions:
            continue
        vcpu, gb, architecture = task_size(task_definitions[task_id])
        tasks = _min_count(template, service_id, service)
        family = task_definitions[task_id].get("Family", task_id)
        cpu_key, memory_key = _fargate_keys(architecture)
        hourly = _fargate_hourly(vcpu, gb, architecture)
        items.append(
            LineItem(
                stack,
                f"Fargate task {family} ({vcpu:g} vCPU, {gb:g} GB, {architecture.lower()}) "
                "at the autoscaling minimum",
                tasks,
                "task-month",
                hourly * HOURS_PER_MONTH,
                tasks * hourly * HOURS_PER_MONTH,
                (cpu_key, memory_key),
                "the task size holds every container, sidecars included",
            )
        )
        network = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        if network.get("AssignPublicIp") == "ENABLED":
            items.append(
                _item(
                    stack,
                    f"public IPv4 of {family} tasks",
                    tasks,
                    "public_ipv4_hour",
                    factor=HOURS_PER_MONTH,
                    unit="address-month",
                )
            )
        if service.get("ServiceConnectConfiguration", {}).get("Services"):
            items.append(
                _item(
                    stack,
                    f"Cloud Map instances of {family} (Service Connect)",
                    tasks,
                    "cloud_map_instance_month",
                    unit="instance-month",
                )
            )
        if facts.container_insights:
            metrics = CI_METRICS_PER_SERVICE + CI_METRICS_PER_TASK_FAMILY
            items.append(
                _item(
                    stack,
                    f"Container Insights metrics of service {family}",
                    metrics,
                    "custom_metric_month",
                    unit="metric-month",
                    note="per service and task family, idle or not",
                )
            )
            gb = (
                tasks
                * ASSUMPTIONS.container_insights_log_kb_per_task_minute
                * 60
                * (HOURS_PER_MONTH / 1e6)
            )
            items.append(
                _item(
                    stack,
                    "Container Insights performance log events",
                    round(gb, 3),
                    "logs_ingest_gb",
                    unit="GB",
                    note=f"assumed {ASSUMPTIONS.container_insights_log_kb_per_task_minute:g} "
                    "KB per task and minute",
                )
            )
    if facts.container_insights:
        for _ in _resources(template, "AWS::ECS::Cluster"):
            items.append(
                _item(
                    stack,
                    "Container Insights metrics of the cluster",
                    CI_METRICS_PER_CLUSTER,
                    "custom_metric_month",
                    unit="metric-month",
                )
            )
    return items


def _database_wakes(template: Template, cluster_id: str) -> list[tuple[str, float]]:
    """(reason, wake-ups a month) of a pausing cluster: scheduled container jobs of its
    stack (assumed to use the database, as the reference app's cleanup does) and rotations
    of the secret attached to it."""
    wakes = [
        (
            f"scheduled task {props.get('ScheduleExpression')}",
            runs_per_month(str(props.get("ScheduleExpression", ""))),
        )
        for _, props in _resources(template, "AWS::Scheduler::Schedule")
        if "EcsParameters" in props.get("Target", {})
    ]
    attached = {
        _ref_target(props.get("SecretId"))
        for _, props in _resources(template, "AWS::SecretsManager::SecretTargetAttachment")
        if _refers_to(props.get("TargetId"), cluster_id)
    }
    for _, props in _resources(template, "AWS::SecretsManager::RotationSchedule"):
        if _ref_target(props.get("SecretId")) in attached:
            rules = props.get("RotationRules", {})
            days = rules.get("AutomaticallyAfterDays")
            expression = rules.get("ScheduleExpression")
            per_month = (
                DAYS_PER_MONTH / int(days)
                if days
                else (runs_per_month(str(expression)) if expression else 0.0)
            )
            wakes.append(("secret rotation", per_month))
    return wakes


def _databases(stack: str, template: Template) -> list[LineItem]:
    items: list[LineItem] = []
    for cluster_id, cluster in _resources(template, "AWS::RDS::DBCluster"):
        scaling = cluster.get("ServerlessV2ScalingConfiguration")
        instances = [
            props
            for _, props in _resources(template, "AWS::RDS::DBInstance")
            if _refers_to(props.get("DBClusterIdentifier"), cluster_id)
        ]
        serverless = [i for i in instances if i.get("DBInstanceClass") == "db.serverless"]
        if scaling is not None and serverless:
            minimum = float(scaling.get("MinCapacity", 0.5))
            if minimum > 0:
                acu = minimum * len(serverless)
                items.append(
                    _item(
                        stack,
                        f"Aurora Serverless v2: {len(serverless)} instance(s) at "
                        f"{minimum:g} ACU minimum",
                        acu,
                        "aurora_acu_hour",
                        factor=HOURS_PER_MONTH,
                        unit="ACU-month",
                        note="cannot pause (minimum above 0)",
                    )
                )
            else:
                pause = float(scaling.get("SecondsUntilAutoPause", 300))
                awake_hours = sum(
                    per_month * (ASSUMPTIONS.job_minutes * 60 + pause) / 3600
                    for _, per_month in _database_wakes(template, cluster_id)
                ) * len(serverless)
                items.append(
                    _item(
                        stack,
                        "Aurora Serverless v2 at 0 ACU: paused; awake after the "
                        "nightly jobs and secret rotations",
                        round(awake_hours * ASSUMPTIONS.aurora_wake_acu, 3),
                        "aurora_acu_hour",
                        unit="ACU-hour",
                        note=f"each wake-up: job ({ASSUMPTIONS.job_minutes:g} min) + "
                        f"pause delay ({pause:g} s) at {ASSUMPTIONS.aurora_wake_acu:g} ACU",
                    )
                )
        items.append(
            _item(
                stack,
                "Aurora storage",
                ASSUMPTIONS.aurora_idle_storage_gb,
                "aurora_storage_gb_month",
                unit="GB-month",
                note="assumed size of an all-but-empty volume; backups within the free 100 % of it",
            )
        )
    for _, cache in _resources(template, "AWS::ElastiCache::ServerlessCache"):
        engine = str(cache.get("Engine", "valkey"))
        key, minimum = (
            ("valkey_serverless_gb_hour", 0.1)
            if engine == "valkey"
            else ("redis_serverless_gb_hour", 1.0)
        )
        items.append(
            _item(
                stack,
                f"ElastiCache Serverless ({engine}) minimum metered storage",
                minimum,
                key,
                factor=HOURS_PER_MONTH,
                unit="GB-month",
                note="no ECPUs without requests",
            )
        )
    for _, group in _resources(template, "AWS::ElastiCache::ReplicationGroup"):
        nodes = (
            int(group["NumCacheClusters"])
            if "NumCacheClusters" in group
            else int(group.get("NumNodeGroups", 1))
            * (int(group.get("ReplicasPerNodeGroup", 0)) + 1)
        )
        items.append(
            _item(
                stack,
                f"ElastiCache nodes ({group.get('CacheNodeType')})",
                nodes,
                "cache_node_hour",
                factor=HOURS_PER_MONTH,
                unit="node-month",
                note="priced as cache.t4g.micro",
            )
        )
    for _, cache in _resources(template, "AWS::ElastiCache::CacheCluster"):
        items.append(
            _item(
                stack,
                f"ElastiCache nodes ({cache.get('CacheNodeType')})",
                int(cache.get("NumCacheNodes", 1)),
                "cache_node_hour",
                factor=HOURS_PER_MONTH,
                unit="node-month",
                note="priced as cache.t4g.micro",
            )
        )
    tables = _resources(template, "AWS::DynamoDB::Table")
    if tables:
        items.append(
            _free(
                stack,
                "DynamoDB tables (on demand)",
                len(tables),
                "table",
                "requests only; an empty table stores nothing",
            )
        )
    return items


def _security(stack: str, template: Template) -> list[LineItem]:
    items: list[LineItem] = []
    keys = _resources(template, "AWS::KMS::Key")
    if keys:
        items.append(
            _item(
                stack,
                "KMS customer managed keys",
                len(keys),
                "kms_key_month",
                unit="key-month",
                note="first year; rotations add up to $2 each",
            )
        )
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    if secrets:
        items.append(
            _item(
                stack, "Secrets Manager secrets", len(secrets), "secret_month", unit="secret-month"
            )
        )
    for _, acl in _resources(template, "AWS::WAFv2::WebACL"):
        scope = acl.get("Scope", "REGIONAL")
        items.append(_item(stack, f"WAF web ACL ({scope})", 1, "waf_acl_month", unit="ACL-month"))
        items.append(
            _item(
                stack,
                f"WAF rules ({scope})",
                len(acl.get("Rules", [])),
                "waf_rule_month",
                unit="rule-month",
            )
        )
    pools = _resources(template, "AWS::Cognito::UserPool")
    for _, pool in pools:
        tier = str(pool.get("UserPoolTier", "ESSENTIALS")).title()
        items.append(
            _free(
                stack,
                f"Cognito user pool ({tier} plan)",
                1,
                "pool",
                "billed per monthly active user: 0 at idle",
            )
        )
    trails = _resources(template, "AWS::CloudTrail::Trail")
    for _, trail in trails:
        items.append(
            _free(
                stack,
                "CloudTrail trail (management events)",
                1,
                "trail",
                "free for the account's first trail of them; every further trail pays per event",
            )
        )
        if "CloudWatchLogsLogGroupArn" in trail:
            a = ASSUMPTIONS
            gb = a.audit_events_per_day * DAYS_PER_MONTH * a.audit_event_bytes / 1e9
            items.append(
                _item(
                    stack,
                    "CloudTrail events to CloudWatch Logs",
                    round(gb, 3),
                    "logs_ingest_gb",
                    unit="GB",
                    note=f"assumed {a.audit_events_per_day:,} events a day",
                )
            )
    return items


def _alarm_metrics(alarm: Mapping[str, Any]) -> tuple[int, bool]:
    """(metrics billed, high resolution) of one metric alarm: a metric-math alarm pays per
    metric in its expression, an anomaly detection alarm for three."""
    metrics = alarm.get("Metrics")
    if not metrics:
        return 1, int(alarm.get("Period", 60)) < 60
    stats = [m for m in metrics if "MetricStat" in m]
    anomaly = any("ANOMALY_DETECTION_BAND" in str(m.get("Expression", "")) for m in metrics)
    high_res = any(int(m["MetricStat"].get("Period", 60)) < 60 for m in stats)
    return len(stats) * (3 if anomaly else 1), high_res


def _monitoring(stack: str, template: Template) -> list[LineItem]:
    items: list[LineItem] = []
    dashboards = _resources(template, "AWS::CloudWatch::Dashboard")
    if dashboards:
        items.append(
            _item(
                stack,
                "CloudWatch dashboards",
                len(dashboards),
                "dashboard_month",
                unit="dashboard-month",
            )
        )
    standard = high_res = 0
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    for _, alarm in alarms:
        metrics, fast = _alarm_metrics(alarm)
        if fast:
            high_res += metrics
        else:
            standard += metrics
    if standard:
        items.append(
            _item(
                stack,
                f"CloudWatch alarms ({len(alarms)}; metric math counts each metric)",
                standard,
                "alarm_metric_month",
                unit="alarm metric-month",
            )
        )
    if high_res:
        items.append(
            _item(
                stack,
                "high-resolution alarm metrics",
                high_res,
                "alarm_high_res_metric_month",
                unit="alarm metric-month",
            )
        )
    composites = _resources(template, "AWS::CloudWatch::CompositeAlarm")
    if composites:
        items.append(
            _item(
                stack,
                "composite alarms",
                len(composites),
                "composite_alarm_month",
                unit="alarm-month",
            )
        )
    return items


def _jobs(stack: str, template: Template) -> list[LineItem]:
    """Scheduled work that runs whether or not anyone uses the stage."""
    items: list[LineItem] = []
    functions = dict(_resources(template, "AWS::Lambda::Function"))
    # A schedule may invoke a function's alias (the library's ``live``): bill the function.
    for alias_id, alias in _resources(template, "AWS::Lambda::Alias"):
        function_id = _ref_target(alias.get("FunctionName"))
        if function_id in functions:
            functions[alias_id] = functions[function_id]
    task_definitions = dict(_resources(template, "AWS::ECS::TaskDefinition"))
    schedules = _resources(template, "AWS::Scheduler::Schedule") + [
        (logical_id, {**rule, "Target": (rule.get("Targets") or [{}])[0]})
        for logical_id, rule in _resources(template, "AWS::Events::Rule")
        if "ScheduleExpression" in rule
    ]
    a = ASSUMPTIONS
    for _, schedule in schedules:
        runs = runs_per_month(str(schedule.get("ScheduleExpression", "")))
        target = schedule.get("Target", {})
        target_id = _ref_target(target.get("Arn"))
        if "EcsParameters" in target:
            task_id = _ref_target(target["EcsParameters"].get("TaskDefinitionArn"))
            if task_id in task_definitions:
                vcpu, gb, architecture = task_size(task_definitions[task_id])
                cpu_key, memory_key = _fargate_keys(architecture)
                per_run = _fargate_hourly(vcpu, gb, architecture) * a.job_minutes / 60
                items.append(
                    LineItem(
                        stack,
                        f"scheduled Fargate task {task_definitions[task_id].get('Family')}",
                        round(runs, 2),
                        "run",
                        per_run,
                        runs * per_run,
                        (cpu_key, memory_key),
                        f"{schedule.get('ScheduleExpression')}, "
                        f"assumed {a.job_minutes:g} min a run",
                    )
                )
        elif target_id in functions:
            memory_gb = int(functions[target_id].get("MemorySize", 128)) / 1024
            per_run = (
                memory_gb * a.lambda_job_seconds * PRICES["lambda_arm_gb_second"].usd
                + PRICES["lambda_request_million"].usd / 1e6
            )
            items.append(
                LineItem(
                    stack,
                    "scheduled Lambda job",
                    round(runs, 2),
                    "run",
                    per_run,
                    runs * per_run,
                    ("lambda_arm_gb_second", "lambda_request_million"),
                    f"{schedule.get('ScheduleExpression')}, "
                    f"assumed {a.lambda_job_seconds:g} s a run",
                )
            )
        else:
            per_run = (
                a.step_function_transitions
                * PRICES["step_functions_transition_thousand"].usd
                / 1000
            )
            items.append(
                LineItem(
                    stack,
                    "scheduled workflow or other target",
                    round(runs, 2),
                    "run",
                    per_run,
                    runs * per_run,
                    ("step_functions_transition_thousand",),
                    f"assumed {a.step_function_transitions} state transitions a run",
                )
            )
    sqs_mappings = [
        props
        for _, props in _resources(template, "AWS::Lambda::EventSourceMapping")
        if ":sqs:" in json.dumps(props.get("EventSourceArn"))
        or _is_queue(template, props.get("EventSourceArn"))
    ]
    if sqs_mappings:
        polls = len(sqs_mappings) * a.esm_idle_sqs_pollers * 3 * 60 * HOURS_PER_MONTH / 1e6
        items.append(
            _item(
                stack,
                "idle SQS long polls of Lambda event source mappings",
                round(polls, 3),
                "sqs_request_million",
                unit="million requests",
                note=f"assumed {a.esm_idle_sqs_pollers} pollers of 20 s each; the "
                "account's first million requests a month are free",
            )
        )
    free_kinds = {
        "AWS::Lambda::Function": "Lambda functions",
        "AWS::ApiGateway::RestApi": "REST APIs",
        "AWS::StepFunctions::StateMachine": "state machines",
        "AWS::SQS::Queue": "SQS queues",
        "AWS::SNS::Topic": "SNS topics",
        "AWS::S3::Bucket": "S3 buckets",
        "AWS::Logs::LogGroup": "log groups",
        "AWS::CloudFront::Distribution": "CloudFront distributions",
        "AWS::CodeDeploy::DeploymentGroup": "CodeDeploy groups (Lambda/ECS: free)",
    }
    idle = [
        f"{len(_resources(template, kind))} {name}"
        for kind, name in free_kinds.items()
        if _resources(template, kind)
    ]
    if idle:
        items.append(
            _free(
                stack,
                "pay-per-use: " + ", ".join(idle),
                1,
                "-",
                "no requests, no charge (S3 and logs: cents of storage)",
            )
        )
    return items


def _is_queue(template: Template, value: Any) -> bool:
    target = _ref_target(value)
    resource = template.get("Resources", {}).get(target or "", {})
    return bool(resource.get("Type") == "AWS::SQS::Queue")


ESTIMATORS: tuple[Callable[[str, Template], list[LineItem]], ...] = (
    _network,
    _databases,
    _security,
    _monitoring,
    _jobs,
)


def estimate_stack(
    stack: str, template: Template, facts: StageFacts = StageFacts()
) -> list[LineItem]:
    """The idle-cost lines of one stack's template."""
    items: list[LineItem] = []
    for estimator in ESTIMATORS:
        items.extend(estimator(stack, template))
    items.extend(_containers(stack, template, facts))
    return items


def estimate_stage(stacks: Mapping[str, Template]) -> list[LineItem]:
    """The idle-cost lines of every stack of one stage (``{stack name: template}``)."""
    facts = stage_facts(stacks)
    return [
        item
        for name, template in sorted(stacks.items())
        for item in estimate_stack(name, template, facts)
    ]


def total(items: Iterable[LineItem]) -> float:
    return sum(item.monthly for item in items)


# -- the cloud assembly ------------------------------------------------------------------


def load_stages(cdk_out: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{stage: {stack display name: template}}`` of a cloud assembly (nested stages
    included); a stack outside any stage is its own stage."""
    stages: dict[str, dict[str, dict[str, Any]]] = {}

    def walk(outdir: Path) -> None:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
        for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
            properties = artifact.get("properties", {})
            if artifact.get("type") == "aws:cloudformation:stack":
                name = str(artifact.get("displayName", artifact_id))
                template = json.loads(
                    (outdir / properties["templateFile"]).read_text(encoding="utf-8")
                )
                stage = name.split("/", 1)[0] if "/" in name else name
                stages.setdefault(stage, {})[name] = template
            elif artifact.get("type") == "cdk:cloud-assembly":
                walk(outdir / properties["directoryName"])

    walk(cdk_out)
    return stages


# -- marginal cost of requests -------------------------------------------------------------


@dataclass(frozen=True)
class RequestAssumptions:
    response_kb: float = 2.0
    lambda_ms: float = 50.0
    open_lambda_ms: float = 80.0
    api_log_kb: float = 0.5
    """Access log line per request; execution logs at INFO add ``execution_log_kb``."""
    execution_log_kb: float = 4.0
    lambda_log_kb: float = 1.0
    aurora_ios: float = 5.0
    aurora_acu_seconds: float = 0.01
    valkey_ecpus: float = 2.0
    alb_gb_per_request: float = 3e-6


REQUESTS = RequestAssumptions()


def _handler_memory(stacks: Mapping[str, Template], handler: str) -> int:
    for template in stacks.values():
        for _, function in _resources(template, "AWS::Lambda::Function"):
            if function.get("Handler") == handler:
                return int(function.get("MemorySize", 128))
    return 128


def _execution_logging(stacks: Mapping[str, Template]) -> bool:
    """Whether any API stage logs execution at INFO (the costly level)."""
    return any(
        setting.get("LoggingLevel") == "INFO"
        for template in stacks.values()
        for _, stage in _resources(template, "AWS::ApiGateway::Stage")
        for setting in stage.get("MethodSettings", [])
    )


def marginal_costs(stacks: Mapping[str, Template]) -> list[tuple[str, list[tuple[str, float]]]]:
    """(path, [(component, USD per million requests)]) for each API path of a stage."""
    r = REQUESTS
    million = 1e6
    acls = sum(len(_resources(t, "AWS::WAFv2::WebACL")) for t in stacks.values())
    log_kb = r.api_log_kb + (r.execution_log_kb if _execution_logging(stacks) else 0.0)
    edge = [
        ("CloudFront request", PRICES["cloudfront_https_million"].usd),
        (
            "CloudFront transfer out",
            r.response_kb * million / 1e6 * PRICES["cloudfront_transfer_gb"].usd,
        ),
        (f"WAF inspection ({acls} web ACLs)", acls * PRICES["waf_request_million"].usd),
        ("API Gateway REST request", PRICES["apigw_rest_million"].usd),
        ("API logs", log_kb * million / 1e6 * PRICES["logs_ingest_gb"].usd),
        ("X-Ray trace (every request below 1 a second)", PRICES["xray_trace_million"].usd),
    ]

    def lambda_cost(handler: str, ms: float) -> list[tuple[str, float]]:
        memory = _handler_memory(stacks, handler)
        return [
            (
                f"Lambda {handler.split('.')[0]} ({memory} MB, {ms:g} ms)",
                PRICES["lambda_request_million"].usd
                + memory / 1024 * ms / 1000 * million * PRICES["lambda_arm_gb_second"].usd,
            ),
            ("Lambda logs", r.lambda_log_kb * million / 1e6 * PRICES["logs_ingest_gb"].usd),
        ]

    paths = [
        (
            "accounts: open (POST /api/accounts/accounts)",
            [
                *edge,
                *lambda_cost("open_account.handler", r.open_lambda_ms),
                ("DynamoDB: 2 WRU (table + index)", 2 * PRICES["dynamodb_wru_million"].usd),
            ],
        ),
        (
            "accounts: get (GET /api/accounts/accounts/{id})",
            [
                *edge,
                *lambda_cost("get_account.handler", r.lambda_ms),
                ("DynamoDB: 1 RRU", PRICES["dynamodb_rru_million"].usd),
            ],
        ),
        (
            "statements: read (GET /api/statements/...)",
            [
                *edge,
                *lambda_cost("get_statement.handler", r.lambda_ms),
                ("DynamoDB: 1 RRU", PRICES["dynamodb_rru_million"].usd),
            ],
        ),
        (
            "transfers: create (VPC link v2 → ALB → Fargate → Aurora, Valkey)",
            [
                *edge,
                ("VPC link v2", 0.0),
                (
                    "ALB LCUs (processed bytes)",
                    r.alb_gb_per_request * million * PRICES["alb_lcu_hour"].usd,
                ),
                ("Fargate: tasks at their minimum already paid", 0.0),
                (f"Aurora: {r.aurora_ios:g} I/Os", r.aurora_ios * PRICES["aurora_io_million"].usd),
                (
                    f"Aurora: {r.aurora_acu_seconds * 1000:g} ACU-ms",
                    r.aurora_acu_seconds * million / 3600 * PRICES["aurora_acu_hour"].usd,
                ),
                (
                    f"Valkey: {r.valkey_ecpus:g} ECPUs",
                    r.valkey_ecpus * PRICES["valkey_ecpu_million"].usd,
                ),
                ("service logs", r.lambda_log_kb * million / 1e6 * PRICES["logs_ingest_gb"].usd),
            ],
        ),
    ]
    return paths


# -- levers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    """One way to lower Dev's idle cost: a profile change (priced by synthesizing the Dev
    stage with it) or dropping priced lines (``drops``) that no profile field controls."""

    name: str
    dev_setting: str
    alternative: str
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    drops: Callable[[LineItem], bool] | None = None
    applied: bool = False
    """The Dev profile already has it (the saving is then Dev's setting against the
    alternative)."""
    verdict: str = ""


LEVERS: tuple[Lever, ...] = (
    Lever(
        "one NAT gateway for all AZs",
        "nat_gateways=1",
        "one per AZ (2)",
        {"nat_gateways": 2},
        applied=True,
        verdict="applied: egress from one AZ crosses to the other (cents per GB)",
    ),
    Lever(
        "two AZs",
        "availability_zones=2",
        "3 AZs like Prod",
        {"availability_zones": 3},
        applied=True,
        verdict="applied: nothing idle is priced per AZ here (one NAT gateway, no interface "
        "endpoints); the ALB and Aurora need two",
    ),
    Lever(
        "Aurora pauses at 0 ACU",
        "database_min_capacity=0",
        "0.5 ACU minimum",
        {"database_min_capacity": 0.5},
        applied=True,
        verdict="applied: the first request after a pause waits ~15 s (503 + Retry-After)",
    ),
    Lever(
        "no Aurora reader",
        "database_readers=0",
        "1 reader like Prod",
        {"database_readers": 1},
        applied=True,
        verdict="applied",
    ),
    Lever(
        "one task minimum",
        "service_min_tasks=1",
        "2 tasks like Prod",
        {"service_min_tasks": 2},
        applied=True,
        verdict="applied",
    ),
    Lever(
        "ElastiCache Serverless, not nodes",
        "cache_mode='serverless'",
        "node-based",
        {"cache_mode": "node"},
        applied=True,
        verdict="applied: serverless Valkey's 100 MB floor costs less than the smallest node",
    ),
    Lever(
        "Container Insights off",
        "container_insights=False",
        "on like Prod",
        {"container_insights": True},
        applied=True,
        verdict="applied: Dev's task-count graph stays empty; alarms unchanged",
    ),
    Lever(
        "no WAF web ACLs in Dev",
        "both web ACLs",
        "none",
        drops=lambda item: item.item.startswith("WAF"),
        verdict="not applied: Dev would stop proving the edge and API rules Prod relies on",
    ),
    Lever(
        "no per-service dashboards in Dev",
        "a dashboard per service + overview",
        "overview only",
        drops=lambda item: (
            item.item == "CloudWatch dashboards" and not item.stack.endswith("Observability")
        ),
        verdict="not applied: the dashboards are part of what Dev tests "
        "(first 3 per account are free anyway)",
    ),
    Lever(
        "fewer alarms in Dev",
        "Prod's alarms",
        "none",
        drops=lambda item: "alarm" in item.item,
        verdict="not applied: deployment rollbacks rely on the alarms",
    ),
)

INTERFACE_ENDPOINTS_INSTEAD_OF_NAT = (
    "ecr.api",
    "ecr.dkr",
    "logs",
    "secretsmanager",
    "sqs",
    "sns",
    "sts",
    "xray",
    "monitoring",
)
"""Services the private subnets' tasks reach; each would need an interface endpoint."""


REPO_ROOT = Path(__file__).resolve().parent.parent


def _dev_variants(overrides: Sequence[Mapping[str, Any]]) -> list[list[LineItem]]:
    """The Dev stage synthesized once per override set (one app, one synth), estimated.

    The variants depend on the app's code only, not on the assembly being estimated: a
    process synthesizes each set once (the report and its tests ask more than once)."""
    key = tuple(tuple(sorted(override.items())) for override in overrides)
    return [list(items) for items in _synthesized_dev_variants(key)]


@functools.cache
def _synthesized_dev_variants(
    overrides: tuple[tuple[tuple[str, Any], ...], ...],
) -> tuple[tuple[LineItem, ...], ...]:
    from aws_cdk import App, Environment

    from stacks.config import DEFAULT_AVAILABILITY_ZONES, DEFAULT_REGION, DEV, cli_context
    from stacks.stage import PaymentsStage

    with tempfile.TemporaryDirectory() as outdir:
        app = App(context=cli_context(), outdir=outdir, builtin_cloud_formation_validation=False)
        for index, override in enumerate(overrides):
            profile = dataclasses.replace(DEV, stage_id=f"Lever{index}", **dict(override))
            PaymentsStage(
                app,
                profile.stage_id,
                profile=profile,
                availability_zones=DEFAULT_AVAILABILITY_ZONES[DEFAULT_REGION][
                    : profile.availability_zones
                ],
                env=Environment(region=DEFAULT_REGION),
            )
        app.synth()
        stages = load_stages(Path(outdir))
        return tuple(
            tuple(estimate_stage(stages[f"Lever{index}"])) for index in range(len(overrides))
        )


def lever_savings(dev: list[LineItem]) -> list[tuple[Lever, float]]:
    """(lever, monthly saving against the alternative) for every lever of ``LEVERS``."""
    base = total(dev)
    profile_levers = [lever for lever in LEVERS if lever.overrides]
    variants = _dev_variants([lever.overrides for lever in profile_levers])
    results = {
        lever.name: total(items) - base
        for lever, items in zip(profile_levers, variants, strict=True)
    }
    for lever in LEVERS:
        if lever.drops is not None:
            results[lever.name] = sum(item.monthly for item in dev if lever.drops(item))
    return [(lever, results[lever.name]) for lever in LEVERS]


def nat_replacement(dev: list[LineItem], availability_zones: int = 2) -> tuple[float, float]:
    """(what the NAT gateway and its address cost, what interface endpoints would)."""
    nat = sum(i.monthly for i in dev if i.item in ("NAT gateway", "Elastic IP (public IPv4)"))
    endpoints = (
        len(INTERFACE_ENDPOINTS_INSTEAD_OF_NAT)
        * availability_zones
        * PRICES["interface_endpoint_hour"].usd
        * HOURS_PER_MONTH
    )
    return nat, endpoints


# -- markdown ----------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _unit_price(item: LineItem) -> str:
    price = item.unit_price
    if not price:
        text = "$0"
    elif price < 0.01:
        text = f"${price:.2g}"
    else:
        text = f"${price:,.4f}".rstrip("0").rstrip(".")
    return text + ("" if item.verified else " (unverified)")


def _quantity(value: float) -> str:
    return (
        f"{value:,.3f}".rstrip("0").rstrip(".")
        if not float(value).is_integer()
        else (f"{int(value):,}")
    )


def stage_table(stage: str, items: list[LineItem]) -> list[str]:
    lines = [
        f"#### {stage}: {_money(total(items))} a month at zero traffic",
        "",
        "| stack | item | quantity | unit price | monthly | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for item in items:
        stack = item.stack.split("/", 1)[-1]
        lines.append(
            f"| {stack} | {item.item} | {_quantity(item.quantity)} {item.unit} | "
            f"{_unit_price(item)} | {_money(item.monthly)} | {item.note} |"
        )
    by_stack: dict[str, float] = {}
    for item in items:
        by_stack[item.stack] = by_stack.get(item.stack, 0.0) + item.monthly
    lines += ["", "| stack | monthly |", "|---|---:|"]
    lines += [f"| {name} | {_money(value)} |" for name, value in by_stack.items()]
    lines += [f"| **{stage} total** | **{_money(total(items))}** |", ""]
    return lines


def marginal_table(stacks: Mapping[str, Template]) -> list[str]:
    lines = [
        "| path | component | per million requests |",
        "|---|---|---:|",
    ]
    for path, components in marginal_costs(stacks):
        for component, cost in components:
            lines.append(f"| {path} | {component} | {_money(cost)} |")
        lines.append(f"| **{path}** | **total** | **{_money(sum(c for _, c in components))}** |")
    r = REQUESTS
    lines += [
        "",
        f"Assumed per request: a {r.response_kb:g} KB response; Lambda runs {r.lambda_ms:g} ms "
        f"({r.open_lambda_ms:g} ms to open an account) at the function's configured memory; "
        "API Gateway's Cognito authorizer (no Lambda); DynamoDB items under 1 KB, reads "
        f"strongly consistent; {r.api_log_kb:g} KB of access log (plus {r.execution_log_kb:g} KB "
        "where a stage logs execution at INFO) and 1 KB of function or service log; both web "
        "ACLs (CloudFront's and the API's regional one) inspect every request; X-Ray's default "
        "sampling traces every request while there is less than one a second; transfers: "
        f"{r.aurora_ios:g} Aurora I/Os, {r.aurora_acu_seconds * 1000:g} ms of one ACU, "
        f"{r.valkey_ecpus:g} Valkey ECPUs, ALB bytes as LCUs, tasks within their minimum. "
        "Not counted: the events a request publishes (SNS, SQS, the statements worker), "
        "free tiers (CloudFront's 10 M requests and 1 TB, Lambda's 1 M requests and 400,000 "
        "GB-s, X-Ray's 100,000 traces a month).",
        "",
    ]
    return lines


def levers_table(dev: list[LineItem]) -> list[str]:
    lines = [
        "Each profile lever is priced by synthesizing the Dev stage with the alternative "
        "setting and estimating it; the others by dropping the lines they remove. A lever "
        "Dev already takes shows what it saves against the alternative.",
        "",
        "| lever | Dev | instead | saves a month | verdict |",
        "|---|---|---|---:|---|",
    ]
    for lever, saving in lever_savings(dev):
        lines.append(
            f"| {lever.name} | {lever.dev_setting} | {lever.alternative} | {_money(saving)} | "
            f"{lever.verdict} |"
        )
    nat, endpoints = nat_replacement(dev)
    lines += [
        "",
        f"No NAT gateway at all would save {_money(nat)} but the tasks would then need "
        f"interface endpoints for {', '.join(INTERFACE_ENDPOINTS_INSTEAD_OF_NAT)} in each of "
        f"two AZs: {_money(endpoints)} a month, more than the gateway (a NAT instance is "
        "cheaper but is a server to patch, and Prod would not share the shape).",
        "",
    ]
    return lines


def sources_table() -> list[str]:
    lines = [
        f"Prices: us-east-1 on-demand, read {PRICE_DATE} from stored copies of the pages "
        "named (no live access); *unverified* marks a figure no copy showed.",
        "",
        "| price | USD | per | source |",
        "|---|---:|---|---|",
    ]
    for key, price in PRICES.items():
        status = "" if price.verified else " **unverified**"
        note = f" ({price.note})" if price.note else ""
        lines.append(f"| {key} | {price.usd:g} | {price.unit} | {price.source}{status}{note} |")
    a = ASSUMPTIONS
    lines += [
        "",
        "Idle assumptions: free tiers not subtracted (per account: e.g. 3 dashboards, 10 alarm "
        "metrics, 1 M SQS requests, the first CloudTrail trail's management events); "
        f"{HOURS_PER_MONTH:g} hours a month; Aurora volume {a.aurora_idle_storage_gb:g} GB, "
        f"awake at {a.aurora_wake_acu:g} ACU for each nightly job and rotation; "
        f"Container Insights metrics per cluster {CI_METRICS_PER_CLUSTER}, per service "
        f"{CI_METRICS_PER_SERVICE}, per task family {CI_METRICS_PER_TASK_FAMILY} (unverified "
        "count).",
        "",
    ]
    return lines


def idle_cost_markdown(cdk_out: Path, *, levers: bool = True) -> str:
    """The report's idle-cost section: per-stage tables (item, quantity, unit price,
    monthly), totals, the marginal cost of a million requests per path, the levers on Dev's
    cost (``levers=False`` skips them: they synthesize Dev variants, ~10 s), the sources."""
    stages = load_stages(cdk_out)
    estimates = {stage: estimate_stage(stacks) for stage, stacks in stages.items()}
    lines = ["## Idle cost", ""]
    lines += [
        "What each stage costs a month with no traffic at all, from the resources in its "
        "templates (`tools/idle_cost.py`):",
        "",
        "| stage | a month at zero traffic |",
        "|---|---:|",
    ]
    lines += [f"| {stage} | {_money(total(items))} |" for stage, items in estimates.items()]
    lines.append("")
    for stage, items in estimates.items():
        lines += stage_table(stage, items)
    reference = "Prod" if "Prod" in stages else next(iter(stages))
    lines += [
        "### One million API requests",
        "",
        f"What a million requests add on each path, as {reference} is configured (marginal: "
        "on top of the idle cost):",
        "",
        *marginal_table(stages[reference]),
    ]
    if levers and "Dev" in estimates:
        lines += ["### Levers on Dev's idle cost", "", *levers_table(estimates["Dev"])]
    lines += ["### Prices and assumptions", "", *sources_table()]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cdk_out", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--no-levers", action="store_true", help="skip the Dev variants' synth")
    args = parser.parse_args(argv)
    if not (args.cdk_out / "manifest.json").exists():
        print(f"{args.cdk_out}: no cloud assembly; run `make synth`", file=sys.stderr)
        return 1
    sys.stdout.write(idle_cost_markdown(args.cdk_out, levers=not args.no_levers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
