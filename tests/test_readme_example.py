"""The README's library example runs as written, in a fresh app, and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- example: api-service"


def _example_source() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(re.escape(MARKER) + r".*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md lost its api-service example block"
    return match.group(1)


def test_readme_example_synthesizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "lambda" / "orders"
    code.mkdir(parents=True)
    for module in ("create_order", "get_order"):
        (code / f"{module}.py").write_text("def handler(event, context):\n    return {}\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme_example"}

    exec(compile(_example_source(), str(README), "exec"), namespace)

    stack = namespace["stack"]
    assert isinstance(stack, Stack)
    template = Template.from_stack(stack).to_json()
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::Lambda::Function") == 2
    assert types.count("AWS::DynamoDB::Table") == 1
    assert types.count("AWS::ApiGateway::Method") == 2
    methods = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"COGNITO_USER_POOLS"}
    table = next(r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }
