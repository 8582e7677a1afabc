"""Availability Zones come from the deployment target, never from the region's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from reference_app import cli_context, resources_of_type, stack_templates

from stacks.config import (
    DEV,
    PROD,
    ConfigurationError,
    DeploymentTarget,
    lookup_context_key,
    resolve_availability_zones,
    zones_for,
)


def _synth(tmp_path: Path, **context: object) -> dict[str, dict]:
    from app import build_app

    app = App(
        context={**cli_context(), **context},
        outdir=str(tmp_path),
        builtin_cloud_formation_validation=False,
    )
    build_app(app)
    app.synth()
    return stack_templates(tmp_path)


def _subnet_zones(template: dict) -> list[str]:
    return [
        subnet["Properties"]["AvailabilityZone"]
        for _, subnet in resources_of_type(template, "AWS::EC2::Subnet")
    ]


def test_a_stage_in_tokyo_uses_only_zones_tokyo_has(tmp_path: Path):
    """ap-northeast-1 has no "b" zone: a VPC built from the region's name would not deploy."""
    templates = _synth(tmp_path, region="ap-northeast-1")

    dev_zones = _subnet_zones(templates["Dev/Platform"])
    prod_zones = _subnet_zones(templates["Prod/Platform"])
    assert set(dev_zones) == {"ap-northeast-1a", "ap-northeast-1c"}
    assert set(prod_zones) == {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}


def test_the_zones_can_be_named_on_the_command_line(tmp_path: Path):
    templates = _synth(
        tmp_path, region="eu-west-1", availability_zones="eu-west-1c,eu-west-1a,eu-west-1b"
    )

    assert set(_subnet_zones(templates["Dev/Platform"])) == {"eu-west-1c", "eu-west-1a"}


def test_a_profile_wanting_more_zones_than_the_region_has_fails_at_synth(tmp_path: Path):
    with pytest.raises(ConfigurationError, match=r"prod profile asks for 3 .* offers 2"):
        _synth(tmp_path, region="us-west-1", availability_zones="us-west-1b,us-west-1c")


def test_the_lookup_recorded_in_cdk_context_json_is_used():
    recorded = ["sa-east-1a", "sa-east-1c"]
    assert resolve_availability_zones("sa-east-1", requested=None, recorded=recorded) == (
        "sa-east-1a",
        "sa-east-1c",
    )
    assert lookup_context_key("111122223333", "sa-east-1") == (
        "availability-zones:account=111122223333:region=sa-east-1"
    )


def test_the_command_line_wins_over_the_recorded_lookup():
    zones = resolve_availability_zones(
        "sa-east-1", requested="sa-east-1c, sa-east-1b", recorded=["sa-east-1a"]
    )
    assert zones == ("sa-east-1c", "sa-east-1b")


def test_a_region_without_known_zones_asks_for_them():
    with pytest.raises(ConfigurationError, match=r"region 'me-central-1'.*-c availability_zones="):
        resolve_availability_zones("me-central-1", requested=None)


@pytest.mark.parametrize(
    "requested",
    ["eu-west-2a,eu-west-1b", "eu-west-1", "eu-west-1a,eu-west-1a", "", "eu-west-1-lax-1a"],
)
def test_zone_names_of_another_region_or_malformed_are_rejected(requested: str):
    with pytest.raises(ConfigurationError, match="eu-west-1"):
        resolve_availability_zones("eu-west-1", requested=requested)


def test_zones_for_takes_the_profiles_count_in_the_targets_order():
    target = DeploymentTarget(
        account=None, region="eu-west-1", availability_zones=("eu-west-1b", "eu-west-1c")
    )
    assert zones_for(DEV, target) == ("eu-west-1b", "eu-west-1c")
    with pytest.raises(ConfigurationError, match="lower availability_zones"):
        zones_for(PROD, target)
