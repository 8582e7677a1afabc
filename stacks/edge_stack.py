"""EdgeStack: the front door of one environment, the web UI and every customer API behind
one CloudFront distribution.

Composes a ``StaticSite`` (the web UI in ``web_src/``, deployed with a ``config.json``
generated from this environment's resources) and routes ``/api/<service>*`` to each
service's API unchanged (every API's stage is named ``api``, so API Gateway reads
``/api/accounts/...`` as stage ``api``, path ``/accounts/...``). A CloudFront web ACL (made in
us-east-1 by ``EdgeFirewallStack``, wherever the stage is) sits in front of it all.

The web UI's Cognito app client lives here, not in the platform stack: its callback URL is
the distribution's own address, which exists only once the distribution does, and the
distribution needs the APIs, which need the user pool. The APIs' Cognito authorizers
accept the ID token of any client of the pool, so nothing else refers to this client.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_microservices import CloudFrontWebAcl, ServiceMonitoring, StaticSite, acknowledge
from stacks.config import EDGE_API_STAGE, REPO_ROOT, EnvironmentProfile

WEB_SRC = REPO_ROOT / "web_src"
WEB_CALLBACK_PATH = "/auth/callback"
"""Where the web UI receives the authorization code after sign-in."""
WEB_SCOPES = ("openid", "email")
API_PATH = f"/{EDGE_API_STAGE}"


def api_path(service: str) -> str:
    """The path prefix of a service's API at the edge (``/api/accounts``)."""
    return f"{API_PATH}/{service}"


class EdgeFirewallStack(Stack):
    """The CloudFront web ACL of one environment, in us-east-1 as CloudFront requires (the
    edge stack reads its ARN across regions through a weak reference)."""

    def __init__(
        self, scope: Construct, id_: str, *, profile: EnvironmentProfile, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.web_acl = CloudFrontWebAcl(
            self,
            "WebAcl",
            rate_limit=profile.edge_rate_limit,
            metric_prefix=f"payments-{profile.name}-edge",
        )
        CfnOutput(self, "WebAclArn", value=self.web_acl.arn)


class EdgeStack(Stack):
    """The web UI and the customer APIs behind one CloudFront distribution."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        user_pool: cognito.IUserPool,
        sign_in_url: str,
        api_domains: Mapping[str, str],
        web_acl_arn: str,
        alarm_topic: sns.ITopic | None = None,
        web_dir: Path = WEB_SRC,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.site = StaticSite(
            self,
            "Site",
            removal_policy=profile.removal_policy,
            log_retention=profile.log_retention,
            web_acl_arn=web_acl_arn,
            # CloudFront's metrics are in us-east-1 only: outside it the site warns instead.
            alarm_topic=alarm_topic,
            # The UI exchanges the sign-in code for tokens at Cognito's token endpoint.
            connect_sources=[sign_in_url],
        )
        for service, domain in sorted(api_domains.items()):
            self.site.add_api(
                f"{api_path(service)}*",
                origins.HttpOrigin(
                    domain,
                    protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                    origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
                ),
            )

        site_origins = [self.site.url, *profile.web_origins]
        self.web_client = cognito.UserPoolClient(
            self,
            "WebClient",
            user_pool=user_pool,
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[origin + WEB_CALLBACK_PATH for origin in site_origins],
                logout_urls=[origin + "/" for origin in site_origins],
            ),
        )
        # Managed login (the newer version) shows a client only with a branding of its own.
        self.sign_in_branding = cognito.CfnManagedLoginBranding(
            self,
            "SignInBranding",
            user_pool_id=user_pool.user_pool_id,
            client_id=self.web_client.user_pool_client_id,
            use_cognito_provided_values=True,
        )

        self.web_config: dict[str, Any] = {
            "region": self.region,
            "userPoolId": user_pool.user_pool_id,
            "clientId": self.web_client.user_pool_client_id,
            "authDomain": sign_in_url,
            "scopes": list(WEB_SCOPES),
            "api": {service: api_path(service) for service in sorted(api_domains)},
        }
        self.deployment = self.site.deploy(
            "WebUi",
            [
                s3deploy.Source.asset(str(web_dir)),
                s3deploy.Source.json_data("config.json", self.web_config),
            ],
        )

        # The dashboard reads CloudFront's metrics in us-east-1 wherever this stack is; an
        # alarm cannot (CloudWatch alarms watch metrics of their own region), so StaticSite
        # makes its error-rate alarms only in us-east-1, and elsewhere the health alarm
        # watches nothing (a warning, acknowledged below for that case only).
        self.monitoring = ServiceMonitoring(
            self,
            "Monitoring",
            service_name="edge",
            alarm_topic=alarm_topic,
            dashboard_name=f"payments-{profile.name}-edge",
        ).add(self.site)
        if not self.monitoring.alarms:
            acknowledge(
                self.monitoring,
                "Annotation::cdk-microservices:ServiceMonitoring:no-alarms",
                "The site has no alarm in this stack's region (CloudFront's metrics exist in "
                "us-east-1 only, where StaticSite makes its alarms): the edge dashboard graphs its "
                "requests and error rates, and each API behind it has its own health alarm.",
            )

        CfnOutput(self, "SiteUrl", value=self.site.url)
        CfnOutput(self, "WebClientId", value=self.web_client.user_pool_client_id)
