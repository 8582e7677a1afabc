"""cdk-nag runs over the whole app at synth, and a new finding fails the synth."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from stacks.compliance import add_compliance_checks


def test_an_unacknowledged_finding_fails_synth(tmp_path):
    app = App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    add_compliance_checks(app)
    stack = Stack(app, "Careless")
    sqs.Queue(stack, "QueueWithoutDlqOrTls")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text(encoding="utf-8")
    assert "AwsSolutions-SQS3" in report  # no dead-letter queue
    assert "AwsSolutions-SQS4" in report  # no TLS-only policy
