"""The versions the library declares are the versions `make test-floor` tests.

pyproject.toml declares the oldest aws-cdk-lib and constructs the library supports (and
cdk-nag's, in the `nag` extra); tests/floor-requirements.txt pins the floor environment in
which the construct tests and tests/consumer run. A floor raised or lowered in one place
only would claim support that nothing tests.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(texts: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, texts)}


def _floor_pins() -> dict[str, Version]:
    text = (REPO_ROOT / "tests" / "floor-requirements.txt").read_text(encoding="utf-8")
    pins = {}
    for line in text.splitlines():
        if line.split("#")[0].strip():
            requirement = Requirement(line.split("#")[0])
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"pin exact versions: {line!r}"
            pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def _floor(requirement: Requirement) -> Version:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert len(floors) == 1, f"one >= floor expected: {requirement}"
    return floors[0]


DEPENDENCIES = _requirements(PROJECT["dependencies"])
NAG = _requirements(PROJECT["optional-dependencies"]["nag"])


def test_dependencies_are_aws_cdk_lib_constructs_and_cdk_monitoring_constructs_only() -> None:
    # cdk-monitoring-constructs: ServiceMonitoring's dashboards (see the README, Dashboards).
    assert set(DEPENDENCIES) == {"aws-cdk-lib", "constructs", "cdk-monitoring-constructs"}
    assert set(NAG) == {"cdk-nag"}


def test_each_floor_comes_with_a_major_version_ceiling() -> None:
    for requirement in [*DEPENDENCIES.values(), *NAG.values()]:
        major = _floor(requirement).major
        assert str(requirement.specifier).split(",").count(f"<{major + 1}") == 1, requirement


def test_floor_environment_pins_the_declared_floors() -> None:
    pins = _floor_pins()
    declared = DEPENDENCIES | NAG
    assert {name: pins.get(name) for name in declared} == {
        name: _floor(requirement) for name, requirement in declared.items()
    }


def test_floor_environment_runs_the_development_pytest() -> None:
    dev = _requirements(PROJECT["optional-dependencies"]["dev"])
    for name in ("pytest", "pytest-xdist"):  # make test-floor runs pytest -n as make pytest
        assert dev[name].specifier.contains(_floor_pins()[name]), name


def test_floor_allows_the_newest_aws_solutions_constructs() -> None:
    # AWS Solutions Constructs 2.105 pins the cloud assembly schema to 54: aws-cdk-lib 2.273
    # at most. The library must install beside it (tests/consumer proves it in practice).
    assert _floor(DEPENDENCIES["aws-cdk-lib"]) <= Version("2.273.0")
    assert _floor_pins()["aws-solutions-constructs-aws-lambda-sqs"] == Version("2.105.0")
