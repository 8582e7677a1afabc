"""Reading a synthesized cloud assembly the way CloudFormation does, for the deploy rules.

A rule in ``test_deploy_rules.py`` is stated over every template of an app, so the helpers
here follow references wherever they lead: ``Ref`` and ``Fn::GetAtt`` inside a template,
and ``Fn::GetStackOutput`` (this app's weak cross-stack references) or ``Fn::ImportValue``
from one stack's template to the output of another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Templates = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    """One resource of one stack: where it is, and its template entry."""

    stack: str
    logical_id: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["Type"])

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.body.get("Properties", {}))

    @property
    def depends_on(self) -> set[str]:
        depends = self.body.get("DependsOn", [])
        return {depends} if isinstance(depends, str) else set(depends)


def resources(templates: Templates, resource_type: str | None = None) -> Iterator[Resource]:
    """Every resource of every stack (of ``resource_type`` when given)."""
    for stack, template in templates.items():
        for logical_id, body in template.get("Resources", {}).items():
            if resource_type is None or body["Type"] == resource_type:
                yield Resource(stack, logical_id, body)


def stack_of_name(templates: Templates, stack_name: str) -> str:
    """The display name (``Dev/Platform``) of the stack deployed as ``stack_name``
    (``Dev-Platform``): the CLI names a stage's stacks ``<stage>-<stack>``."""
    for display_name in templates:
        if display_name.replace("/", "-") == stack_name:
            return display_name
    raise KeyError(f"no stack is deployed as {stack_name!r}")


def resolve(templates: Templates, stack: str, value: Any) -> list[Resource]:
    """The resources ``value`` refers to, following outputs across stacks.

    ``value`` is any template expression; every ``Ref`` / ``Fn::GetAtt`` to a resource and
    every cross-stack output read inside it is followed (parameters and pseudo parameters
    are not resources and are skipped).
    """
    found: list[Resource] = []
    template = templates[stack]
    if isinstance(value, list):
        for item in value:
            found.extend(resolve(templates, stack, item))
    elif isinstance(value, dict):
        if "Ref" in value or "Fn::GetAtt" in value:
            target = value["Ref"] if "Ref" in value else value["Fn::GetAtt"]
            logical_id = target[0] if isinstance(target, list) else str(target).split(".")[0]
            body = template.get("Resources", {}).get(logical_id)
            if body is not None:
                found.append(Resource(stack, logical_id, body))
        elif "Fn::GetStackOutput" in value:
            reference = value["Fn::GetStackOutput"]
            producer = stack_of_name(templates, reference["StackName"])
            output = templates[producer]["Outputs"][reference["OutputName"]]
            found.extend(resolve(templates, producer, output["Value"]))
        elif "Fn::ImportValue" in value:
            export_name = value["Fn::ImportValue"]
            for producer, producer_template in templates.items():
                for output in producer_template.get("Outputs", {}).values():
                    if output.get("Export", {}).get("Name") == export_name:
                        found.extend(resolve(templates, producer, output["Value"]))
        else:
            for item in value.values():
                found.extend(resolve(templates, stack, item))
    return found


def reads_of_other_stacks(templates: Templates) -> dict[str, set[str]]:
    """For each stack, the stacks that read one of its outputs."""
    readers: dict[str, set[str]] = {stack: set() for stack in templates}

    def visit(reader: str, value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(reader, item)
        elif isinstance(value, dict):
            if "Fn::GetStackOutput" in value:
                producer = stack_of_name(templates, value["Fn::GetStackOutput"]["StackName"])
                readers[producer].add(reader)
            for item in value.values():
                visit(reader, item)

    for stack, template in templates.items():
        visit(stack, template.get("Resources", {}))
    return readers


NamePart = str
"""One part of a name built by ``name_parts``: a literal, or a reference as JSON text."""


def name_parts(value: Any) -> tuple[NamePart, ...]:
    """A name as a template builds it (a literal, or an ``Fn::Join`` of literals and
    references), as the tuple of its parts with adjacent literals merged:
    ``("/aws/rds/cluster/", '{"Ref": "Db"}', "/postgresql")``.

    For comparing the name a service derives for the log group it writes to (from a
    resource's name or id) with the name a template declares for a log group: two
    values that build the same name in the same way compare equal."""
    parts: list[NamePart] = []
    pending = ""

    def visit(item: Any) -> None:
        nonlocal pending
        if isinstance(item, str):
            pending += item
        elif isinstance(item, dict) and "Fn::Join" in item and item["Fn::Join"][0] == "":
            for part in item["Fn::Join"][1]:
                visit(part)
        else:
            if pending:
                parts.append(pending)
                pending = ""
            parts.append(json.dumps(item, sort_keys=True))

    visit(value)
    if pending:
        parts.append(pending)
    return tuple(parts)


LOG_GROUP_DECLARATIONS = ("AWS::Logs::LogGroup", "Custom::LogRetention")
"""What gives a log group its retention in a template: the group itself, or aws-cdk-lib's
``LogRetention`` custom resource, which creates the named group if it does not exist yet
(and accepts one the service created first) and sets its retention."""


def log_groups_named(templates: Templates, stack: str, name: Any) -> list[Resource]:
    """The resources of ``stack`` that declare the log group called ``name`` (see
    ``LOG_GROUP_DECLARATIONS``), however the name is built."""
    wanted = name_parts(name)
    return [
        resource
        for resource_type in LOG_GROUP_DECLARATIONS
        for resource in resources({stack: templates[stack]}, resource_type)
        if "LogGroupName" in resource.properties
        and name_parts(resource.properties["LogGroupName"]) == wanted
    ]


def retention_days(resource: Resource) -> int | None:
    """The days a declared log group keeps its events (None: forever)."""
    days = resource.properties.get("RetentionInDays")
    return int(days) if days is not None else None


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements as a list."""
    statement = policy_document.get("Statement", [])
    return statement if isinstance(statement, list) else [statement]


def as_set(value: Any) -> set[Any]:
    """A policy field that may be a string or a list, as a set of its (JSON) values."""
    items = value if isinstance(value, list) else [value]
    return {item if isinstance(item, str) else repr(item) for item in items}


def service_principals(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    if not isinstance(principal, dict):
        return set()
    return as_set(principal.get("Service", []))


def actions(statement: dict[str, Any]) -> set[str]:
    return {action.lower() for action in as_set(statement.get("Action", []))}


def render(templates: Templates, stack: str, value: Any) -> str:
    """``value`` as a string, with each reference it makes shown as ``<Type.Attribute>``
    (``<AWS::CloudFront::Distribution.DomainName>``), cross-stack outputs followed.

    For rules about the shape of a string that is only known at deploy, such as a URL."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(render(templates, stack, part) for part in parts)
        if "Fn::GetStackOutput" in value:
            reference = value["Fn::GetStackOutput"]
            producer = stack_of_name(templates, reference["StackName"])
            output = templates[producer]["Outputs"][reference["OutputName"]]
            return render(templates, producer, output["Value"])
        if "Ref" in value or "Fn::GetAtt" in value:
            target = value["Ref"] if "Ref" in value else value["Fn::GetAtt"]
            logical_id, _, attribute = (
                (target[0], None, target[1])
                if isinstance(target, list)
                else str(target).partition(".")
            )
            body = templates[stack].get("Resources", {}).get(logical_id)
            kind = body["Type"] if body is not None else str(logical_id)
            return f"<{kind}.{attribute}>" if attribute else f"<{kind}>"
    raise ValueError(f"cannot render {value!r} as a string")
