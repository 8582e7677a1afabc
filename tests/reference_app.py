"""Build and read the reference app the way ``cdk synth`` does, for the test session.

The CLI hands the app cdk.json's context plus a few keys of its own; a bare ``App()``
in pytest would see neither and synthesize different templates (feature flags change
resources). ``cli_context()`` reproduces both, so the tests check what gets deployed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Re-exported: the tests build their apps with the context the CLI gives (stacks/config.py).
from stacks.config import REPO_ROOT as REPO_ROOT
from stacks.config import cli_context as cli_context

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_LAMBDA_VERSION = re.compile(r"(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}")
"""A function's ``current_version`` (the ``live`` alias's version): aws-cdk-lib appends a
hash of the function's configuration, code included, to its logical id, so that a new
version is published whenever the code changes."""


def stack_templates(outdir: Path) -> dict[str, dict[str, Any]]:
    """Every stack template of a cloud assembly (nested stages included), by display name."""
    templates: dict[str, dict[str, Any]] = {}
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            template_file = outdir / properties["templateFile"]
            name = artifact.get("displayName", artifact_id)
            templates[name] = json.loads(template_file.read_text(encoding="utf-8"))
        elif artifact.get("type") == "cdk:cloud-assembly":
            templates.update(stack_templates(outdir / properties["directoryName"]))
    return templates


def stack_artifacts(outdir: Path) -> dict[str, dict[str, Any]]:
    """Every stack artifact's manifest properties (nested stages included), by display name:
    where the manifest says what the template cannot, e.g. ``terminationProtection``, and
    the ``environment`` (``aws://<account>/<region>``) it deploys to."""
    artifacts: dict[str, dict[str, Any]] = {}
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            where = {"environment": artifact.get("environment")}
            artifacts[artifact.get("displayName", artifact_id)] = {**properties, **where}
        elif artifact.get("type") == "cdk:cloud-assembly":
            artifacts.update(stack_artifacts(outdir / properties["directoryName"]))
    return artifacts


def normalize(template: dict[str, Any]) -> dict[str, Any]:
    """A template with what legitimately changes between unrelated edits masked.

    Asset hashes (they change with any edit of a handler's code) become ``<asset-hash>``,
    and so does the code hash in a Lambda version's logical id (``<version-hash>``); the
    CDKMetadata resource and its condition (CDK version analytics) are dropped.
    """
    return _mask(without_cdk_metadata(template))


def without_cdk_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """A copy without the CDKMetadata resource: its analytics string lists every construct
    class in the app, validation plugins included, so it differs between a test app and
    the CLI's app (which registers cdk-nag) and changes with every CDK upgrade."""
    result = copy.deepcopy(template)
    result.get("Resources", {}).pop("CDKMetadata", None)
    result.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if "Conditions" in result and not result["Conditions"]:
        del result["Conditions"]
    return result


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {_mask_text(key): _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def _mask_text(text: str) -> str:
    return _LAMBDA_VERSION.sub(r"\1<version-hash>", _ASSET_HASH.sub("<asset-hash>", text))


def resources_of_type(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, Any]]:
    """(logical id, resource) for every resource of ``resource_type``."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] == resource_type:
            yield logical_id, resource
