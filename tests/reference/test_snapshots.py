"""One syrupy snapshot per stack: a safety net for changes nobody meant to make.

Asset hashes and CDK's version metadata are masked, so editing a handler's code or
upgrading CDK's patch release does not touch the snapshots; the second test proves it.
Update on purpose with ``pytest tests/reference/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment
from reference_app import cli_context, normalize, stack_templates
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.config import DEFAULT_AVAILABILITY_ZONES, DEV, LAMBDA_SRC
from stacks.stage import PaymentsStage

STACKS = [
    f"{stage}/{stack}"
    for stage in ("Dev", "Prod")
    for stack in ("Platform", "Accounts", "Statements", "Transfers", "EdgeFirewall", "Edge")
]


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack_name", STACKS)
def test_stack_template_snapshot(
    stack_name: str,
    synthesized_app: dict[str, dict[str, Any]],
    snapshot_json: SnapshotAssertion,
) -> None:
    assert normalize(synthesized_app[stack_name]) == snapshot_json


def test_editing_handler_code_leaves_the_snapshot_unchanged(
    tmp_path: Path, synthesized_app: dict[str, dict[str, Any]]
) -> None:
    edited_code = tmp_path / "accounts_api"
    shutil.copytree(LAMBDA_SRC / "accounts_api", edited_code)
    with (edited_code / "open_account.py").open("a", encoding="utf-8") as module:
        module.write("\n# an edit that changes the asset's hash\n")

    app = App(
        context=cli_context(),
        outdir=str(tmp_path / "out"),
        builtin_cloud_formation_validation=False,
    )
    PaymentsStage(
        app,
        DEV.stage_id,
        profile=DEV,
        availability_zones=DEFAULT_AVAILABILITY_ZONES["us-east-1"][: DEV.availability_zones],
        env=Environment(region="us-east-1"),
        accounts_code_dir=edited_code,
    )
    app.synth()
    edited = stack_templates(tmp_path / "out")["Dev/Accounts"]
    original = synthesized_app["Dev/Accounts"]

    assert edited != original, "the edit should have changed the raw template (asset hash)"
    assert normalize(edited) == normalize(original)
