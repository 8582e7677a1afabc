"""ContainerApi: the authenticated way in to a container service, its checks and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template
from unit_app import new_app

from cdk_microservices import ConstructArgumentError, ContainerApi, ContainerService
from stacks.compliance import add_compliance_checks

IMAGE = "public.ecr.aws/docker/library/python:3.14-slim"
WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/api/0b4c2a9e-example"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:111111111111:certificate/0b4c2a9e-example"


def _stack(app: App | None = None) -> Stack:
    return Stack(app or new_app(), "Test", env=Environment(region="us-east-1"))


def _service(stack: Stack, **overrides: Any) -> ContainerService:
    kwargs: dict[str, Any] = {
        "service_name": "transfers",
        "image": ecs.ContainerImage.from_registry(IMAGE),
        "vpc": ec2.Vpc(stack, "Vpc", max_azs=2, flow_logs={"All": ec2.FlowLogOptions()}),
        "load_balancer_access": "explicit",
        **overrides,
    }
    return ContainerService(stack, "Service", **kwargs)


def _api(stack: Stack, service: ContainerService | None = None, **overrides: Any) -> ContainerApi:
    kwargs: dict[str, Any] = {
        "service": service or _service(stack),
        "user_pool": cognito.UserPool.from_user_pool_id(stack, "Users", "us-east-1_example"),
        "path_prefixes": ["/transfers"],
        **overrides,
    }
    return ContainerApi(stack, "Api", **kwargs)


@pytest.fixture(scope="module")
def default_api() -> ContainerApi:
    return _api(_stack())


@pytest.fixture(scope="module")
def template(default_api: ContainerApi) -> Template:
    return Template.from_stack(Stack.of(default_api))


def _methods(template: Template) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in template.find_resources("AWS::ApiGateway::Method").values()
    ]


def test_each_prefix_and_everything_below_it_is_proxied(
    default_api: ContainerApi, template: Template
) -> None:
    stack = Stack.of(default_api)
    paths = {
        resource["Properties"]["PathPart"]
        for resource in template.find_resources("AWS::ApiGateway::Resource").values()
    }
    assert paths == {"transfers", "{proxy+}"}
    uris = [method["Integration"]["Uri"] for method in _methods(template)]
    dns = stack.resolve(default_api.service.load_balancer.load_balancer_dns_name)
    expected = [
        {"Fn::Join": ["", ["http://", dns, ":80/transfers"]]},
        {"Fn::Join": ["", ["http://", dns, ":80/transfers/{proxy}"]]},
    ]
    assert sorted(uris, key=str) == sorted(expected, key=str)


def test_every_method_needs_a_cognito_token_and_goes_through_the_vpc_link(
    default_api: ContainerApi, template: Template
) -> None:
    stack = Stack.of(default_api)
    methods = _methods(template)
    assert len(methods) == 2
    for method in methods:
        assert method["HttpMethod"] == "ANY"
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        integration = method["Integration"]
        assert integration["Type"] == "HTTP_PROXY"
        assert integration["ConnectionType"] == "VPC_LINK"
        assert integration["ConnectionId"] == stack.resolve(default_api.vpc_link.vpc_link_id)
        assert integration["IntegrationTarget"] == stack.resolve(
            default_api.service.load_balancer.load_balancer_arn
        )
        assert integration["TimeoutInMillis"] == 29000


def test_the_identity_header_comes_from_the_verified_token_only(template: Template) -> None:
    for method in _methods(template):
        parameters = method["Integration"]["RequestParameters"]
        assert parameters["integration.request.header.X-Caller-Sub"] == (
            "context.authorizer.claims.sub"
        )
    [proxy] = [m for m in _methods(template) if "RequestParameters" in m]
    assert proxy["Integration"]["RequestParameters"]["integration.request.path.proxy"] == (
        "method.request.path.proxy"
    )


def test_only_the_vpc_link_reaches_the_load_balancer(
    default_api: ContainerApi, template: Template
) -> None:
    stack = Stack.of(default_api)
    [balancer_group] = default_api.service.load_balancer.connections.security_groups
    group_id = stack.resolve(balancer_group.security_group_id)
    link_group = stack.resolve(default_api.vpc_link_security_group.security_group_id)
    ingress = [
        resource["Properties"]
        for resource in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if resource["Properties"]["GroupId"] == group_id
    ]
    inline = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"SecurityGroupIngress": Match.any_value()}},
    )
    assert not [
        logical_id for logical_id in inline if {"Fn::GetAtt": [logical_id, "GroupId"]} == group_id
    ]
    assert [(rule["SourceSecurityGroupId"], rule["FromPort"]) for rule in ingress] == [
        (link_group, 80)
    ]
    template.has_resource_properties(
        "AWS::ApiGatewayV2::VpcLink",
        {"SecurityGroupIds": [link_group], "SubnetIds": Match.any_value()},
    )


def test_stage_logs_throttling_and_alarms(default_api: ContainerApi, template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": [
                Match.object_like(
                    {
                        "DataTraceEnabled": False,
                        "LoggingLevel": "INFO",
                        "ThrottlingRateLimit": 50,
                        "ThrottlingBurstLimit": 100,
                    }
                )
            ],
        },
    )
    stack = Stack.of(default_api)
    api_alarms = [
        template.to_json()["Resources"][stack.resolve(alarm.node.default_child.logical_id)]
        for alarm in default_api.alarms
    ]
    assert sorted(alarm["Properties"]["MetricName"] for alarm in api_alarms) == [
        "5XXError",
        "Latency",
    ]
    for alarm in api_alarms:
        dimensions = {d["Name"] for d in alarm["Properties"]["Dimensions"]}
        assert dimensions == {"ApiName", "Stage"}


def test_service_metrics_alarms_stay_on_the_service(default_api: ContainerApi) -> None:
    assert default_api.service.alarms  # the API adds its own, it does not move the service's


def test_arguments_change_stage_header_and_prefixes() -> None:
    stack = _stack()
    api = _api(
        stack,
        stage_name="api",
        identity_header="X-User",
        identity_claim="email",
        path_prefixes=["/transfers", "/deposits"],
        integration_timeout=Duration.seconds(10),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "api"})
    methods = _methods(template)
    assert len(methods) == 4
    for method in methods:
        assert method["Integration"]["RequestParameters"]["integration.request.header.X-User"] == (
            "context.authorizer.claims.email"
        )
        assert method["Integration"]["TimeoutInMillis"] == 10000
    assert api.path_prefixes == ("/transfers", "/deposits")


@pytest.mark.parametrize(
    ("service_overrides", "message"),
    [
        ({"load_balancer_access": "vpc"}, "load_balancer_access='vpc'"),
        (
            {"listener_port": 8443, "certificate_arn": CERTIFICATE_ARN},
            "listens with HTTPS",
        ),
    ],
)
def test_a_service_that_others_could_reach_is_refused(
    service_overrides: dict[str, Any], message: str
) -> None:
    stack = _stack()
    overrides = dict(service_overrides)
    if "certificate_arn" in overrides:
        overrides["certificate"] = acm.Certificate.from_certificate_arn(
            stack, "Cert", overrides.pop("certificate_arn")
        )
    service = _service(stack, **overrides)
    pattern = r"ContainerApi: argument 'service' .*" + message
    with pytest.raises(ConstructArgumentError, match=pattern):
        _api(stack, service)


def test_a_public_service_is_refused() -> None:
    stack = _stack()
    service = _service(
        stack,
        public=True,
        load_balancer_access="vpc",
        certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
    )
    with pytest.raises(ConstructArgumentError, match="public load balancer"):
        _api(stack, service)


def test_service_refuses_explicit_access_on_a_public_load_balancer() -> None:
    stack = _stack()
    pattern = "argument 'load_balancer_access' is 'explicit' but public=True"
    with pytest.raises(ConstructArgumentError, match=pattern):
        _service(
            stack,
            public=True,
            certificate=acm.Certificate.from_certificate_arn(stack, "Cert", CERTIFICATE_ARN),
        )


def test_explicit_access_opens_nothing_on_its_own() -> None:
    stack = _stack()
    service = _service(stack)
    template = Template.from_stack(stack)
    [group] = service.load_balancer.connections.security_groups
    group_id = stack.resolve(group.security_group_id)
    assert not [
        rule
        for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == group_id
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"path_prefixes": []}, "argument 'path_prefixes' must be a non-empty list"),
        ({"path_prefixes": "/transfers"}, "argument 'path_prefixes' must be a non-empty list"),
        ({"path_prefixes": ["transfers"]}, "argument 'path_prefixes' .*'/transfers'"),
        ({"path_prefixes": ["/a b"]}, "path_prefixes"),
        ({"path_prefixes": ["/transfers", "/transfers/x"]}, "forwards everything below it"),
        ({"path_prefixes": ["/t", "/t"]}, "give each path once"),
        ({"identity_header": "Authorization"}, "argument 'identity_header' is 'Authorization'"),
        ({"identity_header": "X Caller"}, "identity_header"),
        ({"identity_claim": "a b"}, "identity_claim"),
        ({"integration_timeout": Duration.seconds(30)}, "integration_timeout"),
        ({"stage_name": "a-b"}, "stage_name"),
        ({"throttling_burst_limit": 10, "throttling_rate_limit": 20}, "throttling_burst_limit"),
        ({"alarms": False, "alarm_topic": object()}, "alarm_topic"),
        ({"user_pool": "pool"}, "argument 'user_pool' must be an aws_cognito.IUserPool"),
        ({"service": "svc"}, "argument 'service' must be a ContainerService"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(
    overrides: dict[str, Any], message: str
) -> None:
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match=message):
        _api(stack, **overrides)


def test_no_open_cdk_nag_findings_in_a_bare_stack(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    add_compliance_checks(app)
    _api(_stack(app), web_acl_arn=WEB_ACL_ARN)
    app.synth()  # raises on any unacknowledged finding


def test_domain_name_is_the_apis_regional_host(default_api: ContainerApi) -> None:
    stack = Stack.of(default_api)
    assert stack.resolve(default_api.domain_name) == {
        "Fn::Join": [
            "",
            [
                stack.resolve(default_api.rest_api.rest_api_id),
                ".execute-api.us-east-1.",
                {"Ref": "AWS::URLSuffix"},
            ],
        ]
    }
