"""The image's inputs, checked without Docker: pins, Dockerfile, what it copies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVICE = ROOT / "container_src" / "transfers"


def _requirements() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (SERVICE / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned exactly"
            pins[name.lower()] = version
    return pins


def test_the_image_pins_what_the_tests_run_with() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "dev"
    ]
    dev_pins = dict(requirement.lower().split("==") for requirement in dev)
    image_pins = _requirements()
    assert {"fastapi", "uvicorn", "psycopg[binary]", "psycopg-pool", "redis", "boto3"} <= set(
        image_pins
    )
    assert {name: dev_pins.get(name) for name in image_pins} == image_pins


def test_the_dockerfile_builds_from_the_repository_root() -> None:
    dockerfile = (SERVICE / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert instructions[0].startswith("FROM python:3.14-slim")
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) \S+$", dockerfile, re.MULTILINE):
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert "COPY contracts/events /app/contracts/events" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0", "0:0"}
    # liveness, not readiness: a database outage must not get every task replaced
    assert re.search(r"^HEALTHCHECK .*/health/live'", dockerfile, re.MULTILINE | re.DOTALL)
    assert "EXPOSE 8080" in dockerfile
    assert re.search(r'^CMD \["uvicorn", .*"--port", "8080"', dockerfile, re.MULTILINE)
