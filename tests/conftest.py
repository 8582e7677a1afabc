"""Session fixtures: the reference app is synthesized once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from reference_app import cli_context, stack_templates


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Templates of every stack of the reference app, by name (``Dev/Accounts``, ...).

    Built by ``app.build_app`` with the CLI's context, so they equal what ``cdk synth``
    writes (tests/reference/test_cli_synth.py proves it). cdk-nag and CloudFormation's own
    validation run in that CLI test and in ``make synth``, not here, to keep this fast.
    """
    from app import build_app

    outdir: Path = tmp_path_factory.mktemp("cdk.out")
    app = App(context=cli_context(), outdir=str(outdir), builtin_cloud_formation_validation=False)
    build_app(app)
    app.synth()
    return stack_templates(outdir)
