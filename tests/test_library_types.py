"""The library's types say what its constructs guarantee (issue 10, class 3)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from strict_typecheck import mypy_strict

TYPES = Path(__file__).resolve().parent / "typecheck" / "library_types.py"


def test_a_strict_type_checker_accepts_the_documented_types() -> None:
    assert mypy_strict(TYPES, cwd=TYPES.parent) == ""


def test_the_typed_program_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same calls work at run time: ``id=`` by keyword, GSIs on the created table."""
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    (handlers / "worker.py").write_text("def handler(event, context):\n    return {}\n")
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(TYPES))
    assert namespace["orders"].table.table_name
    assert namespace["serverless_cache"].auth_secret is None
    assert namespace["node_cache"].auth_secret is not None
    assert namespace["existing_worker"].dead_letter_queue is None
    assert namespace["site"].spa_function is not None
    assert namespace["existing_site"].bucket.bucket_name == "site-bucket"
    assert len(namespace["audit"].alarms) == 3
    assert namespace["audit"].trail_name.startswith("Types-Audit-")
