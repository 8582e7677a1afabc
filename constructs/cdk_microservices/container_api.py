"""ContainerApi: a ``ContainerService`` reached from the internet only through an
authenticated REST API.

Creates, in front of the service's internal load balancer:

- ``rest_api``: a regional ``aws_apigateway.RestApi`` with one stage (``stage_name``), X-Ray
  tracing, execution logs (request/response bodies never logged), detailed metrics,
  stage-wide throttling and JSON access logs in ``access_log_group`` (the same stage as
  ``ApiService``'s), and ``execution_log_group`` with a retention;
- ``authorizer``: a Cognito user pool authorizer; every method requires a valid ID token of
  an app client of ``user_pool`` in the ``Authorization`` header;
- ``vpc_link``: an API Gateway VPC link (v2) into the service's VPC, with its own
  ``vpc_link_security_group``, the only peer the load balancer admits;
- for each of ``path_prefixes`` (``/transfers``): ``ANY /transfers`` and
  ``ANY /transfers/{proxy+}``, each an HTTP proxy through the VPC link to the load balancer's
  listener, forwarding the path below the stage, the query string and the body as they are,
  and setting the ``identity_header`` (``X-Caller-Sub``) to the verified token's
  ``identity_claim`` (``sub``);
- ``alarms``: API 5XX answers and p99 latency (the service's own alarms stay on the
  ``ContainerService``).

Why the caller's identity cannot be forged: API Gateway sets the header from the token its
authorizer verified, replacing any value the client sent, and nothing but the VPC link can
reach the load balancer (the service must be created with ``public=False`` and
``load_balancer_access="explicit"``; both are checked). Services inside the VPC still call
each other through Service Connect, which does not pass the load balancer.

API Gateway's private integrations include the stage in the path they send (``/<stage>/
transfers/...``); the service should accept the path with or without that first segment.

Two behaviours of VPC links v2 to plan for (API Gateway developer guide, "Set up VPC links
V2"): a link is available only in some Availability Zones of a region, named by zone ID
(us-east-1 has use1-az1, az2, az4, az5 and az6), so check the IDs behind your subnets'
zone names; and a link without traffic for 60 days becomes ``INACTIVE`` (its network
interfaces are removed, and the first requests after that fail for the few minutes it
takes to recreate them).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import notify
from cdk_microservices._rest_api import RestApiConstruct, check_web_acl_arn, require_user_pool
from cdk_microservices._validation import checked_arguments, fail, require_duration, require_pattern
from cdk_microservices.container_service import ContainerService

DEFAULT_IDENTITY_HEADER = "X-Caller-Sub"
_PATH_PREFIX = r"(/[A-Za-z0-9._-]+)+"
_HEADER = r"[A-Za-z0-9][A-Za-z0-9-]{0,63}"
_CLAIM = r"[A-Za-z0-9_:.-]{1,64}"
_RESERVED_HEADERS = frozenset(
    {"authorization", "host", "content-length", "content-type", "connection", "x-forwarded-for"}
)


class ContainerApi(RestApiConstruct):
    """An authenticated REST API in front of a ``ContainerService``'s internal load balancer.

    Defaults (each can be changed by its argument):

    - every method requires a Cognito ID token of ``user_pool``; there are no anonymous
      methods (a health check stays inside the VPC);
    - the verified token's ``identity_claim`` (``"sub"``) reaches the service as the
      ``identity_header`` (``"X-Caller-Sub"``);
    - the API named ``api_name`` (default the service's name), stage ``v1``, regional
      endpoint, throttling 50 requests/s with bursts of 100, integration timeout 29 s
      (``integration_timeout``, API Gateway's default maximum);
    - X-Ray tracing, JSON access logs and ``INFO`` execution logs, kept ``log_retention``
      (one month) and removed with ``removal_policy`` (``RETAIN``);
    - the VPC link in the service's private subnets (``vpc_link_subnets``);
    - alarms, sent (ALARM and OK) to ``alarm_topic`` if given; ``alarms=False`` turns them
      off. Thresholds by name in ``alarm_thresholds`` (defaults in ``ALARM_THRESHOLDS``):
      ``"ServerErrors"``, API 5XX answers in 5 minutes (count, default 1); ``"Latency"``,
      API p99 latency above it for 3 of 5 minutes (seconds, default 3, at most 29;
      ``latency_alarm_threshold``, a Duration, sets the same threshold, and giving both is
      rejected). The service's own alarms stay on the ``ContainerService``;
    - a WAF web ACL (REGIONAL) is associated with the stage when ``web_acl_arn`` is given.

    The load balancer must speak HTTP: API Gateway would check an HTTPS listener's
    certificate against the load balancer's DNS name, which no certificate carries. The
    hop from the VPC link to the load balancer stays inside the VPC.

    Escape hatch: ``rest_api_props`` overrides keyword arguments of ``aws_apigateway.RestApi``.
    """

    CONSTRUCT = "ContainerApi"

    @checked_arguments("ContainerApi")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service: ContainerService[ecs.ICluster, elbv2.IApplicationLoadBalancer],
        user_pool: cognito.IUserPool,
        path_prefixes: Sequence[str],
        api_name: str | None = None,
        stage_name: str = "v1",
        identity_header: str = DEFAULT_IDENTITY_HEADER,
        identity_claim: str = "sub",
        integration_timeout: Duration | None = None,
        vpc_link_subnets: ec2.SubnetSelection | None = None,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        execution_logging_level: Literal["INFO", "ERROR"] = "INFO",
        tracing: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        cloud_watch_role: bool = False,
        web_acl_arn: str | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        rest_api_props: Mapping[str, object] | None = None,
    ) -> None:
        check_web_acl_arn("ContainerApi", web_acl_arn)
        super().__init__(scope, id)
        name = self.CONSTRUCT
        self._validate_service(service)
        require_user_pool(name, user_pool)
        prefixes = self._validate_prefixes(path_prefixes)
        require_pattern(
            name,
            "identity_header",
            identity_header,
            _HEADER,
            "an HTTP header name of 1-64 letters, digits and '-'",
        )
        if identity_header.lower() in _RESERVED_HEADERS:
            raise fail(
                name,
                "identity_header",
                f"is {identity_header!r}, a header API Gateway or HTTP itself uses; choose a "
                f"name of your own such as {DEFAULT_IDENTITY_HEADER!r}",
            )
        require_pattern(
            name, "identity_claim", identity_claim, _CLAIM, "a token claim name such as 'sub'"
        )
        if integration_timeout is not None:
            require_duration(
                name, "integration_timeout", integration_timeout, min_seconds=0.05, max_seconds=29
            )
        thresholds = self._validate_api_arguments(
            stage_name=stage_name,
            api_name=api_name,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            execution_logging_level=execution_logging_level,
            alarms=alarms,
            alarm_topic=alarm_topic,
            latency_alarm_threshold=latency_alarm_threshold,
            alarm_thresholds=alarm_thresholds,
        )

        self.service = service
        self.path_prefixes: tuple[str, ...] = prefixes
        self.identity_header = identity_header
        vpc = service.cluster.vpc
        self.vpc_link_security_group = ec2.SecurityGroup(
            self,
            "VpcLinkSecurityGroup",
            vpc=vpc,
            description=f"{service.service_name} API VPC link: to the load balancer only",
            allow_all_outbound=False,
        )
        service.load_balancer.connections.allow_from(
            self.vpc_link_security_group,
            ec2.Port.tcp(service.listener_port),
            f"{service.service_name} API Gateway VPC link",
        )
        self.vpc_link = apigwv2.VpcLink(
            self,
            "VpcLink",
            vpc=vpc,
            subnets=vpc_link_subnets
            or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.vpc_link_security_group],
        )

        self._build_rest_api(
            service_name=service.service_name,
            api_name=api_name,
            stage_name=stage_name,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            execution_logging_level=execution_logging_level,
            tracing=tracing,
            log_retention=log_retention,
            removal_policy=removal_policy,
            cloud_watch_role=cloud_watch_role,
            rest_api_props=rest_api_props,
        )
        self.authorizer = self._cognito_authorizer(user_pool)
        self.request_validator = self.rest_api.add_request_validator(
            "RequestValidator",
            request_validator_name=f"{service.service_name}-parameters",
            # No method has a body model (the service validates bodies); parameters: the
            # proxy path.
            validate_request_body=True,
            validate_request_parameters=True,
        )
        self.methods: list[apigw.Method] = []
        timeout = integration_timeout or Duration.seconds(29)
        for prefix in prefixes:
            resource = self.rest_api.root.resource_for_path(prefix)
            self._add_proxy_method(resource, prefix, identity_claim, timeout)
            self._add_proxy_method(
                resource.add_resource("{proxy+}"), f"{prefix}/{{proxy}}", identity_claim, timeout
            )
        self._associate_web_acl(web_acl_arn)

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self.alarms = self._api_alarms(thresholds)
            notify(self.alarms, alarm_topic)

    # -- construction -------------------------------------------------------------------

    def _validate_service(self, service: object) -> None:
        name = self.CONSTRUCT
        if not isinstance(service, ContainerService):
            raise fail(
                name, "service", f"must be a cdk_microservices.ContainerService, got {service!r}"
            )
        if service.public:
            raise fail(
                name,
                "service",
                "has a public load balancer (public=True): callers could reach the service "
                "without this API and send any identity header; create it with public=False "
                "and load_balancer_access='explicit'",
            )
        if service.load_balancer_access != "explicit":
            raise fail(
                name,
                "service",
                "has load_balancer_access='vpc': anything in the VPC could reach the load "
                "balancer and send a forged identity header; create it with "
                "load_balancer_access='explicit' (this API then admits only its VPC link)",
            )
        if service.listener_protocol != "HTTP":
            raise fail(
                name,
                "service",
                "listens with HTTPS; API Gateway would check the listener's certificate "
                "against the load balancer's DNS name, which no certificate carries: give "
                "the internal service an HTTP listener (the hop stays inside the VPC)",
            )

    def _validate_prefixes(self, path_prefixes: Sequence[str]) -> tuple[str, ...]:
        name = self.CONSTRUCT
        if isinstance(path_prefixes, str) or not path_prefixes:
            raise fail(
                name,
                "path_prefixes",
                "must be a non-empty list of paths such as ['/transfers'], one per resource "
                "the service serves",
            )
        for prefix in path_prefixes:
            require_pattern(
                name,
                "path_prefixes",
                prefix,
                _PATH_PREFIX,
                "paths such as '/transfers': '/' and segments of letters, digits, '.', '_', '-'",
            )
        ordered = sorted(path_prefixes)
        for first, second in itertools.pairwise(ordered):
            if second == first or second.startswith(first + "/"):
                raise fail(
                    name,
                    "path_prefixes",
                    f"has {first!r} and {second!r}; the first already forwards everything "
                    "below it, so give each path once",
                )
        return tuple(path_prefixes)

    def _add_proxy_method(
        self, resource: apigw.IResource, path: str, identity_claim: str, timeout: Duration
    ) -> None:
        service = self.service
        request_parameters = {
            f"integration.request.header.{self.identity_header}": (
                f"context.authorizer.claims.{identity_claim}"
            )
        }
        method_parameters: dict[str, bool] = {}
        for parameter in re.findall(r"\{([A-Za-z0-9_]+)\}", path):
            request_parameters[f"integration.request.path.{parameter}"] = (
                f"method.request.path.{parameter}"
            )
            method_parameters[f"method.request.path.{parameter}"] = True
        integration = apigw.Integration(
            type=apigw.IntegrationType.HTTP_PROXY,
            integration_http_method="ANY",
            uri=f"http://{service.load_balancer.load_balancer_dns_name}:"
            f"{service.listener_port}{path}",
            options=apigw.IntegrationOptions(
                request_parameters=request_parameters, timeout=timeout
            ),
        )
        method = resource.add_method(
            "ANY",
            integration,
            authorization_type=apigw.AuthorizationType.COGNITO,
            authorizer=self.authorizer,
            request_validator=self.request_validator,
            request_parameters=method_parameters or None,
        )
        cfn_method = method.node.default_child
        assert isinstance(cfn_method, apigw.CfnMethod)
        # The L2 integration only knows VPC links v1 (to NLBs); a v2 link reaches the ALB.
        cfn_method.add_property_override("Integration.ConnectionType", "VPC_LINK")
        cfn_method.add_property_override("Integration.ConnectionId", self.vpc_link.vpc_link_id)
        cfn_method.add_property_override(
            "Integration.IntegrationTarget", service.load_balancer.load_balancer_arn
        )
        self.methods.append(method)
