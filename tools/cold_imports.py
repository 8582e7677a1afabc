"""Measure each Lambda handler module's cold import, as its function's init phase pays it.

Usage::

    python tools/cold_imports.py [--runs 7] [--json cold-imports.json] [module ...]

Every module under ``lambda_src/<function>/`` that defines ``handler`` (the stacks'
``handler="<module>.handler"``) is imported ``--runs`` times, each time in a fresh
``python -X importtime`` process, and the table shows the median, minimum and maximum of
the module's cumulative import time and the three imports (made by the module itself,
directly or by its module-level code) that took longest, as medians too. ``--json`` writes
the same, every run's time, and the time each top-level package's own modules took (self
times: what a package costs, whoever imported it).

Each process sees what a function sees on Lambda, and nothing else (``-I -S``: no site
packages, no ``PYTHON*`` variables): the function's folder (the working directory, as
``/var/task``), the built runtime-dependencies layer (``make runtime-layer``) and the shared
layer (both in ``/opt/python`` on Lambda), then the packages the Lambda runtime provides
(boto3, botocore and their dependencies, linked from this environment as ``/var/runtime``).
The environment is a Lambda function's (``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``,
region, ``CONTRACTS_DIR`` for the contracts layer), so libraries that behave differently on
Lambda do so here (the X-Ray SDK, for one, built a botocore client as it was imported unless
``LAMBDA_TASK_ROOT`` was set). Bytecode is neither written nor found for our code and the
layer (``-B``; Lambda's ``/opt`` and ``/var/task`` are read-only and the layer ships none),
while the standard library and the runtime's packages use theirs, as on Lambda.

The figures are this machine's, with this interpreter (``--python``, default the running
one): Lambda's python3.14 on arm64 will differ, and its runtime has imported part of the
standard library before the handler's module. Compare figures from the same machine.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
SHARED_LAYER = LAMBDA_SRC / "shared" / "python"
RUNTIME_REQUIREMENTS = LAMBDA_SRC / "runtime-requirements.txt"
RUNTIME_LAYER = REPO_ROOT / "build" / "lambda-layers" / "runtime"
CONTRACTS_DIR = REPO_ROOT / "contracts" / "events"
HANDLER = "handler"
DEFAULT_RUNS = 7
TOP_IMPORTS = 3

RUNTIME_PROVIDED_MODULES = (
    "boto3",
    "botocore",
    "jmespath",
    "urllib3",
    "s3transfer",
    "dateutil",
    "six",
)
"""Top-level modules of what the Lambda Python runtime provides (boto3 and its dependencies)."""

_IMPORT_TIME_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\| (\s*)(\S.*?)\s*$")


@dataclass
class ImportEntry:
    """One line of ``-X importtime``: a module and what its import took, in microseconds."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: list[ImportEntry] = field(default_factory=list)


def parse_importtime(text: str) -> list[ImportEntry]:
    """The top-level imports of ``-X importtime`` output, each with the imports it made.

    CPython prints a line when an import finishes, indented two spaces per level of
    nesting, so a module's line comes after those of the imports it made. Lines that are
    not import timings (the header, anything else on stderr) are ignored.
    """
    pending: dict[int, list[ImportEntry]] = {}
    for line in text.splitlines():
        match = _IMPORT_TIME_LINE.match(line)
        if match is None:
            continue
        self_us, cumulative_us, indent, name = match.groups()
        depth = len(indent) // 2
        entry = ImportEntry(name, int(self_us), int(cumulative_us), depth)
        entry.children = pending.pop(depth + 1, [])
        # Deeper imports still pending belong to a parent whose line never came (a failed
        # import prints nothing): drop them rather than attach them to the wrong module.
        for deeper in [level for level in pending if level > depth]:
            del pending[deeper]
        pending.setdefault(depth, []).append(entry)
    return pending.get(0, [])


def module_import(text: str, module: str) -> ImportEntry:
    """The entry of ``module`` imported at the top level (the last, if imported twice)."""
    found = [entry for entry in parse_importtime(text) if entry.name == module]
    if not found:
        raise ValueError(f"no top-level import of {module!r} in the -X importtime output")
    return found[-1]


@dataclass(frozen=True)
class Handler:
    """A handler module and the function folder it lives in."""

    module: str
    folder: Path


def handler_modules(lambda_src: Path = LAMBDA_SRC) -> list[Handler]:
    """Every module of a function folder that defines ``handler`` at its top level."""
    found: list[Handler] = []
    for folder in sorted(path for path in lambda_src.iterdir() if path.is_dir()):
        if folder.name == "shared" or folder.name.startswith((".", "__")):
            continue
        for path in sorted(folder.glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            if any(
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == HANDLER
                for node in tree.body
            ):
                found.append(Handler(path.stem, folder))
    return found


def runtime_provided_folder(
    target: Path, modules: Iterable[str] = RUNTIME_PROVIDED_MODULES
) -> Path:
    """``target`` holding links to this environment's copies of ``modules``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} is not installed here; the Lambda runtime provides it")
        origin = Path(spec.origin)
        source = origin.parent if spec.submodule_search_locations else origin
        (target / source.name).symlink_to(source)
    return target


INIT_CONFIGURATION = {
    # stacks/operations.py gives the dead-letter report its service's queues; the handler
    # reads them at init and refuses to start without them.
    "DEAD_LETTER_QUEUE_URLS": json.dumps(
        {"example-dlq": "https://sqs.us-east-1.amazonaws.com/111111111111/example-dlq"}
    ),
}
"""Variables the stacks set that a handler reads when it is imported, with sample values."""


def lambda_environment(handler: Handler) -> dict[str, str]:
    """The variables a Lambda function of ``handler`` sees at init (none of this shell's)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(handler.folder),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
        "AWS_LAMBDA_FUNCTION_NAME": handler.module.replace("_", "-"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_HANDLER": f"{handler.module}.{HANDLER}",
        "CONTRACTS_DIR": str(CONTRACTS_DIR),
        **INIT_CONFIGURATION,
    }


def import_once(python: str, handler: Handler, path: Sequence[Path]) -> ImportEntry:
    """One cold import of ``handler.module`` in a fresh process with ``path`` as its path."""
    code = (
        f"import sys\nsys.path[:0] = {[str(entry) for entry in path]!r}\nimport {handler.module}\n"
    )
    result = subprocess.run(
        [python, "-I", "-S", "-B", "-X", "importtime", "-c", code],
        cwd=handler.folder,
        env=lambda_environment(handler),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise SystemExit(f"importing {handler.module} failed:\n{tail}")
    return module_import(result.stderr, handler.module)


@dataclass(frozen=True)
class Measurement:
    """The cold imports of one handler module, in milliseconds."""

    module: str
    function: str
    runs_ms: list[float]
    top: list[tuple[str, float]]
    packages: list[tuple[str, float]]
    """Top-level packages by the time their own modules' code took (medians, largest first)."""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)

    def as_json(self) -> dict[str, object]:
        return {
            "module": self.module,
            "function": self.function,
            "median_ms": round(self.median_ms, 1),
            "min_ms": round(min(self.runs_ms), 1),
            "max_ms": round(max(self.runs_ms), 1),
            "runs_ms": [round(run, 1) for run in self.runs_ms],
            "top_imports": [{"module": name, "median_ms": round(ms, 1)} for name, ms in self.top],
            "packages_self_ms": {name: round(ms, 1) for name, ms in self.packages},
        }


def package_self_times(entry: ImportEntry) -> dict[str, int]:
    """Microseconds spent in each top-level package's own module code within ``entry``'s
    import (``entry`` included): self times, so nothing is counted twice."""
    totals: dict[str, int] = {}
    stack = [entry]
    while stack:
        current = stack.pop()
        package = current.name.split(".")[0]
        totals[package] = totals.get(package, 0) + current.self_us
        stack.extend(current.children)
    return totals


def _medians(samples: Sequence[dict[str, float]]) -> list[tuple[str, float]]:
    """Per key, the median over ``samples`` (a sample without the key counts 0), largest
    first."""
    names = {name for sample in samples for name in sample}
    medians = {name: statistics.median(s.get(name, 0.0) for s in samples) for name in names}
    return sorted(medians.items(), key=lambda item: (-item[1], item[0]))


def summarize(handler: Handler, entries: Sequence[ImportEntry]) -> Measurement:
    """The runs' times and the imports the module made that took longest (by median)."""
    children = [
        {child.name: child.cumulative_us / 1000 for child in entry.children} for entry in entries
    ]
    packages = [
        {name: us / 1000 for name, us in package_self_times(entry).items()} for entry in entries
    ]
    return Measurement(
        module=handler.module,
        function=handler.folder.name,
        runs_ms=[entry.cumulative_us / 1000 for entry in entries],
        top=_medians(children)[:TOP_IMPORTS],
        packages=_medians(packages),
    )


def format_table(measurements: Sequence[Measurement]) -> str:
    """The measurements as a plain-text table."""
    rows = [("module", "median ms", "min", "max", f"top {TOP_IMPORTS} imports (median ms)")]
    for item in measurements:
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in item.top)
        rows.append(
            (
                f"{item.function}/{item.module}",
                f"{item.median_ms:.1f}",
                f"{min(item.runs_ms):.1f}",
                f"{max(item.runs_ms):.1f}",
                top,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:4], widths[1:], strict=True)
        ]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    return "\n".join(lines)


def built_layer(layer: Path) -> Path:
    """``layer``'s ``python`` folder, checked to be built from the current pins."""
    built_from = layer / "requirements.txt"
    if not (layer / "python").is_dir() or not built_from.is_file():
        raise SystemExit(f"{layer} is not built: run `make runtime-layer`")
    if built_from.read_bytes() != RUNTIME_REQUIREMENTS.read_bytes():
        raise SystemExit(f"{layer} was built from other pins: run `make runtime-layer`")
    return layer / "python"


def _stray_bytecode(folders: Iterable[Path]) -> list[Path]:
    return sorted(cache for folder in folders for cache in folder.rglob("__pycache__"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="handler modules to measure (default: all)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="fresh processes each")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    parser.add_argument("--layer", type=Path, default=RUNTIME_LAYER, help="the built layer")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    layer_python = built_layer(args.layer)
    handlers = handler_modules()
    if args.modules:
        unknown = set(args.modules) - {handler.module for handler in handlers}
        if unknown:
            parser.error(f"not a handler module: {', '.join(sorted(unknown))}")
        handlers = [handler for handler in handlers if handler.module in args.modules]
    stray = _stray_bytecode([layer_python, SHARED_LAYER, *{h.folder for h in handlers}])
    if stray:
        # Lambda finds no bytecode there: with it, the imports would look faster.
        raise SystemExit("remove the bytecode first: " + " ".join(map(str, stray)))

    version = subprocess.run(
        [args.python, "-I", "-S", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    measurements = []
    with tempfile.TemporaryDirectory(prefix="cold-imports-") as scratch:
        runtime = runtime_provided_folder(Path(scratch) / "runtime")
        for handler in handlers:
            path = [handler.folder, layer_python, SHARED_LAYER, runtime]
            entries = [import_once(args.python, handler, path) for _ in range(args.runs)]
            measurements.append(summarize(handler, entries))

    print(
        f"cold import of each handler module: {args.runs} fresh processes each, Python "
        f"{version}, {platform.machine()}, {os.cpu_count()} CPU(s)"
    )
    print(format_table(measurements))
    if args.json is not None:
        report = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": version,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "runs": args.runs,
            "runtime_requirements": RUNTIME_REQUIREMENTS.read_text(encoding="utf-8"),
            "handlers": [item.as_json() for item in measurements],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
