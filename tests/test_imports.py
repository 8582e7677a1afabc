"""The library's source root is a folder named ``constructs``: it must never shadow the
PyPI package ``constructs`` that every CDK app imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import constructs

import cdk_microservices

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_constructs_is_the_pypi_package() -> None:
    origin = Path(constructs.__file__).resolve()
    assert "site-packages" in origin.parts
    assert not origin.is_relative_to(REPO_ROOT / "constructs")
    assert hasattr(constructs, "Construct")


def test_constructs_folder_is_not_a_package() -> None:
    assert not (REPO_ROOT / "constructs" / "__init__.py").exists()


def test_library_imports_from_its_source_root() -> None:
    origin = Path(cdk_microservices.__file__).resolve()
    assert origin.parent == REPO_ROOT / "constructs" / "cdk_microservices"


def test_constructs_resolves_from_the_repo_root_too() -> None:
    # The shell's working directory is the repo root for `cdk synth`: `python app.py`
    # puts it first on sys.path, where the folder `constructs/` lies.
    probe = "import constructs, sys; print(constructs.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "site-packages" in result.stdout


def _library_imports_of(forbidden: set[str]) -> list[str]:
    library = REPO_ROOT / "constructs" / "cdk_microservices"
    offenders = []
    for source in library.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    return offenders


def test_library_never_imports_the_reference_app() -> None:
    # Another CDK app must be able to use the library alone (DESIGN.md: what may import what).
    assert _library_imports_of({"stacks", "app", "lambda_src", "container_src"}) == []


def test_library_never_imports_cdk_nag() -> None:
    # cdk-nag is an optional extra (pyproject.toml): the library acknowledges findings through
    # aws-cdk-lib's Validations API. tests/consumer synthesizes an app with cdk_nag unimportable.
    assert _library_imports_of({"cdk_nag"}) == []


def _imports_of(source: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            # ``from cdk_microservices import _alarms`` imports a private module too.
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_the_reference_app_uses_only_the_librarys_public_api() -> None:
    """app.py and stacks/ import ``cdk_microservices`` and its public modules, never a
    private one (``cdk_microservices._*``): the app is the library's first consumer
    (DESIGN.md: app -> stacks -> cdk_microservices public)."""
    sources = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "stacks").glob("*.py"))]
    assert len(sources) > 5
    offenders = [
        f"{source.relative_to(REPO_ROOT)}: {name}"
        for source in sources
        for name in _imports_of(source)
        if name.split(".")[0] == "cdk_microservices"
        and any(part.startswith("_") for part in name.split(".")[1:])
    ]
    assert offenders == []
