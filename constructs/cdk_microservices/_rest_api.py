"""What every REST API pattern of the library shares: the API and its stage, its logs, the
WAF association, the API-level alarms and metrics.

``ApiService`` (Lambda routes) and ``ContainerApi`` (a container service behind a VPC link)
both build their API here, so the stage, log and throttling defaults and the rules they
are validated against are the same for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from aws_cdk import Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_microservices._alarms import describe, resolve_thresholds, seconds_of
from cdk_microservices._validation import (
    fail,
    format_number,
    merge_props,
    reject_conflicts,
    require_choice,
    require_duration,
    require_pattern,
    require_range,
)

STAGE_NAME = r"[A-Za-z0-9_]{1,128}"
API_GATEWAY_MAX_TIMEOUT_SECONDS = 29
"""API Gateway's default integration timeout: a latency alarm above it could never fire."""
_STAGE_NAME_RULE = "1-128 of [A-Za-z0-9_]"


def require_user_pool(construct: str, user_pool: object) -> None:
    """``user_pool`` must be an ``IUserPool`` (a jsii error would not name the argument)."""
    if not hasattr(user_pool, "user_pool_arn"):
        raise fail(
            construct,
            "user_pool",
            "must be an aws_cognito.IUserPool (e.g. UserPool.from_user_pool_id(...)), got "
            f"{type(user_pool).__name__}",
        )


class RestApiConstruct(Construct):
    """Base of the REST API patterns: call ``_validate_api_arguments`` first, then
    ``_build_rest_api``, then ``_api_alarms``."""

    CONSTRUCT = "RestApi"
    ALARM_THRESHOLDS: Mapping[str, float] = {"ServerErrors": 1, "Latency": 3}
    """The API's alarm names and default thresholds: ``"ServerErrors"``, 5XX answers in 5
    minutes (count); ``"Latency"``, p99 latency (seconds, at most 29)."""
    service_name: str
    rest_api: apigw.RestApi
    access_log_group: logs.LogGroup
    execution_log_group: logs.LogGroup

    def _validate_api_arguments(
        self,
        *,
        stage_name: str,
        api_name: str | None,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        execution_logging_level: str,
        alarms: bool,
        alarm_topic: sns.ITopic | None,
        latency_alarm_threshold: Duration | None,
        alarm_thresholds: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Check the API's arguments; return the alarm thresholds by name."""
        name = self.CONSTRUCT
        require_pattern(name, "stage_name", stage_name, STAGE_NAME, _STAGE_NAME_RULE)
        if api_name is not None:
            require_pattern(
                name, "api_name", api_name, r"[ -~]{1,128}", "1-128 printable ASCII characters"
            )
        require_range(
            name, "throttling_rate_limit", throttling_rate_limit, minimum=1, maximum=10000
        )
        require_range(
            name, "throttling_burst_limit", throttling_burst_limit, minimum=1, maximum=5000
        )
        if throttling_burst_limit < throttling_rate_limit:
            raise fail(
                name,
                "throttling_burst_limit",
                f"is {throttling_burst_limit}, below throttling_rate_limit "
                f"({throttling_rate_limit}); a burst must allow at least one second of traffic",
            )
        require_choice(name, "execution_logging_level", execution_logging_level, ("INFO", "ERROR"))
        if latency_alarm_threshold is not None:
            require_duration(
                name,
                "latency_alarm_threshold",
                latency_alarm_threshold,
                min_seconds=0,
                exclusive_minimum=True,
                max_seconds=API_GATEWAY_MAX_TIMEOUT_SECONDS,
            )
        if not alarms:
            reject_conflicts(
                name,
                "alarms",
                {
                    "alarm_topic": alarm_topic,
                    "latency_alarm_threshold": latency_alarm_threshold,
                    "alarm_thresholds": alarm_thresholds,
                },
            )
        return resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            old_arguments={
                "Latency": ("latency_alarm_threshold", seconds_of(latency_alarm_threshold))
            },
            maximums={"Latency": API_GATEWAY_MAX_TIMEOUT_SECONDS},
        )

    def _build_rest_api(
        self,
        *,
        service_name: str,
        api_name: str | None,
        stage_name: str,
        throttling_rate_limit: float,
        throttling_burst_limit: int,
        execution_logging_level: Literal["INFO", "ERROR"],
        tracing: bool,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        cloud_watch_role: bool,
        rest_api_props: Mapping[str, object] | None,
    ) -> None:
        """The API, its stage and both of its log groups."""
        self.service_name = service_name
        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        method_logging = (
            apigw.MethodLoggingLevel.INFO
            if execution_logging_level == "INFO"
            else apigw.MethodLoggingLevel.ERROR
        )
        api_defaults: dict[str, object] = {
            "rest_api_name": api_name or service_name,
            "description": f"{service_name} API ({self.node.path})",
            "endpoint_types": [apigw.EndpointType.REGIONAL],
            "cloud_watch_role": cloud_watch_role,
            "deploy_options": apigw.StageOptions(
                stage_name=stage_name,
                tracing_enabled=tracing,
                logging_level=method_logging,
                data_trace_enabled=False,
                metrics_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        }
        if cloud_watch_role:
            api_defaults["cloud_watch_role_removal_policy"] = removal_policy
        props = merge_props(
            self.CONSTRUCT,
            "rest_api_props",
            apigw.RestApi,
            api_defaults,
            rest_api_props,
            scope=self,
        )
        self._validate_stage_overrides(props)
        self.rest_api = apigw.RestApi(self, "Api", **props)  # type: ignore[arg-type]
        # The API's metrics named by the API's and the stage's names as written, not by the
        # stage resource: an alarm on them then depends on nothing in the API, so a
        # deployment group may gate on it (the stage depends on the methods, which invoke
        # the functions' aliases, whose groups name their alarms). A name that is a token
        # (given through rest_api_props) falls back to the stage's own metrics.
        api_name_value = props.get("rest_api_name")
        stage_name_value = _stage_name(props)
        self._metric_dimensions: dict[str, str] | None = (
            {"ApiName": api_name_value, "Stage": stage_name_value}
            if isinstance(api_name_value, str)
            and not Token.is_unresolved(api_name_value)
            and not Token.is_unresolved(stage_name_value)
            else None
        )

        self.execution_log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=Fn.join(
                "",
                [
                    "API-Gateway-Execution-Logs_",
                    self.rest_api.rest_api_id,
                    f"/{_stage_name(props)}",
                ],
            ),
            retention=log_retention,
            removal_policy=removal_policy,
        )
        # API Gateway creates this group on first use; create it first so ours is the one.
        self.rest_api.deployment_stage.node.add_dependency(self.execution_log_group)

    def _cognito_authorizer(self, user_pool: cognito.IUserPool) -> apigw.CognitoUserPoolsAuthorizer:
        """A user pool authorizer: it accepts the ID token of any app client of the pool."""
        return apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])

    def _associate_web_acl(self, web_acl_arn: str | None) -> None:
        if web_acl_arn is not None:
            wafv2.CfnWebACLAssociation(
                self,
                "WebAcl",
                resource_arn=self.rest_api.deployment_stage.stage_arn,
                web_acl_arn=web_acl_arn,
            )

    def _validate_stage_overrides(self, props: Mapping[str, object]) -> None:
        """Hold ``rest_api_props``' stage options to the rules the arguments are held to."""
        name = self.CONSTRUCT
        options = props.get("deploy_options")
        if not isinstance(options, apigw.StageOptions):
            raise fail(
                name,
                "rest_api_props",
                "sets deploy_options to something other than an aws_apigateway.StageOptions; "
                "the stage's logs, tracing and throttling come from it",
            )
        require_pattern(
            name,
            "rest_api_props",
            options.stage_name or "",
            STAGE_NAME,
            f"a deploy_options.stage_name of {_STAGE_NAME_RULE}",
        )
        if options.throttling_rate_limit is not None:
            require_range(
                name, "rest_api_props", options.throttling_rate_limit, minimum=1, maximum=10000
            )
        if options.throttling_burst_limit is not None:
            require_range(
                name, "rest_api_props", options.throttling_burst_limit, minimum=1, maximum=5000
            )

    def _api_alarms(self, thresholds: Mapping[str, float]) -> list[cloudwatch.Alarm]:
        """API 5XX answers and p99 latency (the caller adds its own and notifies)."""
        latency = thresholds["Latency"]
        errors = thresholds["ServerErrors"]
        return [
            self.metric_server_errors().create_alarm(
                self,
                "ServerErrorsAlarm",
                alarm_description=describe(
                    self.service_name,
                    f"the API answered 5XX {format_number(errors)} time(s) or more in 5 minutes",
                    "find the failed requests in the API's access log group (status 5xx) and "
                    "follow their request id to the integration's logs",
                ),
                threshold=errors,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            # The metric is in milliseconds; a threshold such as 1.5 s is fine.
            self.metric_latency_p99().create_alarm(
                self,
                "LatencyAlarm",
                alarm_description=describe(
                    self.service_name,
                    f"p99 latency above {format_number(latency)} s for 3 of 5 minutes",
                    "compare the stage's IntegrationLatency with its Latency: if the "
                    "integration is slow, look at its duration, throttles and downstream calls "
                    "(X-Ray traces)",
                ),
                threshold=latency * 1000,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]

    # -- public API ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The stage's invoke URL."""
        return self.rest_api.url

    @property
    def domain_name(self) -> str:
        """The API's regional host name (``<api id>.execute-api.<region>.<suffix>``), for a
        CloudFront origin that forwards paths as they are (the stage is the first segment)."""
        stack = Stack.of(self)
        return f"{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    @property
    def alarms_stand_apart(self) -> bool:
        """Whether the API's metrics (so its alarms) refer to nothing in the API: true unless
        the API's or the stage's name is a token. A deployment group can then gate on them."""
        return self._metric_dimensions is not None

    def _api_metric(self, metric_name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
        if self._metric_dimensions is None:
            return self.rest_api.deployment_stage.metric(
                metric_name, period=period, statistic=statistic
            )
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name=metric_name,
            dimensions_map=self._metric_dimensions,
            period=period,
            statistic=statistic,
        )

    def metric_server_errors(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Sum of 5XX answers of the stage (dimensions ApiName and Stage: the API's name
        alone may be shared by the same API of another environment in the account)."""
        return self._api_metric("5XXError", "Sum", period or Duration.minutes(5))

    def metric_client_errors(self, period: Duration | None = None) -> cloudwatch.Metric:
        """Sum of 4XX answers of the stage (dimensions ApiName and Stage)."""
        return self._api_metric("4XXError", "Sum", period or Duration.minutes(5))

    def metric_latency_p99(self, period: Duration | None = None) -> cloudwatch.Metric:
        """p99 of the stage's end-to-end latency, in milliseconds (dimensions ApiName and
        Stage)."""
        return self._api_metric("Latency", "p99", period or Duration.minutes(1))


def _stage_name(props: Mapping[str, object]) -> str:
    """The stage's name as written (the deployed stage's attribute would form a cycle)."""
    options = props.get("deploy_options")
    name = options.stage_name if isinstance(options, apigw.StageOptions) else None
    return name or "prod"  # RestApi's own default stage name


def check_web_acl_arn(construct: str, web_acl_arn: object) -> None:
    """``web_acl_arn``, when given, is the web ACL's ARN: a string (or a token of one)."""
    if web_acl_arn is not None and not isinstance(web_acl_arn, str):
        raise fail(
            construct,
            "web_acl_arn",
            f"must be the web ACL's ARN (a string), got {type(web_acl_arn).__name__}",
        )
