"""Session fixtures: the reference app is synthesized once per test session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from hypothesis import HealthCheck, settings
from reference_app import cli_context, stack_templates

# The property tests' budgets: `short` in `make test`, `long` in `make bench` (which sets
# HYPOTHESIS_PROFILE=long). No deadline: a synth or a moto call takes its time on a busy
# 2-core machine, and a slow example is not a failing one.
settings.register_profile(
    "short",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))


@pytest.fixture(scope="session")
def synthesized_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud assembly of the reference app with its defaults (what ``cdk synth`` writes).

    Built by ``app.build_app`` with the CLI's context, so its templates equal what ``cdk
    synth`` writes (tests/reference/test_cli_synth.py proves it). cdk-nag and CloudFormation's
    own validation run in that CLI test and in ``make synth``, not here, to keep this fast.
    """
    from app import build_app

    outdir: Path = tmp_path_factory.mktemp("cdk.out")
    app = App(context=cli_context(), outdir=str(outdir), builtin_cloud_formation_validation=False)
    build_app(app)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def synthesized_app(synthesized_assembly: Path) -> dict[str, dict[str, Any]]:
    """Templates of every stack of the reference app, by name (``Dev/Accounts``, ...)."""
    return stack_templates(synthesized_assembly)


# Which test modules use the synthesized reference app, by their text: a module that names
# one of these fixtures gets them (directly or through a fixture of its own).
_SYNTH_FIXTURES = ("synthesized_app", "synthesized_assembly")
_SYNTH_SCOPE = "the synthesized reference app"
# Modules that must not run beside each other: the fault runs load both cores with a service,
# PostgreSQL and a load client, and the browser tests wait for the page with timeouts (one
# timed out beside them in CI). They share one worker, one after the other.
_HEAVY_OR_TIMED = ("tests/browser/", "tests/services/transfers/test_faults_under_load.py")
_HEAVY_OR_TIMED_SCOPE = "the fault runs and the browser tests"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``pytest -n N --dist loadscope`` (``make pytest``): a worker takes whole modules,
    so a module-scoped fixture (a construct test's app, the browser) is built once; and every
    module of the synthesized reference app goes to the same worker, so the session fixture
    above synthesizes the app once, not once per worker; and the fault runs and the browser
    tests go to one worker too, one after the other. (pytest-xdist's own ``loadgroup``
    does not group under pytest 9.2: it renames ``item._nodeid``, which pytest 9 no longer
    reads.) Which worker runs what never changes a result, only the time taken."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    rootpath = config.rootpath
    scopes: dict[str, str] = {}

    class ReferenceAppScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module not in scopes:
                path = rootpath / module
                text = path.read_text(encoding="utf-8") if path.is_file() else ""
                uses_synth = any(name in text for name in _SYNTH_FIXTURES)
                if module.startswith(_HEAVY_OR_TIMED):
                    scopes[module] = _HEAVY_OR_TIMED_SCOPE
                else:
                    scopes[module] = _SYNTH_SCOPE if uses_synth else module
            return scopes[module]

    return ReferenceAppScheduling(config, log)
