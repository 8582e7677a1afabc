"""The load and fault reports: ``bench/load.md`` and ``bench/faults.md`` (and their JSON),
and the README's quoted lines between ``<!-- load:start -->`` and ``<!-- load:end -->``
(a test holds them to ``bench/load.json`` and ``bench/faults.json``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools.loadtest.harness import ScenarioResult

README_START = "<!-- load:start -->"
README_END = "<!-- load:end -->"

# What building these runs found in the service, and what changed (kept by hand: each
# entry names the test that now holds it).
FINDINGS = (
    (
        "The outbox publisher made one SNS call per event: under load it was the service's"
        " largest CPU cost (41% of the GIL time in a py-spy profile) and drained slower than"
        " transfers committed (179 events still unsent a minute after a 4 s burst).",
        "PublishBatch, up to 10 entries and 256 KiB a call (transfers_service.outbox;"
        " test_transfers_outbox.py).",
    ),
    (
        "While PostgreSQL was down, a request waited the pool's 5 s for a connection before"
        " its 503: the client and a worker thread were held for a database that was not there.",
        "DATABASE_POOL_TIMEOUT_SECONDS defaults to 2 (the restart-postgres run checks that"
        " every write started and answered while it is down is a 503).",
    ),
    (
        'A connection lost while a write commits was answered 503 "nothing was written",'
        " although the write may have committed.",
        "503 outcome_unknown, and the same key tells which (test_transfers_database_outage.py;"
        " the checks hold every 503 but this one to 'nothing written').",
    ),
    (
        "After a SIGKILL between a commit and the cache invalidation after it, the API"
        " answered the older balance for up to the cache's TTL (kill-service: 1 account of"
        " 100); a read racing a write could store the older balance the same way.",
        "Writes fence the accounts' cache keys before their transaction; reads store only"
        " where no key is (transfers_service.cache; test_transfers_cache.py).",
    ),
    (
        "The statements consumer stored an amount written as a whole float (1000.0, which"
        " the contract's integer type accepts) as a float, and the statement read then"
        " failed (the statements property test, on moto).",
        "The amount is stored as an integer, a fraction refused (test_statements_apply_events.py).",
    ),
)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def scenario_json(result: ScenarioResult) -> dict[str, Any]:
    return {
        "scenario": result.name,
        "fault": result.fault,
        "size": {
            "accounts": result.size.accounts,
            "connections": result.size.concurrency,
            "seconds": result.size.seconds,
            "workers": result.size.workers,
            "pool_max_size": result.size.pool_max_size,
        },
        "figures": result.figures,
        "checks": [
            {"name": c.name, "checked": c.checked, "violations": c.violations[:10]}
            for c in result.checks
        ],
        "violations": len(result.violations),
    }


def _header(meta: Mapping[str, Any]) -> str:
    return (
        f"Measured by `{meta['command']}` at commit `{meta['commit']}` on {meta['date']},"
        f" {meta['cores']} CPU cores, everything on this machine (load client, service,"
        " PostgreSQL, Redis, fake SNS)."
    )


def render_faults(meta: Mapping[str, Any], scenarios: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for scenario in scenarios:
        figures = scenario["figures"]
        statuses = figures["statuses"]
        unanswered = sum(n for status, n in statuses.items() if status.startswith("no answer"))
        rows.append(
            (
                scenario["scenario"],
                scenario["fault"],
                f"{scenario['size']['seconds']:.0f} s, {scenario['size']['connections']}"
                f" connections, {scenario['size']['accounts']} accounts",
                figures["operations"],
                statuses.get("503", 0),
                unanswered,
                sum(c["checked"] for c in scenario["checks"]),
                scenario["violations"],
            )
        )
    total = sum(s["violations"] for s in scenarios)
    parts = [
        "# Faults under load: the transfers service",
        "",
        _header(meta),
        "",
        "Each scenario drives deposits, transfers and balance reads through the service's"
        " HTTP API (`python -m tools.loadtest`, see tools/loadtest/harness.py) against real"
        " PostgreSQL and Redis in cluster mode, injects its fault mid-load, lets the client"
        " retry what went unanswered with the same Idempotency-Key, then checks the ledger,"
        " the client's answers and the published events. `make test` runs the same"
        " scenarios in a short form (tests/services/transfers/test_faults_under_load.py);"
        " this report is the long form from `make bench`.",
        "",
        markdown_table(
            (
                "scenario",
                "fault injected",
                "load",
                "operations",
                "503s",
                "unanswered attempts",
                "checks run",
                "violations",
            ),
            rows,
        ),
        "",
        f"**Violations found: {total}.**",
        "",
        "## Checks",
        "",
    ]
    for scenario in scenarios:
        parts += [f"### {scenario['scenario']}", ""]
        timeline = scenario["figures"].get("timeline") or {}
        if timeline:
            marks = ", ".join(f"{name} at {at:.2f} s" for name, at in timeline.items())
            parts += [f"Timeline (seconds after the load started): {marks}.", ""]
        for check in scenario["checks"]:
            state = (
                "ok"
                if not check["violations"]
                else "VIOLATED: " + "; ".join(check["violations"][:3])
            )
            parts.append(f"- {check['name']} ({check['checked']} checked): {state}")
        parts.append("")
    parts += [
        "## What these runs found, and what changed",
        "",
        markdown_table(("found", "changed"), FINDINGS),
        "",
        "The property tests (`hypothesis`, in `make test`) hold two more promises: random"
        " event streams with duplicates, reordering and poison messages give statements equal"
        " to the ledger, with every poison message in the dead-letter queue"
        " (tests/handlers/statements/test_statements_properties.py), and random construct"
        " arguments give a template or a `ConstructArgumentError`"
        " (tests/unit/test_argument_properties.py).",
        "",
    ]
    return "\n".join(parts)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def render_load(meta: Mapping[str, Any], throughput: Mapping[str, Any]) -> str:
    rows = []
    for config in throughput["configurations"]:
        tpcb = config["pgbench"]
        for run in config["runs"]:
            figures = run["figures"]
            cpu = figures["cpu_ms_per_operation"]
            rows.append(
                (
                    config["postgres"],
                    f"{tpcb['tps']:.0f}",
                    f"{run['size']['workers']} x {run['size']['pool_max_size']}"
                    f" / {run['size']['connections']}",
                    f"{figures['transfers_per_second']:.0f}",
                    f"{figures['writes_per_second']:.0f}",
                    _ms(figures["write_latency_ms"]["p50"]),
                    _ms(figures["write_latency_ms"]["p99"]),
                    f"{100 * figures['writes_per_second'] / tpcb['tps']:.1f}%",
                    f"{cpu['service']:.2f} / {cpu['postgres']:.2f} / {cpu['load_client']:.2f}",
                    run["violations"],
                )
            )
    best = best_run(throughput)
    parts = [
        "# Load: the transfers service against PostgreSQL's own TPC-B",
        "",
        _header(meta),
        "",
        "pgbench's built-in TPC-B-like script (one account, teller and branch updated and a"
        f" history row inserted per transaction; scale {throughput['pgbench_scale']},"
        f" {throughput['pgbench_clients']} clients, {throughput['pgbench_seconds']} s) on a"
        " PostgreSQL server started the same way as the service's is the ceiling: an ACID"
        " money movement on these cores with no HTTP, no Python and no idempotency. The"
        " service runs as its image runs it (uvicorn), with `workers x pool size / client"
        " connections`; the workload is 60% transfers, 20% deposits, 20% balance reads over"
        f" {throughput['accounts']} accounts, each write with its own Idempotency-Key. Writes"
        " per second (transfers and deposits answered 201) are compared with TPC-B's"
        " transactions per second. CPU is milliseconds per operation, from /proc: service /"
        " PostgreSQL / load client.",
        "",
        markdown_table(
            (
                "PostgreSQL",
                "TPC-B tps",
                "service",
                "transfers/s",
                "writes/s",
                "p50 ms",
                "p99 ms",
                "of TPC-B",
                "CPU ms/op",
                "violations",
            ),
            rows,
        ),
        "",
        f"Best: {best['writes_per_second']:.0f} writes/s, {best['share']:.1f}% of TPC-B's"
        f" {best['tpcb']:.0f} tps ({best['postgres']}).",
        "",
        "## What bounds it",
        "",
        throughput["bound"],
        "",
        "## Changes and what each bought",
        "",
        "Each change made to the service while building this, in order, measured in the same"
        " run under the same steady load (500 accounts, 16 connections, one worker, pool of"
        " 10, 10 s, PostgreSQL without fsync): the service's code at that commit, three runs,"
        " the median (and all three writes/s). Until httptools and uvloop, uvicorn runs with"
        " h11 and asyncio's loop, as it did then.",
        "",
        markdown_table(
            (
                "change",
                "commit",
                "writes/s (runs)",
                "p50 / p99 ms",
                "CPU ms/op service / PostgreSQL",
                "violations",
            ),
            [
                (
                    change["change"],
                    f"`{change['commit']}`",
                    f"{change['median']['writes_per_second']:.0f} ("
                    + ", ".join(f"{w:.0f}" for w in change["writes_per_second"])
                    + ")",
                    f"{_ms(change['median']['write_latency_ms']['p50'])} /"
                    f" {_ms(change['median']['write_latency_ms']['p99'])}",
                    f"{change['median']['cpu_ms_per_operation']['service']:.2f} /"
                    f" {change['median']['cpu_ms_per_operation']['postgres']:.2f}",
                    change["violations"],
                )
                for change in throughput.get("changes", [])
            ],
        ),
        "",
    ]
    examples = [
        f"- `{change['commit']}`: " + "; ".join(change["violation_examples"])
        for change in throughput.get("changes", [])
        if change.get("violation_examples")
    ]
    if examples:
        parts += ["Violations in the runs of earlier commits:", "", *examples, ""]
    return "\n".join(parts)


def best_run(throughput: Mapping[str, Any]) -> dict[str, Any]:
    best: dict[str, Any] = {"writes_per_second": 0.0, "share": 0.0, "tpcb": 0.0, "postgres": ""}
    for config in throughput["configurations"]:
        for run in config["runs"]:
            writes = float(run["figures"]["writes_per_second"])
            share = 100 * writes / float(config["pgbench"]["tps"])
            if share > best["share"]:
                best = {
                    "writes_per_second": writes,
                    "transfers_per_second": float(run["figures"]["transfers_per_second"]),
                    "share": share,
                    "tpcb": float(config["pgbench"]["tps"]),
                    "postgres": config["postgres"],
                    "p99": run["figures"]["write_latency_ms"]["p99"],
                }
    return best


def readme_block(
    meta: Mapping[str, Any],
    throughput: Mapping[str, Any],
    scenarios: Sequence[Mapping[str, Any]],
) -> str:
    best = best_run(throughput)
    faults = ", ".join(
        f"{s['scenario']} ({sum(c['checked'] for c in s['checks'])} checks,"
        f" {s['violations']} violations)"
        for s in scenarios
    )
    return "\n".join(
        (
            README_START,
            f"Measured by `make bench` at commit `{meta['commit']}` on {meta['date']},"
            f" {meta['cores']} CPU cores ([bench/load.md](bench/load.md),"
            " [bench/faults.md](bench/faults.md)):",
            "",
            f"- Throughput: {best['writes_per_second']:.0f} writes/s"
            f" ({best['transfers_per_second']:.0f} transfers/s, p99"
            f" {_ms(best['p99'])} ms), {best['share']:.1f}% of pgbench's TPC-B"
            f" ({best['tpcb']:.0f} tps, {best['postgres']}) on the same cores"
            + (
                "; the goal is 50%."
                if best["share"] >= 50
                else "; below the goal of 50% (bench/load.md says what bounds it)."
            ),
            f"- Faults under load: {faults}.",
            README_END,
        )
    )


def replace_readme_block(text: str, block: str) -> str:
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0:
        raise ValueError(f"the README has no {README_START} ... {README_END} block")
    return text[:start] + block + text[end + len(README_END) :]
