"""``python -m tools.loadtest``: the transfers service under load and faults (``make bench``).

Usage::

    python -m tools.loadtest [--form long|short] [--scenario NAME ...] [--no-throughput]

- Throughput (long form, unless ``--no-throughput``): for PostgreSQL as the test servers run
  it (no fsync) and as PostgreSQL ships (fsync on, durable commits), pgbench's TPC-B on a
  server of its own, then the service's steady load at a few configurations (uvicorn
  workers, pool size, client connections) on another: ``bench/load.md`` and
  ``bench/load.json``.
- Faults: each scenario of ``tools/loadtest/harness.py`` at the form's size, with every
  check: ``bench/faults.md`` and ``bench/faults.json``.
- The README's lines between ``<!-- load:start -->`` and ``<!-- load:end -->``.

Exits 1 when any check found a violation (the reports are written all the same).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.loadtest import report
from tools.loadtest.harness import (
    LONG,
    REPO_ROOT,
    SCENARIOS,
    SHORT,
    Size,
    pgbench_tpcb,
    run_scenario,
)
from tools.test_servers import PostgresServer

BENCH_DIR = REPO_ROOT / "bench"
README = REPO_ROOT / "README.md"
PGBENCH_SCALE = 10
PGBENCH_CLIENTS = 8
PGBENCH_SECONDS = 20
# The PostgreSQL configurations compared: as the test servers run (no fsync, no full-page
# writes: a crash of the machine may lose data, one of PostgreSQL does not), and durable.
POSTGRES_CONFIGURATIONS: dict[str, dict[str, str]] = {
    "no fsync (as the tests run)": {},
    "durable (fsync on, PostgreSQL's defaults)": {"fsync": "on", "full_page_writes": "on"},
}
# The service's configurations under steady load: (workers, pool size, connections).
SERVICE_CONFIGURATIONS = ((1, 10, 16), (2, 10, 32), (2, 20, 32))
# The changes made to the service under load, each measured against the one before: the
# service's code at that commit (git archive), uvicorn with h11 and asyncio's loop until
# httptools and uvloop came in, steady load at CHANGES_SIZE, CHANGES_RUNS runs each.
H11 = ("--http", "h11", "--loop", "asyncio")
CHANGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("before issue 13: one SNS Publish per outbox row", "51e97d7", H11),
    ("PublishBatch: up to 10 events a call", "61f57f4", H11),
    (
        "cache fenced around writes; 503 outcome_unknown; pool timeout 2 s (correctness)",
        "43f7aed",
        H11,
    ),
    ("the publisher lingers 50 ms once woken", "f206ef5", H11),
    ("a movement in two statements instead of five", "c3af1c2", H11),
    ("httptools and uvloop", "6408c2b", ()),
    ("as many request threads as pooled connections", "fed0f24", ()),
)
CHANGES_SIZE = Size(accounts=500, concurrency=16, seconds=10.0)
CHANGES_RUNS = 3


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


def metadata(form: str) -> dict[str, Any]:
    return {
        "command": "make bench" if form == "long" else f"python -m tools.loadtest --form {form}",
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "form": form,
    }


def throughput(workdir: Path, base: Size) -> dict[str, Any]:
    configurations = []
    for label, settings in POSTGRES_CONFIGURATIONS.items():
        print(f"pgbench TPC-B, PostgreSQL {label}", flush=True)
        with PostgresServer(settings=settings) as postgres:
            tpcb = pgbench_tpcb(
                postgres, clients=PGBENCH_CLIENTS, seconds=PGBENCH_SECONDS, scale=PGBENCH_SCALE
            )
        runs = []
        for workers, pool, connections in SERVICE_CONFIGURATIONS:
            size = dataclasses.replace(
                base, workers=workers, pool_max_size=pool, concurrency=connections
            )
            print(f"  service: {workers} worker(s), pool {pool}, {connections} connections")
            result = run_scenario("steady", size, workdir / label[:7], postgres_settings=settings)
            runs.append(report.scenario_json(result))
        configurations.append({"postgres": label, "pgbench": tpcb, "runs": runs})
    results: dict[str, Any] = {
        "pgbench_scale": PGBENCH_SCALE,
        "pgbench_clients": PGBENCH_CLIENTS,
        "pgbench_seconds": PGBENCH_SECONDS,
        "accounts": base.accounts,
        "configurations": configurations,
        "changes": changes(workdir / "changes"),
    }
    results["bound"] = bound_text(results)
    return results


def changes(workdir: Path) -> list[dict[str, Any]]:
    """Each change of :data:`CHANGES` under the same steady load: median writes per second,
    write latency and CPU per operation of :data:`CHANGES_RUNS` runs."""
    measured = []
    for label, commit, uvicorn_args in CHANGES:
        source = workdir / commit
        source.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "container_src/transfers"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        print(f"  change {commit}: {label}", flush=True)
        runs = [
            run_scenario(
                "steady",
                CHANGES_SIZE,
                workdir / f"{commit}-{index}",
                service_source=source / "container_src" / "transfers",
                uvicorn_args=uvicorn_args,
            )
            for index in range(CHANGES_RUNS)
        ]
        figures = sorted((run.figures for run in runs), key=lambda f: f["writes_per_second"])
        median = figures[len(figures) // 2]
        measured.append(
            {
                "change": label,
                "commit": commit,
                "writes_per_second": [f["writes_per_second"] for f in figures],
                "median": median,
                "violations": sum(len(run.violations) for run in runs),
                "violation_examples": [v for run in runs for v in run.violations][:5],
            }
        )
    return measured


def bound_text(results: dict[str, Any]) -> str:
    """Where the cores went in the best run, against TPC-B's cost per transaction."""
    best_share, best_run, best_config = -1.0, None, None
    for config in results["configurations"]:
        for run in config["runs"]:
            share = run["figures"]["writes_per_second"] / config["pgbench"]["tps"]
            if share > best_share:
                best_share, best_run, best_config = share, run, config
    assert best_run is not None
    assert best_config is not None
    cpu = best_run["figures"]["cpu_ms_per_operation"]
    cores = os.cpu_count() or 1
    tpcb_ms = 1000 * cores / best_config["pgbench"]["tps"]
    total = cpu["service"] + cpu["postgres"] + cpu["load_client"] + cpu.get("fake_sns", 0.0)
    return (
        f"In the best run every operation cost {total:.2f} ms of CPU: {cpu['service']:.2f} ms"
        f" in the service, {cpu['postgres']:.2f} ms in PostgreSQL,"
        f" {cpu['load_client']:.2f} ms in the load client. A TPC-B transaction costs at most"
        f" {tpcb_ms:.2f} ms of CPU here ({cores} cores / {best_config['pgbench']['tps']:.0f}"
        " tps), client included. The service's own work per request (HTTP parsing, FastAPI's"
        " request validation and dependency injection, the thread hand-off of a sync route,"
        " psycopg's statement round trips, a JSON log line, the cache invalidation, the"
        " outbox publish) is several times what PostgreSQL spends on the write: at 50% of"
        " TPC-B the whole request would have to fit in"
        f" {2 * tpcb_ms:.2f} ms of CPU. One Python process cannot use more than one core"
        " (the GIL); more uvicorn workers share the same two cores with PostgreSQL."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--form", choices=("long", "short"), default="long")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH_DIR)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    size = LONG if args.form == "long" else SHORT
    meta = metadata(args.form)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="loadtest-") as scratch:
        workdir = Path(scratch)
        load: dict[str, Any] | None = None
        if not args.no_throughput:
            load = throughput(workdir / "throughput", size)
            (args.out / "load.json").write_text(
                json.dumps({"meta": meta, **load}, indent=2) + "\n", encoding="utf-8"
            )
            (args.out / "load.md").write_text(report.render_load(meta, load), encoding="utf-8")
        scenarios = []
        for name in args.scenario or list(SCENARIOS):
            print(f"scenario {name}", flush=True)
            result = run_scenario(name, size, workdir / "faults")
            for check in result.checks:
                print(f"  {check.summary()}", flush=True)
            scenarios.append(report.scenario_json(result))
    (args.out / "faults.json").write_text(
        json.dumps({"meta": meta, "scenarios": scenarios}, indent=2) + "\n", encoding="utf-8"
    )
    (args.out / "faults.md").write_text(report.render_faults(meta, scenarios), encoding="utf-8")
    if load is not None and args.readme.exists():
        text = args.readme.read_text(encoding="utf-8")
        block = report.readme_block(meta, load, scenarios)
        args.readme.write_text(report.replace_readme_block(text, block), encoding="utf-8")
    violations = sum(s["violations"] for s in scenarios)
    violations += sum(
        run["violations"]
        for config in (load or {}).get("configurations", [])
        for run in config["runs"]
    )
    print(f"violations: {violations}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
