"""docs/architecture.md is what tools/architecture_report.py makes of the reference app.

The committed report and diagram sources must equal what the generator writes from this
session's synthesized app (regenerate with `make report`); the SVGs must be Graphviz's
rendering of the committed sources where `dot` is installed (`make report` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tools import architecture_report
from tools.architecture_report import Assembly, classify_action, generate

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
STAGES = ("dev", "prod")


@pytest.fixture(scope="module")
def generated(synthesized_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("docs")
    generate(synthesized_assembly, docs, svg=False)
    return docs


@pytest.mark.parametrize(
    "relative",
    ["architecture.md", *(f"architecture/{stage}.dot" for stage in STAGES)],
)
def test_the_committed_report_is_up_to_date(generated, relative):
    committed = (DOCS / relative).read_text(encoding="utf-8")
    assert committed == (generated / relative).read_text(encoding="utf-8"), (
        f"docs/{relative} differs from what the templates give: run `make report`"
    )


def test_regenerating_gives_the_same_files(synthesized_assembly, generated, tmp_path):
    generate(synthesized_assembly, tmp_path, svg=False)
    for path in sorted(generated.rglob("*")):
        if path.is_file():
            relative = path.relative_to(generated)
            assert (tmp_path / relative).read_bytes() == path.read_bytes(), relative


def test_the_report_links_one_diagram_per_stage(generated):
    text = (generated / "architecture.md").read_text(encoding="utf-8")
    for stage in STAGES:
        assert f"](architecture/{stage}.svg)" in text
        assert (DOCS / "architecture" / f"{stage}.svg").is_file()


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` not installed (make report installs it)"
)
@pytest.mark.parametrize("stage", STAGES)
def test_the_committed_svg_is_the_rendering_of_the_committed_source(stage):
    source = (DOCS / "architecture" / f"{stage}.dot").read_bytes()
    rendered = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, check=True)
    assert rendered.stdout == (DOCS / "architecture" / f"{stage}.svg").read_bytes()


def test_the_header_names_the_templates_not_the_commit(synthesized_assembly, generated):
    text = (generated / "architecture.md").read_text(encoding="utf-8")
    digest = architecture_report.templates_digest(Assembly.load(synthesized_assembly))
    assert f"templates `{digest}`" in text
    assert "commit" not in text.split("## Diagrams")[0]


def test_the_diagram_resolves_weak_references_across_stacks(generated):
    """The edge reads the us-east-1 web ACL and the APIs' ids through Fn::GetStackOutput."""
    source = (generated / "architecture" / "dev.dot").read_text(encoding="utf-8")
    assert (
        'Dev_EdgeFirewall_WebAcl9BD21CA7 -> Dev_Edge_SiteDistribution390DED28 [label="protects"'
        in source
    )
    assert 'label="origin /api/accounts*"' in source
    assert 'label="subscription: AccountOpened"' in source


@pytest.mark.parametrize(
    ("action", "access"),
    [
        ("dynamodb:GetItem", "read"),
        ("dynamodb:Query", "read"),
        ("dynamodb:PutItem", "write"),
        ("dynamodb:TransactWriteItems", "write"),
        ("dynamodb:ListStreams", None),
        ("sns:Publish", "publish"),
        ("sqs:SendMessage", "publish"),
        ("sqs:ReceiveMessage", "consume"),
        ("sqs:DeleteMessage", "consume"),
        ("sqs:GetQueueAttributes", "read"),
        ("s3:GetObject*", "read"),
        ("s3:PutObject", "write"),
        ("secretsmanager:GetSecretValue", "read"),
        ("rds-db:connect", "connect"),
        ("kms:Decrypt", "key"),
        ("lambda:InvokeFunction", "invoke"),
        ("xray:PutTraceSegments", None),
        ("logs:PutLogEvents", None),
    ],
)
def test_actions_are_classified(action, access):
    assert classify_action(action) == access


def test_the_report_has_one_idle_cost_section_from_the_estimator():
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert text.count("\n## Idle cost\n") == 1
    assert "#### Dev: $" in text
    assert "#### Prod: $" in text
