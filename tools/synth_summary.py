"""Print what ``cdk synth`` produced: stacks, resources per stack, cdk-nag result, paths.

Usage: ``python tools/synth_summary.py cdk.out``. Exits non-zero if the assembly is
missing or the validation report holds unacknowledged findings.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

OPERATIONS_KINDS = (
    "AWS::Scheduler::Schedule",
    "AWS::StepFunctions::StateMachine",
    "AWS::ECS::TaskDefinition",
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Dashboard",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::CodeDeploy::DeploymentGroup",
)
"""Kinds always named in a stack's line when it has them (the jobs, workflows, trail,
dashboards, health alarms and deployment groups that the three most frequent kinds would
hide)."""


def stack_templates(outdir: Path) -> list[tuple[str, Path]]:
    """(display name, template path) for every stack of the assembly and nested stages."""
    found: list[tuple[str, Path]] = []
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        kind = artifact.get("type")
        properties = artifact.get("properties", {})
        if kind == "aws:cloudformation:stack":
            name = artifact.get("displayName", artifact_id)
            found.append((name, outdir / properties["templateFile"]))
        elif kind == "cdk:cloud-assembly":
            found.extend(stack_templates(outdir / properties["directoryName"]))
    return found


def validation_summary(outdir: Path) -> tuple[str, int]:
    """One line per rule pack and the number of unacknowledged findings."""
    report_path = outdir / "validation-report.json"
    if not report_path.exists():
        return "no validation report (no rule packs ran)", 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    lines = []
    open_findings = 0
    for plugin in report.get("pluginReports", []):
        violations = plugin.get("violations", [])
        suppressed = plugin.get("suppressedViolations", [])
        open_findings += len(violations)
        lines.append(
            f"  {plugin.get('pluginName', '?')}: {plugin.get('conclusion', '?')}, "
            f"{len(violations)} open finding(s), {len(suppressed)} acknowledged with a reason"
        )
    return "\n".join(lines) or "  (no plugin reports)", open_findings


def describe(resources: dict[str, dict[str, object]]) -> str:
    """The three most frequent kinds of a stack's resources, then any ``OPERATIONS_KINDS``."""
    by_type = Counter(str(resource["Type"]) for resource in resources.values())
    top = by_type.most_common(3)
    shown = {kind for kind, _ in top}
    extra = [
        (kind, by_type[kind]) for kind in OPERATIONS_KINDS if by_type[kind] and kind not in shown
    ]
    return ", ".join(f"{count} {kind}" for kind, count in [*top, *extra]) + ", ..."


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    if not (outdir / "manifest.json").exists():
        print(f"{outdir}: no cloud assembly; run `make synth`", file=sys.stderr)
        return 1
    templates = stack_templates(outdir)
    print(f"Synthesized {len(templates)} stack(s) into {outdir}/:")
    width = max((len(name) for name, _ in templates), default=0)
    for name, template_path in templates:
        template = json.loads(template_path.read_text(encoding="utf-8"))
        resources = template.get("Resources", {})
        print(f"  {name:<{width}}  {len(resources):>3} resources  ({describe(resources)})")
        print(f"  {'':<{width}}  {template_path}")
    summary, open_findings = validation_summary(outdir)
    print("cdk-nag (AwsSolutions + Serverless packs):")
    print(summary)
    return 1 if open_findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
