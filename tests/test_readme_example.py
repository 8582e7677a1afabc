"""The README's library examples run as written, in a fresh app, and do what they say."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from strict_typecheck import mypy_strict

README = Path(__file__).resolve().parent.parent / "README.md"


def _example_source(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    marker = f"<!-- example: {name} "
    match = re.search(re.escape(marker) + r".*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, f"README.md lost its {name} example block"
    return match.group(1)


def _example_names() -> list[str]:
    return re.findall(r"<!-- example: ([a-z-]+) ", README.read_text(encoding="utf-8"))


def test_readme_examples_type_check_strictly(tmp_path: Path) -> None:
    """A reader who copies an example into a project checked by ``mypy --strict`` gets no
    error: the library's types say what its constructs guarantee. One mypy run for all the
    examples, on the repository's cache (``make typecheck`` has filled it with aws_cdk)."""
    sources: list[Path] = []
    for name in _example_names():
        source = tmp_path / f"example_{name.replace('-', '_')}.py"
        source.write_text(_example_source(name), encoding="utf-8")
        sources.append(source)
    assert mypy_strict(*sources, cwd=tmp_path) == ""


def test_every_example_is_checked() -> None:
    assert set(_example_names()) == {
        "api-service",
        "events",
        "containers",
        "static-site",
        "jobs",
    }


def _run_example(name: str) -> Stack:
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(_example_source(name), str(README), "exec"), namespace)
    stack = namespace["stack"]
    assert isinstance(stack, Stack)
    return stack


def _handlers(folder: Path, *modules: str) -> None:
    folder.mkdir(parents=True)
    for module in modules:
        (folder / f"{module}.py").write_text("def handler(event, context):\n    return {}\n")


def test_readme_example_synthesizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _handlers(tmp_path / "lambda" / "orders", "create_order", "get_order")
    monkeypatch.chdir(tmp_path)

    stack = _run_example("api-service")

    template = Template.from_stack(stack).to_json()
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::Lambda::Function") == 2
    assert types.count("AWS::DynamoDB::Table") == 1
    assert types.count("AWS::ApiGateway::Method") == 2
    methods = [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]
    assert {m["Properties"]["AuthorizationType"] for m in methods} == {"COGNITO_USER_POOLS"}
    table = next(r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


def test_readme_events_example_synthesizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _handlers(tmp_path / "lambda" / "orders", "publish_events")
    _handlers(tmp_path / "lambda" / "shipping", "apply_events")
    contracts = tmp_path / "contracts" / "events"
    contracts.mkdir(parents=True)
    (contracts / "OrderPlaced.v1.json").write_text(
        json.dumps({"type": "object", "required": ["event_id", "event_type", "data"]})
    )
    monkeypatch.chdir(tmp_path)

    template = Template.from_stack(_run_example("events")).to_json()
    resources = template["Resources"].values()

    [subscription] = [r["Properties"] for r in resources if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["FilterPolicy"] == {"event_type": ["OrderPlaced"]}
    assert subscription["RawMessageDelivery"] is True
    mappings = [
        r["Properties"] for r in resources if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    stream = next(m for m in mappings if "StartingPosition" in m)
    assert stream["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = next(m for m in mappings if "StartingPosition" not in m)
    assert queue["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    [table] = [r["Properties"] for r in resources if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_readme_containers_example_synthesizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "Dockerfile").write_text("FROM scratch\n")
    monkeypatch.chdir(tmp_path)

    template = Template.from_stack(_run_example("containers")).to_json()
    resources = template["Resources"]

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r["Properties"] for r in resources.values() if r["Type"] == kind]

    [load_balancer] = of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert load_balancer["Scheme"] == "internal"
    [cluster] = of_type("AWS::RDS::DBCluster")
    assert cluster["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert len(of_type("AWS::ElastiCache::ServerlessCache")) == 1
    [task] = of_type("AWS::ECS::TaskDefinition")
    # The application, and ContainerService's tracing collector (on by default).
    [container, collector] = task["ContainerDefinitions"]
    assert collector["Name"] == "otel-collector"
    assert [secret["Name"] for secret in container["Secrets"]] == ["DATABASE_SECRET"]
    ingress = of_type("AWS::EC2::SecurityGroupIngress")
    assert {rule["FromPort"] for rule in ingress} >= {cluster["Port"], 6379}
    # grant_connect(service, ...) also makes the service wait for the database's writer.
    [service] = [r for r in resources.values() if r["Type"] == "AWS::ECS::Service"]
    writers = [k for k, r in resources.items() if r["Type"] == "AWS::RDS::DBInstance"]
    assert set(writers) <= set(service["DependsOn"])
    # Customers come through the API's VPC link, the only way into the load balancer.
    methods = of_type("AWS::ApiGateway::Method")
    assert {method["AuthorizationType"] for method in methods} == {"COGNITO_USER_POOLS"}
    assert {method["Integration"]["ConnectionType"] for method in methods} == {"VPC_LINK"}


def test_readme_static_site_example_synthesizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "web" / "dist").mkdir(parents=True)
    (tmp_path / "web" / "dist" / "index.html").write_text("<!doctype html>")
    monkeypatch.chdir(tmp_path)

    stack = _run_example("static-site")
    resources = Template.from_stack(stack).to_json()["Resources"].values()

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r["Properties"] for r in resources if r["Type"] == kind]

    [distribution] = of_type("AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    # The web ACL's ARN is read from the us-east-1 stack at deploy.
    assert "Fn::GetAtt" in config["WebACLId"]
    [api] = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert "FunctionAssociations" not in api
    assert len(config["DefaultCacheBehavior"]["FunctionAssociations"]) == 1
    [headers] = of_type("AWS::CloudFront::ResponseHeadersPolicy")
    csp = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert (
        "connect-src 'self' https://shop.auth.eu-west-1.amazoncognito.com;"
        in (csp["ContentSecurityPolicy"])
    )
    assert len(of_type("Custom::CDKBucketDeployment")) == 1
    edge = stack.node.scope.node.find_child("ShopEdge")  # type: ignore[union-attr]
    assert isinstance(edge, Stack)
    [web_acl] = [
        r["Properties"]
        for r in Template.from_stack(edge).to_json()["Resources"].values()
        if r["Type"] == "AWS::WAFv2::WebACL"
    ]
    assert web_acl["Scope"] == "CLOUDFRONT"


def test_readme_jobs_example_synthesizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _handlers(tmp_path / "lambda" / "reports", "export", "report")
    monkeypatch.chdir(tmp_path)

    by_id = Template.from_stack(_run_example("jobs")).to_json()["Resources"]
    resources = by_id.values()

    def of_type(kind: str) -> list[dict[str, Any]]:
        return [r["Properties"] for r in resources if r["Type"] == kind]

    [machine] = of_type("AWS::StepFunctions::StateMachine")
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    # Both functions are deployed through their live alias by a canary CodeDeploy group.
    groups = of_type("AWS::CodeDeploy::DeploymentGroup")
    assert [g["DeploymentConfigName"] for g in groups] == [
        "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    ] * 2
    assert {a["Name"] for a in of_type("AWS::Lambda::Alias")} == {"live"}
    schedules = of_type("AWS::Scheduler::Schedule")
    assert {s["ScheduleExpressionTimezone"] for s in schedules} == {"Europe/Berlin", "Etc/UTC"}
    [task] = [s for s in schedules if "EcsParameters" in s["Target"]]
    [report] = [s for s in schedules if "EcsParameters" not in s["Target"]]
    # The alias's ARN (its Ref), not the function's: the version CodeDeploy deployed.
    assert by_id[report["Target"]["Arn"]["Ref"]]["Type"] == "AWS::Lambda::Alias"
    assert task["Target"]["EcsParameters"]["LaunchType"] == "FARGATE"
    assert len(of_type("AWS::Scheduler::ScheduleGroup")) == 2
    thresholds = {
        a["MetricName"]: a["Threshold"]
        for a in of_type("AWS::CloudWatch::Alarm")
        if a.get("Namespace") == "AWS/States"
    }
    assert thresholds["ExecutionsFailed"] == 2
