"""Acknowledging cdk-nag findings: one helper, so every acknowledgement has a rule and a reason."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
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


def nag_finding(scope: IConstruct, value: str) -> str:
    """``value`` (a string that may hold tokens) as cdk-nag writes it in a granular finding:
    ``Ref`` as ``<LogicalId>``, ``Fn::GetAtt`` as ``<LogicalId.Attribute>``, pseudo
    parameters as ``<AWS::Partition>``, ``Fn::Join`` joined."""
    return _render(Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{resource}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"nag_finding: cannot render {value!r}")
