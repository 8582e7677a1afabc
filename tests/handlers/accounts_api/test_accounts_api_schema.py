"""The ``POST /accounts`` request schema: one draft-04 file that API Gateway uses as its
request model and the handler validates against, so it may only use what both understand.
"""

import json
import re
from pathlib import Path

SCHEMA_FILE = (
    Path(__file__).resolve().parents[3]
    / "lambda_src"
    / "accounts_api"
    / "schemas"
    / "open_account_request.json"
)
DRAFT_04 = "http://json-schema.org/draft-04/schema#"
# Draft-04 keywords that API Gateway models and fastjsonschema both support, and that this
# schema has any use for (no "format": API Gateway ignores it, fastjsonschema checks it).
ALLOWED_KEYWORDS = {
    "$schema",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
}
DRAFT_04_TYPES = {"array", "boolean", "integer", "number", "null", "object", "string"}


def load_schema():
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_nodes(node, where="#"):
    """Every (sub)schema with its location: the root and each property's schema."""
    yield where, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{where}/properties/{name}")


def test_declares_draft_04_and_has_a_title():
    schema = load_schema()

    assert schema["$schema"] == DRAFT_04
    assert isinstance(schema["title"], str)
    assert schema["title"]


def test_uses_only_draft_04_keywords_both_validators_support():
    for where, node in schema_nodes(load_schema()):
        assert set(node) <= ALLOWED_KEYWORDS, f"{where}: {set(node) - ALLOWED_KEYWORDS}"


def test_keyword_values_are_valid_draft_04():
    for where, node in schema_nodes(load_schema()):
        assert node["type"] in DRAFT_04_TYPES, where
        lengths = [node[key] for key in ("minLength", "maxLength") if key in node]
        assert all(isinstance(length, int) for length in lengths), where
        assert lengths == sorted(lengths), f"{where}: minLength > maxLength"
        assert all(length >= 0 for length in lengths), where
        if "pattern" in node:
            re.compile(node["pattern"])
        if "enum" in node:  # draft-04: a non-empty array of unique values
            assert node["enum"], where
            assert len({json.dumps(value) for value in node["enum"]}) == len(node["enum"]), where
        if "required" in node:  # draft-04: a non-empty array of unique strings
            required = node["required"]
            assert required, where
            assert all(isinstance(name, str) for name in required), where
            assert len(set(required)) == len(required), where
        if "additionalProperties" in node:
            assert isinstance(node["additionalProperties"], bool), where


def test_every_property_is_required_and_no_other_is_allowed():
    schema = load_schema()

    assert schema["type"] == "object"
    assert set(schema["required"]) == set(schema["properties"])
    assert set(schema["properties"]) == {"owner_name", "email", "currency"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["currency"]["enum"] == ["EUR", "USD", "GBP"]
    assert all(prop["type"] == "string" for prop in schema["properties"].values())


def test_the_handler_validates_against_this_file(handlers):
    handler_module = handlers.open_account
    assert handler_module.SCHEMA_FILE.resolve() == SCHEMA_FILE
    assert load_schema() == handler_module.SCHEMA
