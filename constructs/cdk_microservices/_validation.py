"""Argument checks shared by every pattern.

Every pattern validates its keyword arguments when it is constructed, so that a mistake
surfaces at synth as a Python exception that names the construct, the argument and what
is allowed, instead of as a jsii stack trace or a failed CloudFormation deployment.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Mapping

from aws_cdk import Duration, Token

SERVICE_NAME_PATTERN = r"[a-z][a-z0-9-]{1,38}[a-z0-9]"
HANDLER_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*"


class ConstructArgumentError(ValueError):
    """A construct was given an argument it cannot accept."""


def fail(construct: str, argument: str, problem: str) -> ConstructArgumentError:
    """Build the error raised for one bad argument: ``Construct(argument=...): problem``."""
    return ConstructArgumentError(f"{construct}: argument '{argument}' {problem}")


def require_choice(construct: str, argument: str, value: str, allowed: Collection[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise an error listing them."""
    if value not in allowed:
        choices = ", ".join(repr(choice) for choice in sorted(allowed))
        raise fail(construct, argument, f"is {value!r}; allowed values are {choices}")
    return value


def require_pattern(construct: str, argument: str, value: str, pattern: str, meaning: str) -> str:
    """Return ``value`` if it fully matches ``pattern``, else raise with ``meaning``."""
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise fail(construct, argument, f"is {value!r}; it must be {meaning}")
    return value


def require_service_name(construct: str, value: str, argument: str = "service_name") -> str:
    """A service name as used in resource names, logs and metrics: lowercase kebab-case."""
    return require_pattern(
        construct,
        argument,
        value,
        SERVICE_NAME_PATTERN,
        "3-40 characters of lowercase letters, digits and '-', starting with a letter",
    )


def require_handler(construct: str, argument: str, value: str) -> str:
    """A Lambda handler string, ``module.function``."""
    return require_pattern(construct, argument, value, HANDLER_PATTERN, "'module.function'")


def require_range(
    construct: str, argument: str, value: float, *, minimum: float, maximum: float
) -> float:
    """Return ``value`` if ``minimum <= value <= maximum``, else raise naming the range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(construct, argument, f"must be a number, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise fail(construct, argument, f"is {value}; allowed range is {minimum}..{maximum}")
    return value


def require_duration(
    construct: str, argument: str, value: Duration, *, min_seconds: int, max_seconds: int
) -> Duration:
    """Return ``value`` if it is a concrete Duration within the allowed number of seconds."""
    if not isinstance(value, Duration):
        raise fail(construct, argument, f"must be an aws_cdk.Duration, got {type(value).__name__}")
    if Token.is_unresolved(value.to_string()):
        return value
    seconds = value.to_seconds()
    if not min_seconds <= seconds <= max_seconds:
        raise fail(
            construct,
            argument,
            f"is {seconds} seconds; allowed range is {min_seconds}..{max_seconds} seconds",
        )
    return value


def reject_conflicts(construct: str, existing_argument: str, given: Mapping[str, object]) -> None:
    """Reject arguments that configure a resource the caller passed in ready-made.

    ``given`` maps argument names to the values the caller passed (``None`` = not passed).
    """
    conflicting = sorted(name for name, value in given.items() if value is not None)
    if conflicting:
        raise fail(
            construct,
            existing_argument,
            "was given together with "
            + ", ".join(repr(name) for name in conflicting)
            + f"; those configure a resource this construct would create. Pass either "
            f"'{existing_argument}' or them, not both",
        )


def merge_props(
    construct: str,
    argument: str,
    target: Callable[..., object],
    defaults: Mapping[str, object],
    overrides: Mapping[str, object] | None,
) -> dict[str, object]:
    """Merge caller ``overrides`` over ``defaults`` for the keyword arguments of ``target``.

    ``target`` is the L2 class the props are for; an override key that is not one of its
    keyword arguments is rejected with the list of accepted keys, so a typo cannot be
    silently ignored.
    """
    merged = dict(defaults)
    if not overrides:
        return merged
    accepted = {
        name
        # jsii classes hide their signature behind the metaclass's __call__: read __init__.
        for name, parameter in inspect.signature(
            getattr(target, "__init__") if isinstance(target, type) else target  # noqa: B009
        ).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise fail(
            construct,
            argument,
            f"has unknown key(s) {', '.join(map(repr, unknown))}; accepted keys are the "
            f"keyword arguments of {getattr(target, '__qualname__', target)}: "
            + ", ".join(sorted(accepted)),
        )
    merged.update(overrides)
    return merged
