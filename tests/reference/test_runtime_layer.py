"""Every function of the reference app runs with our pinned runtime-dependencies layer.

Not with AWS's public Powertools layer, whose versions (Powertools 3.23.0 in layer
version 27, unlocked dependencies) are not the ones the handler tests run; see
tests/test_runtime_dependencies.py for the pins themselves.
"""

from __future__ import annotations

import json
from typing import Any

from reference_app import resources_of_type

from stacks.runtime_layers import RUNTIME_DEPENDENCIES_DESCRIPTION

POWERTOOLS_LAYER_ACCOUNT = "017000801446"
"""The account of AWS's public Powertools layers."""
BUCKET_DEPLOYMENT_HANDLER = "CustomCDKBucketDeployment"


def _functions(templates: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], Any]]:
    return [
        (stack, logical_id, function, template)
        for stack, template in templates.items()
        for logical_id, function in resources_of_type(template, "AWS::Lambda::Function")
    ]


def test_no_function_uses_the_public_powertools_layer(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    functions = _functions(synthesized_app)
    assert functions
    for stack, logical_id, function, _ in functions:
        text = json.dumps(function)
        assert POWERTOOLS_LAYER_ACCOUNT not in text, (stack, logical_id)
        assert "AWSLambdaPowertools" not in text, (stack, logical_id)


def test_every_python_function_has_the_runtime_dependencies_layer(
    synthesized_app: dict[str, dict[str, Any]],
) -> None:
    python_functions = [
        entry
        for entry in _functions(synthesized_app)
        if entry[2]["Properties"]["Runtime"].startswith("python")
        # aws-cdk-lib's own BucketDeployment handler (the edge's web UI upload), not ours.
        and not entry[1].startswith(BUCKET_DEPLOYMENT_HANDLER)
    ]
    # Accounts (3 routes + publisher) and Statements (worker + 1 route), in Dev and Prod.
    assert len(python_functions) >= 12
    for stack, logical_id, function, template in python_functions:
        properties = function["Properties"]
        layers = [
            template["Resources"][layer["Ref"]]
            for layer in properties.get("Layers", [])
            if isinstance(layer, dict) and "Ref" in layer
        ]
        matches = [
            layer
            for layer in layers
            if layer["Type"] == "AWS::Lambda::LayerVersion"
            and layer["Properties"].get("Description") == RUNTIME_DEPENDENCIES_DESCRIPTION
        ]
        assert len(matches) == 1, f"{stack} {logical_id} lacks the runtime-dependencies layer"
        layer = matches[0]
        # The layer's wheels are built for one runtime and architecture (wrapt is compiled).
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.14", (stack, logical_id)
        assert properties["Architectures"] == ["arm64"], (stack, logical_id)
        assert layer["DeletionPolicy"] == "Retain"
