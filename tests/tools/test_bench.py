"""tools/bench.py: its pure parts (statistics, tables, pytest output, percent of limits),
and the README's quoted figures held to bench/results.json.

Nothing here is timed: the tool reports figures, it never asserts them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.bench import (
    MAX_RESOURCES,
    MAX_TEMPLATE_BYTES,
    README_END,
    README_START,
    count_resources,
    lambda_assets,
    marginal_per_resource,
    markdown_table,
    parse_pytest_output,
    percent,
    readme_block,
    replace_readme_block,
    spread,
    stack_table,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

MAKE_TEST_OUTPUT = """\
ruff check .
All checks passed!
============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.6.0
collected 690 items

tests/unit/test_api_service.py ........                                  [  1%]
============================= slowest 10 durations =============================
31.20s setup    tests/reference/test_cli_synth.py::test_cli_writes_every_stage
12.05s setup    tests/test_readme_example.py::test_readme_example_synthesizes
1.10s call     tests/handlers/test_accounts.py::test_open_account[with spaces]
0.98s teardown tests/services/transfers/test_api.py::test_transfer
=========================== short test summary info ============================
SKIPPED [1] tests/browser/test_ui.py:12: no chromium
FAILED tests/reference/test_snapshots.py::test_stack_template_snapshot[Dev/Edge] - AssertionError: x
===== 1 failed, 683 passed, 5 skipped, 1 xfailed, 2 warnings in 201.37s (0:03:21) =====
scratch=$(mktemp -d)
============================= test session starts ==============================
collected 120 items
============================= slowest 10 durations =============================
4.00s setup    tests/consumer/test_consumer.py::test_synth
ERROR tests/consumer/test_consumer.py::test_deploys
======================= 119 passed, 1 error in 40.02s ========================
"""


def test_spread_is_median_and_range() -> None:
    result = spread([9.0, 7.0, 8.0, 30.0])
    assert (result.median, result.low, result.high) == (8.5, 7.0, 30.0)
    assert result.runs == (9.0, 7.0, 8.0, 30.0)
    assert result.text() == "8.5 (7.0-30.0)"
    assert spread([5.0]).as_json() == {"median": 5.0, "min": 5.0, "max": 5.0, "runs": [5.0]}


def test_spread_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no measurements"):
        spread([])


def test_percent_of_limits() -> None:
    assert percent(123, MAX_RESOURCES) == 24.6
    assert percent(500_000, MAX_TEMPLATE_BYTES) == 50.0
    assert percent(1, 3) == 33.3
    with pytest.raises(ValueError, match="positive"):
        percent(1, 0)


def test_marginal_cost_per_resource() -> None:
    assert marginal_per_resource(10.0, 104, 2.0, 4) == pytest.approx(0.08)
    with pytest.raises(ValueError, match="more resources"):
        marginal_per_resource(10.0, 4, 2.0, 4)


def test_markdown_table_right_aligns_numeric_columns_and_escapes_pipes() -> None:
    table = markdown_table(["name", "n", "note"], [["a|b", 1, "x"], ["c", "2.5 (1-3)", "-y"]])
    assert table.splitlines() == [
        "| name | n | note |",
        "|---|---:|---|",
        "| a\\|b | 1 | x |",
        "| c | 2.5 (1-3) | -y |",
    ]


def test_markdown_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b", "c"], [["1", "2"]])


def test_parse_pytest_output_reads_every_session() -> None:
    main, floor = parse_pytest_output(MAKE_TEST_OUTPUT)
    assert main.counts == {
        "failed": 1,
        "passed": 683,
        "skipped": 5,
        "xfailed": 1,
        "warnings": 2,
    }
    assert main.failed == [
        "tests/reference/test_snapshots.py::test_stack_template_snapshot[Dev/Edge]"
    ]
    assert main.tests == 690
    assert main.seconds == 201.37
    assert main.slowest[0] == (
        31.2,
        "setup",
        "tests/reference/test_cli_synth.py::test_cli_writes_every_stage",
    )
    assert main.slowest[2][2] == "tests/handlers/test_accounts.py::test_open_account[with spaces]"
    assert len(main.slowest) == 4
    assert floor.counts == {"passed": 119, "errors": 1}
    assert floor.tests == 120
    assert floor.failed == ["tests/consumer/test_consumer.py::test_deploys"]
    assert floor.slowest == [(4.0, "setup", "tests/consumer/test_consumer.py::test_synth")]


def test_parse_pytest_output_without_a_session() -> None:
    assert parse_pytest_output("make: *** [Makefile:1: lint] Error 1\n") == []


def _assembly(tmp_path: Path) -> Path:
    """A two-stack cloud assembly: one function with a code asset and a layer asset."""
    (tmp_path / "asset.code").mkdir()
    (tmp_path / "asset.code" / "handler.py").write_text("x" * 1000)
    (tmp_path / "asset.layer" / "python").mkdir(parents=True)
    (tmp_path / "asset.layer" / "python" / "lib.py").write_text("y" * 3000)
    nested = tmp_path / "assembly-Dev"
    nested.mkdir()
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "handler.handler",
                    "Layers": [{"Ref": "Layer"}, "arn:aws:lambda:us-east-1:1:layer:x:1"],
                },
                "Metadata": {"aws:asset:path": "../asset.code"},
            },
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Metadata": {"aws:asset:path": "../asset.layer"},
            },
            "Inline": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "index.handler", "Code": {"ZipFile": "abc"}},
            },
        }
    }
    (nested / "DevA.template.json").write_text(json.dumps(template))
    (nested / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "DevA": {
                        "type": "aws:cloudformation:stack",
                        "displayName": "Dev/A",
                        "properties": {"templateFile": "DevA.template.json"},
                    }
                }
            }
        )
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "assembly-Dev": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": "assembly-Dev"},
                    }
                }
            }
        )
    )
    return tmp_path


def test_stack_table_counts_resources_and_template_size(tmp_path: Path) -> None:
    assembly = _assembly(tmp_path)
    [row] = stack_table(assembly)
    size = (assembly / "assembly-Dev" / "DevA.template.json").stat().st_size
    assert row == {
        "stack": "Dev/A",
        "resources": 3,
        "resources_pct": 0.6,
        "template_bytes": size,
        "template_pct": percent(size, MAX_TEMPLATE_BYTES),
    }
    assert count_resources({}) == 0


def test_lambda_assets_sum_code_and_layers_from_the_assembly(tmp_path: Path) -> None:
    functions = {item["function"]: item for item in lambda_assets(_assembly(tmp_path))}
    assert functions["Fn"]["code_bytes"] == 1000
    assert functions["Fn"]["layers_bytes"] == 3000
    assert functions["Fn"]["external_layers"] == 1
    assert functions["Fn"]["total_bytes"] == 4000
    assert functions["Inline"]["code_bytes"] == 3
    assert lambda_assets(tmp_path, stage="Prod") == []


def test_replace_readme_block_keeps_the_rest() -> None:
    text = f"intro\n{README_START}\nold\n{README_END}\noutro\n"
    block = f"{README_START}\nnew\n{README_END}"
    assert replace_readme_block(text, block) == f"intro\n{block}\noutro\n"
    with pytest.raises(ValueError, match="no"):
        replace_readme_block("no markers", block)


def test_readme_quotes_the_committed_results() -> None:
    """The README's bench lines are what `make bench` renders from bench/results.json: they
    cannot drift from the results they quote."""
    results = json.loads((REPO_ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_block(results)
    assert results["meta"]["commit"] in readme[start:end]
