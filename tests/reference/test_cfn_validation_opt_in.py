"""aws-cdk-lib's built-in CloudFormation validation: off on a plain ``cdk synth`` of the
reference app (bench/results.md says what it cost), run on ``-c cfn-validation=true``,
which ``make synth`` (so ``make test``) passes."""

from __future__ import annotations

import re

import pytest
from reference_app import REPO_ROOT

from app import CFN_VALIDATION_CONTEXT, cfn_validation_requested


@pytest.mark.parametrize("value", [True, "true", "TRUE", " true "])
def test_validation_is_requested_by_true(value: object) -> None:
    assert cfn_validation_requested(value)


@pytest.mark.parametrize("value", [None, False, "false", "", "1", "yes", 1])
def test_validation_is_off_otherwise(value: object) -> None:
    assert not cfn_validation_requested(value)


def test_make_synth_runs_the_validation() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    synth = re.search(r"^synth:.*?\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert synth is not None
    assert f"cdk synth --quiet -c {CFN_VALIDATION_CONTEXT}=true" in synth.group(1)
