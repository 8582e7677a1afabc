"""The baseline of ``make bench``: a bare CDK app with one Lambda function from inline code.

``tools/bench.py`` synthesizes it beside the reference app, through the same pinned CLI
and cdk.json's feature flags, so the difference is what the reference app adds.
"""

from __future__ import annotations

from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

app = App()
stack = Stack(app, "Bare")
lambda_.Function(
    stack,
    "Function",
    runtime=lambda_.Runtime.PYTHON_3_14,
    handler="index.handler",
    code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
)
app.synth()
