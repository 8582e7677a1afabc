"""StaticSite and CloudFrontWebAcl: every documented default, the SPA fallback's JavaScript
run in node, API behaviours, deploys, validation errors, cross-region web ACLs, cdk-nag."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import function_log_groups, new_app

from cdk_microservices import CloudFrontWebAcl, ConstructArgumentError, StaticSite
from stacks.compliance import add_compliance_checks

ACCOUNT = "111111111111"
WEB_ACL_ARN = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/site/0b4c2a9e-1111-2222-3333"
CERTIFICATE_ARN = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b4c2a9e-example"
# Managed policy ids, as CloudFront documents them.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://auth.example.com; form-action 'self' https://auth.example.com; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def _stack(app: App | None = None, region: str = "eu-west-1") -> Stack:
    return Stack(app or new_app(), "Test", env=Environment(account=ACCOUNT, region=region))


def _site(stack: Stack, **overrides: Any) -> StaticSite[Any]:
    return StaticSite(stack, "Site", **overrides)


def _api_origin() -> cloudfront.IOrigin:
    return origins.HttpOrigin("api.example.com")


def _resources(template: Template, type_: str) -> dict[str, Any]:
    return dict(template.find_resources(type_))


def _distribution_config(template: Template) -> dict[str, Any]:
    [distribution] = _resources(template, "AWS::CloudFront::Distribution").values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def _web_dir(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    web.mkdir(exist_ok=True)
    (web / "index.html").write_text("<!doctype html><title>app</title>")
    return web


@pytest.fixture(scope="module")
def default_stack() -> Stack:
    stack = _stack()
    site = _site(stack, connect_sources=["https://auth.example.com"])
    site.add_api("/api/*", _api_origin())
    return stack


@pytest.fixture(scope="module")
def default_template(default_stack: Stack) -> Template:
    return Template.from_stack(default_stack)


# -- the site bucket -------------------------------------------------------------------


def test_the_site_bucket_is_private_encrypted_versioned_and_logged(
    default_template: Template,
) -> None:
    buckets = _resources(default_template, "AWS::S3::Bucket")
    site_bucket = buckets["SiteBucket978D4AEB"]
    assert site_bucket["DeletionPolicy"] == "Retain"
    assert site_bucket["UpdateReplacePolicy"] == "Retain"
    properties = site_bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    assert properties["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "expire-old-versions",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        }
    ]
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "SiteLogsBCCC85C3"},
        "LogFilePrefix": "s3-access/",
    }
    assert "WebsiteConfiguration" not in properties


def _policy_of(template: Template, bucket_id: str) -> list[dict[str, Any]]:
    [policy] = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in _resources(template, "AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    return list(policy)


def _tls_only(bucket_id: str) -> dict[str, Any]:
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    return {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
    }


def test_only_this_distribution_reads_the_site_bucket_and_only_over_tls(
    default_template: Template,
) -> None:
    statements = _policy_of(default_template, "SiteBucket978D4AEB")
    assert statements[0] == _tls_only("SiteBucket978D4AEB")
    [allow] = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    distribution_arn = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert {"Ref": "SiteDistribution390DED28"} in distribution_arn["Fn::Join"][1]
    for statement in statements:
        assert statement["Principal"] != "*"
        assert statement["Principal"] != {"AWS": "*"} or statement["Effect"] == "Deny"


def test_the_distribution_reads_the_bucket_through_origin_access_control(
    default_template: Template,
) -> None:
    [(control_id, control)] = _resources(
        default_template, "AWS::CloudFront::OriginAccessControl"
    ).items()
    control_config = control["Properties"]["OriginAccessControlConfig"]
    assert control_config["OriginAccessControlOriginType"] == "s3"
    assert control_config["SigningBehavior"] == "always"
    assert control_config["SigningProtocol"] == "sigv4"
    config = _distribution_config(default_template)
    [s3_origin] = [origin for origin in config["Origins"] if "S3OriginConfig" in origin]
    assert s3_origin["DomainName"] == {"Fn::GetAtt": ["SiteBucket978D4AEB", "RegionalDomainName"]}
    assert s3_origin["OriginAccessControlId"] == {"Fn::GetAtt": [control_id, "Id"]}
    assert s3_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_the_stateful_logical_ids_are_pinned(default_stack: Stack) -> None:
    """Renaming a construct would replace the bucket (and its files) or the distribution
    (and its domain name): these ids must not change by accident."""
    site = default_stack.node.find_child("Site")
    assert isinstance(site, StaticSite)
    ids = {
        name: default_stack.get_logical_id(resource.node.default_child)  # type: ignore[arg-type]
        for name, resource in (
            ("bucket", site.bucket),
            ("log_bucket", site.log_bucket),
            ("distribution", site.distribution),
        )
    }
    assert ids == {
        "bucket": "SiteBucket978D4AEB",
        "log_bucket": "SiteLogsBCCC85C3",
        "distribution": "SiteDistribution390DED28",
    }


# -- the log bucket --------------------------------------------------------------------


def test_the_log_bucket_accepts_cloudfront_logs_and_expires_them(
    default_template: Template,
) -> None:
    log_bucket = _resources(default_template, "AWS::S3::Bucket")["SiteLogsBCCC85C3"]
    assert log_bucket["DeletionPolicy"] == "Retain"
    properties = log_bucket["Properties"]
    # CloudFront's standard (legacy) logging needs ACLs: not BucketOwnerEnforced.
    assert properties["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]
    }
    assert "AccessControl" not in properties  # CloudFront adds its grant at deploy
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 90
    statements = _policy_of(default_template, "SiteLogsBCCC85C3")
    assert statements[0] == _tls_only("SiteLogsBCCC85C3")
    [server_logs] = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert server_logs["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert server_logs["Action"] == "s3:PutObject"
    assert server_logs["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": ["SiteBucket978D4AEB", "Arn"]}
    }
    assert server_logs["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}


def test_the_distribution_logs_to_the_log_bucket(default_template: Template) -> None:
    assert _distribution_config(default_template)["Logging"] == {
        "Bucket": {"Fn::GetAtt": ["SiteLogsBCCC85C3", "RegionalDomainName"]},
        "IncludeCookies": False,
        "Prefix": "cloudfront/",
    }


def test_log_retention_days_sets_the_expiry() -> None:
    stack = _stack()
    _site(stack, log_retention_days=400)
    log_bucket = _resources(Template.from_stack(stack), "AWS::S3::Bucket")["SiteLogsBCCC85C3"]
    [rule] = log_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 400


# -- the distribution ------------------------------------------------------------------


def test_distribution_defaults(default_template: Template) -> None:
    config = _distribution_config(default_template)
    assert config["DefaultRootObject"] == "index.html"
    assert config["HttpVersion"] == "http2and3"
    assert config["IPV6Enabled"] is True
    assert config["PriceClass"] == "PriceClass_100"
    # No distribution-wide error responses: they would rewrite the API's 403s and 404s.
    assert "CustomErrorResponses" not in config
    assert "WebACLId" not in config
    assert "Aliases" not in config
    assert "Restrictions" not in config
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["Compress"] is True


def test_price_class_and_web_acl_are_passed_through() -> None:
    stack = _stack()
    _site(stack, price_class=cloudfront.PriceClass.PRICE_CLASS_ALL, web_acl_arn=WEB_ACL_ARN)
    config = _distribution_config(Template.from_stack(stack))
    assert config["PriceClass"] == "PriceClass_All"
    assert config["WebACLId"] == WEB_ACL_ARN


def test_a_custom_domain_gets_sni_and_tls_1_2_2021() -> None:
    stack = _stack()
    site = _site(
        stack,
        domain_names=["*.example.com", "app.example.com"],
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
    )
    config = _distribution_config(Template.from_stack(stack))
    assert config["Aliases"] == ["*.example.com", "app.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERTIFICATE_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert site.url == "https://app.example.com"
    assert site.domain_name == "app.example.com"


def test_without_a_custom_domain_the_url_is_the_distributions(default_stack: Stack) -> None:
    site = default_stack.node.find_child("Site")
    assert isinstance(site, StaticSite)
    resolved = default_stack.resolve(site.url)
    assert resolved == {
        "Fn::Join": [
            "",
            ["https://", {"Fn::GetAtt": ["SiteDistribution390DED28", "DomainName"]}],
        ]
    }


def test_every_response_carries_the_security_headers(default_template: Template) -> None:
    [(policy_id, policy)] = _resources(
        default_template, "AWS::CloudFront::ResponseHeadersPolicy"
    ).items()
    assert policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"] == {
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": 63072000,
            "IncludeSubdomains": True,
            "Preload": True,
            "Override": True,
        },
        "ContentSecurityPolicy": {"ContentSecurityPolicy": CSP, "Override": True},
        "ContentTypeOptions": {"Override": True},
        "FrameOptions": {"FrameOption": "DENY", "Override": True},
        "ReferrerPolicy": {
            "ReferrerPolicy": "strict-origin-when-cross-origin",
            "Override": True,
        },
    }
    config = _distribution_config(default_template)
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {json.dumps(b["ResponseHeadersPolicyId"]) for b in behaviours} == {
        json.dumps({"Ref": policy_id})
    }


def test_without_connect_sources_the_policy_allows_only_self() -> None:
    stack = _stack()
    site = _site(stack)
    assert "connect-src 'self'; form-action 'self';" in site.content_security_policy


def test_a_connect_source_may_be_a_token() -> None:
    stack = _stack()
    domain = s3.Bucket(stack, "Other").bucket_regional_domain_name
    site = _site(stack, connect_sources=[f"https://{domain}"])
    rendered = json.dumps(stack.resolve(site.content_security_policy))
    assert "connect-src 'self' https://" in rendered
    assert "RegionalDomainName" in rendered


# -- the single-page app fallback ------------------------------------------------------


def test_the_spa_function_runs_on_the_default_behaviour_only(default_template: Template) -> None:
    [(function_id, function)] = _resources(default_template, "AWS::CloudFront::Function").items()
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    config = _distribution_config(default_template)
    assert config["DefaultCacheBehavior"]["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]},
        }
    ]
    for behaviour in config["CacheBehaviors"]:
        assert "FunctionAssociations" not in behaviour


def test_spa_fallback_off_creates_no_function() -> None:
    stack = _stack()
    site = _site(stack, spa_fallback=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudFront::Function", 0)
    assert "FunctionAssociations" not in _distribution_config(template)["DefaultCacheBehavior"]
    assert site.spa_function is None


_HARNESS = """
const events = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
process.stdout.write(JSON.stringify(events.map((event) => handler(event))));
"""


def _viewer_request(uri: str, querystring: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": querystring or {},
            "headers": {"host": {"value": "d111111abcdef8.cloudfront.net"}},
            "cookies": {},
        },
    }


def test_the_spa_function_rewrites_routes_and_leaves_files(
    default_template: Template, tmp_path: Path
) -> None:
    """The function's JavaScript, as synthesized, run in node against viewer requests."""
    node = shutil.which("node")
    assert node is not None, "node (which jsii needs anyway) must be on PATH"
    [function] = _resources(default_template, "AWS::CloudFront::Function").values()
    script = tmp_path / "spa.js"
    script.write_text(function["Properties"]["FunctionCode"] + _HARNESS)
    cases = {
        "/": "/index.html",
        "/index.html": "/index.html",
        "/app.js": "/app.js",
        "/assets/logo.svg": "/assets/logo.svg",
        "/auth/callback": "/index.html",
        "/accounts/42": "/index.html",
        "/accounts/42/": "/index.html",
        "/a/b.c/d": "/index.html",
    }
    query = {"code": {"value": "abc"}, "state": {"value": "xyz"}}
    events = [_viewer_request(uri, query) for uri in cases]
    events_file = tmp_path / "events.json"
    events_file.write_text(json.dumps(events))
    result = subprocess.run(
        [node, str(script), str(events_file)], capture_output=True, text=True, check=True
    )
    requests = json.loads(result.stdout)
    assert [request["uri"] for request in requests] == list(cases.values())
    for request, event in zip(requests, events, strict=True):
        assert request["querystring"] == query
        assert request["method"] == "GET"
        assert request["headers"] == event["request"]["headers"]


# -- API behaviours --------------------------------------------------------------------


def test_an_api_behaviour_is_uncached_and_forwards_all_but_host(
    default_template: Template,
) -> None:
    config = _distribution_config(default_template)
    [api] = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert api["AllowedMethods"] == ALL_METHODS
    assert api["ViewerProtocolPolicy"] == "https-only"
    [api_origin] = [origin for origin in config["Origins"] if origin["Id"] == api["TargetOriginId"]]
    assert api_origin["DomainName"] == "api.example.com"


def test_forward_host_header_uses_all_viewer() -> None:
    stack = _stack()
    site = _site(stack)
    site.add_api("/api/*", _api_origin())
    site.add_api("/hosted/*", origins.HttpOrigin("hosted.example.com"), forward_host_header=True)
    policies = {
        behaviour["PathPattern"]: behaviour["OriginRequestPolicyId"]
        for behaviour in _distribution_config(Template.from_stack(stack))["CacheBehaviors"]
    }
    assert policies == {"/api/*": ALL_VIEWER_EXCEPT_HOST_HEADER, "/hosted/*": ALL_VIEWER}


# -- deploy ----------------------------------------------------------------------------


def test_deploy_uploads_prunes_invalidates_and_logs_with_retention(tmp_path: Path) -> None:
    stack = _stack()
    site = _site(stack)
    deployment = site.deploy("Deploy", [s3deploy.Source.asset(str(_web_dir(tmp_path)))])
    assert isinstance(deployment, s3deploy.BucketDeployment)
    template = Template.from_stack(stack)
    [deploy] = _resources(template, "Custom::CDKBucketDeployment").values()
    properties = deploy["Properties"]
    assert properties["DestinationBucketName"] == {"Ref": "SiteBucket978D4AEB"}
    assert properties["DistributionId"] == {"Ref": "SiteDistribution390DED28"}
    assert properties["DistributionPaths"] == ["/*"]
    assert properties["Prune"] is True
    [(log_group_id, log_group)] = _resources(template, "AWS::Logs::LogGroup").items()
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Retain"
    handlers = [
        function
        for function in _resources(template, "AWS::Lambda::Function").values()
        if function["Properties"].get("LoggingConfig")
    ]
    [handler] = handlers
    assert handler["Properties"]["MemorySize"] == 512
    assert handler["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}


def test_deploy_takes_a_log_retention_and_memory_limit(tmp_path: Path) -> None:
    stack = _stack()
    site = _site(stack)
    site.deploy(
        "Deploy",
        [s3deploy.Source.asset(str(_web_dir(tmp_path)))],
        log_retention=logs.RetentionDays.ONE_WEEK,
        memory_limit=1024,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
    template.has_resource_properties("AWS::Lambda::Function", {"MemorySize": 1024})


def test_a_second_deploy_shares_the_function_and_creates_no_unused_log_group(
    tmp_path: Path,
) -> None:
    """aws-cdk-lib's BucketDeployment function is one per stack and memory size: the
    second deploy uses the first's, whose log group stays the only one."""
    stack = _stack()
    site = _site(stack)
    web = [s3deploy.Source.asset(str(_web_dir(tmp_path)))]
    site.deploy("Deploy", web)
    second = site.deploy("Config", [s3deploy.Source.data("config.json", "{}")])
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Logs::LogGroup", 1)
    template.resource_count_is("Custom::CDKBucketDeployment", 2)
    warnings = Annotations.from_stack(stack).find_warning(
        f"/{second.node.path}", Match.string_like_regexp("already existed")
    )
    assert len(warnings) == 1


def test_deploy_logs_with_the_sites_log_retention_unless_told(tmp_path: Path) -> None:
    stack = _stack()
    site = _site(stack, log_retention=logs.RetentionDays.ONE_WEEK)
    site.deploy("Deploy", [s3deploy.Source.asset(str(_web_dir(tmp_path)))])
    [group] = function_log_groups(Template.from_stack(stack)).values()
    assert group["Properties"]["RetentionInDays"] == 7


def test_a_destroyed_sites_emptying_function_logs_with_its_retention(tmp_path: Path) -> None:
    """aws-cdk-lib's S3 auto-delete function (one per stack, emptying both buckets) would
    log to /aws/lambda/<name>, kept forever: like the deployment function, it gets a group
    with the site's retention, deleted with the stack."""
    stack = _stack()
    site = _site(
        stack, removal_policy=RemovalPolicy.DESTROY, log_retention=logs.RetentionDays.ONE_DAY
    )
    site.deploy("Deploy", [s3deploy.Source.asset(str(_web_dir(tmp_path)))])
    groups = function_log_groups(Template.from_stack(stack))
    assert len(groups) == 2  # the emptying and the deployment functions
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 1
        assert group["DeletionPolicy"] == "Delete"


def test_a_retained_site_has_no_emptying_function() -> None:
    stack = _stack()
    _site(stack)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 0)
    template.resource_count_is("AWS::Logs::LogGroup", 0)


def test_sites_sharing_the_emptying_function_are_told_whose_log_group_it_has() -> None:
    """The stack's auto-delete function gets the log group of the first construct that
    needs it; a later one with other settings is warned that its own do not apply."""
    stack = _stack()
    _site(stack, removal_policy=RemovalPolicy.DESTROY)
    second = StaticSite(
        stack,
        "Docs",
        removal_policy=RemovalPolicy.DESTROY,
        log_retention=logs.RetentionDays.ONE_YEAR,
    )
    [group] = function_log_groups(Template.from_stack(stack)).values()
    assert group["Properties"]["RetentionInDays"] == 30
    warnings = Annotations.from_stack(stack).find_warning(
        f"/{second.node.path}", Match.string_like_regexp("already logs to .*HandlerLogGroup")
    )
    assert len(warnings) == 1


# -- removal policy, escape hatches ----------------------------------------------------


def test_an_existing_bucket_is_served_as_it_is() -> None:
    stack = _stack()
    existing = s3.Bucket.from_bucket_name(stack, "Existing", "my-site-bucket")
    site = _site(stack, existing_bucket=existing)
    assert site.bucket is existing
    template = Template.from_stack(stack)
    assert list(_resources(template, "AWS::S3::Bucket")) == ["SiteLogsBCCC85C3"]
    [s3_origin] = [
        origin for origin in _distribution_config(template)["Origins"] if "S3OriginConfig" in origin
    ]
    assert "my-site-bucket" in json.dumps(s3_origin["DomainName"])


def test_a_geo_restriction_goes_through_distribution_props() -> None:
    stack = _stack()
    _site(
        stack,
        distribution_props={"geo_restriction": cloudfront.GeoRestriction.allowlist("DE", "FR")},
    )
    config = _distribution_config(Template.from_stack(stack))
    assert config["Restrictions"] == {
        "GeoRestriction": {"Locations": ["DE", "FR"], "RestrictionType": "whitelist"}
    }


# -- validation errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"domain_names": ["app.example.com"]},
            r"'certificate' is missing; domain_names need an ACM certificate .* us-east-1",
        ),
        ({"domain_names": "app.example.com"}, r"'domain_names' must be a list of host names"),
        ({"domain_names": ["app example.com"]}, r"'domain_names\[0\]' is 'app example.com'"),
        (
            {"domain_names": ["a.example.com", "a.example.com"]},
            r"'domain_names' repeats 'a.example.com'",
        ),
        (
            {"web_acl_arn": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/site/1"},
            r"'web_acl_arn' is .*; it must be the ARN of a WAFv2 web ACL of scope CLOUDFRONT, "
            r"which lives in us-east-1: 'arn:aws:wafv2:us-east-1:<account>:global/webacl/",
        ),
        (
            {"web_acl_arn": f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:global/webacl/site/1"},
            r"'web_acl_arn' .* us-east-1",
        ),
        ({"web_acl_arn": "site-acl"}, r"'web_acl_arn' is 'site-acl'; it must be the ARN"),
        (
            {"connect_sources": ["http://auth.example.com"]},
            r"'connect_sources\[0\]' is 'http://auth.example.com'; it must be an https origin",
        ),
        (
            {"connect_sources": ["https://auth.example.com/oauth2/token"]},
            r"'connect_sources\[0\]' .* without a path",
        ),
        ({"connect_sources": ["auth.example.com"]}, r"'connect_sources\[0\]' .* https origin"),
        (
            {"connect_sources": ["https://a.example.com; script-src *"]},
            r"'connect_sources\[0\]' .* https origin",
        ),
        ({"connect_sources": "https://a.example.com"}, r"'connect_sources' must be a list"),
        (
            {"connect_sources": [f"https://{'a' * 60}{n}.example.com" for n in range(20)]},
            r"'connect_sources' make the Content-Security-Policy 3477 characters long; "
            r"CloudFront allows 1783",
        ),
        (
            {"removal_policy": RemovalPolicy.SNAPSHOT},
            r"'removal_policy' is .*; allowed values are RemovalPolicy.RETAIN, "
            r"RemovalPolicy.DESTROY and RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE",
        ),
        ({"log_retention_days": 0}, r"'log_retention_days' is 0; allowed range is 1..3650"),
        ({"log_retention_days": 1.5}, r"'log_retention_days' must be a whole number of days"),
        ({"log_retention": 30}, r"'log_retention' must be an aws_logs.RetentionDays, got int"),
        (
            {"log_retention": logs.RetentionDays.INFINITE},
            r"'log_retention' is INFINITE; the site's function logs are kept a limited time",
        ),
        ({"price_class": "PriceClass_100"}, r"'price_class' must be an aws_cloudfront.PriceClass"),
        ({"spa_fallback": "yes"}, r"'spa_fallback' must be True or False"),
        (
            {"bucket_props": {"public_read_access": True}},
            r"'bucket_props' sets public_read_access; the site bucket is read by CloudFront only",
        ),
        (
            {"bucket_props": {"website_index_document": "index.html"}},
            r"'bucket_props' configures S3 website hosting",
        ),
        (
            {"bucket_props": {"versioning": True}},
            r"'bucket_props' has unknown key\(s\) 'versioning'",
        ),
        (
            {"distribution_props": {"web_acl_id": WEB_ACL_ARN}},
            r"'distribution_props' sets 'web_acl_id', which 'web_acl_arn' sets",
        ),
        (
            {"distribution_props": {"price_class": cloudfront.PriceClass.PRICE_CLASS_ALL}},
            r"'distribution_props' sets 'price_class', which 'price_class' sets",
        ),
        (
            {"distribution_props": {"enable_logging": False}},
            r"'distribution_props' sets 'enable_logging'",
        ),
    ],
)
def test_invalid_arguments_name_the_argument(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructArgumentError, match=rf"^StaticSite: argument {message}"):
        _site(_stack(), **overrides)


def test_a_certificate_needs_domain_names() -> None:
    stack = _stack()
    certificate = acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN)
    with pytest.raises(ConstructArgumentError, match=r"'certificate' was given without"):
        _site(stack, certificate=certificate)


@pytest.mark.parametrize("imported", [True, False])
def test_a_certificate_outside_us_east_1_is_rejected(imported: bool) -> None:
    stack = _stack()
    certificate = (
        acm.Certificate.from_certificate_arn(
            stack, "Cert", f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0b4c2a9e"
        )
        if imported
        else acm.Certificate(stack, "Cert", domain_name="app.example.com")
    )
    with pytest.raises(
        ConstructArgumentError,
        match=r"'certificate' is in eu-west-1; CloudFront certificates must be in us-east-1",
    ):
        _site(stack, domain_names=["app.example.com"], certificate=certificate)


def test_a_certificate_of_a_us_east_1_stack_is_accepted_across_regions() -> None:
    app = new_app()
    certificates = Stack(app, "Certificates", env=Environment(account=ACCOUNT, region="us-east-1"))
    certificate = acm.Certificate(certificates, "Cert", domain_name="app.example.com")
    site_stack = Stack(
        app,
        "Site",
        env=Environment(account=ACCOUNT, region="eu-west-1"),
        cross_region_references=True,
    )
    StaticSite(site_stack, "Site", domain_names=["app.example.com"], certificate=certificate)
    config = _distribution_config(Template.from_stack(site_stack))
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"


def test_a_string_certificate_is_rejected() -> None:
    with pytest.raises(
        ConstructArgumentError, match=r"'certificate' must be an aws_certificatemanager"
    ):
        _site(_stack(), domain_names=["app.example.com"], certificate=CERTIFICATE_ARN)


def test_an_existing_bucket_with_bucket_props_is_rejected() -> None:
    stack = _stack()
    with pytest.raises(
        ConstructArgumentError,
        match=r"'existing_bucket' was given together with 'bucket_props'",
    ):
        StaticSite(  # type: ignore[call-overload]
            stack,
            "Site",
            existing_bucket=s3.Bucket.from_bucket_name(stack, "Existing", "my-site-bucket"),
            bucket_props={"versioned": False},
        )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("api/*", r"'path_pattern' is 'api/\*'; it must be a path pattern starting with '/'"),
        ("", r"'path_pattern' is ''; it must be a path pattern starting with '/'"),
        ("/api/ *", r"'path_pattern' .* the characters CloudFront allows"),
        ("/" + "a" * 255, r"'path_pattern' .* at most 255"),
        ("/*", r"'path_pattern' is '/\*', which is the default behaviour"),
        ("*", r"'path_pattern' is '\*'; it must be a path pattern starting with '/'"),
    ],
)
def test_add_api_checks_the_path_pattern(pattern: str, message: str) -> None:
    site = _site(_stack())
    with pytest.raises(ConstructArgumentError, match=rf"^StaticSite: argument {message}"):
        site.add_api(pattern, _api_origin())


def test_add_api_rejects_a_repeated_pattern_and_a_non_origin() -> None:
    site = _site(_stack())
    site.add_api("/api/*", _api_origin())
    with pytest.raises(ConstructArgumentError, match=r"'/api/\*' was already added"):
        site.add_api("/api/*", _api_origin())
    with pytest.raises(ConstructArgumentError, match=r"'origin' must be an aws_cloudfront.IOrigin"):
        site.add_api("/v2/*", "https://api.example.com")  # type: ignore[arg-type]
    with pytest.raises(ConstructArgumentError, match=r"'forward_host_header' must be True or"):
        site.add_api("/v2/*", _api_origin(), forward_host_header="no")  # type: ignore[arg-type]


def test_deploy_checks_its_arguments(tmp_path: Path) -> None:
    site = _site(_stack())
    web = [s3deploy.Source.asset(str(_web_dir(tmp_path)))]
    with pytest.raises(ConstructArgumentError, match=r"'sources' must be a non-empty list"):
        site.deploy("Deploy", [])
    with pytest.raises(ConstructArgumentError, match=r"'sources\[0\]' must be an aws_s3_deploy"):
        site.deploy("Deploy", ["web/dist"])  # type: ignore[list-item]
    with pytest.raises(ConstructArgumentError, match=r"'log_retention' is INFINITE"):
        site.deploy("Deploy", web, log_retention=logs.RetentionDays.INFINITE)
    with pytest.raises(ConstructArgumentError, match=r"'log_retention' must be an aws_logs"):
        site.deploy("Deploy", web, log_retention=30)  # type: ignore[arg-type]
    with pytest.raises(ConstructArgumentError, match=r"'memory_limit' is 64; allowed range is"):
        site.deploy("Deploy", web, memory_limit=64)
    site.deploy("Deploy", web)
    with pytest.raises(ConstructArgumentError, match=r"'id' 'Deploy' is taken"):
        site.deploy("Deploy", web)


# -- CloudFrontWebAcl --------------------------------------------------------------------


def test_the_web_acl_has_managed_rules_and_a_rate_limit() -> None:
    stack = _stack(region="us-east-1")
    acl = CloudFrontWebAcl(stack, "WebAcl", metric_prefix="payments-dev", rate_limit=500)
    template = Template.from_stack(stack)
    [(acl_id, resource)] = _resources(template, "AWS::WAFv2::WebACL").items()
    properties = resource["Properties"]
    assert properties["Scope"] == "CLOUDFRONT"
    assert properties["DefaultAction"] == {"Allow": {}}
    assert properties["VisibilityConfig"] == {
        "CloudWatchMetricsEnabled": True,
        "MetricName": "payments-dev-web-acl",
        "SampledRequestsEnabled": True,
    }
    rules = {rule["Name"]: rule for rule in properties["Rules"]}
    assert list(rules) == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
        "RateLimitPerIp",
    ]
    assert [rule["Priority"] for rule in rules.values()] == [0, 1, 2, 3]
    for name in list(rules)[:3]:
        assert rules[name]["Statement"] == {
            "ManagedRuleGroupStatement": {"Name": name, "VendorName": "AWS"}
        }
        assert rules[name]["OverrideAction"] == {"None": {}}
    assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
    assert rules["RateLimitPerIp"]["Statement"] == {
        "RateBasedStatement": {"AggregateKeyType": "IP", "Limit": 500}
    }
    for rule in rules.values():
        assert rule["VisibilityConfig"] == {
            "CloudWatchMetricsEnabled": True,
            "MetricName": f"payments-dev-{rule['Name']}",
            "SampledRequestsEnabled": True,
        }
    assert stack.resolve(acl.arn) == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_the_web_acl_rate_limit_defaults_to_1000() -> None:
    stack = _stack(region="us-east-1")
    CloudFrontWebAcl(stack, "WebAcl", metric_prefix="site")
    Template.from_stack(stack).has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Rules": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Statement": {
                                "RateBasedStatement": {"AggregateKeyType": "IP", "Limit": 1000}
                            }
                        }
                    )
                ]
            )
        },
    )


def test_web_acl_props_merge_and_keep_the_scope() -> None:
    stack = _stack(region="us-east-1")
    CloudFrontWebAcl(stack, "WebAcl", metric_prefix="site", web_acl_props={"name": "site-acl"})
    Template.from_stack(stack).has_resource_properties(
        "AWS::WAFv2::WebACL", {"Name": "site-acl", "Scope": "CLOUDFRONT"}
    )
    with pytest.raises(ConstructArgumentError, match=r"'web_acl_props' sets 'scope'"):
        CloudFrontWebAcl(
            _stack(region="us-east-1"),
            "WebAcl",
            metric_prefix="site",
            web_acl_props={"scope": "REGIONAL"},
        )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            None,
            r"'scope' is in a stack without a region; .* give the stack "
            r"env=Environment\(region='us-east-1'\)",
        ),
        (
            Environment(account=ACCOUNT, region="eu-west-1"),
            r"'scope' is in a stack in eu-west-1; a web ACL for CloudFront must be created in "
            r"us-east-1",
        ),
    ],
)
def test_the_web_acl_must_be_in_us_east_1(env: Environment | None, message: str) -> None:
    stack = Stack(new_app(), "Test", env=env)
    with pytest.raises(ConstructArgumentError, match=rf"^CloudFrontWebAcl: argument {message}"):
        CloudFrontWebAcl(stack, "WebAcl", metric_prefix="site")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate_limit": 9}, r"'rate_limit' is 9; allowed range is 10..2000000000"),
        ({"rate_limit": 2_000_000_001}, r"'rate_limit' is 2000000001; allowed range is 10.."),
        ({"rate_limit": 100.5}, r"'rate_limit' must be a whole number"),
        ({"metric_prefix": "my site"}, r"'metric_prefix' is 'my site'; it must be 1-90 of"),
        ({"metric_prefix": ""}, r"'metric_prefix' is ''; it must be 1-90"),
    ],
)
def test_web_acl_arguments_are_checked(overrides: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {"metric_prefix": "site", **overrides}
    with pytest.raises(ConstructArgumentError, match=rf"^CloudFrontWebAcl: argument {message}"):
        CloudFrontWebAcl(_stack(region="us-east-1"), "WebAcl", **kwargs)


def test_a_site_in_eu_west_1_uses_a_web_acl_from_a_us_east_1_stack() -> None:
    app = new_app()
    edge = Stack(app, "Edge", env=Environment(account=ACCOUNT, region="us-east-1"))
    acl = CloudFrontWebAcl(edge, "WebAcl", metric_prefix="site")
    site_stack = Stack(
        app,
        "Site",
        env=Environment(account=ACCOUNT, region="eu-west-1"),
        cross_region_references=True,
    )
    StaticSite(site_stack, "Site", web_acl_arn=acl.arn)
    template = Template.from_stack(site_stack)
    web_acl_id = _distribution_config(template)["WebACLId"]
    # A reference read from the us-east-1 stack at deploy, not a literal.
    assert isinstance(web_acl_id, dict)
    assert "Fn::GetAtt" in web_acl_id
    template.resource_count_is("Custom::CrossRegionExportReader", 1)
    with pytest.raises(ConstructArgumentError, match=r"'scope' is in a stack in eu-west-1"):
        CloudFrontWebAcl(site_stack, "LocalAcl", metric_prefix="site")


# -- cdk-nag -----------------------------------------------------------------------------


def _nag_app(tmp_path: Path) -> tuple[App, Stack]:
    app = new_app(outdir=str(tmp_path / "out"))
    add_compliance_checks(app)
    return app, _stack(app)


def _report(tmp_path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        (tmp_path / "out" / "validation-report.json").read_text(encoding="utf-8")
    )
    return report


def _suppressed(report: dict[str, Any]) -> set[str]:
    return {
        violation["ruleName"]
        for plugin in report["pluginReports"]
        for violation in plugin["suppressedViolations"]
    }


@pytest.mark.parametrize(
    "env",
    [Environment(account=ACCOUNT, region="eu-west-1"), Environment(region="eu-west-1"), None],
    ids=["account-and-region", "region-only", "environment-agnostic"],
)
def test_a_site_with_an_api_and_a_deploy_leaves_no_open_cdk_nag_finding(
    tmp_path: Path, env: Environment | None
) -> None:
    """Also where the asset bucket's name is an Fn::Sub of the account (no account given)."""
    app = new_app(outdir=str(tmp_path / "out"))
    add_compliance_checks(app)
    stack = Stack(app, "Test", env=env)
    site = _site(stack, web_acl_arn=WEB_ACL_ARN, connect_sources=["https://auth.example.com"])
    site.add_api("/api/*", _api_origin())
    site.deploy("Deploy", [s3deploy.Source.asset(str(_web_dir(tmp_path)))])
    app.synth()  # raises on any unacknowledged finding
    suppressed = _suppressed(_report(tmp_path))
    # The default certificate's TLS floor and the open geography are the construct's
    # choices; the deployment function's findings are aws-cdk-lib's.
    assert {"AwsSolutions-CFR4", "AwsSolutions-CFR1", "AwsSolutions-L1"} <= suppressed
    assert "AwsSolutions-CFR2" not in suppressed


def test_a_destroyed_site_with_a_deploy_leaves_no_open_cdk_nag_finding(tmp_path: Path) -> None:
    """With the emptying function and its log group."""
    app, stack = _nag_app(tmp_path)
    site = _site(stack, web_acl_arn=WEB_ACL_ARN, removal_policy=RemovalPolicy.DESTROY)
    site.deploy("Deploy", [s3deploy.Source.asset(str(_web_dir(tmp_path)))])
    app.synth()  # raises on any unacknowledged finding


def test_a_site_without_a_web_acl_leaves_cfr2_to_the_stack(tmp_path: Path) -> None:
    """Whether a site needs a WAF is the stack's call: CFR2 (a warning, which does not fail
    the synth) stays open, and is the only open finding."""
    app, stack = _nag_app(tmp_path)
    _site(stack)
    app.synth()
    report = _report(tmp_path)
    open_findings = {
        (violation["ruleName"], violation["severity"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
    }
    assert open_findings == {("AwsSolutions-CFR2", "warning")}


def test_a_custom_domain_and_geo_restriction_need_no_acknowledgement(tmp_path: Path) -> None:
    app, stack = _nag_app(tmp_path)
    _site(
        stack,
        existing_bucket=s3.Bucket.from_bucket_name(stack, "Existing", "my-site-bucket"),
        web_acl_arn=WEB_ACL_ARN,
        domain_names=["app.example.com"],
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
        distribution_props={"geo_restriction": cloudfront.GeoRestriction.allowlist("DE")},
    )
    app.synth()
    suppressed = _suppressed(_report(tmp_path))
    assert "AwsSolutions-CFR4" not in suppressed
    assert "AwsSolutions-CFR1" not in suppressed
    # No site bucket logs to it here: the log bucket's own S1 is acknowledged.
    assert "AwsSolutions-S1" in suppressed
