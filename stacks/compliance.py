"""cdk-nag rule packs over the whole reference app."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks


def add_compliance_checks(app: App) -> None:
    """Run the AwsSolutions and Serverless packs at synth; a finding fails ``app.synth()``."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
