"""Write docs/architecture.md and its diagrams from a synthesized cloud assembly (cdk.out).

Usage: ``python -m tools.architecture_report cdk.out docs`` (``make report`` runs it after a
synth). Nothing in the report is written by hand: every box and arrow of the diagrams and
every cell of the data-ownership matrix is read from the templates, cross-stack references
(``Fn::GetStackOutput`` weak references, ``Fn::ImportValue`` exports) resolved to the
resource of the producing stack. The output is sorted, so regenerating from the same
templates writes the same files; its header names the aws-cdk-lib release and a hash of the
templates (CDK's metadata resource dropped, asset hashes masked), not a commit.

The data-ownership matrix is the one source of ``ownership_violations``, which
tests/reference/test_data_ownership.py holds the reference app to: no service's role may
touch another service's data store (table, database, secret, cache, queue, bucket), save
publishing to one of the platform's topics.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

Key = tuple[str, str]
"""A resource of the assembly: (stack display name, logical id)."""

PLATFORM = "platform"
"""The service of a stack without a ``service`` tag (the shared platform and its firewall)."""

NODE_KINDS: dict[str, str] = {
    "AWS::Lambda::Function": "function",
    "AWS::ECS::Service": "container service",
    "AWS::ECS::TaskDefinition": "task",
    "AWS::StepFunctions::StateMachine": "workflow",
    "AWS::Scheduler::Schedule": "schedule",
    "AWS::DynamoDB::Table": "table",
    "AWS::RDS::DBCluster": "database",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::ElastiCache::ServerlessCache": "cache",
    "AWS::ElastiCache::ReplicationGroup": "cache",
    "AWS::SQS::Queue": "queue",
    "AWS::SNS::Topic": "topic",
    "AWS::S3::Bucket": "bucket",
    "AWS::CloudFront::Distribution": "distribution",
    "AWS::ApiGateway::RestApi": "API",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load balancer",
    "AWS::WAFv2::WebACL": "web ACL",
    "AWS::KMS::Key": "key",
}
"""Resource types drawn as boxes, and what the diagram and matrix call them."""

DATA_STORE_KINDS = frozenset({"table", "database", "secret", "cache", "queue", "bucket"})
"""Kinds a service owns alone: no other service's role may act on them."""

COMPUTE_KINDS = frozenset({"function", "container service", "task", "workflow", "schedule"})

ACCESS_CLASSES = ("read", "write", "publish", "consume", "invoke", "connect", "key")
"""Columns of the matrix: what an IAM action does to its resource."""

_GENERIC_TAILS = frozenset(
    {
        "Function",
        "Handler",
        "Table",
        "Queue",
        "Topic",
        "Bucket",
        "Cluster",
        "Service",
        "Distribution",
        "Api",
        "StateMachine",
        "Schedule",
        "TaskDefinition",
        "ServerlessCache",
        "LoadBalancer",
        "Secret",
    }
)
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


# --------------------------------------------------------------------------------------
# IAM actions


def classify_action(action: str) -> str | None:
    """The access class of one IAM action, or None for what touches no data or queue
    (logs, X-Ray, metrics, ECR pulls, ``iam:PassRole``, ``dynamodb:ListStreams``, ...)."""
    service, _, verb = action.partition(":")
    service = service.lower()
    if service == "kms":
        return "key"
    if service == "sns":
        return "publish" if verb == "Publish" else None
    if service == "sqs":
        if verb.startswith(("ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility")):
            return "consume"
        if verb.startswith("SendMessage"):
            return "publish"
        if verb.startswith(("GetQueue", "ListQueue", "ListDeadLetter")):
            return "read"
        return "write" if verb.startswith(("Purge", "SetQueue", "StartMessageMove")) else None
    if service == "dynamodb":
        if verb in {"ListStreams", "ListTables", "DescribeLimits"}:
            return None
        if verb.startswith(("Get", "BatchGet", "Query", "Scan", "Describe", "ConditionCheck")):
            return "read"
        if verb.startswith(("TransactGet", "PartiQLSelect")):
            return "read"
        return "write"
    if service == "s3":
        if verb.startswith(("Get", "List")):
            return "read"
        return "write"
    if service == "secretsmanager":
        if verb.startswith(("GetSecretValue", "DescribeSecret", "ListSecretVersionIds")):
            return "read"
        return "write"
    if action.lower() in {"rds-db:connect", "elasticache:connect"}:
        return "connect"
    if (service, verb) in {
        ("lambda", "InvokeFunction"),
        ("ecs", "RunTask"),
        ("states", "StartExecution"),
        ("states", "StartSyncExecution"),
    }:
        return "invoke"
    return None


# --------------------------------------------------------------------------------------
# The assembly


@dataclass(frozen=True)
class Stack:
    """One stack of the assembly."""

    stage: str
    name: str
    """Display name, ``Dev/Accounts``."""
    stack_name: str
    """CloudFormation stack name, ``Dev-Accounts`` (what weak references name)."""
    service: str
    template: dict[str, Any]

    @property
    def short(self) -> str:
        return self.name.split("/", 1)[-1]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.get("Resources", {})
        return resources


def _service_of(template: dict[str, Any]) -> str:
    tags: Counter[str] = Counter()
    for resource in template.get("Resources", {}).values():
        found = resource.get("Properties", {}).get("Tags")
        if isinstance(found, list):
            for tag in found:
                if isinstance(tag, dict) and tag.get("Key") == "service":
                    tags[str(tag.get("Value"))] += 1
    if not tags:
        return PLATFORM
    return sorted(tags.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _load_stacks(outdir: Path) -> Iterator[Stack]:
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        properties = artifact.get("properties", {})
        if artifact.get("type") == "aws:cloudformation:stack":
            name = artifact.get("displayName", artifact_id)
            template = json.loads((outdir / properties["templateFile"]).read_text("utf-8"))
            yield Stack(
                stage=name.split("/")[0],
                name=name,
                stack_name=properties.get("stackName", artifact_id),
                service=_service_of(template),
                template=template,
            )
        elif artifact.get("type") == "cdk:cloud-assembly":
            yield from _load_stacks(outdir / properties["directoryName"])


@dataclass
class Assembly:
    """The stacks of a cloud assembly and how their resources refer to one another."""

    stacks: dict[str, Stack]

    @classmethod
    def load(cls, outdir: Path) -> Assembly:
        return cls.from_stacks(_load_stacks(outdir))

    @classmethod
    def from_templates(cls, templates: dict[str, dict[str, Any]]) -> Assembly:
        """From templates by display name (``Dev/Accounts``); the stack name is the display
        name with ``-`` for ``/``, as CDK names a stage's stacks."""
        return cls.from_stacks(
            Stack(
                stage=name.split("/")[0],
                name=name,
                stack_name=name.replace("/", "-"),
                service=_service_of(template),
                template=template,
            )
            for name, template in templates.items()
        )

    @classmethod
    def from_stacks(cls, stacks: Iterable[Stack]) -> Assembly:
        return cls(stacks={stack.name: stack for stack in sorted(stacks, key=lambda s: s.name)})

    @property
    def stages(self) -> list[str]:
        return sorted({stack.stage for stack in self.stacks.values()})

    def resource(self, key: Key) -> dict[str, Any]:
        resource: dict[str, Any] = self.stacks[key[0]].resources[key[1]]
        return resource

    def resources(self, resource_type: str | None = None) -> Iterator[tuple[Key, dict[str, Any]]]:
        for stack in self.stacks.values():
            for logical_id, resource in sorted(stack.resources.items()):
                if resource_type is None or resource.get("Type") == resource_type:
                    yield (stack.name, logical_id), resource

    def _output(self, stack_name: str, output: str) -> tuple[Stack, Any] | None:
        for stack in self.stacks.values():
            if stack.stack_name == stack_name:
                value = stack.template.get("Outputs", {}).get(output, {}).get("Value")
                return (stack, value) if value is not None else None
        return None

    def _export(self, export: Any) -> tuple[Stack, Any] | None:
        for stack in self.stacks.values():
            for output in stack.template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == export:
                    return stack, output.get("Value")
        return None

    def references(self, stack: Stack, value: Any) -> set[Key]:
        """The resources a template value refers to, across stacks."""
        found: set[Key] = set()
        self._collect(stack, value, found)
        return found

    def _collect(self, stack: Stack, value: Any, found: set[Key]) -> None:
        if isinstance(value, list):
            for item in value:
                self._collect(stack, item, found)
            return
        if not isinstance(value, dict):
            return
        if "Ref" in value and isinstance(value["Ref"], str):
            if value["Ref"] in stack.resources:
                found.add((stack.name, value["Ref"]))
            return
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id = target[0] if isinstance(target, list) else str(target).split(".")[0]
            if logical_id in stack.resources:
                found.add((stack.name, logical_id))
            return
        if "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            producer = self._output(str(spec.get("StackName")), str(spec.get("OutputName")))
            if producer:
                self._collect(producer[0], producer[1], found)
            return
        if "Fn::ImportValue" in value:
            producer = self._export(value["Fn::ImportValue"])
            if producer:
                self._collect(producer[0], producer[1], found)
            return
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
            for name in _SUB_REFERENCE.findall(str(text)):
                if name in stack.resources and name not in variables:
                    found.add((stack.name, name))
            self._collect(stack, variables, found)
            return
        for item in value.values():
            self._collect(stack, item, found)


# --------------------------------------------------------------------------------------
# Components: the boxes of the diagram, the rows and columns of the matrix


@dataclass(frozen=True, order=True)
class Component:
    """A box: a resource of a ``NODE_KINDS`` type, or an IAM role that belongs to none."""

    stack: str
    logical_id: str
    kind: str
    label: str
    service: str
    hidden: bool = False
    """Deploy-time machinery (custom resource providers) and log buckets: in the matrix,
    left out of the diagram."""

    @property
    def key(self) -> Key:
        return (self.stack, self.logical_id)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.label}"

    @property
    def node_id(self) -> str:
        return re.sub(r"[^A-Za-z0-9]", "_", f"{self.stack}_{self.logical_id}")


def _path_label(stack: Stack, logical_id: str) -> str:
    resource = stack.resources[logical_id]
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    prefix = stack.name + "/"
    if not path.startswith(prefix):
        return logical_id
    parts = path[len(prefix) :].split("/")
    if len(parts) > 1 and parts[-1] in {"Resource", "Default"}:
        parts = parts[:-1]
    while len(parts) > 1 and parts[-1] == parts[-2]:
        parts = parts[:-1]
    if len(parts) > 1 and parts[-1] in _GENERIC_TAILS:
        parts = parts[:-1]
    return "/".join(parts)


@dataclass
class Architecture:
    """Components of an assembly and which resources belong to which component."""

    assembly: Assembly
    components: dict[Key, Component] = field(default_factory=dict)
    owner: dict[Key, Key] = field(default_factory=dict)
    """Resource (role, alias, version, security group, task definition) -> its component."""

    @classmethod
    def of(cls, assembly: Assembly) -> Architecture:
        architecture = cls(assembly)
        architecture._build()
        return architecture

    def component_of(self, key: Key) -> Component | None:
        key = self.owner.get(key, key)
        return self.components.get(key)

    def components_of(self, stack: Stack, value: Any) -> set[Component]:
        found = {self.component_of(key) for key in self.assembly.references(stack, value)}
        return {component for component in found if component is not None}

    def _build(self) -> None:
        assembly = self.assembly
        hidden = self._machinery() | self._log_buckets() | self._keys()
        services_tasks = {
            key
            for stack_key, service in assembly.resources("AWS::ECS::Service")
            for key in assembly.references(
                assembly.stacks[stack_key[0]], service["Properties"].get("TaskDefinition")
            )
        }
        for key, resource in assembly.resources():
            kind = NODE_KINDS.get(resource.get("Type", ""))
            if kind is None or key in services_tasks:
                continue
            stack = assembly.stacks[key[0]]
            self.components[key] = Component(
                stack=stack.name,
                logical_id=key[1],
                kind=kind,
                label=_path_label(stack, key[1]),
                service=stack.service,
                hidden=key in hidden,
            )
        self._own_parts(services_tasks)
        self._own_security_groups()
        for key, _ in assembly.resources("AWS::IAM::Role"):
            if key not in self.owner:
                stack = assembly.stacks[key[0]]
                self.components[key] = Component(
                    stack=stack.name,
                    logical_id=key[1],
                    kind="role",
                    label=_path_label(stack, key[1]),
                    service=stack.service,
                    hidden=True,
                )

    def _machinery(self) -> set[Key]:
        """Functions behind custom resources (and their log-retention kin)."""
        found: set[Key] = set()
        for key, resource in self.assembly.resources():
            stack = self.assembly.stacks[key[0]]
            kind = str(resource.get("Type", ""))
            if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                token = resource.get("Properties", {}).get("ServiceToken")
                found |= self.assembly.references(stack, token)
            path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
            if kind == "AWS::Lambda::Function" and (
                "/Custom::" in path or key[1].startswith("LogRetention")
            ):
                found.add(key)
        return found

    def _keys(self) -> set[Key]:
        """KMS keys: in the matrix (what a role may encrypt or decrypt with), not drawn."""
        return {key for key, _ in self.assembly.resources("AWS::KMS::Key")}

    def _log_buckets(self) -> set[Key]:
        """Buckets that receive access logs or trails: named by another resource's logging."""
        found: set[Key] = set()
        for key, resource in self.assembly.resources():
            stack = self.assembly.stacks[key[0]]
            properties = resource.get("Properties", {})
            kind = resource.get("Type")
            if kind == "AWS::S3::Bucket":
                logging = properties.get("LoggingConfiguration", {})
                found |= self.assembly.references(stack, logging.get("DestinationBucketName"))
            elif kind == "AWS::CloudTrail::Trail":
                found |= self.assembly.references(stack, properties.get("S3BucketName"))
            elif kind == "AWS::CloudFront::Distribution":
                logging = properties.get("DistributionConfig", {}).get("Logging", {})
                found |= self.assembly.references(stack, logging.get("Bucket"))
            elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                for attribute in properties.get("LoadBalancerAttributes", []):
                    if attribute.get("Key") == "access_logs.s3.bucket":
                        found |= self.assembly.references(stack, attribute.get("Value"))
        return found

    def _claim(self, stack: Stack, value: Any, component: Key) -> None:
        for key in self.assembly.references(stack, value):
            if key not in self.components:
                self.owner.setdefault(key, component)

    def _own_parts(self, services_tasks: set[Key]) -> None:
        assembly = self.assembly
        for key, resource in assembly.resources():
            stack = assembly.stacks[key[0]]
            properties = resource.get("Properties", {})
            kind = resource.get("Type")
            if kind in {"AWS::Lambda::Alias", "AWS::Lambda::Version"}:
                for function in assembly.references(stack, properties.get("FunctionName")):
                    self.owner[key] = self.owner.get(function, function)
            elif kind == "AWS::Lambda::Function":
                self._claim(stack, properties.get("Role"), key)
            elif kind == "AWS::SecretsManager::SecretTargetAttachment":
                for secret in assembly.references(stack, properties.get("SecretId")):
                    self.owner[key] = secret
            elif kind == "AWS::StepFunctions::StateMachine":
                self._claim(stack, properties.get("RoleArn"), key)
            elif kind == "AWS::Scheduler::Schedule":
                self._claim(stack, properties.get("Target", {}).get("RoleArn"), key)
            elif kind == "AWS::ECS::Service":
                task = assembly.references(stack, properties.get("TaskDefinition"))
                for task_key in sorted(task):
                    self.owner[task_key] = key
                    task_properties = assembly.resource(task_key).get("Properties", {})
                    for role in ("TaskRoleArn", "ExecutionRoleArn"):
                        self._claim(stack, task_properties.get(role), key)
            elif kind == "AWS::ECS::TaskDefinition" and key not in services_tasks:
                for role in ("TaskRoleArn", "ExecutionRoleArn"):
                    self._claim(stack, properties.get(role), key)

    def _own_security_groups(self) -> None:
        assembly = self.assembly
        for key, resource in assembly.resources():
            stack = assembly.stacks[key[0]]
            properties = resource.get("Properties", {})
            kind = resource.get("Type")
            groups: Any = None
            owner = key
            if kind == "AWS::RDS::DBCluster":
                groups = properties.get("VpcSecurityGroupIds")
            elif kind in {
                "AWS::ElastiCache::ServerlessCache",
                "AWS::ElastiCache::ReplicationGroup",
            }:
                groups = properties.get("SecurityGroupIds")
            elif kind == "AWS::ECS::Service":
                groups = properties.get("NetworkConfiguration")
            elif kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
                groups = properties.get("SecurityGroups")
            elif kind == "AWS::Lambda::Function":
                groups = properties.get("VpcConfig")
            elif kind == "AWS::Scheduler::Schedule":
                ecs = properties.get("Target", {}).get("EcsParameters", {})
                groups = ecs.get("NetworkConfiguration")
                tasks = assembly.references(stack, ecs.get("TaskDefinitionArn"))
                owner = self.owner.get(min(tasks), min(tasks)) if tasks else key
            elif kind == "AWS::SecretsManager::RotationSchedule":
                groups = properties.get("HostedRotationLambda", {}).get("VpcSecurityGroupIds")
                secrets = assembly.references(stack, properties.get("SecretId"))
                owner = self.owner.get(min(secrets), min(secrets)) if secrets else key
            elif kind == "AWS::ApiGatewayV2::VpcLink":
                groups = properties.get("SecurityGroupIds")
                apis = {
                    api
                    for method_key, method in assembly.resources("AWS::ApiGateway::Method")
                    if method_key[0] == key[0]
                    and key in assembly.references(stack, method["Properties"].get("Integration"))
                    for api in assembly.references(stack, method["Properties"].get("RestApiId"))
                }
                owner = min(apis) if apis else key
            if groups is not None:
                self._claim(stack, groups, owner)


# --------------------------------------------------------------------------------------
# Data ownership


@dataclass(frozen=True)
class Grant:
    """A component's access, by IAM, to a component (or to ``*`` / an unresolved ARN)."""

    principal: Component
    access: str
    target: Component | None
    unresolved: str = ""


@dataclass(frozen=True)
class Reach:
    """A security group rule: ``source`` may open connections to ``target`` on ``ports``."""

    source: Component | None
    target: Component
    ports: str
    peer: str = ""


def _statements(assembly: Assembly) -> Iterator[tuple[Stack, Key, dict[str, Any]]]:
    """(stack, role, statement) of every Allow statement of every role's policies."""
    for key, resource in assembly.resources():
        stack = assembly.stacks[key[0]]
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Policy":
            roles = sorted(assembly.references(stack, properties.get("Roles")))
            documents = [properties.get("PolicyDocument", {})]
        elif resource.get("Type") == "AWS::IAM::Role":
            roles = [key]
            documents = [p.get("PolicyDocument", {}) for p in properties.get("Policies", [])]
        else:
            continue
        for role in roles:
            for document in documents:
                for statement in document.get("Statement", []):
                    if statement.get("Effect") == "Allow":
                        yield stack, role, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(architecture: Architecture) -> list[Grant]:
    """Every classified IAM access of every role of the assembly, sorted, without repeats."""
    found: set[Grant] = set()
    for stack, role, statement in _statements(architecture.assembly):
        principal = architecture.component_of(role)
        if principal is None:
            continue
        classes = {classify_action(str(action)) for action in _as_list(statement.get("Action"))}
        classes.discard(None)
        for resource in _as_list(statement.get("Resource", [])):
            targets = architecture.components_of(stack, resource)
            for access in classes:
                assert access is not None
                if not targets:
                    found.add(Grant(principal, access, None, arn_text(resource)))
                for target in targets:
                    found.add(Grant(principal, access, target))
    return sorted(found, key=_grant_order)


def _grant_order(grant: Grant) -> tuple[Key, str, Key, str]:
    target = grant.target.key if grant.target else ("", "")
    return (grant.principal.key, grant.access, target, grant.unresolved)


def _reach_order(reach: Reach) -> tuple[Key, Key, str, str]:
    source = reach.source.key if reach.source else ("", "")
    return (reach.target.key, source, reach.ports, reach.peer)


def arn_text(value: Any) -> str:
    """A resource expression that names no resource of the assembly, as readable text:
    ``Fn::Join`` joined, ``Fn::Sub`` as written, a reference as ``${name}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(arn_text(item) for item in value)
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(arn_text(part) for part in parts)
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return str(sub[0] if isinstance(sub, list) else sub)
        if "Ref" in value:
            return "${" + str(value["Ref"]) + "}"
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return "${" + (".".join(target) if isinstance(target, list) else str(target)) + "}"
        if "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            return "${" + f"{spec.get('StackName')}.{spec.get('OutputName')}" + "}"
        if "Fn::ImportValue" in value:
            return "${import:" + arn_text(value["Fn::ImportValue"]) + "}"
    return json.dumps(value, sort_keys=True)


CDK_ASSETS_BUCKET = re.compile(r"^arn:[^:]*:s3:::cdk-[a-z0-9]+-assets-\$\{AWS::AccountId\}-")
"""The CDK bootstrap's assets bucket, which CDK's BucketDeployment copies the site from."""


def _ports(rule: dict[str, Any]) -> str:
    protocol = str(rule.get("IpProtocol", "-1"))
    if protocol == "-1":
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def reaches(architecture: Architecture) -> list[Reach]:
    """Every ingress rule of every security group, to the component the group guards."""
    assembly = architecture.assembly
    found: set[Reach] = set()

    def add(stack: Stack, group: Any, rule: dict[str, Any]) -> None:
        targets = architecture.components_of(stack, group)
        sources = architecture.components_of(stack, rule.get("SourceSecurityGroupId"))
        peer = str(rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourcePrefixListId"))
        for target in targets:
            if sources:
                found.update(Reach(source, target, _ports(rule)) for source in sources)
            else:
                found.add(Reach(None, target, _ports(rule), peer))

    for key, resource in assembly.resources():
        stack = assembly.stacks[key[0]]
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::EC2::SecurityGroupIngress":
            add(stack, properties.get("GroupId"), properties)
        elif resource.get("Type") == "AWS::EC2::SecurityGroup":
            for rule in properties.get("SecurityGroupIngress", []):
                add(stack, {"Ref": key[1]}, rule)
    return sorted(found, key=_reach_order)


def ownership_violations(architecture: Architecture) -> list[str]:
    """Every access of one service to another service's data store, as a sentence.

    A data store is a ``DATA_STORE_KINDS`` resource; it belongs to the service of its stack.
    Allowed across services: publishing to a topic of the platform (topics are not data
    stores) and using a platform key to do so. A data action on ``*`` or on an ARN that names
    no resource of the assembly is a violation too: it could reach any service's data.
    """
    problems: list[str] = []
    for grant in grants(architecture):
        who = f"{grant.principal.service}: {grant.principal.stack} {grant.principal.title}"
        if grant.target is None:
            if grant.access == "read" and CDK_ASSETS_BUCKET.match(grant.unresolved):
                continue
            if grant.access != "key":
                problems.append(f"{who} may {grant.access} {grant.unresolved} (no owner)")
            continue
        if grant.target.kind not in DATA_STORE_KINDS:
            continue
        if grant.target.service != grant.principal.service:
            problems.append(
                f"{who} may {grant.access} {grant.target.service}'s "
                f"{grant.target.stack} {grant.target.title}"
            )
    for reach in reaches(architecture):
        if reach.target.kind not in DATA_STORE_KINDS:
            continue
        if reach.source is None:
            problems.append(
                f"{reach.peer} may reach {reach.target.service}'s "
                f"{reach.target.stack} {reach.target.title} on {reach.ports}"
            )
        elif reach.source.service != reach.target.service:
            problems.append(
                f"{reach.source.service}: {reach.source.stack} {reach.source.title} may reach "
                f"{reach.target.service}'s {reach.target.stack} {reach.target.title} "
                f"on {reach.ports}"
            )
    return sorted(set(problems))


def ownership_matrix(architecture: Architecture, stage: str) -> list[tuple[str, str, str]]:
    """(service, access, what) rows of one stage, sorted: what each service's roles can
    read, write, publish, consume, invoke, connect to or encrypt with, and which data
    stores its components can reach over the network."""
    rows: set[tuple[str, str, str]] = set()
    for grant in grants(architecture):
        if architecture.assembly.stacks[grant.principal.stack].stage != stage:
            continue
        if grant.target is None:
            what = f"`{grant.unresolved}`"
        else:
            what = f"{grant.target.title} ({_short(grant.target)})"
        rows.add((grant.principal.service, grant.access, what))
    for reach in reaches(architecture):
        if reach.source is None or reach.target.kind not in DATA_STORE_KINDS:
            continue
        if architecture.assembly.stacks[reach.target.stack].stage != stage:
            continue
        what = f"{reach.target.title} ({_short(reach.target)}) on {reach.ports}"
        rows.add((reach.source.service, "network", what))
    return sorted(rows)


def _short(component: Component) -> str:
    return component.stack.split("/", 1)[-1]


# --------------------------------------------------------------------------------------
# Diagram


@dataclass(frozen=True, order=True)
class Edge:
    source: Component
    target: Component
    label: str
    style: str = "solid"


_SHAPES = {
    "function": "box",
    "container service": "box3d",
    "task": "box3d",
    "workflow": "component",
    "schedule": "note",
    "table": "cylinder",
    "database": "cylinder",
    "secret": "cylinder",
    "cache": "cylinder",
    "bucket": "folder",
    "queue": "cds",
    "topic": "hexagon",
    "distribution": "house",
    "API": "invhouse",
    "load balancer": "invtrapezium",
    "web ACL": "octagon",
}


def edges(architecture: Architecture, stage: str) -> list[Edge]:
    """Every arrow of one stage's diagram, sorted."""
    assembly = architecture.assembly
    found: set[Edge] = set()

    def link(sources: Iterable[Component], targets: Iterable[Component], label: str) -> None:
        for source in sources:
            for target in targets:
                if source != target and not (source.hidden or target.hidden):
                    found.add(Edge(source, target, label))

    for key, resource in assembly.resources():
        stack = assembly.stacks[key[0]]
        if stack.stage != stage:
            continue
        properties = resource.get("Properties", {})
        kind = resource.get("Type")
        this = architecture.component_of(key)
        mine = {this} if this else set()
        refs = architecture.components_of
        if kind == "AWS::SNS::Subscription":
            events = sorted(
                value
                for values in properties.get("FilterPolicy", {}).values()
                for value in _as_list(values)
                if isinstance(value, str)
            )
            label = "subscription" + (f": {', '.join(events)}" if events else "")
            link(
                refs(stack, properties.get("TopicArn")), refs(stack, properties["Endpoint"]), label
            )
        elif kind == "AWS::Lambda::EventSourceMapping":
            functions = refs(stack, properties.get("FunctionName"))
            link(refs(stack, properties.get("EventSourceArn")), functions, "event source")
            on_failure = properties.get("DestinationConfig", {}).get("OnFailure")
            link(functions, refs(stack, on_failure), "on failure")
        elif kind == "AWS::SQS::Queue":
            link(mine, refs(stack, properties.get("RedrivePolicy")), "dead letters")
        elif kind == "AWS::Scheduler::Schedule":
            target = properties.get("Target", {})
            expression = properties.get("ScheduleExpression", "")
            runs = refs(stack, target.get("EcsParameters", {}).get("TaskDefinitionArn")) or refs(
                stack, target.get("Arn")
            )
            link(mine, runs, f"runs {expression}".strip())
            link(mine, refs(stack, target.get("DeadLetterConfig")), "dead letters")
        elif kind == "AWS::StepFunctions::StateMachine":
            link(mine, refs(stack, properties.get("DefinitionString")), "task")
            link(mine, refs(stack, properties.get("DefinitionSubstitutions")), "task")
        elif kind == "AWS::ApiGateway::Method":
            apis = refs(stack, properties.get("RestApiId"))
            integration = properties.get("Integration", {})
            link(apis, refs(stack, integration.get("Uri")), "integration")
            link(apis, refs(stack, integration.get("IntegrationTarget")), "integration")
        elif kind == "AWS::ElasticLoadBalancingV2::Listener":
            lbs = refs(stack, properties.get("LoadBalancerArn"))
            for service_key, service in assembly.resources("AWS::ECS::Service"):
                if service_key[0] != key[0]:
                    continue
                targets = json.dumps(service["Properties"].get("LoadBalancers", []))
                groups = assembly.references(stack, properties.get("DefaultActions"))
                if any(f'"{group[1]}"' in targets for group in groups):
                    link(lbs, [architecture.components[service_key]], "target")
        elif kind == "AWS::CloudFront::Distribution":
            config = properties.get("DistributionConfig", {})
            patterns: dict[str, list[str]] = defaultdict(list)
            patterns[config.get("DefaultCacheBehavior", {}).get("TargetOriginId", "")].append("*")
            for behavior in config.get("CacheBehaviors", []):
                patterns[behavior.get("TargetOriginId", "")].append(behavior["PathPattern"])
            for origin in config.get("Origins", []):
                label = "origin " + ", ".join(sorted(patterns.get(origin.get("Id", ""), [])))
                link(mine, refs(stack, origin.get("DomainName")), label.strip())
            link(refs(stack, config.get("WebACLId")), mine, "protects")
        elif kind == "AWS::WAFv2::WebACLAssociation":
            link(
                refs(stack, properties.get("WebACLArn")),
                refs(stack, properties.get("ResourceArn")),
                "protects",
            )
    for grant in grants(architecture):
        if grant.target and assembly.stacks[grant.principal.stack].stage == stage:
            if grant.access in {"key", "invoke"}:
                continue
            link([grant.principal], [grant.target], grant.access)
    for reach in reaches(architecture):
        if reach.source and assembly.stacks[reach.target.stack].stage == stage:
            found.update(
                Edge(reach.source, reach.target, reach.ports, "dashed")
                for _ in [0]
                if not (reach.source.hidden or reach.target.hidden)
            )
    return _merge_labels(found)


def _merge_labels(found: set[Edge]) -> list[Edge]:
    """One arrow per (source, target, style), its labels joined."""
    merged: dict[tuple[Component, Component, str], set[str]] = defaultdict(set)
    for edge in found:
        merged[(edge.source, edge.target, edge.style)].add(edge.label)
    return sorted(
        Edge(source, target, ", ".join(sorted(labels)), style)
        for (source, target, style), labels in merged.items()
    )


NEWLINE = "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def diagram(architecture: Architecture, stage: str) -> str:
    """One stage as Graphviz source: a cluster per stack, the arrows of ``edges``."""
    arrows = edges(architecture, stage)
    lines = [
        f"digraph {_quote(stage)} {{",
        "  graph [rankdir=LR, fontname=Helvetica, fontsize=12, nodesep=0.3, ranksep=0.9,"
        f" label={_quote(f'{stage} stage: generated from the cloud assembly')}];",
        "  node [fontname=Helvetica, fontsize=10, style=filled, fillcolor=white];",
        "  edge [fontname=Helvetica, fontsize=8, color=gray30];",
    ]
    by_stack: dict[str, list[Component]] = defaultdict(list)
    for component in sorted(architecture.components.values()):
        if component.hidden or component.kind == "role":
            continue
        if architecture.assembly.stacks[component.stack].stage == stage:
            by_stack[component.stack].append(component)
    for stack_name in sorted(by_stack):
        stack = architecture.assembly.stacks[stack_name]
        cluster = re.sub(r"[^A-Za-z0-9]", "_", stack_name)
        lines.append(f"  subgraph cluster_{cluster} {{")
        lines.append(
            f"    label={_quote(f'{stack.short} (service: {stack.service})')};"
            " style=rounded; color=gray50;"
        )
        for component in by_stack[stack_name]:
            fill = "lightyellow" if component.kind in DATA_STORE_KINDS else "white"
            if component.kind in COMPUTE_KINDS:
                fill = "lightblue"
            label = _quote(component.kind + NEWLINE + component.label)
            lines.append(
                f"    {component.node_id} [label={label},"
                f" shape={_SHAPES.get(component.kind, 'box')}, fillcolor={fill}];"
            )
        lines.append("  }")
    for arrow in arrows:
        lines.append(
            f"  {arrow.source.node_id} -> {arrow.target.node_id}"
            f" [label={_quote(arrow.label)}, style={arrow.style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# The report


def templates_digest(assembly: Assembly) -> str:
    """A hash of every template, CDK's metadata resource dropped and asset hashes masked:
    it changes when a resource does, not when a handler's code or the commit does."""
    digest = hashlib.sha256()
    for stack in assembly.stacks.values():
        template = dict(stack.template)
        template["Resources"] = {
            key: value for key, value in stack.resources.items() if key != "CDKMetadata"
        }
        template["Conditions"] = {
            key: value
            for key, value in template.get("Conditions", {}).items()
            if key != "CDKMetadataAvailable"
        }
        text = json.dumps({stack.name: template}, sort_keys=True)
        digest.update(_ASSET_HASH.sub("<asset-hash>", text).encode("utf-8"))
    return digest.hexdigest()[:16]


def idle_cost_section(cdk_out: Path) -> str:
    """The idle-cost section (its own ``## Idle cost`` heading included) of
    tools/idle_cost.py, from the same assembly."""
    # Imported by name: mypy checks tools/ as top-level modules, and a static
    # ``tools.idle_cost`` import would make it see that file under two names.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    module = importlib.import_module("tools.idle_cost")
    return str(module.idle_cost_markdown(cdk_out)).rstrip("\n") + "\n"


def _matrix_markdown(architecture: Architecture, stage: str) -> list[str]:
    rows = ownership_matrix(architecture, stage)
    services = sorted(
        {stack.service for stack in architecture.assembly.stacks.values() if stack.stage == stage}
    )
    columns = [*ACCESS_CLASSES, "network"]
    lines = ["| service | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for service in services:
        cells = []
        for column in columns:
            items = [what for s, access, what in rows if s == service and access == column]
            cells.append("<br>".join(items) or "")
        lines.append(f"| {service} | " + " | ".join(cells) + " |")
    return lines


def report_markdown(assembly: Assembly, cost_section: str, images: dict[str, str]) -> str:
    """The text of docs/architecture.md."""
    architecture = Architecture.of(assembly)
    version = importlib.metadata.version("aws-cdk-lib")
    lines = [
        "# Architecture of the reference app",
        "",
        "<!-- Generated by `make report` (tools/architecture_report.py) from the synthesized",
        "     cloud assembly; do not edit by hand. -->",
        f"Generated by `make report` from the synthesized cloud assembly (aws-cdk-lib {version},"
        f" templates `{templates_digest(assembly)}`): every box, arrow and cell below is read"
        " from the templates; do not edit it by hand.",
        "",
        "## Diagrams",
        "",
        "One per stage. Boxes are grouped by stack (and the stack's `service` tag); blue boxes"
        " run code, yellow ones hold data. Arrows: SNS subscriptions (with their filter), event"
        " source mappings, schedules and workflow tasks, API integrations, CloudFront origins,"
        " web ACLs, dead-letter queues, IAM grants (labelled read, write, publish, consume) and"
        " security group rules (dashed, with the port). Cross-stack references (weak"
        " `Fn::GetStackOutput` references, the us-east-1 web ACL included) are resolved to the"
        " producing stack's resource. Custom resource providers and log buckets are left out.",
        "",
    ]
    for stage in assembly.stages:
        lines += [f"### {stage}", "", f"![{stage} stage]({images[stage]})", ""]
    lines += [
        "## Data ownership",
        "",
        "What each service's roles can do, from the synthesized IAM policies (kms actions under"
        " *key*), and which data stores its security groups can reach. In parentheses the stack"
        " that owns the resource. `make test` fails when a service can touch another service's"
        " table, database, secret, cache, queue or bucket"
        " (tests/reference/test_data_ownership.py); publishing to the platform's topics is the"
        " shared way between services.",
        "",
    ]
    matrices = {stage: _matrix_markdown(architecture, stage) for stage in assembly.stages}
    if len({"\n".join(matrix) for matrix in matrices.values()}) == 1:
        lines += [
            f"The same in every stage ({', '.join(assembly.stages)}):",
            "",
            *next(iter(matrices.values())),
            "",
        ]
    else:
        for stage, matrix in matrices.items():
            lines += [f"### {stage}", "", *matrix, ""]
    violations = ownership_violations(architecture)
    lines += ["Accesses across services to a data store:", ""]
    lines += [f"- {problem}" for problem in violations] or ["- none"]
    lines += ["", cost_section.rstrip("\n"), ""]
    return "\n".join(lines)


def render_svg(dot_source: str) -> bytes:
    """Graphviz's SVG of ``dot_source`` (Debian's graphviz, `make report` installs it)."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("Graphviz `dot` not found: install Debian's graphviz (make report)")
    completed = subprocess.run(
        [dot, "-Tsvg"], input=dot_source.encode("utf-8"), capture_output=True, check=True
    )
    return completed.stdout


def generate(cdk_out: Path, docs: Path, *, svg: bool = True) -> dict[Path, str]:
    """Write docs/architecture.md, docs/architecture/<stage>.dot (and .svg); returns the text
    files written, by path."""
    assembly = Assembly.load(cdk_out)
    architecture = Architecture.of(assembly)
    images = {stage: f"architecture/{stage.lower()}.svg" for stage in assembly.stages}
    written: dict[Path, str] = {}
    (docs / "architecture").mkdir(parents=True, exist_ok=True)
    for stage in assembly.stages:
        source = diagram(architecture, stage)
        written[docs / "architecture" / f"{stage.lower()}.dot"] = source
        if svg:
            (docs / images[stage]).write_bytes(render_svg(source))
    written[docs / "architecture.md"] = report_markdown(
        assembly, idle_cost_section(cdk_out), images
    )
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    cdk_out = Path(argv[1] if len(argv) > 1 else "cdk.out")
    docs = Path(argv[2] if len(argv) > 2 else "docs")
    if not (cdk_out / "manifest.json").exists():
        print(f"{cdk_out}: no cloud assembly; run `make synth`", file=sys.stderr)
        return 1
    for path in sorted(generate(cdk_out, docs)):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
