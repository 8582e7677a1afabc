"""What every handler test needs: the shared layer's package and the event contracts.

On Lambda, ``payments_shared`` comes from the shared layer (``/opt/python``) and the
contracts from the contracts layer (``/opt/events``); here they come from the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_PYTHON = ROOT / "lambda_src" / "shared" / "python"
CONTRACTS_DIR = ROOT / "contracts" / "events"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context that Powertools reads."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "5f3c1d2e-0000-4a1b-8c2d-3e4f5a6b7c8d"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(autouse=True)
def shared_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """``payments_shared`` importable and ``CONTRACTS_DIR`` set, as the layers provide."""
    monkeypatch.syspath_prepend(str(SHARED_PYTHON))
    monkeypatch.setenv("CONTRACTS_DIR", str(CONTRACTS_DIR))
    monkeypatch.setattr("sys.dont_write_bytecode", True)
