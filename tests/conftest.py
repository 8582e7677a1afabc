"""Session fixtures: the reference app is synthesized once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from reference_app import cli_context, stack_templates


@pytest.fixture(scope="session")
def synthesized_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud assembly of the reference app with its defaults (what ``cdk synth`` writes).

    Built by ``app.build_app`` with the CLI's context, so its templates equal what ``cdk
    synth`` writes (tests/reference/test_cli_synth.py proves it). cdk-nag and CloudFormation's
    own validation run in that CLI test and in ``make synth``, not here, to keep this fast.
    """
    from app import build_app

    outdir: Path = tmp_path_factory.mktemp("cdk.out")
    app = App(context=cli_context(), outdir=str(outdir), builtin_cloud_formation_validation=False)
    build_app(app)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def synthesized_app(synthesized_assembly: Path) -> dict[str, dict[str, Any]]:
    """Templates of every stack of the reference app, by name (``Dev/Accounts``, ...)."""
    return stack_templates(synthesized_assembly)
