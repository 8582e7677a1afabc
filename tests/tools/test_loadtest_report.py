"""The README's load lines are what `make bench` renders from bench/load.json and
bench/faults.json, and the fault report says what it found."""

from __future__ import annotations

import json
from pathlib import Path

from tools.loadtest.report import README_END, README_START, readme_block, replace_readme_block

REPO_ROOT = Path(__file__).resolve().parents[2]


def _json(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((REPO_ROOT / "bench" / name).read_text("utf-8"))
    return loaded


def test_readme_quotes_the_committed_load_and_fault_results() -> None:
    load, faults = _json("load.json"), _json("faults.json")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(README_START), readme.index(README_END) + len(README_END)
    assert readme[start:end] == readme_block(load["meta"], load, faults["scenarios"])  # type: ignore[arg-type]


def test_the_committed_fault_report_found_no_violation_in_any_scenario() -> None:
    faults = _json("faults.json")
    scenarios = faults["scenarios"]
    assert isinstance(scenarios, list)
    assert {s["scenario"] for s in scenarios} == {
        "steady",
        "kill-service",
        "restart-postgres",
        "lose-cache",
    }
    assert [s["violations"] for s in scenarios] == [0] * len(scenarios)
    assert faults["meta"]["form"] == "long"  # type: ignore[index]
    report = (REPO_ROOT / "bench" / "faults.md").read_text(encoding="utf-8")
    assert "**Violations found: 0.**" in report


def test_replace_readme_block_keeps_the_rest() -> None:
    text = f"intro\n{README_START}\nold\n{README_END}\noutro\n"
    block = f"{README_START}\nnew\n{README_END}"
    assert replace_readme_block(text, block) == f"intro\n{block}\noutro\n"
