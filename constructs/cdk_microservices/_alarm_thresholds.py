"""Alarm thresholds overridable by name (``alarm_thresholds``), for Workflow and ScheduledJob.

A stand-in until the library's shared resolver in ``_alarms.py`` lands; same contract:
keys are the construct's documented alarm names, an unknown key is an error listing them.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdk_microservices._validation import fail


def resolve_thresholds(
    construct: str,
    defaults: Mapping[str, float],
    overrides: Mapping[str, float] | None,
) -> dict[str, float]:
    """``defaults`` with ``overrides`` applied, each override checked: a known alarm name
    and a number above zero (every alarm here counts events, at least one)."""
    resolved = dict(defaults)
    if overrides is None:
        return resolved
    if not isinstance(overrides, Mapping):
        raise fail(
            construct,
            "alarm_thresholds",
            f"must be a mapping of alarm names to numbers, got {type(overrides).__name__}",
        )
    known = ", ".join(repr(name) for name in sorted(defaults))
    for name, value in overrides.items():
        if name not in defaults:
            raise fail(
                construct,
                "alarm_thresholds",
                f"names the alarm {name!r}; this construct's alarms are {known}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise fail(
                construct,
                f"alarm_thresholds[{name!r}]",
                f"is {value!r}; it must be a number above 0",
            )
        resolved[name] = float(value)
    return resolved
