"""Acknowledging cdk-nag findings: one helper, so every acknowledgement has a rule and a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding on ``construct`` and its children.

    ``rule_id`` is the prefixed id, with the finding for granular rules, e.g.
    ``"AwsSolutions::AwsSolutions-IAM5[Resource::*]"``. ``reason`` must say why the finding
    is acceptable for this construct; it lands in ``cdk.out/validation-report.json``.
    """
    if not reason.strip():
        raise ValueError(f"acknowledge: a reason is required for {rule_id!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
