"""Acknowledging cdk-nag findings: one helper, so every acknowledgement has a rule and a reason."""

from __future__ import annotations

import json
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


def nag_finding(scope: IConstruct, value: object) -> str:
    """``value`` (a string that may hold tokens, or a resolved CloudFormation value) as
    cdk-nag writes it in a granular finding (its ``flattenCfnReference``): ``Ref`` as
    ``<LogicalId>``, ``Fn::GetAtt`` as ``<LogicalId.Attribute>``, pseudo parameters as
    ``<AWS::Partition>``, ``Fn::Join`` joined, ``Fn::Sub``'s ``${...}`` as ``<...>``."""
    return _render(Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(_render(part) for part in parts)
        if "Fn::Sub" in value:
            return _render(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{_render(resource)}.{_render(attribute)}>"
        if "Fn::ImportValue" in value:
            return _render(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{_render(value['Ref'])}>"
    # cdk-nag's fallback: the value as JSON.stringify writes it.
    return json.dumps(value, separators=(",", ":"))
