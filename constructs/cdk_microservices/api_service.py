"""ApiService: a REST API on API Gateway with one Lambda function per route.

Creates:

- ``rest_api``: a regional ``aws_apigateway.RestApi`` with one stage (``stage_name``), X-Ray
  tracing, execution logs (``INFO``, request/response bodies never logged), detailed
  metrics, stage-wide throttling and JSON access logs in ``access_log_group``;
- ``execution_log_group``: the ``API-Gateway-Execution-Logs_<api id>/<stage>`` log group,
  created here so it gets a retention instead of living forever;
- ``request_validator``: validates bodies against each route's JSON schema model and
  requires each route's path parameters;
- ``authorizer``: a Cognito user pool authorizer, when any route uses ``"cognito"``;
- one ``ServiceFunction`` per route in ``functions`` (key ``"METHOD /path"``): the Lambda,
  its own log group and its own role, which starts with no data access at all;
- ``alarms``: API 5XX errors, API p99 latency, and errors of each function;
- per route, the function's ``live`` alias (what API Gateway invokes: ``alias_for``) and a
  CodeDeploy deployment group that moves it to each new version as ``deployment`` says,
  rolling back on the route's errors alarm (``deployment_group_for``).

Grant data access per route from the stack that owns the data, e.g.
``table.grant_read_data(api.function_for("GET /accounts/{id}"))``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices._alarms import describe, function_errors_alarm, notify
from cdk_microservices._rest_api import RestApiConstruct, check_web_acl_arn, require_user_pool
from cdk_microservices._service_function import (
    DEFAULT_POWERTOOLS_LAYER_VERSION,
    DEFAULT_RUNTIME,
    FunctionSettings,
    LiveDeployment,
    ServiceFunction,
    asset_code,
    checked_layers,
    deploy_through_alias,
    gate_deployments,
)
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    format_number,
    require_choice,
    require_duration,
    require_environment,
    require_handler,
    require_pattern,
    require_range,
    require_service_name,
)
from cdk_microservices.compliance import acknowledge, nag_finding
from cdk_microservices.deployment import Deployment, require_deployment

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
RouteAuthorization = Literal["cognito", "iam"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_AUTHORIZATIONS = ("cognito", "iam")
_PATH = r"(/([A-Za-z0-9._-]+|\{[A-Za-z][A-Za-z0-9_]*\}))+"


@dataclass(frozen=True, kw_only=True)
class ApiRoute:
    """One route of an ApiService, served by its own Lambda function.

    ``handler`` is ``module.function`` inside the service's code asset. ``request_schema``
    is a JSON Schema (draft 4, as API Gateway uses) for the JSON body; API Gateway rejects a
    body that does not match it with 400 before the function runs. Every ``{param}`` in
    ``path`` becomes a required request parameter.
    """

    method: HttpMethod
    path: str
    handler: str
    authorization: RouteAuthorization = "cognito"
    authorization_scopes: Sequence[str] = ()
    request_schema: Mapping[str, object] | None = None
    memory_size: int = 256
    timeout: Duration = field(default_factory=lambda: Duration.seconds(10))
    environment: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def key(self) -> str:
        """``"METHOD /path"``, the route's name in ``ApiService.functions``."""
        return f"{self.method} {self.path}"

    @property
    def path_parameters(self) -> list[str]:
        """Names of the ``{param}`` segments in ``path``."""
        return re.findall(r"\{([A-Za-z][A-Za-z0-9_]*)\}", self.path)


def load_json_schema(path: str | Path) -> dict[str, object]:
    """Read a JSON Schema file, for ``ApiRoute.request_schema`` (and for the handler)."""
    with Path(path).open(encoding="utf-8") as handle:
        loaded = json.load(handle)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: a JSON Schema must be a JSON object, got {type(loaded)}")
    return loaded


class ApiService(RestApiConstruct):
    """A REST API on API Gateway whose routes are Lambda functions.

    Defaults (each can be changed by its argument):

    - every route needs authorization: ``"cognito"`` (a user pool authorizer; pass
      ``user_pool``) or ``"iam"`` (SigV4); there are no anonymous routes;
    - request validation: bodies against ``ApiRoute.request_schema``, path parameters
      required;
    - the API named ``api_name`` (default ``service_name``; API Gateway's metrics are keyed
      by name and stage, so give the same API in two environments of one account two
      names), stage ``v1``, regional endpoint, throttling 50 requests/s with bursts of 100
      (``throttling_rate_limit`` / ``throttling_burst_limit``);
    - X-Ray tracing on the stage and on every function (``tracing``);
    - JSON access logs and ``INFO`` execution logs (``execution_logging_level``) without
      request or response bodies, all log groups kept ``log_retention`` (default one
      month) and removed with ``removal_policy`` (default ``RETAIN``); execution logs
      need the account's API Gateway CloudWatch role: pass ``cloud_watch_role=True`` in
      exactly one API per account and region, or create it once elsewhere;
    - functions: newest Python runtime (``runtime``), arm64, 256 MB, 10 s
      (per route), Powertools v3 from its public layer (``powertools_layer_version``,
      default 27, which ships Powertools 3.23.0; ``None`` to leave it out and ship your
      own pinned Powertools in ``layers``) followed by your ``layers`` (shared code, data files),
      ``POWERTOOLS_SERVICE_NAME`` set to ``service_name``;
    - alarms, sent (ALARM and OK) to ``alarm_topic`` if given; ``alarms=False`` turns them
      off. Thresholds by name in ``alarm_thresholds`` (defaults in ``ALARM_THRESHOLDS``):
      ``"ServerErrors"``, API 5XX answers in 5 minutes (count, default 1);
      ``"Latency"``, API p99 latency above it for 3 of 5 minutes (seconds, default 3, at
      most 29; ``latency_alarm_threshold``, a Duration, sets the same threshold, and
      giving both is rejected); ``"FunctionErrors"``, errors of one route's function in 5
      minutes (count, default 1; one alarm per function);
    - a WAF web ACL is associated with the stage when ``web_acl_arn`` is given;
    - deployments (``deployment``, default ``Deployment.all_at_once()``): API Gateway invokes
      each route's alias ``live``, never ``$LATEST``; a CodeDeploy deployment group per
      route moves the alias to the new version (all at once, or canary / linear) and moves
      it back if the deployment fails or is stopped, or if an alarm that gates it goes to
      ALARM: the route's own errors alarm, the API's 5XX and latency alarms, and
      ``Deployment.alarms`` (another route's errors do not roll this route back). The API
      alarms' metrics name the API and the stage by their names as written, so they refer
      to nothing in the API (the stage depends on the methods, which invoke the alias,
      whose deployment group names its alarms: a reference would be a cycle); an API or
      stage name given as a token in ``rest_api_props`` keeps the stage's own metrics, and
      then the API alarms do not gate. The alarms treat missing data as not breaching, so a
      quiet canary is not rolled back for lack of traffic. A canary or linear deployment
      needs alarms (``alarms=False`` without ``Deployment.alarms`` is refused).

    Escape hatches: ``rest_api_props`` overrides keyword arguments of
    ``aws_apigateway.RestApi``, ``function_props`` those of every ``aws_lambda.Function``
    (an ``environment`` there is added to the functions' variables, its keys winning).
    """

    CONSTRUCT = "ApiService"
    ALARM_THRESHOLDS: Mapping[str, float] = {
        **RestApiConstruct.ALARM_THRESHOLDS,
        "FunctionErrors": 1,
    }
    """Each alarm's name and default threshold (see the class docstring for units)."""

    @checked_arguments("ApiService")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        code: str | Path | lambda_.Code,
        routes: Sequence[ApiRoute],
        user_pool: cognito.IUserPool | None = None,
        api_name: str | None = None,
        stage_name: str = "v1",
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        execution_logging_level: Literal["INFO", "ERROR"] = "INFO",
        tracing: bool = True,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        cloud_watch_role: bool = False,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        powertools_layer_version: int | None = DEFAULT_POWERTOOLS_LAYER_VERSION,
        layers: Sequence[lambda_.ILayerVersion] = (),
        environment: Mapping[str, str] | None = None,
        web_acl_arn: str | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        latency_alarm_threshold: Duration | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        deployment: Deployment | None = None,
        rest_api_props: Mapping[str, object] | None = None,
        function_props: Mapping[str, object] | None = None,
    ) -> None:
        check_web_acl_arn("ApiService", web_acl_arn)
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, service_name)
        self.deployment = require_deployment(name, deployment)
        self._validate_routes(routes, user_pool)
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

        self.routes: tuple[ApiRoute, ...] = tuple(routes)
        self._build_rest_api(
            service_name=service_name,
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

        self.request_validator = self.rest_api.add_request_validator(
            "RequestValidator",
            request_validator_name=f"{service_name}-body-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
        )
        self.authorizer: apigw.CognitoUserPoolsAuthorizer | None = None
        # Only when a route uses it: API Gateway refuses an authorizer no method refers to.
        if user_pool is not None and any(route.authorization == "cognito" for route in routes):
            self.authorizer = self._cognito_authorizer(user_pool)

        require_environment(self.CONSTRUCT, "environment", environment)
        settings = FunctionSettings(
            service_name=service_name,
            code=asset_code(name, code),
            runtime=runtime,
            architecture=architecture,
            log_retention=log_retention,
            removal_policy=removal_policy,
            tracing=tracing,
            powertools_layer_version=powertools_layer_version,
            environment=dict(environment or {}),
            function_props=function_props,
            layers=checked_layers(name, layers),
        )
        self.functions: dict[str, lambda_.Function] = {}
        self._invoke_grants = 0
        self.service_functions: dict[str, ServiceFunction] = {}
        self.aliases: dict[str, lambda_.Alias] = {}
        self.deployment_groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}
        self._live: dict[ServiceFunction, LiveDeployment] = {}
        for route in self.routes:
            self._add_route(route, settings)

        self._associate_web_acl(web_acl_arn)

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self._add_alarms(alarm_topic, thresholds)
        # On the API's alarms too, unless their metrics refer to the stage (a cycle).
        gate_deployments(
            name,
            self._live,
            self.alarms,
            self.deployment,
            shared_alarms_gate=self.alarms_stand_apart,
        )

    # -- construction -------------------------------------------------------------------

    def _validate_routes(
        self, routes: Sequence[ApiRoute], user_pool: cognito.IUserPool | None
    ) -> None:
        name = self.CONSTRUCT
        if not routes:
            raise fail(name, "routes", "is empty; an ApiService needs at least one ApiRoute")
        seen: set[str] = set()
        construct_ids: dict[str, str] = {}
        for index, route in enumerate(routes):
            where = f"routes[{index}]"
            if not isinstance(route, ApiRoute):
                raise fail(name, where, f"must be an ApiRoute, got {type(route).__name__}")
            require_choice(name, f"{where}.method", route.method, _METHODS)
            require_pattern(
                name,
                f"{where}.path",
                route.path,
                _PATH,
                "a path like '/accounts/{id}': segments of [A-Za-z0-9._-] or {param}",
            )
            require_handler(name, f"{where}.handler", route.handler)
            scopes = route.authorization_scopes
            if not isinstance(scopes, list | tuple) or not all(
                isinstance(scope, str) for scope in scopes
            ):
                raise fail(
                    name,
                    f"{where}.authorization_scopes",
                    f"must be a list of strings, got {scopes!r}",
                )
            if not isinstance(route.description, str):
                raise fail(
                    name,
                    f"{where}.description",
                    f"must be a string, got {type(route.description).__name__}",
                )
            require_choice(name, f"{where}.authorization", route.authorization, _AUTHORIZATIONS)
            require_range(
                name, f"{where}.memory_size", route.memory_size, minimum=128, maximum=10240
            )
            # Lambda takes its timeout in whole seconds.
            require_duration(
                name,
                f"{where}.timeout",
                route.timeout,
                min_seconds=1,
                max_seconds=29,
                whole_seconds=True,
            )
            if route.authorization_scopes and route.authorization != "cognito":
                raise fail(
                    name,
                    f"{where}.authorization_scopes",
                    "is only used with authorization='cognito'",
                )
            if route.request_schema is not None:
                if route.method in ("GET", "DELETE"):
                    raise fail(
                        name,
                        f"{where}.request_schema",
                        f"was given for a {route.method} route, which has no body",
                    )
                if route.request_schema.get("type") != "object":
                    raise fail(
                        name,
                        f"{where}.request_schema",
                        'must be a JSON Schema with "type": "object"',
                    )
            if len(set(route.path_parameters)) != len(route.path_parameters):
                raise fail(name, f"{where}.path", f"repeats a path parameter: {route.path!r}")
            if route.key in seen:
                raise fail(name, where, f"repeats the route {route.key!r}")
            seen.add(route.key)
            construct_id = _route_construct_id(route)
            if construct_id in construct_ids:
                raise fail(
                    name,
                    where,
                    f"{route.key!r} would share the construct id {construct_id!r} with route "
                    f"{construct_ids[construct_id]!r}; rename one of the paths",
                )
            construct_ids[construct_id] = route.key
            if route.authorization == "cognito" and user_pool is None:
                raise fail(
                    name,
                    "user_pool",
                    f"is missing; route {route.key!r} uses authorization='cognito'",
                )
            require_environment(name, f"{where}.environment", route.environment)
        if user_pool is not None:
            require_user_pool(name, user_pool)
        _reject_sibling_parameters(name, [route.path for route in routes])

    def _add_route(self, route: ApiRoute, settings: FunctionSettings) -> None:
        construct_id = _route_construct_id(route)
        service_function = ServiceFunction(
            self,
            construct_id,
            settings=settings,
            handler=route.handler,
            memory_size=route.memory_size,
            timeout=route.timeout,
            description=route.description or f"{self.service_name}: {route.key}",
            environment=route.environment,
            construct_name=self.CONSTRUCT,
        )
        function = service_function.function
        live = deploy_through_alias(service_function, self.deployment)
        self._live[service_function] = live
        acknowledge(
            function,
            "Serverless::Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: the caller receives every failure as an "
            "HTTP error, and a dead-letter queue only receives failed asynchronous invocations.",
        )
        resource = self.rest_api.root.resource_for_path(route.path)
        request_models: dict[str, apigw.IModel] | None = None
        if route.request_schema is not None:
            model = self.rest_api.add_model(
                f"{construct_id}Model",
                content_type="application/json",
                schema=apigw.JsonSchema(),
            )
            model_resource = model.node.default_child
            assert isinstance(model_resource, apigw.CfnModel)
            # Passed through as written: API Gateway understands JSON Schema draft 4 itself.
            model_resource.add_property_override("Schema", dict(route.request_schema))
            request_models = {"application/json": model}
        if route.authorization == "cognito":
            authorization: dict[str, object] = {
                "authorization_type": apigw.AuthorizationType.COGNITO,
                "authorizer": self.authorizer,
            }
            if route.authorization_scopes:
                authorization["authorization_scopes"] = list(route.authorization_scopes)
        else:
            authorization = {"authorization_type": apigw.AuthorizationType.IAM}
        method = resource.add_method(
            route.method,
            # The alias, never $LATEST: CodeDeploy decides which version serves.
            apigw.LambdaIntegration(live.alias, allow_test_invoke=False),
            request_validator=self.request_validator,
            request_models=request_models,
            request_parameters={
                f"method.request.path.{parameter}": True for parameter in route.path_parameters
            }
            or None,
            **authorization,  # type: ignore[arg-type]
        )
        if route.authorization == "iam":
            acknowledge(
                method,
                "AwsSolutions::AwsSolutions-COG4",
                "This route is IAM-authorized by choice (authorization='iam'): its callers are "
                "AWS principals signing with SigV4, not Cognito users; anonymous calls are "
                "refused all the same.",
            )
        self.functions[route.key] = function
        self.service_functions[route.key] = service_function
        self.aliases[route.key] = live.alias
        self.deployment_groups[route.key] = live.deployment_group

    def _add_alarms(self, alarm_topic: sns.ITopic | None, thresholds: Mapping[str, float]) -> None:
        alarms = self._api_alarms(thresholds)
        errors = thresholds["FunctionErrors"]
        for key, service_function in self.service_functions.items():
            alarms.append(
                function_errors_alarm(
                    service_function,
                    "ErrorsAlarm",
                    function=service_function.function,
                    threshold=errors,
                    description=describe(
                        self.service_name,
                        f"the function of {key} failed {format_number(errors)} time(s) or more "
                        "in 5 minutes (its callers got 5XX)",
                        "read the function's log group for the error and its request id",
                    ),
                )
            )
        notify(alarms, alarm_topic)
        self.alarms = alarms

    # -- public API ---------------------------------------------------------------------

    def function_for(self, route_key: str) -> lambda_.Function:
        """The function serving ``"METHOD /path"``; raises KeyError listing the routes."""
        try:
            return self.functions[route_key]
        except KeyError:
            raise KeyError(
                f"ApiService {self.service_name!r} has no route {route_key!r}; routes are "
                + ", ".join(sorted(self.functions))
            ) from None

    def alias_for(self, route_key: str) -> lambda_.Alias:
        """The ``live`` alias API Gateway invokes for ``"METHOD /path"``."""
        self.function_for(route_key)  # the KeyError listing the routes
        return self.aliases[route_key]

    def deployment_group_for(self, route_key: str) -> codedeploy.LambdaDeploymentGroup:
        """The CodeDeploy group that moves ``"METHOD /path"``'s ``live`` alias."""
        self.function_for(route_key)
        return self.deployment_groups[route_key]

    def add_environment(self, key: str, value: str) -> None:
        """Set an environment variable on every route's function."""
        for function in self.functions.values():
            function.add_environment(key, value)

    def grant_invoke_iam_routes(self, grantee: iam.IGrantable) -> iam.Policy:
        """Allow ``grantee`` (a role, user or group) to call the routes that use
        ``authorization="iam"``; returns the policy, which lives in this construct.

        Each path parameter becomes ``*`` in the resource ARN (the caller may name any id),
        which cdk-nag reports as AwsSolutions-IAM5: the policy is this construct's own, so
        that finding is acknowledged here, for exactly those ARNs, not on the grantee.
        """
        routes = [route for route in self.routes if route.authorization == "iam"]
        if not routes:
            raise fail(
                self.CONSTRUCT, "routes", "has no route with authorization='iam' to grant invoke on"
            )
        principal = getattr(grantee, "grant_principal", None)
        is_role, is_user, is_group = (
            hasattr(principal, marker) for marker in ("role_name", "user_name", "group_name")
        )
        if not (is_role or is_user or is_group):
            raise fail(
                self.CONSTRUCT,
                "grantee",
                f"is {type(principal).__name__}; an identity policy can only be attached to an "
                "IAM role, user or group",
            )
        arns = [
            self.rest_api.arn_for_execute_api(
                route.method,
                re.sub(r"\{[^}]+\}", "*", route.path),
                self.rest_api.deployment_stage.stage_name,
            )
            for route in routes
        ]
        self._invoke_grants += 1
        policy = iam.Policy(
            self,
            f"InvokeIamRoutes{self._invoke_grants}",
            statements=[iam.PolicyStatement(actions=["execute-api:Invoke"], resources=arns)],
            roles=[principal] if is_role else None,  # type: ignore[list-item]
            users=[principal] if is_user else None,  # type: ignore[list-item]
            groups=[principal] if is_group else None,  # type: ignore[list-item]
        )
        for arn, route in zip(arns, routes, strict=True):
            if route.path_parameters:
                acknowledge(
                    policy,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_finding(self, arn)}]",
                    f"Route {route.key} has path parameters: the caller may call it for any "
                    "value of them, so they are '*' in the ARN; method, path and stage are "
                    "named exactly.",
                )
        return policy


def _reject_sibling_parameters(construct: str, paths: Sequence[str]) -> None:
    """API Gateway refuses two path parameters of different names at one level of a path
    (``/orders/{id}`` beside ``/orders/{order_id}``): it fails the deploy, so fail here."""
    parameters_at: dict[tuple[str, ...], dict[str, str]] = {}
    for path in paths:
        segments = [segment for segment in path.split("/") if segment]
        for depth, segment in enumerate(segments):
            if segment.startswith("{"):
                parent = tuple(segments[:depth])
                seen = parameters_at.setdefault(parent, {})
                seen.setdefault(segment, path)
                if len(seen) > 1:
                    first, second = sorted(seen)[:2]
                    raise fail(
                        construct,
                        "routes",
                        f"put {first} ({seen[first]!r}) and {second} ({seen[second]!r}) at the "
                        f"same level under '/{'/'.join(parent)}'; API Gateway allows one path "
                        "parameter name per level: use the same name in both routes",
                    )


def _route_construct_id(route: ApiRoute) -> str:
    """``GET /accounts/{id}`` -> ``GetAccountsId``: a stable, readable construct id."""
    words = re.findall(r"[A-Za-z0-9]+", route.path)
    return route.method.capitalize() + "".join(word[:1].upper() + word[1:] for word in words)
