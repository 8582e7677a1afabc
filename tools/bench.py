"""``make bench``: what the library and the reference app cost, measured in one run.

Usage::

    python tools/bench.py [--runs 3] [--bench-only] [--test-command "make test"]

Writes ``bench/results.md`` (tables; the machine's core count, the date and the commit in
its header) and ``bench/results.json``, and refreshes the README's quoted lines between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` (a test holds them to the JSON):

- ``cdk synth`` through the pinned CLI (what a pipeline pays), each run a fresh process:
  the reference app as it ships, the reference app with aws-cdk-lib's built-in CloudFormation
  validation (``-c cfn-validation=true``, what ``make synth`` runs), and ``bench/bare_app.py``
  (one Lambda) with and without that validation (its default is on). Wall time and peak RSS
  (the largest single process of the tree, from ``wait4``), median and min-max of ``--runs``;
  the ratio to the bare app and the marginal cost per resource above it.
- ``make test`` once (not ``--runs`` times: it takes minutes): wall time, test count and
  the 10 slowest tests (``--durations=10`` through ``PYTEST_ADDOPTS``). ``--bench-only``
  skips it.
- per Lambda function (the Dev stage; Prod deploys the same assets): the unzipped size of
  its code asset and the layers it uses, from the cloud assembly, against Lambda's 250 MB,
  and its handler module's cold import (``tools/cold_imports.py``), budget 300 ms.
- per container image: the size of its dependency set, the wheels pip resolves from its
  requirements.txt for the image's platform (linux/arm64, CPython 3.14), from PyPI.
- per stack: resources and template size against CloudFormation's quotas (500 resources,
  1 MB for a template uploaded to S3, as the CDK CLI does).

Figures are reported, never asserted: a regression is a visible change in the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The sibling tools, imported as their own scripts import each other (tools/ is no package),
# whether this runs as `python tools/bench.py` or is imported as tools.bench by the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_imports import handler_modules
from synth_summary import stack_templates

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
BARE_APP = BENCH_DIR / "bare_app.py"
README = REPO_ROOT / "README.md"
CONTAINER_SRC = REPO_ROOT / "container_src"

DEFAULT_RUNS = 3
COLD_IMPORT_RUNS = 5
SLOWEST_TESTS = 10

# CloudFormation quotas (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
# cloudformation-limits.html): 500 resources per template; a template body uploaded to S3
# (the CDK CLI uploads every template) of at most 1 MB, read here as 1,000,000 bytes, the
# stricter reading.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
# Lambda: a function's deployment package and its layers, extracted, at most 250 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_LAMBDA_UNZIPPED_BYTES = 250_000_000
# Budgets of issue 12.
TEST_BUDGET_S = 150.0
COLD_IMPORT_BUDGET_MS = 300.0

CFN_VALIDATION_CONTEXT = "cfn-validation=true"
"""The reference app's opt-in to aws-cdk-lib's built-in validation (app.py)."""

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


# --- pure parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements and their range."""

    median: float
    low: float
    high: float
    runs: tuple[float, ...]

    def as_json(self, digits: int = 2) -> dict[str, Any]:
        return {
            "median": round(self.median, digits),
            "min": round(self.low, digits),
            "max": round(self.high, digits),
            "runs": [round(run, digits) for run in self.runs],
        }

    def text(self, digits: int = 1) -> str:
        """``median (min-max)``, e.g. ``7.6 (7.1-8.0)``."""
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    """Median, minimum and maximum of ``values`` (at least one)."""
    if not values:
        raise ValueError("no measurements")
    return Spread(statistics.median(values), min(values), max(values), tuple(values))


def percent(value: float, limit: float) -> float:
    """``value`` as a percentage of ``limit``, to one decimal."""
    if limit <= 0:
        raise ValueError("the limit must be positive")
    return round(100.0 * value / limit, 1)


def marginal_per_resource(
    app_value: float, app_resources: int, bare_value: float, bare_resources: int
) -> float:
    """What each resource above the bare app's adds: the difference of the values over the
    difference of the resource counts."""
    extra = app_resources - bare_resources
    if extra <= 0:
        raise ValueError("the app must have more resources than the bare app")
    return (app_value - bare_value) / extra


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; cells are ``str()``-ed, ``|`` escaped, columns of numbers (every
    cell after the first column that starts with a digit, a sign or a dot) right-aligned."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    text_rows = [[cell(value) for value in row] for row in rows]
    for row in text_rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row} has {len(row)} cells, the table {len(headers)} columns")
    numeric = [
        column > 0
        and bool(text_rows)
        and all(re.match(r"^[-+]?[\d.]", row[column]) for row in text_rows)
        for column in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(cell(header) for header in headers) + " |",
        "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in text_rows)
    return "\n".join(lines)


@dataclass(frozen=True)
class PytestSession:
    """What the terminal summary of one pytest session says."""

    counts: dict[str, int]
    seconds: float
    slowest: list[tuple[float, str, str]]
    """(seconds, phase, test id) of the ``--durations`` section, slowest first."""
    failed: list[str]
    """Test ids of the short summary's ``FAILED`` and ``ERROR`` lines."""

    @property
    def tests(self) -> int:
        """Tests run or skipped (passed, failed, skipped, xfailed, xpassed, errors)."""
        return sum(
            count
            for outcome, count in self.counts.items()
            if outcome not in {"warnings", "deselected", "rerun"}
        )


_SESSION_START = re.compile(r"^=+ test session starts =+$", re.MULTILINE)
_SUMMARY = re.compile(r"^=+ (?P<body>.*?) in (?P<seconds>[\d.]+)s(?: \([\d:.]+\))? =+$", re.M)
_COUNT = re.compile(r"(\d+) (\w+)")
_DURATION = re.compile(r"^(?P<seconds>[\d.]+)s (?P<phase>setup|call|teardown)\s+(?P<test>\S.*)$")
_OUTCOME_NAMES = {"error": "errors", "warning": "warnings"}


def parse_pytest_output(text: str) -> list[PytestSession]:
    """Every pytest session in ``text`` (a make run may hold several), in order."""
    sessions = []
    starts = [match.start() for match in _SESSION_START.finditer(text)]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        chunk = text[start:end]
        summaries = list(_SUMMARY.finditer(chunk))
        if not summaries:
            continue
        summary = summaries[-1]
        counts: dict[str, int] = {}
        for number, outcome in _COUNT.findall(summary.group("body")):
            name = _OUTCOME_NAMES.get(outcome, outcome)
            counts[name] = counts.get(name, 0) + int(number)
        slowest = []
        in_durations = False
        for line in chunk.splitlines():
            if "slowest" in line and "durations" in line and line.startswith("="):
                in_durations = True
                continue
            if in_durations:
                match = _DURATION.match(line.strip())
                if match:
                    slowest.append((float(match["seconds"]), match["phase"], match["test"].strip()))
                elif line.startswith("="):
                    in_durations = False
        failed = [
            line.split(" ", 1)[1].split(" - ", 1)[0].strip()
            for line in chunk.splitlines()
            if line.startswith(("FAILED ", "ERROR "))
        ]
        sessions.append(PytestSession(counts, float(summary.group("seconds")), slowest, failed))
    return sessions


def count_resources(template: Mapping[str, Any]) -> int:
    """Resources of a template (CDKMetadata included: CloudFormation counts it too)."""
    return len(template.get("Resources", {}))


# --- measuring -----------------------------------------------------------------------------


def timed_run(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path = REPO_ROOT,
    check: bool = True,
    status: list[int] | None = None,
) -> tuple[float, int, str]:
    """Run ``command``; (wall seconds, peak RSS in KiB of its largest process, output).
    A failure ends the tool, unless ``check`` is false; ``status`` receives the exit status."""
    with tempfile.TemporaryFile(mode="w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=output, stderr=subprocess.STDOUT, text=True
        )
        _, wait_status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(wait_status)
        output.seek(0)
        text = output.read()
    if status is not None:
        status.append(process.returncode)
    if check and process.returncode != 0:
        tail = "\n".join(text.splitlines()[-20:])
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}):\n{tail}")
    return wall, usage.ru_maxrss, text


def tool_environment() -> dict[str, str]:
    """This environment with the venv and the pinned CLI first, and the CLI kept quiet."""
    env = dict(os.environ)
    path = [str(REPO_ROOT / ".venv" / "bin"), str(REPO_ROOT / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env["CDK_CLI_NOTICES"] = "false"
    for variable in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_VALIDATION"):
        env.pop(variable, None)
    return env


@dataclass(frozen=True)
class SynthVariant:
    name: str
    description: str
    app: str | None
    """``--app`` (None: cdk.json's, the reference app)."""
    context: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()


VARIANTS = (
    SynthVariant("reference", "reference app as it ships (validation off)", None),
    SynthVariant(
        "reference+validation",
        "reference app with built-in validation (-c cfn-validation=true, make synth)",
        None,
        (CFN_VALIDATION_CONTEXT,),
    ),
    SynthVariant("bare", "bare app, one Lambda (CDK defaults: validation on)", "bare"),
    SynthVariant(
        "bare-validation",
        "bare app, one Lambda, CDK_VALIDATION=false",
        "bare",
        environment=(("CDK_VALIDATION", "false"),),
    ),
)


def synth_command(variant: SynthVariant, outdir: Path) -> list[str]:
    cdk = str(REPO_ROOT / "node_modules" / ".bin" / "cdk")
    command = [cdk, "synth", "--quiet", "--output", str(outdir)]
    if variant.app == "bare":
        command += ["--app", f"{shlex.quote(sys.executable)} {shlex.quote(str(BARE_APP))}"]
    for context in variant.context:
        command += ["-c", context]
    return [*command, "**"]


def measure_synths(runs: int, scratch: Path) -> tuple[dict[str, dict[str, Any]], Path]:
    """Each variant ``runs`` times, interleaved; the last assembly of the reference app."""
    env = tool_environment()
    walls: dict[str, list[float]] = {variant.name: [] for variant in VARIANTS}
    rss: dict[str, list[float]] = {variant.name: [] for variant in VARIANTS}
    resources: dict[str, int] = {}
    for run in range(runs):
        for variant in VARIANTS:
            outdir = scratch / f"{variant.name}-{run}"
            wall, peak_kib, _ = timed_run(
                synth_command(variant, outdir), env={**env, **dict(variant.environment)}
            )
            walls[variant.name].append(wall)
            rss[variant.name].append(peak_kib / 1024)
            resources[variant.name] = sum(
                count_resources(json.loads(path.read_text(encoding="utf-8")))
                for _, path in stack_templates(outdir)
            )
            print(f"  synth {variant.name} run {run + 1}: {wall:.1f} s, {peak_kib / 1024:.0f} MiB")
            if run < runs - 1 or variant.name != "reference":
                shutil.rmtree(outdir, ignore_errors=True)
    results = {
        variant.name: {
            "description": variant.description,
            "command": shlex.join(synth_command(variant, Path("<outdir>"))).replace(
                str(REPO_ROOT) + "/", ""
            ),
            "environment": dict(variant.environment),
            "resources": resources[variant.name],
            "wall_s": spread(walls[variant.name]).as_json(),
            "peak_rss_mib": spread(rss[variant.name]).as_json(0),
        }
        for variant in VARIANTS
    }
    return results, scratch / f"reference-{runs - 1}"


def synth_comparison(synth: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Ratios to the bare app and marginal cost per resource, like with like (both with
    the built-in validation off, and both as they ship)."""
    app, bare = synth["reference"], synth["bare-validation"]
    app_default, bare_default = synth["reference"], synth["bare"]
    return {
        "ratio_wall_validation_off": round(app["wall_s"]["median"] / bare["wall_s"]["median"], 2),
        "ratio_wall_as_shipped": round(
            app_default["wall_s"]["median"] / bare_default["wall_s"]["median"], 2
        ),
        "ratio_rss_validation_off": round(
            app["peak_rss_mib"]["median"] / bare["peak_rss_mib"]["median"], 2
        ),
        "marginal_ms_per_resource": round(
            1000
            * marginal_per_resource(
                app["wall_s"]["median"],
                app["resources"],
                bare["wall_s"]["median"],
                bare["resources"],
            ),
            1,
        ),
        "marginal_kib_per_resource": round(
            1024
            * marginal_per_resource(
                app["peak_rss_mib"]["median"],
                app["resources"],
                bare["peak_rss_mib"]["median"],
                bare["resources"],
            ),
            1,
        ),
        "validation_saves_s": round(
            synth["reference+validation"]["wall_s"]["median"] - app["wall_s"]["median"], 2
        ),
        "validation_saves_mib": round(
            synth["reference+validation"]["peak_rss_mib"]["median"] - app["peak_rss_mib"]["median"]
        ),
    }


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (or of the file ``path``)."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def stack_table(assembly: Path) -> list[dict[str, Any]]:
    """Resources and template size of every stack, against CloudFormation's quotas."""
    rows = []
    for name, path in stack_templates(assembly):
        template = json.loads(path.read_text(encoding="utf-8"))
        resources = count_resources(template)
        size = path.stat().st_size
        rows.append(
            {
                "stack": name,
                "resources": resources,
                "resources_pct": percent(resources, MAX_RESOURCES),
                "template_bytes": size,
                "template_pct": percent(size, MAX_TEMPLATE_BYTES),
            }
        )
    return rows


def lambda_assets(assembly: Path, stage: str = "Dev") -> list[dict[str, Any]]:
    """Every Lambda function of ``stage``: code asset and the layers it uses, unzipped."""
    found = []
    for name, path in stack_templates(assembly):
        if not name.startswith(f"{stage}/"):
            continue
        resources = json.loads(path.read_text(encoding="utf-8")).get("Resources", {})
        for logical_id, resource in sorted(resources.items()):
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            properties = resource.get("Properties", {})
            code_bytes = _asset_bytes(path.parent, resource)
            inline = properties.get("Code", {}).get("ZipFile")
            if code_bytes is None and isinstance(inline, str):
                code_bytes = len(inline.encode())
            layer_bytes = 0
            external_layers = 0
            for layer in properties.get("Layers", []):
                target = resources.get(layer.get("Ref", "")) if isinstance(layer, dict) else None
                size = _asset_bytes(path.parent, target) if target else None
                if size is None:
                    external_layers += 1
                else:
                    layer_bytes += size
            total = (code_bytes or 0) + layer_bytes
            found.append(
                {
                    "stack": name,
                    "function": logical_id,
                    "handler": str(properties.get("Handler", "")),
                    "code_bytes": code_bytes,
                    "layers_bytes": layer_bytes,
                    "external_layers": external_layers,
                    "total_bytes": total,
                    "total_pct": percent(total, MAX_LAMBDA_UNZIPPED_BYTES),
                }
            )
    return found


def _asset_bytes(template_dir: Path, resource: Mapping[str, Any] | None) -> int | None:
    asset = (resource or {}).get("Metadata", {}).get("aws:asset:path")
    if not asset:
        return None
    folder = template_dir / asset
    return folder_bytes(folder) if folder.exists() else None


def cold_imports(runs: int) -> dict[str, dict[str, Any]]:
    """tools/cold_imports.py's figures for every handler module, by module; a module whose
    import fails there (e.g. it needs its deployed environment) gets its error instead."""
    found: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        for handler in handler_modules():
            report = Path(scratch) / f"{handler.module}.json"
            result = subprocess.run(
                [
                    sys.executable,
                    str(REPO_ROOT / "tools" / "cold_imports.py"),
                    *("--runs", str(runs), "--json", str(report), handler.module),
                ],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                lines = result.stderr.strip().splitlines() or ["failed"]
                found[handler.module] = {"error": lines[-1]}
                continue
            data = json.loads(report.read_text(encoding="utf-8"))
            found.update({item["module"]: item for item in data["handlers"]})
    return found


def container_dependencies(scratch: Path) -> list[dict[str, Any]]:
    """Per container service: the wheels pip resolves for linux/arm64 CPython 3.14."""
    found = []
    for requirements in sorted(CONTAINER_SRC.glob("*/requirements.txt")):
        target = scratch / requirements.parent.name
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--dest",
                str(target),
                "--only-binary=:all:",
                "--platform",
                "manylinux2014_aarch64",
                "--platform",
                "manylinux_2_28_aarch64",
                "--implementation",
                "cp",
                "--python-version",
                "3.14",
                "-r",
                str(requirements),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"pip download for {requirements} failed:\n{result.stderr[-2000:]}")
        wheels = sorted(target.glob("*.whl"))
        unpacked = 0
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                unpacked += sum(info.file_size for info in archive.infolist())
        found.append(
            {
                "service": requirements.parent.name,
                "requirements": str(requirements.relative_to(REPO_ROOT)),
                "packages": len(wheels),
                "wheels_bytes": sum(wheel.stat().st_size for wheel in wheels),
                "unpacked_bytes": unpacked,
                "largest": [
                    {"wheel": wheel.name, "bytes": wheel.stat().st_size}
                    for wheel in sorted(wheels, key=lambda item: -item.stat().st_size)[:3]
                ],
            }
        )
    return found


def measure_tests(command: str) -> dict[str, Any]:
    """``command`` once with pytest's durations; wall time, counts and slowest tests."""
    env = tool_environment()
    env["PYTEST_ADDOPTS"] = (
        env.get("PYTEST_ADDOPTS", "") + f" --durations={SLOWEST_TESTS}"
    ).strip()
    returncode: list[int] = []
    wall, _, output = timed_run(shlex.split(command), env=env, check=False, status=returncode)
    sessions = parse_pytest_output(output)
    if not sessions:
        tail = "\n".join(output.splitlines()[-20:])
        raise SystemExit(f"{command}: no pytest summary in its output:\n{tail}")
    main = sessions[0]
    return {
        "command": command,
        "exit_status": returncode[0],
        "runs": 1,
        "wall_s": round(wall, 1),
        "budget_s": TEST_BUDGET_S,
        "pytest_s": main.seconds,
        "tests": main.tests,
        "counts": main.counts,
        "slowest": [
            {"seconds": seconds, "phase": phase, "test": test}
            for seconds, phase, test in main.slowest[:SLOWEST_TESTS]
        ],
        "failed": main.failed,
        "other_sessions": [
            {"tests": session.tests, "counts": session.counts, "seconds": session.seconds}
            for session in sessions[1:]
        ],
    }


# --- reporting ----------------------------------------------------------------------------


def mib(value: float) -> str:
    return f"{value / 1_048_576:.2f}"


CHANGES = """\
## Changes

What makes the reference app's synth slower than it must be, as profiled (cProfile of
`app.py`, `-X importtime`, and timing the CLI with and without each suspect), and what was
done about it. The figures after each change are this run's.

1. **aws-cdk-lib's built-in CloudFormation validation is off on a plain `cdk synth`.**
   aws-cdk-lib 2.275 runs its `CloudFormationValidatePlugin` over every template at synth
   unless `App(builtin_cloud_formation_validation=False)` or `CDK_VALIDATION=false`. On the
   reference app it found nothing (its report is not even written when it passes; cdk-nag's
   packs still fail a synth on any finding) and cfn-lint checks the same templates in
   `make test`. `app.py` now builds its `App` without it and registers the plugin only on
   `-c cfn-validation=true`, which `make synth` (so `make test`'s cfn-lint step) passes: CI
   keeps the check, pipelines and developers stop paying it. Saved here: **{saves_s} s**
   ({saves_pct} % of the synth with it) and **{saves_mib} MiB** of peak memory. Templates:
   a plain `cdk synth` writes byte-identical templates and validation report before and
   after (diffed at the change); with `-c cfn-validation=true` only the CDKMetadata
   analytics string differs (it lists the plugin).

Looked at and left:

- cdk-nag (AwsSolutions + Serverless packs): a quality gate that fails synth; kept.
- Asset hashing: the app's own assets are small (function folders of tens of KiB, the
  runtime layer ~5 MB); the largest copy is aws-cdk-lib's AWS CLI layer zip (~21 MB) that
  `BucketDeployment` needs, copied, not hashed.
- Templates are rendered once per stack; no repeated synth in `app.py`.
- Most of the remaining time is jsii: about 9,600 round trips between Python and the
  jsii kernel (node) for ~400 resources, and a Python callback for every construct that
  the `LogRetentionAspect` visits (~2,000, ~0.4 s); the bare app's synth is the floor.
"""


def render_markdown(results: Mapping[str, Any]) -> str:
    meta = results["meta"]
    synth = results["synth"]
    comparison = results["synth_comparison"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`tools/bench.py`) on {meta['date']} at commit "
        f"`{meta['commit']}`{' (dirty tree)' if meta['dirty'] else ''}: {meta['cpus']} CPU "
        f"core(s), {meta['machine']}, Python {meta['python']}, aws-cdk-lib "
        f"{meta['aws_cdk_lib']}. Medians of {meta['runs']} runs, range in parentheses; the "
        "machine may be shared, so compare figures of one run.",
        "",
        "## Synth",
        "",
        "Each run is a fresh `cdk synth` through the pinned CLI (node_modules/.bin/cdk), "
        "with cdk.json's feature flags. Peak RSS is the largest single process of the tree.",
        "",
        markdown_table(
            ["variant", "resources", "wall s", "peak RSS MiB"],
            [
                [
                    entry["description"],
                    entry["resources"],
                    _spread_text(entry["wall_s"], 1),
                    _spread_text(entry["peak_rss_mib"], 0),
                ]
                for entry in synth.values()
            ],
        ),
        "",
        markdown_table(
            ["comparison", "value"],
            [
                [
                    "reference / bare wall time, validation off in both",
                    f"{comparison['ratio_wall_validation_off']}x",
                ],
                [
                    "reference / bare wall time, as each ships",
                    f"{comparison['ratio_wall_as_shipped']}x",
                ],
                [
                    "reference / bare peak RSS, validation off",
                    f"{comparison['ratio_rss_validation_off']}x",
                ],
                [
                    "marginal wall time per resource above the bare app",
                    f"{comparison['marginal_ms_per_resource']} ms",
                ],
                [
                    "marginal peak RSS per resource above the bare app",
                    f"{comparison['marginal_kib_per_resource']} KiB",
                ],
                [
                    "built-in validation costs the reference app",
                    f"{comparison['validation_saves_s']} s, "
                    f"{comparison['validation_saves_mib']} MiB",
                ],
            ],
        ),
        "",
    ]
    tests = results.get("tests")
    lines += ["## make test", ""]
    if tests is None:
        lines += ["Not measured in this run (`--bench-only`).", ""]
    else:
        within = "within" if tests["wall_s"] <= tests["budget_s"] else "over"
        other = "".join(
            f"; a further pytest session ran {session['tests']} tests in {session['seconds']} s"
            for session in tests["other_sessions"]
        )
        lines += [
            f"`{tests['command']}` on a warm checkout, measured **once** (not {meta['runs']} "
            f"times), exit status {tests['exit_status']}"
            f"{' (every check passed)' if tests['exit_status'] == 0 else ' (a check failed)'}: "
            f"**{tests['wall_s']} s** wall, {within} the budget of "
            f"{tests['budget_s']:.0f} s; its pytest session ran **{tests['tests']} tests** "
            f"({_counts_text(tests['counts'])}) in {tests['pytest_s']} s{other}.",
            "",
            *(
                [
                    "Failed: " + ", ".join(f"`{test}`" for test in tests["failed"]) + ".",
                    "",
                ]
                if tests.get("failed")
                else []
            ),
            markdown_table(
                ["slowest tests", "phase", "s"],
                [
                    [f"`{item['test']}`", item["phase"], item["seconds"]]
                    for item in tests["slowest"]
                ],
            ),
            "",
        ]
    lines += [
        "## Lambda functions (Dev stage)",
        "",
        f"Unzipped code asset + the layers it uses, from the cloud assembly, against Lambda's "
        f"{MAX_LAMBDA_UNZIPPED_BYTES // 1_000_000} MB; layers from outside the app (ARNs) are "
        f"counted, not sized; `?`: code that aws-cdk-lib's providers bring without asset "
        f"metadata. Cold import: `tools/cold_imports.py`, median (range) of "
        f"{results['cold_import_runs']} fresh processes, budget {COLD_IMPORT_BUDGET_MS:.0f} ms.",
        "",
        markdown_table(
            [
                "stack",
                "function",
                "handler",
                "code MiB",
                "layers MiB",
                "external layers",
                "% of 250 MB",
                "cold import ms",
            ],
            [
                [
                    item["stack"],
                    item["function"],
                    f"`{item['handler']}`",
                    "?" if item["code_bytes"] is None else mib(item["code_bytes"]),
                    mib(item["layers_bytes"]),
                    item["external_layers"],
                    item["total_pct"],
                    _cold_text(item.get("cold_import")),
                ]
                for item in results["lambdas"]
            ],
        ),
        "",
        "## Container images",
        "",
        "The dependency set each image installs: the wheels pip resolves from its "
        "requirements.txt (dependencies included) for linux/arm64, CPython 3.14.",
        "",
        markdown_table(
            ["service", "packages", "wheels MiB", "unpacked MiB", "largest wheels"],
            [
                [
                    item["service"],
                    item["packages"],
                    mib(item["wheels_bytes"]),
                    mib(item["unpacked_bytes"]),
                    ", ".join(
                        f"{wheel['wheel'].split('-')[0]} {mib(wheel['bytes'])}"
                        for wheel in item["largest"]
                    ),
                ]
                for item in results["containers"]
            ],
        ),
        "",
        "## Stacks",
        "",
        f"Against CloudFormation's quotas: {MAX_RESOURCES} resources per template, "
        f"{MAX_TEMPLATE_BYTES:,} bytes for a template uploaded to S3.",
        "",
        markdown_table(
            ["stack", "resources", "% of 500", "template KiB", "% of 1 MB"],
            [
                [
                    row["stack"],
                    row["resources"],
                    row["resources_pct"],
                    f"{row['template_bytes'] / 1024:.1f}",
                    row["template_pct"],
                ]
                for row in results["stacks"]
            ],
        ),
        "",
        CHANGES.format(
            saves_s=comparison["validation_saves_s"],
            saves_pct=percent(
                comparison["validation_saves_s"],
                synth["reference+validation"]["wall_s"]["median"],
            ),
            saves_mib=comparison["validation_saves_mib"],
        ),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _spread_text(value: Mapping[str, Any], digits: int) -> str:
    return f"{value['median']:.{digits}f} ({value['min']:.{digits}f}-{value['max']:.{digits}f})"


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in counts.items())


def _cold_text(cold: Mapping[str, Any] | None) -> str:
    if cold is None:
        return "-"
    if "error" in cold:
        return f"fails: {cold['error']}"
    over = " **over budget**" if cold["median_ms"] > COLD_IMPORT_BUDGET_MS else ""
    return f"{cold['median_ms']:.0f} ({cold['min_ms']:.0f}-{cold['max_ms']:.0f}){over}"


def readme_block(results: Mapping[str, Any]) -> str:
    """The README's quoted lines (between the bench markers), from ``results``."""
    meta = results["meta"]
    synth = results["synth"]
    comparison = results["synth_comparison"]
    rows = [
        [
            "`cdk synth`, reference app",
            f"{synth['reference']['wall_s']['median']:.1f} s, "
            f"{synth['reference']['peak_rss_mib']['median']:.0f} MiB "
            f"({synth['reference']['resources']} resources)",
        ],
        [
            "`cdk synth`, bare app with one Lambda (validation off)",
            f"{synth['bare-validation']['wall_s']['median']:.1f} s, "
            f"{synth['bare-validation']['peak_rss_mib']['median']:.0f} MiB "
            f"({comparison['ratio_wall_validation_off']}x; "
            f"{comparison['marginal_ms_per_resource']} ms per extra resource)",
        ],
        [
            "built-in CloudFormation validation (now opt-in)",
            f"+{comparison['validation_saves_s']} s, +{comparison['validation_saves_mib']} MiB",
        ],
    ]
    tests = results.get("tests")
    if tests is not None:
        rows.append(
            [
                "`make test` (warm, once)"
                if tests["command"] == "make test"
                else "`make test`'s steps (warm, once; command in bench/results.md)",
                f"{tests['wall_s']:.0f} s for {tests['tests']} tests (budget "
                f"{tests['budget_s']:.0f} s)",
            ]
        )
    colds = [
        item["cold_import"]["median_ms"]
        for item in results["lambdas"]
        if "median_ms" in item.get("cold_import", {})
    ]
    if colds:
        rows.append(
            [
                "handler cold imports (median per handler)",
                f"{min(colds):.0f} to {max(colds):.0f} ms (budget {COLD_IMPORT_BUDGET_MS:.0f} ms)",
            ]
        )
    largest = max(results["stacks"], key=lambda row: row["resources"])
    rows.append(
        [
            "largest stack",
            f"{largest['stack']}: {largest['resources']} resources "
            f"({largest['resources_pct']} % of 500), template {largest['template_pct']} % of 1 MB",
        ]
    )
    return "\n".join(
        [
            README_START,
            f"Measured by `make bench` at commit `{meta['commit']}` on {meta['date'][:10]}, "
            f"{meta['cpus']} CPU cores (medians; full tables in "
            "[bench/results.md](bench/results.md)):",
            "",
            markdown_table(["what", "figure"], rows),
            README_END,
        ]
    )


def replace_readme_block(text: str, block: str) -> str:
    """``text`` with its bench block replaced by ``block`` (which has the markers)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {README_START} ... {README_END} block")
    return text[:start] + block + text[end + len(README_END) :]


# --- main ---------------------------------------------------------------------------------


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def metadata(runs: int) -> dict[str, Any]:
    import platform
    from importlib.metadata import version

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "aws_cdk_lib": version("aws-cdk-lib"),
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="repetitions of a synth")
    parser.add_argument("--bench-only", action="store_true", help="skip the make test run")
    parser.add_argument("--test-command", default="make test", help="what to time as make test")
    parser.add_argument("--out", type=Path, default=BENCH_DIR, help="where results.* go")
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    parser.add_argument(
        "--readme-only",
        action="store_true",
        help="measure nothing: rewrite the README's block from --out's results.json",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.readme_only:
        saved = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        text = README.read_text(encoding="utf-8")
        README.write_text(replace_readme_block(text, readme_block(saved)), encoding="utf-8")
        return 0

    results: dict[str, Any] = {"meta": metadata(args.runs)}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        print(f"synth: {len(VARIANTS)} variants x {args.runs} runs")
        results["synth"], assembly = measure_synths(args.runs, scratch / "synth")
        results["synth_comparison"] = synth_comparison(results["synth"])
        results["stacks"] = stack_table(assembly)
        print("cold imports")
        colds = cold_imports(COLD_IMPORT_RUNS)
        results["cold_import_runs"] = COLD_IMPORT_RUNS
        lambdas = lambda_assets(assembly)
        for item in lambdas:
            module = item["handler"].rsplit(".", 1)[0]
            if module in colds:
                cold = colds[module]
                item["cold_import"] = {
                    key: cold[key]
                    for key in ("median_ms", "min_ms", "max_ms", "error")
                    if key in cold
                }
        results["lambdas"] = lambdas
        print("container dependency sets")
        results["containers"] = container_dependencies(scratch / "wheels")
    if not args.bench_only:
        print(f"timing `{args.test_command}` once")
        results["tests"] = measure_tests(args.test_command)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "results.md").write_text(render_markdown(results), encoding="utf-8")
    if not args.no_readme:
        text = README.read_text(encoding="utf-8")
        README.write_text(replace_readme_block(text, readme_block(results)), encoding="utf-8")
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
