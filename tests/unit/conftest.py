"""Fixtures shared by the construct tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A handler folder with the modules the construct tests name: create, read, consumer."""
    folder = tmp_path_factory.mktemp("handlers")
    for module in ("create", "read", "consumer"):
        (folder / f"{module}.py").write_text("def handler(event, context):\n    return {}\n")
    return folder
