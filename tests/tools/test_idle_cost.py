"""tools/idle_cost.py: a hand-computed fixture, the reference app against its profiles, the
README's figures against the estimator."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from stacks.config import DEV, PROD, ConfigurationError, EnvironmentProfile
from tools.idle_cost import (
    HOURS_PER_MONTH,
    PRICES,
    LineItem,
    Template,
    _dev_variants,
    estimate_stack,
    estimate_stage,
    idle_cost_markdown,
    load_stages,
    runs_per_month,
    task_size,
    total,
)

FIXTURE = Path(__file__).parent / "fixtures" / "idle_cost"
README = Path(__file__).resolve().parents[2] / "README.md"

# The fixture stage by hand, us-east-1 prices, 730 hours a month:
#   Net: NAT gateway            0.045 x 730                         = 32.85
#        Elastic IP             0.005 x 730                         =  3.65
#        interface endpoint     2 AZs x 0.01 x 730                  = 14.60
#        gateway endpoint       free                                =  0
#        KMS key                1 x 1.00                            =  1.00
#   App: internal ALB           0.0225 x 730                        = 16.425
#        Fargate, 2 tasks (autoscaling minimum) of the task size 512 CPU units / 1024 MB
#        (the collector sidecar is inside it), arm64:
#                               2 x (0.5 x 0.03238 + 1 x 0.00356) x 730 = 28.835
#        Aurora: 1 db.serverless instance at 0.5 ACU
#                               0.5 x 0.12 x 730                    = 43.80
#        Aurora storage         1 GB (assumed) x 0.10               =  0.10
#        Valkey serverless      0.1 GB minimum x 0.084 x 730        =  6.132
#        WAF                    5 + 2 rules x 1                     =  7.00
#        dashboard              3.00                                =  3.00
#        alarms: 1 standard + a metric-math alarm over 3 metrics = 4 x 0.10 = 0.40
#                1 high-resolution (10 s period) x 0.30            =  0.30
#                1 composite x 0.50                                 =  0.50
#        Lambda function        free at idle                        =  0
#   total: 32.85 + 3.65 + 14.60 + 1.00 + 16.425 + 28.835 + 43.80 + 0.10 + 6.132 + 7.00
#          + 3.00 + 0.40 + 0.30 + 0.50                              = 158.592
FIXTURE_TOTAL = 158.592
FIXTURE_NET = 32.85 + 3.65 + 14.60 + 1.00


def test_the_fixture_stage_costs_what_was_computed_by_hand() -> None:
    stages = load_stages(FIXTURE)
    assert list(stages) == ["Test"]
    items = estimate_stage(stages["Test"])
    assert total(items) == pytest.approx(FIXTURE_TOTAL, abs=0.001)
    net = [item for item in items if item.stack == "Test/Net"]
    assert total(net) == pytest.approx(FIXTURE_NET, abs=0.001)


def _by_item(items: list[LineItem], text: str) -> LineItem:
    [found] = [item for item in items if text in item.item]
    return found


def test_fixture_lines_carry_quantities_and_unit_prices() -> None:
    items = estimate_stage(load_stages(FIXTURE)["Test"])
    fargate = _by_item(items, "Fargate task app")
    assert fargate.quantity == 2
    assert fargate.unit_price == pytest.approx((0.5 * 0.03238 + 0.00356) * HOURS_PER_MONTH)
    alarms = _by_item(items, "CloudWatch alarms")
    assert alarms.quantity == 4
    assert _by_item(items, "high-resolution").quantity == 1
    endpoints = _by_item(items, "interface VPC endpoints")
    assert endpoints.quantity == 2
    assert _by_item(items, "gateway VPC endpoints").monthly == 0


def test_task_size_is_the_task_level_size_or_the_containers_sum() -> None:
    assert task_size(
        {"Cpu": "256", "Memory": "512", "ContainerDefinitions": [{"Cpu": 64, "Memory": 128}]}
    ) == (0.25, 0.5, "X86_64")
    assert task_size(
        {
            "ContainerDefinitions": [
                {"Cpu": 256, "Memory": 512},
                {"Cpu": 256, "MemoryReservation": 512},
            ],
            "RuntimePlatform": {"CpuArchitecture": "ARM64"},
        }
    ) == (0.5, 1.0, "ARM64")


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("cron(0 3 * * ? *)", HOURS_PER_MONTH / 24),
        ("cron(0/15 * * * ? *)", 4 * HOURS_PER_MONTH),
        ("cron(0 8 ? * MON-FRI *)", 5 * HOURS_PER_MONTH / 24 / 7),
        ("rate(1 hour)", HOURS_PER_MONTH),
        ("rate(5 minutes)", 12 * HOURS_PER_MONTH),
        ("at(2026-12-01T00:00:00)", 0.0),
    ],
)
def test_runs_per_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression) == pytest.approx(runs)


def test_an_aurora_cluster_at_zero_acu_pays_only_for_its_wake_ups() -> None:
    template: Template = {
        "Resources": {
            "Db": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {
                    "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 2}
                },
            },
            "Writer": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBClusterIdentifier": {"Ref": "Db"},
                    "DBInstanceClass": "db.serverless",
                },
            },
            "Job": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(1 day)",
                    "Target": {"Arn": "cluster", "EcsParameters": {}},
                },
            },
        }
    }
    [aurora] = [i for i in estimate_stack("S", template) if "Aurora Serverless" in i.item]
    # one wake-up a day: 1 min of job + 300 s pause delay, at 0.5 ACU
    assert aurora.quantity == pytest.approx(HOURS_PER_MONTH / 24 * 360 / 3600 * 0.5, abs=0.001)
    assert aurora.monthly < 0.5


# -- the reference app ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_estimates(synthesized_assembly: Path) -> dict[str, list[LineItem]]:
    return {
        stage: estimate_stage(stacks) for stage, stacks in load_stages(synthesized_assembly).items()
    }


_PROFILES = {"Dev": DEV, "Prod": PROD}


@pytest.mark.parametrize("stage", ["Dev", "Prod"])
def test_reference_estimate_follows_the_profile(
    stage: str, reference_estimates: dict[str, list[LineItem]]
) -> None:
    profile: EnvironmentProfile = _PROFILES[stage]
    items = reference_estimates[stage]
    assert _by_item(items, "NAT gateway").quantity == profile.nat_gateways
    assert _by_item(items, "Elastic IP").quantity == profile.nat_gateways
    fargate = _by_item(items, "Fargate task transfers (")
    assert fargate.quantity == profile.service_min_tasks
    # the collector sidecar sits inside the task's size: 0.25 vCPU / 0.5 GB in all
    assert "0.25 vCPU, 0.5 GB, arm64" in fargate.item
    aurora = _by_item(items, "Aurora Serverless v2")
    if profile.database_min_capacity:
        instances = 1 + profile.database_readers
        assert aurora.quantity == profile.database_min_capacity * instances
        assert aurora.monthly == pytest.approx(
            profile.database_min_capacity
            * instances
            * PRICES["aurora_acu_hour"].usd
            * HOURS_PER_MONTH
        )
    else:
        assert "paused" in aurora.item
        assert aurora.monthly < 1.0
    insights = [item for item in items if "Container Insights" in item.item]
    assert bool(insights) == profile.container_insights
    assert "ElastiCache Serverless (valkey)" in _by_item(items, "ElastiCache").item


def test_nothing_priced_by_the_request_costs_anything_idle(
    reference_estimates: dict[str, list[LineItem]],
) -> None:
    for items in reference_estimates.values():
        for item in items:
            if item.item.startswith(("pay-per-use", "DynamoDB", "Cognito", "gateway VPC")):
                assert item.monthly == 0, item
        lambda_jobs = [item for item in items if item.item == "scheduled Lambda job"]
        assert lambda_jobs
        assert all(item.monthly < 0.01 for item in lambda_jobs)


def test_the_markdown_has_every_section(synthesized_assembly: Path) -> None:
    text = idle_cost_markdown(synthesized_assembly, levers=False)
    for heading in (
        "## Idle cost",
        "#### Dev:",
        "#### Prod:",
        "### One million API requests",
        "### Prices and assumptions",
    ):
        assert heading in text
    assert "unverified" in text  # every price no stored page showed is marked
    for key in PRICES:
        assert f"| {key} |" in text


def test_a_dev_variant_without_changes_costs_what_dev_costs(
    reference_estimates: dict[str, list[LineItem]],
) -> None:
    """The levers price a profile change by synthesizing Dev with it: with no change, that
    path must give Dev's own figure."""
    [variant] = _dev_variants([{}])
    assert total(variant) == pytest.approx(total(reference_estimates["Dev"]))


def test_the_readme_quotes_the_estimator(reference_estimates: dict[str, list[LineItem]]) -> None:
    """The README's idle-cost table is the estimator's output: after a change to the app,
    run ``python tools/idle_cost.py cdk.out --no-levers`` and copy the stage totals."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- idle-cost:", 1)[1].split("<!-- /idle-cost -->", 1)[0]
    quoted = dict(re.findall(r"^\| (\w+) \| \$([\d,.]+) \|$", block, flags=re.MULTILINE))
    expected = {stage: f"{total(items):,.2f}" for stage, items in reference_estimates.items()}
    assert quoted == expected


def test_container_insights_must_be_a_boolean() -> None:
    with pytest.raises(ConfigurationError, match="container_insights is 'no'"):
        dataclasses.replace(DEV, container_insights="no")  # type: ignore[arg-type]
