"""Argument checks shared by every pattern.

Every pattern validates its keyword arguments when it is constructed, so that a mistake
surfaces at synth as a Python exception that names the construct, the argument and what
is allowed, instead of as a jsii stack trace or a failed CloudFormation deployment.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from aws_cdk import Annotations, Duration, RemovalPolicy, Token
from constructs import IConstruct

SERVICE_NAME_PATTERN = r"[a-z][a-z0-9-]{1,38}[a-z0-9]"
HANDLER_PATTERN = r"[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*"


DESTROY_WITH_DELETION_PROTECTION = (
    "turns deletion protection on with removal_policy=DESTROY; a protected resource makes "
    "the stack's deletion fail: leave deletion_protection unset (it follows the removal "
    "policy) or choose another removal policy"
)


class ConstructArgumentError(ValueError):
    """A construct was given an argument it cannot accept."""


def fail(construct: str, argument: str, problem: str) -> ConstructArgumentError:
    """Build the error raised for one bad argument: ``Construct(argument=...): problem``."""
    return ConstructArgumentError(f"{construct}: argument '{argument}' {problem}")


def deletion_protection_for(
    construct: str, deletion_protection: bool | None, removal_policy: RemovalPolicy
) -> bool:
    """Deletion protection follows the removal policy unless given: off for DESTROY (the
    resource goes with its stack), on otherwise; on together with DESTROY is rejected."""
    if deletion_protection is None:
        return removal_policy != RemovalPolicy.DESTROY
    if deletion_protection and removal_policy == RemovalPolicy.DESTROY:
        raise fail(construct, "deletion_protection", DESTROY_WITH_DELETION_PROTECTION)
    return bool(deletion_protection)


LAMBDA_RESERVED_ENVIRONMENT = frozenset(
    {
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
"""Environment variables the Lambda runtime sets, which a function's configuration cannot
(AWS Lambda Developer Guide, "Defined runtime environment variables"; the names starting
with '_' are refused by the name pattern already)."""


def require_environment(
    construct: str,
    argument: str,
    environment: object,
    *,
    reserved: Collection[str] = LAMBDA_RESERVED_ENVIRONMENT,
) -> None:
    """Lambda environment variables: a mapping of names to strings (a number or a boolean
    would reach the template as something CloudFormation refuses), none of them a name the
    runtime reserves (``reserved``)."""
    if environment is None:
        return
    if not isinstance(environment, Mapping):
        raise fail(
            construct,
            argument,
            f"must be a mapping of names to strings, got {type(environment).__name__}",
        )
    for key, value in environment.items():
        if not isinstance(key, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key) is None:
            raise fail(construct, argument, f"has the name {key!r}; names are like 'LOG_LEVEL'")
        if key in reserved:
            raise fail(
                construct,
                argument,
                f"sets {key!r}, which the Lambda runtime reserves and sets itself; reserved "
                f"names: {', '.join(sorted(reserved))}",
            )
        if not isinstance(value, str):
            raise fail(
                construct,
                f"{argument}[{key!r}]",
                f"must be a string, got {type(value).__name__} (write {str(value)!r})",
            )


def require_choice(construct: str, argument: str, value: str, allowed: Collection[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise an error listing them."""
    if not isinstance(value, str | int) or value not in allowed:  # a list is not hashable
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
    construct: str,
    argument: str,
    value: Duration,
    *,
    min_seconds: float,
    max_seconds: float,
    exclusive_minimum: bool = False,
    whole_seconds: bool = False,
) -> Duration:
    """Return ``value`` if it is a Duration within the allowed number of seconds.

    ``exclusive_minimum`` makes ``min_seconds`` itself not allowed (a "more than" bound);
    ``whole_seconds`` rejects fractions of a second, for settings AWS takes in seconds.
    A token (resolved only at deploy) passes unchecked.
    """
    if not isinstance(value, Duration):
        raise fail(construct, argument, f"must be an aws_cdk.Duration, got {type(value).__name__}")
    if Token.is_unresolved(value.to_string()):
        return value
    # Not to_seconds(): jsii raises on a duration that is not a whole number of seconds.
    seconds = value.to_milliseconds(integral=False) / 1000
    shown = format_number(seconds)
    if whole_seconds and not seconds.is_integer():
        raise fail(construct, argument, f"is {shown} seconds; it must be a whole number of seconds")
    too_small = seconds <= min_seconds if exclusive_minimum else seconds < min_seconds
    if too_small or seconds > max_seconds:
        allowed = (
            f"it must be more than {format_number(min_seconds)} and at most "
            f"{format_number(max_seconds)} seconds"
            if exclusive_minimum
            else f"allowed range is {format_number(min_seconds)}..{format_number(max_seconds)} "
            "seconds"
        )
        raise fail(construct, argument, f"is {shown} seconds; {allowed}")
    return value


def format_number(value: float) -> str:
    """``value`` as written by a person: ``3`` (not ``3.0``), ``1.5``, ``0.25``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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
    *,
    scope: IConstruct,
) -> dict[str, object]:
    """Merge caller ``overrides`` into ``defaults`` for the keyword arguments of ``target``.

    ``target`` is the L2 class the props are for; an override key that is not one of its
    keyword arguments is rejected with the list of accepted keys, so a typo cannot be
    silently ignored. The merge is deep: an override that is a struct of the same type as
    the default (``StageOptions``, ``DeadLetterQueue``, ...) or a mapping changes only the
    fields it sets, so every default it does not name (access logs, tracing, encryption,
    ...) stays. Lists and other values replace the default. Each default an override
    changes is reported as a warning annotation on ``scope``, so a caller sees what the
    pattern no longer does for them.
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
    deprecated = sorted(key for key in overrides if _is_deprecated(target, key))
    if deprecated:
        raise fail(
            construct,
            argument,
            f"uses the deprecated key(s) {', '.join(map(repr, deprecated))} of "
            f"{getattr(target, '__qualname__', target)}; use what aws-cdk-lib's documentation "
            "names as the replacement (it may be ignored or conflict with the pattern's defaults)",
        )
    function = getattr(target, "__init__") if isinstance(target, type) else target  # noqa: B009
    # environment: left to require_environment, as in checked_arguments.
    check_types(
        construct,
        function,
        {key: value for key, value in overrides.items() if key != "environment"},
        strict=True,
        prefix=f"{argument}[",
    )
    cleared = sorted(key for key, value in overrides.items() if value is None and key in defaults)
    if cleared:
        raise fail(
            construct,
            argument,
            f"sets {', '.join(map(repr, cleared))} to None, which would drop the pattern's "
            "default rather than change it; leave the key out, or give a value",
        )
    changed: list[str] = []
    for key, value in overrides.items():
        merged[key] = _merge_value(key, merged.get(key, _ABSENT), value, changed)
    for path in changed:
        Annotations.of(scope).add_warning_v2(
            f"cdk-microservices:{argument}:{path}",
            f"{construct}: '{argument}' overrides the pattern's default for '{path}'; "
            "check that what the default did (see the construct's docstring) is still done",
        )
    return merged


_ABSENT = object()


def _is_deprecated(target: Callable[..., object], key: str) -> bool:
    """Whether jsii documents keyword argument ``key`` of ``target`` as deprecated."""
    function = getattr(target, "__init__") if isinstance(target, type) else target  # noqa: B009
    doc = inspect.getdoc(function) or ""
    return f":param {key}: (deprecated)" in doc


def _struct_values(value: object) -> dict[str, object] | None:
    """The fields set on a jsii struct (data class), or None for anything else."""
    values = getattr(value, "_values", None)
    return values if isinstance(values, dict) else None


def _merge_value(path: str, default: object, override: object, changed: list[str]) -> object:
    """``override`` merged into ``default`` (see ``merge_props``); records changed paths."""
    if default is _ABSENT:
        return override
    default_fields = _struct_values(default)
    override_fields = _struct_values(override)
    if (
        default_fields is not None
        and override_fields is not None
        and type(default) is type(override)
    ):
        fields = dict(default_fields)
        for key, value in override_fields.items():
            fields[key] = _merge_value(f"{path}.{key}", fields.get(key, _ABSENT), value, changed)
        return type(default)(**fields)
    if isinstance(default, Mapping) and isinstance(override, Mapping):
        merged = dict(default)
        for key, value in override.items():
            merged[key] = _merge_value(f"{path}.{key}", merged.get(key, _ABSENT), value, changed)
        return merged
    if override is not default and override != default:
        changed.append(path)
    return override


def check_types(
    construct: str,
    function: Callable[..., object],
    arguments: Mapping[str, object],
    *,
    strict: bool = False,
    prefix: str = "",
) -> None:
    """Check every keyword argument in ``arguments`` against ``function``'s annotation.

    A value of the wrong type (a string for a topic, ``0`` for a flag, a name for an enum
    member, a number for a list, ...) would otherwise reach jsii, or a Python call deep
    inside the pattern, and fail there with a trace that names neither the construct nor
    the argument. Arguments without an annotation, or annotated with something this check
    does not understand (``Any``, a type variable), pass.
    """
    hints = _type_hints(function)
    for name, value in arguments.items():
        expected = hints.get(name)
        if expected is None:
            continue
        if not (strict or _generic_check_applies(expected) or _clearly_not(value, expected)):
            continue
        problem = _type_problem(value, expected)
        if problem is not None:
            shown = f"{prefix}{name!r}]" if prefix else name
            raise fail(construct, shown + problem[0], problem[1])


def _clearly_not(value: object, expected: object) -> bool:
    """None for an argument that does not take None, or a number or mapping where a list
    is expected: wrong whatever the pattern's own check of the argument would say."""
    if value is None:
        return not _fits(None, expected)
    options = (
        typing.get_args(expected)
        if typing.get_origin(expected) in (typing.Union, types.UnionType)
        else (expected,)
    )
    takes_list = any(
        typing.get_origin(option) in (Sequence, list, tuple, collections.abc.Sequence)
        for option in options
    )
    takes_str = any(option is str or option is Path for option in options)
    if takes_list and not takes_str and not isinstance(value, str | list | tuple | Mapping):
        return True
    takes_mapping = any(
        typing.get_origin(option) in (Mapping, dict, collections.abc.Mapping) for option in options
    )
    return (
        takes_mapping
        and len(options) == 1 + (type(None) in options)
        and (not isinstance(value, Mapping))
    )


_HINTS: dict[object, dict[str, object]] = {}
_LEFT_TO_SPECIFIC_CHECKS = (str, int, float)


def _generic_check_applies(expected: object) -> bool:
    """Whether ``check_types`` checks an argument annotated ``expected``: flags, enums,
    jsii classes and interfaces, dataclasses, and lists and mappings of them. Strings,
    numbers, literals and lists of strings have checks of their own in each pattern (a
    range, a pattern, the allowed values), whose messages say more than a type."""
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if origin is typing.Union or origin is types.UnionType:
        return all(
            _generic_check_applies(option) for option in arguments if option is not type(None)
        )
    if origin is typing.Literal:
        return False
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        return bool(arguments) and _generic_check_applies(arguments[0])
    if origin in (Mapping, dict, collections.abc.Mapping):
        return len(arguments) == 2 and _generic_check_applies(arguments[1])
    if origin is not None:
        return True
    if expected is bool:
        return True
    if expected in _LEFT_TO_SPECIFIC_CHECKS or expected is object or expected is typing.Any:
        return False
    return isinstance(expected, type)


def _type_hints(function: Callable[..., object]) -> dict[str, object]:
    key = function
    if key not in _HINTS:
        try:
            hints = typing.get_type_hints(function)
        except (NameError, TypeError):  # a name only imported for type checkers
            hints = {}
        hints.pop("return", None)
        _HINTS[key] = hints
    return _HINTS[key]


def describe_type(expected: object) -> str:
    """``expected`` as a reader would write it: ``bool``, ``aws_sns.ITopic``, ``list of str``."""
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if origin is typing.Union or origin is types.UnionType:
        names = [describe_type(argument) for argument in arguments]
        if len(names) > 1:
            names = ["True, False" if name == "True or False" else name for name in names]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    if origin is not None and isinstance(origin, type) and origin.__module__ != "collections.abc":
        # a generic pattern: ContainerService[...]
        return describe_type(origin)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(argument) for argument in arguments)
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        return f"a list of {describe_type(arguments[0])}" if arguments else "a list"
    if origin in (Mapping, dict, collections.abc.Mapping):
        if len(arguments) == 2:
            return f"a mapping of {describe_type(arguments[0])} to {describe_type(arguments[1])}"
        return "a mapping"
    if expected is type(None):
        return "None"
    if isinstance(expected, type):
        module = expected.__module__
        if module.startswith("aws_cdk."):
            name = f"{module.removeprefix('aws_cdk.')}.{expected.__qualname__}"
        elif module.startswith("aws_cdk"):
            name = f"aws_cdk.{expected.__qualname__}"
        elif expected is bool:
            return "True or False"
        elif module.startswith("cdk_microservices") or module == "builtins":
            name = expected.__qualname__
        else:
            name = f"{module.split('.')[0]}.{expected.__qualname__}"
        return ("an " if name[0].lower() in "aeiou" else "a ") + name
    return str(expected)


def _type_problem(value: object, expected: object) -> tuple[str, str] | None:
    """None if ``value`` fits ``expected``; else (suffix of the argument's name, problem)."""
    if _fits(value, expected):
        return None
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if origin is typing.Union or origin is types.UnionType:
        # A list or mapping in the right shape but with a bad element: name the element.
        for option in arguments:
            inner = typing.get_origin(option)
            if inner is not None and _fits_container(value, option):
                return _type_problem(value, option)
    elif _fits_container(value, expected):
        if origin in (Mapping, dict, collections.abc.Mapping) and len(arguments) == 2:
            assert isinstance(value, Mapping)
            for key, item in value.items():
                if not _fits(key, arguments[0]):
                    return "", f"has the key {key!r}; keys must be {describe_type(arguments[0])}"
                if not _fits(item, arguments[1]):
                    return f"[{key!r}]", (
                        f"must be {describe_type(arguments[1])}, got {type(item).__name__}"
                    )
        elif arguments:
            assert isinstance(value, Sequence)
            for index, item in enumerate(value):
                if not _fits(item, arguments[0]):
                    return f"[{index}]", (
                        f"must be {describe_type(arguments[0])}, got {type(item).__name__}"
                    )
    if value is None:
        return "", f"is required; it must be {describe_type(expected)}, got None"
    return "", f"must be {describe_type(expected)}, got {type(value).__name__}"


def _fits_container(value: object, expected: object) -> bool:
    origin = typing.get_origin(expected)
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        return isinstance(value, list | tuple)
    if origin in (Mapping, dict, collections.abc.Mapping):
        return isinstance(value, Mapping)
    return False


def _fits(value: object, expected: object) -> bool:
    if expected is typing.Any or expected is object or isinstance(expected, typing.TypeVar):
        return True
    if expected is type(None) or expected is None:
        return value is None
    origin = typing.get_origin(expected)
    arguments = typing.get_args(expected)
    if origin is typing.Union or origin is types.UnionType:
        return any(_fits(value, option) for option in arguments)
    if origin is typing.Literal:
        return any(value == option and type(value) is type(option) for option in arguments)
    if origin in (Sequence, list, tuple, collections.abc.Sequence):
        if not isinstance(value, list | tuple):  # a str is a sequence too, but never meant
            return False
        item = arguments[0] if arguments else typing.Any
        return all(_fits(element, item) for element in value)
    if origin in (Mapping, dict, collections.abc.Mapping):
        if not isinstance(value, Mapping):
            return False
        if len(arguments) != 2:
            return True
        return all(_fits(k, arguments[0]) and _fits(v, arguments[1]) for k, v in value.items())
    if origin is not None:  # a generic class (ContainerService[...]): check the class
        expected = origin
    if not isinstance(expected, type):
        return True
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if getattr(expected, "_is_protocol", False) and hasattr(expected, "__jsii_type__"):
        # A jsii interface: isinstance does not work; the value's class must have its members.
        if isinstance(value, str | int | float | bool | list | tuple | Mapping):
            return False
        # An imported resource (from_*_arn...) is a proxy delegating to one class per
        # interface it implements: each member must be on one of them.
        classes = [type(item) for item in getattr(value, "_delegates", [value])]
        return all(
            any(hasattr(klass, member) for klass in classes)
            for member in _interface_members(expected)
        )
    if getattr(expected, "_is_protocol", False):
        return True
    return isinstance(value, expected)


_MEMBERS: dict[type, tuple[str, ...]] = {}


def _interface_members(interface: type) -> tuple[str, ...]:
    if interface not in _MEMBERS:
        names: set[str] = set()
        for klass in interface.__mro__:
            if getattr(klass, "_is_protocol", False) and hasattr(klass, "__jsii_type__"):
                names.update(name for name in vars(klass) if not name.startswith("_"))
        _MEMBERS[interface] = tuple(sorted(names))
    return _MEMBERS[interface]


_F = typing.TypeVar("_F", bound=Callable[..., object])


def checked_arguments(construct: str) -> Callable[[_F], _F]:
    """Decorate a pattern's ``__init__`` (or a factory function): before it runs, every
    keyword argument is checked against its annotation (``check_types``), so a value of
    the wrong type is a ``ConstructArgumentError`` naming the argument, raised before any
    jsii call. ``environment`` is left to ``require_environment`` (its messages say more)."""

    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def wrapper(*args: object, **kwargs: object) -> object:
            check_types(
                construct,
                function,
                {name: value for name, value in kwargs.items() if name != "environment"},
            )
            return function(*args, **kwargs)

        return typing.cast(_F, wrapper)

    return decorate


def check_fields(instance: object) -> None:
    """``check_types`` for a dataclass's fields (call it from ``__post_init__``)."""
    check_types(
        type(instance).__name__,
        type(instance),
        {
            name: getattr(instance, name)
            for name in getattr(instance, "__dataclass_fields__", {})
            if name != "environment"
        },
    )
