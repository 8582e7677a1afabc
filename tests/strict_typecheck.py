"""Run ``mypy --strict`` as a library user would, over files outside the project's config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def mypy_strict(*files: Path, cwd: Path) -> str:
    """mypy's complaints about ``files`` ("" when there is none), on the repository's cache
    (``make typecheck`` has filled it with aws_cdk, which makes a run take a second)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(REPO_ROOT / ".mypy_cache"),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr
