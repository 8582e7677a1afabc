"""The bare App of the construct tests, on every aws-cdk-lib the library supports."""

from __future__ import annotations

import inspect

from aws_cdk import App

# aws-cdk-lib 2.275 validates every template during synth (about half the synth time);
# releases before it, down to the library's floor (make test-floor), have no such option.
_HAS_BUILTIN_VALIDATION = (
    "builtin_cloud_formation_validation" in inspect.signature(App.__init__).parameters
)


def new_app(outdir: str | None = None) -> App:
    """An ``App`` without CloudFormation's built-in template validation, where it exists."""
    if _HAS_BUILTIN_VALIDATION:
        return App(outdir=outdir, builtin_cloud_formation_validation=False)
    return App(outdir=outdir)
