"""The edge of each stage: one distribution for the web UI and every customer API, its
firewall in us-east-1 wherever the stage is, and the web UI's generated configuration."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment
from deploy_rules import Resource, render, resolve, resources, stack_of_name
from reference_app import cli_context, stack_artifacts, stack_templates

from stacks.config import DEFAULT_AVAILABILITY_ZONES, DEV, EDGE_API_STAGE, PROD
from stacks.edge_stack import WEB_SCOPES
from stacks.stage import PaymentsStage

PROFILES = [DEV, PROD]
SERVICES = ("accounts", "statements", "transfers")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _stage(templates: dict[str, Any], stage_id: str) -> dict[str, Any]:
    return {name: body for name, body in templates.items() if name.startswith(f"{stage_id}/")}


def _distribution(stage: dict[str, Any], stage_id: str) -> Resource:
    (distribution,) = resources(stage, "AWS::CloudFront::Distribution")
    assert distribution.stack == f"{stage_id}/Edge"
    return distribution


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_each_api_path_reaches_its_own_services_api_unchanged(profile, synthesized_app):
    stage = _stage(synthesized_app, profile.stage_id)
    distribution = _distribution(stage, profile.stage_id)
    config = distribution.properties["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    routed = {}
    for behaviour in config["CacheBehaviors"]:
        origin = origins[behaviour["TargetOriginId"]]
        assert "OriginPath" not in origin or origin["OriginPath"] == ""  # path unchanged
        assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        [api] = [
            found
            for found in resolve(stage, distribution.stack, origin["DomainName"])
            if found.type == "AWS::ApiGateway::RestApi"
        ]
        host = render(stage, distribution.stack, origin["DomainName"])
        assert re.fullmatch(r"<AWS::ApiGateway::RestApi>\.execute-api\.[a-z0-9-]+\.<.*>", host)
        routed[behaviour["PathPattern"]] = api
    assert sorted(routed) == [f"/{EDGE_API_STAGE}/{service}*" for service in SERVICES]
    for service in SERVICES:
        api = routed[f"/{EDGE_API_STAGE}/{service}*"]
        assert api.stack == f"{profile.stage_id}/{service.capitalize()}"
        # The stage is the path's first segment, so API Gateway sees /<service>/...
        [stage_resource] = [
            body
            for body in stage[api.stack]["Resources"].values()
            if body["Type"] == "AWS::ApiGateway::Stage"
            and body["Properties"]["RestApiId"] == {"Ref": api.logical_id}
        ]
        assert stage_resource["Properties"]["StageName"] == EDGE_API_STAGE
        paths = {
            body["Properties"]["PathPart"]
            for body in stage[api.stack]["Resources"].values()
            if body["Type"] == "AWS::ApiGateway::Resource"
            and body["Properties"]["ParentId"] == {"Fn::GetAtt": [api.logical_id, "RootResourceId"]}
        }
        assert paths == {service}  # the service owns the paths under its own name


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_edge_has_a_cloudfront_web_acl_made_in_us_east_1(
    profile, synthesized_app, synthesized_assembly
):
    stage = _stage(synthesized_app, profile.stage_id)
    distribution = _distribution(stage, profile.stage_id)
    [web_acl] = resolve(
        stage, distribution.stack, distribution.properties["DistributionConfig"]["WebACLId"]
    )
    assert web_acl.type == "AWS::WAFv2::WebACL"
    assert web_acl.properties["Scope"] == "CLOUDFRONT"
    artifacts = stack_artifacts(synthesized_assembly)
    assert artifacts[web_acl.stack]["environment"].endswith("/us-east-1")
    rate = [
        rule["Statement"]["RateBasedStatement"]["Limit"]
        for rule in web_acl.properties["Rules"]
        if "RateBasedStatement" in rule["Statement"]
    ]
    assert rate == [profile.edge_rate_limit]


def test_a_stage_outside_us_east_1_reads_its_web_acl_across_regions(tmp_path: Path) -> None:
    app = App(context=cli_context(), outdir=str(tmp_path))
    PaymentsStage(
        app,
        "Eu",
        profile=DEV,
        availability_zones=DEFAULT_AVAILABILITY_ZONES["eu-west-1"][: DEV.availability_zones],
        env=Environment(account="111111111111", region="eu-west-1"),
    )
    app.synth()
    templates = stack_templates(tmp_path)
    artifacts = stack_artifacts(tmp_path)
    assert artifacts["Eu/EdgeFirewall"]["environment"] == "aws://111111111111/us-east-1"
    assert artifacts["Eu/Edge"]["environment"] == "aws://111111111111/eu-west-1"
    distribution = _distribution(templates, "Eu")
    web_acl_id = distribution.properties["DistributionConfig"]["WebACLId"]
    assert web_acl_id["Fn::GetStackOutput"]["Region"] == "us-east-1"
    assert stack_of_name(templates, web_acl_id["Fn::GetStackOutput"]["StackName"]) == (
        "Eu/EdgeFirewall"
    )
    [web_acl] = resolve(templates, distribution.stack, web_acl_id)
    assert (web_acl.stack, web_acl.properties["Scope"]) == ("Eu/EdgeFirewall", "CLOUDFRONT")


def _web_config(assembly: Path, stage: dict[str, Any], stage_id: str) -> dict[str, Any]:
    """The config.json the edge deploys, its deploy-time values rendered."""
    (deployment,) = resources(stage, "Custom::CDKBucketDeployment")
    markers_by_source = deployment.properties["SourceMarkers"]
    keys = deployment.properties["SourceObjectKeys"]
    [(key, markers)] = [(k, m) for k, m in zip(keys, markers_by_source, strict=True) if m]
    asset_hash = re.search(r"[0-9a-f]{64}", json.dumps(key)).group(0)
    [config_file] = list(assembly.glob(f"**/asset.{asset_hash}/config.json"))
    text = config_file.read_text(encoding="utf-8")
    for marker, value in markers.items():
        text = text.replace(marker, render(stage, deployment.stack, value))
    return json.loads(text)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_web_ui_gets_its_configuration_from_the_stage(
    profile, synthesized_app, synthesized_assembly
):
    stage = _stage(synthesized_app, profile.stage_id)
    config = _web_config(synthesized_assembly, stage, profile.stage_id)
    assert config == {
        "region": "us-east-1",
        "userPoolId": "<AWS::Cognito::UserPool>",
        "clientId": "<AWS::Cognito::UserPoolClient>",
        "authDomain": "https://<AWS::Cognito::UserPoolDomain>.auth.us-east-1.amazoncognito.com",
        "scopes": list(WEB_SCOPES),
        "api": {service: f"/{EDGE_API_STAGE}/{service}" for service in SERVICES},
    }


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_site_allows_the_sign_in_domain_and_nothing_else_to_be_called(profile, synthesized_app):
    stage = _stage(synthesized_app, profile.stage_id)
    (policy,) = resources(stage, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy.properties["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = render(stage, policy.stack, headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    sign_in = "https://<AWS::Cognito::UserPoolDomain>.auth.us-east-1.amazoncognito.com"
    assert f"connect-src 'self' {sign_in};" in csp
    assert "script-src 'self';" in csp
    assert "unsafe" not in csp
