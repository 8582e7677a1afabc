"""Fixtures shared by the construct tests."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

import cdk_microservices


def pytest_report_header() -> list[str]:
    """Which aws-cdk-lib and which copy of the library the construct tests run against."""
    return [
        f"aws-cdk-lib {metadata.version('aws-cdk-lib')}, "
        f"constructs {metadata.version('constructs')}, "
        f"cdk_microservices from {Path(cdk_microservices.__file__).parent}"
    ]


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A handler folder with the modules the construct tests name: create, read, consumer."""
    folder = tmp_path_factory.mktemp("handlers")
    for module in ("create", "read", "consumer"):
        (folder / f"{module}.py").write_text("def handler(event, context):\n    return {}\n")
    return folder
