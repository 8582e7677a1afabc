"""The pinned CDK CLI synthesizes the app with zero open cdk-nag findings, and writes
exactly the templates the session fixture builds (so every other test checks what ships)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from reference_app import REPO_ROOT, stack_templates, without_cdk_metadata

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def cli_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``cdk synth --output <dir> '**'`` writes: run here, or, when
    ``CLI_SYNTH_OUTDIR`` names a folder, the assembly that ``make synth`` has just written
    there (``make pytest`` runs the synth first, so the app goes through the CLI once)."""
    if prebuilt := os.environ.get("CLI_SYNTH_OUTDIR"):
        outdir = Path(prebuilt)
        if not (outdir / "manifest.json").is_file():
            pytest.fail(f"CLI_SYNTH_OUTDIR={prebuilt} holds no cloud assembly: run `make synth`")
        yield outdir
        return
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `make setup` (make test does it)")
    outdir = tmp_path_factory.mktemp("cli-cdk.out")
    venv_bin = str(REPO_ROOT / ".venv" / "bin")
    env = {
        **os.environ,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_CLI_NOTICES": "false",
    }
    for variable in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        env.pop(variable, None)
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--output", str(outdir), "**"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    yield outdir
    shutil.rmtree(outdir, ignore_errors=True)


def test_cli_writes_every_stage(cli_outdir: Path) -> None:
    assert sorted(stack_templates(cli_outdir)) == [
        "Dev/Accounts",
        "Dev/Edge",
        "Dev/EdgeFirewall",
        "Dev/Observability",
        "Dev/Platform",
        "Dev/Statements",
        "Dev/Transfers",
        "Prod/Accounts",
        "Prod/Edge",
        "Prod/EdgeFirewall",
        "Prod/Observability",
        "Prod/Platform",
        "Prod/Statements",
        "Prod/Transfers",
    ]


def test_fixture_templates_equal_cli_templates(
    cli_outdir: Path, synthesized_app: dict[str, dict[str, Any]]
) -> None:
    cli_templates = stack_templates(cli_outdir)
    assert cli_templates.keys() == synthesized_app.keys()
    for name, template in cli_templates.items():
        assert "CDKMetadata" in template["Resources"]
        assert without_cdk_metadata(template) == without_cdk_metadata(synthesized_app[name]), (
            f"{name} differs from the CLI's template"
        )


def test_cdk_nag_has_no_open_findings_and_every_acknowledgement_has_a_reason(
    cli_outdir: Path,
) -> None:
    report = json.loads((cli_outdir / "validation-report.json").read_text(encoding="utf-8"))
    packs = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= packs.keys()
    for name, plugin in packs.items():
        assert plugin["violations"] == [], f"{name} has open findings"
        for suppressed in plugin["suppressedViolations"]:
            assert len(suppressed["reason"].strip()) >= 40, suppressed["acknowledgedId"]
            # Acknowledged on the construct that has the finding or its direct owner,
            # never on a whole stack or stage.
            assert suppressed["acknowledgedAt"].count("/") >= 2, suppressed["acknowledgedAt"]


def test_the_transfers_image_context_holds_only_what_the_dockerfile_copies(
    cli_outdir: Path,
) -> None:
    """The Docker build context is the repository root; staging must not drag the venv,
    node_modules or cdk.out along (the asset would be huge and its hash unstable)."""
    [context] = [
        path.parents[2] for path in cli_outdir.glob("asset.*/container_src/transfers/Dockerfile")
    ]
    files = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
    assert "container_src/transfers/requirements.txt" in files
    assert "contracts/events/AccountOpened.v1.json" in files
    assert {f.split("/")[0] for f in files} == {"container_src", "contracts"}
    assert all(f.startswith(("container_src/transfers/", "contracts/events/")) for f in files), (
        files
    )
    assert not any("__pycache__" in f for f in files)
