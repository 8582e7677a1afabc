"""The construct tests test this checkout's library, whichever way it is installed: from its
source root (the development venv's editable install) or from a wheel built from it
(the floor environment of ``make test-floor``), never a stale copy."""

from __future__ import annotations

from pathlib import Path

import cdk_microservices

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "constructs" / "cdk_microservices"


def _modules(package: Path) -> dict[str, str]:
    return {
        str(path.relative_to(package)): path.read_text(encoding="utf-8")
        for path in sorted(package.rglob("*.py"))
    }


def test_imported_library_is_this_checkout() -> None:
    imported = Path(cdk_microservices.__file__).resolve().parent
    assert _modules(imported) == _modules(SOURCE_ROOT)
