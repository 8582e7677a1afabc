"""What the Lambda functions run with is what their tests ran with.

The functions get their third-party packages from our own layer, built by
``make runtime-layer`` from the exact pins of ``lambda_src/runtime-requirements.txt``.
These tests fail when those pins drift from the test environment (or from pyproject.toml),
when the Lambda code imports a package that no pin provides, when a pinned package needs
one that is neither pinned nor in the Lambda runtime, when a pin is needed by nothing (a
package dropped from the code, or an extra dropped from pyproject.toml, whose pins stayed
behind), and when the built folder does not hold exactly the pinned wheels for Python 3.14
on arm64.

A package the venv still has but nothing pins any more (an existing venv keeps what an
older pyproject.toml installed: ``pip install`` never uninstalls) is not an error in
itself; the Lambda code importing it is, as no pin provides it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stacks.runtime_layers import (
    RUNTIME_DEPENDENCIES,
    RUNTIME_REQUIREMENTS,
    runtime_dependencies_folder,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = REPO_ROOT / "lambda_src"
SHARED_PYTHON = LAMBDA_SRC / "shared" / "python"

RUNTIME_PROVIDED = frozenset(
    canonicalize_name(name)
    for name in ("boto3", "botocore", "jmespath", "urllib3", "s3transfer", "python-dateutil", "six")
)
"""Distributions the Lambda Python runtime already has: never shipped in our layer."""
RUNTIME_PROVIDED_MODULES = frozenset({"boto3", "botocore"})
"""Modules the Lambda code may import from the runtime (its AWS SDK) without a pin."""

# The environment the layer is built for (the Makefile's pip --platform/--python-version).
LAMBDA_MARKER_ENVIRONMENT = {
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.14",
    "python_full_version": "3.14.0",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
}
LAMBDA_WHEEL_TAG = re.compile(
    r"^py3-none-any$|^cp314-cp314-manylinux.*_aarch64$|^cp3[0-9]+-abi3-manylinux.*_aarch64$"
)


def _pins() -> dict[str, Requirement]:
    pins: dict[str, Requirement] = {}
    for line in RUNTIME_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{requirement.name} is pinned twice"
        pins[name] = requirement
    return pins


def _pinned_version(requirement: Requirement) -> str:
    [specifier] = requirement.specifier
    return specifier.version


PINS = _pins()


def test_every_pin_is_exact() -> None:
    for name, requirement in PINS.items():
        specifiers = [(spec.operator, spec.version) for spec in requirement.specifier]
        assert len(specifiers) == 1, f"{name}: pin one exact version, not {requirement}"
        assert specifiers[0][0] == "==", f"{name}: pin with ==, not {requirement}"
        assert not requirement.extras, f"{name}: list each extra's packages, not [extras]"
        assert requirement.marker is None, f"{name}: no markers, the layer has one platform"


def test_every_pin_is_the_version_the_tests_run() -> None:
    for name, requirement in PINS.items():
        installed = importlib.metadata.version(name)
        assert installed == _pinned_version(requirement), (
            f"{RUNTIME_REQUIREMENTS.name} pins {name}=={_pinned_version(requirement)}, "
            f"the tests run {installed}: change both together"
        )


def test_pyproject_pins_the_same_versions() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev = [Requirement(text) for text in pyproject["project"]["optional-dependencies"]["dev"]]
    checked = set()
    for requirement in dev:
        name = canonicalize_name(requirement.name)
        if name in PINS:
            assert str(requirement.specifier) == f"=={_pinned_version(PINS[name])}", name
            checked.add(name)
    # Powertools and fastjsonschema are the ones the handler code names itself.
    assert {"aws-lambda-powertools", "fastjsonschema"} <= checked


def test_nothing_the_runtime_provides_is_shipped() -> None:
    assert not RUNTIME_PROVIDED & PINS.keys()


def _own_modules() -> set[str]:
    """Top-level modules of our own code: the shared package and each function's modules."""
    roots = [SHARED_PYTHON] + [
        folder for folder in LAMBDA_SRC.iterdir() if folder.is_dir() and folder.name != "shared"
    ]
    own = set()
    for root in roots:
        for entry in root.iterdir():
            if entry.suffix == ".py":
                own.add(entry.stem)
            elif (entry / "__init__.py").is_file():
                own.add(entry.name)
    return own


def _imported_modules() -> dict[str, set[Path]]:
    """Top-level name of every absolute import in the Lambda code -> files importing it."""
    imported: dict[str, set[Path]] = {}
    for path in sorted(LAMBDA_SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.split(".")[0], set()).add(path.relative_to(REPO_ROOT))
    return imported


def test_every_third_party_import_of_the_lambda_code_is_pinned() -> None:
    imported = _imported_modules()
    assert {"aws_lambda_powertools", "fastjsonschema", "payments_shared"} <= imported.keys()
    third_party = {
        module: files
        for module, files in imported.items()
        if module not in sys.stdlib_module_names
        and module not in _own_modules()
        and module not in RUNTIME_PROVIDED_MODULES
    }
    distributions = importlib.metadata.packages_distributions()
    for module, files in sorted(third_party.items()):
        providers = {canonicalize_name(name) for name in distributions.get(module, [])}
        assert providers & PINS.keys(), (
            f"{sorted(map(str, files))} import {module!r}, which no distribution pinned in "
            f"{RUNTIME_REQUIREMENTS.name} provides (installed from: {sorted(providers)})"
        )


def _layer_dependencies(name: str) -> dict[str, Requirement]:
    """What pinned distribution ``name`` needs on Lambda, with the extras the tests install
    (pyproject.toml's dev extras, e.g. Powertools' ``validation``): the extras the layer needs.
    """
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras: dict[str, set[str]] = {
        canonicalize_name(requirement.name): requirement.extras
        for requirement in map(Requirement, pyproject["project"]["optional-dependencies"]["dev"])
    }
    wanted_extras = {""} | extras.get(name, set[str]())
    needed: dict[str, Requirement] = {}
    for text in importlib.metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({**LAMBDA_MARKER_ENVIRONMENT, "extra": extra})
            for extra in wanted_extras
        ):
            continue
        needed[canonicalize_name(requirement.name)] = requirement
    return needed


def test_pinned_distributions_bring_everything_they_need() -> None:
    """--no-deps builds the layer: each pin's dependencies must be pinned or the runtime's."""
    for name in PINS:
        for dependency, requirement in _layer_dependencies(name).items():
            assert dependency in PINS.keys() | RUNTIME_PROVIDED, (
                f"{name} needs {requirement}: pin it in {RUNTIME_REQUIREMENTS.name}"
            )


def test_every_pin_is_needed() -> None:
    """A pin is there because the Lambda code imports it, or a pin that is there needs it.

    When Powertools' Tracer went (and with it the ``tracer`` extra in pyproject.toml),
    aws-xray-sdk and wrapt (which only aws-xray-sdk needs) had to leave the layer too: a pin
    left behind would still ship, and still be held to the venv's version, for nothing.
    """
    distributions = importlib.metadata.packages_distributions()
    needed = {
        canonicalize_name(distribution)
        for module in _imported_modules()
        for distribution in distributions.get(module, [])
    } & PINS.keys()
    unvisited = list(needed)
    while unvisited:
        for dependency in _layer_dependencies(unvisited.pop()):
            if dependency in PINS and dependency not in needed:
                needed.add(dependency)
                unvisited.append(dependency)
    unneeded = sorted(PINS.keys() - needed)
    assert not unneeded, (
        f"{RUNTIME_REQUIREMENTS.name} pins {unneeded}, which neither the Lambda code imports "
        "nor a needed pin needs (with the extras pyproject.toml's dev list names): remove them"
    )


@pytest.fixture(scope="module")
def built_layer() -> Path:
    python = RUNTIME_DEPENDENCIES / "python"
    assert python.is_dir(), f"{python} is missing: run `make runtime-layer`"
    return python


def test_built_layer_holds_exactly_the_pinned_versions(built_layer: Path) -> None:
    built = {}
    for metadata in built_layer.glob("*.dist-info/METADATA"):
        fields = Parser().parsestr(metadata.read_text(encoding="utf-8"), headersonly=True)
        built[canonicalize_name(fields["Name"])] = fields["Version"]
    pinned = {name: _pinned_version(requirement) for name, requirement in PINS.items()}
    assert built == pinned, "the built layer is stale: run `make runtime-layer`"


def test_built_layer_is_for_python_3_14_on_arm64(built_layer: Path) -> None:
    wheels = list(built_layer.glob("*.dist-info/WHEEL"))
    assert len(wheels) == len(PINS)
    for wheel in wheels:
        fields = Parser().parsestr(wheel.read_text(encoding="utf-8"), headersonly=True)
        tags = fields.get_all("Tag") or []
        assert tags, wheel
        # A wheel fits if one of its tags does (py2-none-any + py3-none-any: py3 fits).
        assert any(LAMBDA_WHEEL_TAG.match(tag) for tag in tags), (wheel.parent.name, tags)
    # Every pin is pure Python today (wrapt, compiled, left with the X-Ray SDK); a compiled
    # one must be built for Lambda's Python and architecture.
    for extension in built_layer.rglob("*.so"):
        assert ".cpython-314-aarch64-linux-gnu." in extension.name or ".abi3." in extension.name


def test_built_layer_has_no_bytecode(built_layer: Path) -> None:
    # Lambda's /opt is read-only, and bytecode compiled here would change the asset hash.
    assert not list(built_layer.rglob("__pycache__"))
    assert not list(built_layer.rglob("*.pyc"))


def test_synth_uses_the_layer_only_when_built_from_the_current_pins() -> None:
    assert runtime_dependencies_folder() == RUNTIME_DEPENDENCIES
