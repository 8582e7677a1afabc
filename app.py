#!/usr/bin/env python3
"""Entry point of the reference app: one Stage per environment profile (``Dev``, ``Prod``).

Account and region come from context (``-c account=... -c region=...``) or from the
CLI's ``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION``; with neither, the stages are
account-agnostic in ``us-east-1``, so ``cdk synth`` needs no AWS credentials.

aws-cdk-lib's built-in CloudFormation validation is off on a plain ``cdk synth``: it took a
quarter of the app's synth time and half its peak memory (bench/results.md, "Changes") and
found nothing that cfn-lint, which ``make test`` runs over the same templates, does not.
``-c cfn-validation=true`` runs it (``make synth``, so ``make test``, does).
"""

from __future__ import annotations

import os

from aws_cdk import App, CloudFormationValidatePlugin, Environment, Validations

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

CFN_VALIDATION_CONTEXT = "cfn-validation"
"""Context key that runs aws-cdk-lib's built-in CloudFormation validation at synth."""


def cfn_validation_requested(value: object) -> bool:
    """Whether the ``cfn-validation`` context value asks for the built-in validation
    (``true`` from ``-c``, or a JSON ``true`` from cdk.json)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


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
    app = App(builtin_cloud_formation_validation=False)
    if cfn_validation_requested(app.node.try_get_context(CFN_VALIDATION_CONTEXT)):
        Validations.of(app).add_plugins(CloudFormationValidatePlugin())
    add_compliance_checks(app)
    build_app(app)
    app.synth()


if __name__ == "__main__":
    main()
