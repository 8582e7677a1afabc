"""tools/cold_imports.py: how it reads ``-X importtime`` output and finds the handlers.

Nothing here is timed (timings on a shared machine make flaky tests); the tool itself is
run by hand, see the README's "Lambda runtime dependencies".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.cold_imports import (
    Handler,
    ImportEntry,
    format_table,
    handler_modules,
    main,
    module_import,
    package_self_times,
    parse_importtime,
    summarize,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# As CPython prints it: a line when an import finishes, two spaces more per nesting level.
SAMPLE = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 | _io
import time:        40 |         40 |       _json
import time:       300 |        340 |     json.decoder
import time:       200 |        540 |   json
import time:        15 |         15 |       botocore.compat
import time:      1000 |       1015 |     botocore
import time:      2000 |       3015 |   boto3
import time:       100 |        100 |     aws_lambda_powertools.logging
import time:       500 |        600 |   aws_lambda_powertools
import time:      1000 |       1000 |   accounts
import time:       700 |       5855 | open_account
"""


def test_parse_nests_each_import_under_the_one_that_made_it() -> None:
    roots = parse_importtime(SAMPLE)
    assert [(entry.name, entry.depth) for entry in roots] == [("_io", 0), ("open_account", 0)]
    module = roots[1]
    assert (module.self_us, module.cumulative_us) == (700, 5855)
    assert [child.name for child in module.children] == [
        "json",
        "boto3",
        "aws_lambda_powertools",
        "accounts",
    ]
    json_entry, boto3_entry = module.children[:2]
    assert [child.name for child in json_entry.children] == ["json.decoder"]
    assert [child.name for child in json_entry.children[0].children] == ["_json"]
    assert [child.name for child in boto3_entry.children[0].children] == ["botocore.compat"]


def test_parse_ignores_other_lines_and_imports_that_never_finished() -> None:
    # A failed import prints no line of its own: what it imported must not be pinned on the
    # next module that finishes at a shallower level.
    text = (
        "Traceback (most recent call last):\n"
        "import time:        10 |         10 |       orphan\n"
        "import time:        20 |         20 |   fine\n"
        "import time:        30 |         60 | handler_module\n"
        "ModuleNotFoundError: No module named 'x'\n"
    )
    [module] = parse_importtime(text)
    assert module.name == "handler_module"
    assert [child.name for child in module.children] == ["fine"]
    assert module.children[0].children == []


def test_module_import_finds_the_top_level_entry() -> None:
    assert module_import(SAMPLE, "open_account").cumulative_us == 5855
    with pytest.raises(ValueError, match="no top-level import of 'json'"):
        module_import(SAMPLE, "json")  # imported, but not at the top level


def test_package_self_times_count_each_module_once() -> None:
    totals = package_self_times(module_import(SAMPLE, "open_account"))
    assert totals == {
        "open_account": 700,
        "json": 500,
        "_json": 40,
        "boto3": 2000,
        "botocore": 1015,
        "aws_lambda_powertools": 600,
        "accounts": 1000,
    }
    assert sum(totals.values()) == 5855


def test_summarize_takes_medians_over_the_runs() -> None:
    def run(module_us: int, boto3_us: int) -> ImportEntry:
        boto3_entry = ImportEntry("boto3", boto3_us, boto3_us, 1)
        return ImportEntry("get_account", module_us - boto3_us, module_us, 0, [boto3_entry])

    runs = [run(3000, 1000), run(5000, 2000), run(4000, 4000)]
    summary = summarize(Handler("get_account", REPO_ROOT / "lambda_src" / "accounts_api"), runs)
    assert summary.runs_ms == [3.0, 5.0, 4.0]
    assert summary.median_ms == 4.0
    assert summary.top == [("boto3", 2.0)]
    assert summary.packages == [("boto3", 2.0), ("get_account", 2.0)]
    table = format_table([summary])
    assert table.splitlines()[1].split() == [
        "accounts_api/get_account",
        "4.0",
        "3.0",
        "5.0",
        "boto3",
        "2",
    ]
    assert summary.as_json()["median_ms"] == 4.0


def test_the_handlers_measured_are_the_ones_the_stacks_deploy() -> None:
    referenced = set()
    for path in (REPO_ROOT / "stacks").glob("*.py"):
        # ``handler="x.handler"`` arguments and ``X_HANDLER = "x.handler"`` constants.
        referenced |= set(re.findall(r'"(\w+)\.handler"', path.read_text("utf-8")))
    found = handler_modules()
    assert {handler.module for handler in found} == referenced
    assert len(found) == len(referenced), "two function folders hold a module of one name"
    for handler in found:
        assert (handler.folder / f"{handler.module}.py").is_file()


def test_every_handler_module_imports_as_its_function_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each handler module imports in a fresh process with a Lambda function's environment
    (and the configuration its stack gives it): a handler that raised at import would have
    no cold-import figure, and would fail its function's init."""
    assert main(["--runs", "1"]) == 0
    table = capsys.readouterr().out
    for handler in handler_modules():
        assert f"{handler.folder.name}/{handler.module}" in table
