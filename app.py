#!/usr/bin/env python3
"""Entry point of the reference app: one Stage per environment profile (``Dev``, ``Prod``).

Account and region come from context (``-c account=... -c region=...``) or from the
CLI's ``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION``; with neither, the stages are
account-agnostic in ``us-east-1``, so ``cdk synth`` needs no AWS credentials.
"""

from __future__ import annotations

import os

from aws_cdk import App, Environment

from stacks.compliance import add_compliance_checks
from stacks.config import (
    AVAILABILITY_ZONES_CONTEXT,
    DEFAULT_REGION,
    PROFILES,
    DeploymentTarget,
    lookup_context_key,
    resolve_availability_zones,
    zones_for,
)
from stacks.stage import PaymentsStage


def deployment_target(app: App) -> DeploymentTarget:
    """Resolve where to deploy from context first, then the CLI's environment.

    The Availability Zones come from ``-c availability_zones=...``, else from the account's
    lookup recorded in cdk.context.json, else from the region's defaults in
    ``stacks/config.py``; never from the region's name.
    """
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = (
        app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    )
    zones = resolve_availability_zones(
        region,
        requested=app.node.try_get_context(AVAILABILITY_ZONES_CONTEXT),
        recorded=app.node.try_get_context(lookup_context_key(account, region)) if account else None,
    )
    return DeploymentTarget(account=account or None, region=region, availability_zones=zones)


def build_app(app: App) -> dict[str, PaymentsStage]:
    """Add one PaymentsStage per profile to ``app``; returns them by profile name."""
    target = deployment_target(app)
    environment = Environment(account=target.account, region=target.region)
    return {
        name: PaymentsStage(
            app,
            profile.stage_id,
            profile=profile,
            availability_zones=zones_for(profile, target),
            env=environment,
        )
        for name, profile in PROFILES.items()
    }


def main() -> None:
    app = App()
    add_compliance_checks(app)
    build_app(app)
    app.synth()


if __name__ == "__main__":
    main()
