"""Faults under load, short form (``make bench`` runs the long one into bench/faults.md):
the service on real PostgreSQL and Redis in cluster mode, driven over HTTP while the
service is killed, PostgreSQL crashes or the cache disappears; no money may be lost,
doubled or half-written (tools/loadtest/checks.py says what is checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.loadtest.harness import SCENARIOS, SHORT, ScenarioResult, run_scenario


def _run(name: str, tmp_path: Path) -> ScenarioResult:
    result = run_scenario(name, SHORT, tmp_path)
    assert result.violations == [], "\n".join(result.violations[:20])
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_money_is_lost_doubled_or_half_written(name: str, tmp_path: Path) -> None:
    result = _run(name, tmp_path)
    figures = result.figures
    # The run did what it says: writes were answered, and the fault happened under load.
    assert figures["writes_per_second"] > 0
    assert figures["published"] > 0
    timeline = figures["timeline"]
    statuses = figures["statuses"]
    if name == "kill-service":
        assert {"killed", "restarted", "ready"} <= set(timeline)
        assert any(status.startswith("no answer") for status in statuses), statuses
    if name == "restart-postgres":
        assert {"postgres_down", "postgres_up"} <= set(timeline)
        assert statuses.get("503", 0) > 0, statuses
    if name == "lose-cache":
        assert {"cache_killed", "cache_back"} <= set(timeline)
    checked = {check.name: check.checked for check in result.checks}
    assert checked["every 2xx write exists exactly once, as asked"] > 0
    assert checked["a retried request with the same Idempotency-Key returns the first answer"] > 0
