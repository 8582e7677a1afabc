"""PlatformStack: what every service of one environment shares.

Creates the Cognito user pool that authenticates customers and its managed-login domain
(the web UI's client lives in the edge stack, beside the site it redirects to), the regional
WAF web ACL that every public API stage is associated with, the encrypted SNS topic that
alarms notify (``AlarmTopic``: CloudWatch may publish to it), the account-level role that
lets API Gateway write execution logs (kept when the stack is deleted), one
event bus per publishing domain, and the network the container services and databases
run in: a VPC (public, private-with-egress and isolated subnets in the profile's number of
AZs, the profile's number of NAT gateways, flow logs, S3 and DynamoDB gateway endpoints)
and an ECS cluster with Container Insights and a Service Connect namespace; and the audit trail
(``AuditTrail``): a multi-Region CloudTrail trail of the account's management events to a
KMS-encrypted bucket and a CloudWatch Logs log group kept the profile's ``log_retention``,
with alarms on root user use, console sign-in without MFA and IAM policy changes that notify
the alarm topic.

One trail per environment: the first trail in an account that delivers the management
events of a Region delivers them free; every further one (the second environment's, when
Dev and Prod share an account, or a trail the account already has, e.g. from AWS Control
Tower) pays per 100,000 events. Separate accounts per environment avoid that charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_microservices import AlarmTopic, AuditTrail, EventBus, EventContract, acknowledge
from stacks.config import EVENT_CONTRACTS, EnvironmentProfile


def service_namespace(profile: EnvironmentProfile) -> str:
    """Cloud Map namespace the services of one environment reach each other in (Service
    Connect). One per environment: two environments in one account never share a name."""
    return f"payments-{profile.name}.internal"


class PlatformStack(Stack):
    """Shared, environment-wide resources. Services receive them as arguments."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        availability_zones: Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.user_pool = self._user_pool(profile)
        self.sign_in_domain = self._sign_in_domain(profile)
        self.web_acl = self._web_acl(profile)
        self.alarms = AlarmTopic(
            self,
            "Alarms",
            display_name=f"payments {profile.name} alarms",
            email_addresses=profile.alarm_emails,
            removal_policy=profile.removal_policy,
        )
        self.alarm_topic = self.alarms.topic
        self.audit = AuditTrail(
            self,
            "AuditTrail",
            removal_policy=profile.removal_policy,
            log_retention=profile.log_retention,
            alarm_topic=self.alarm_topic,
        )
        self._api_gateway_logging_role()
        self.vpc = self._vpc(profile, availability_zones)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED
            if profile.container_insights
            else ecs.ContainerInsights.DISABLED,
        )
        if not profile.container_insights:
            acknowledge(
                self.cluster,
                "AwsSolutions::AwsSolutions-ECS4",
                "Container Insights is off in this environment on purpose "
                "(profile.container_insights): its custom metrics cost about $11 a month idle "
                "(tools/idle_cost.py). ECS still publishes the services' CPU and memory metrics, "
                "every alarm watches those or the load balancer, and Prod keeps it on.",
            )
        # Service Connect: services reach each other as http://<name> in the namespace
        # payments-<environment>.internal.
        self.cluster.add_default_cloud_map_namespace(
            name=service_namespace(profile), use_for_service_connect=True
        )
        # One bus per publishing domain. They live here, not in the publishers' stacks, so
        # a subscriber can be deployed before (or without) the service that publishes.
        self.account_events = EventBus(
            self,
            "AccountEvents",
            domain="accounts",
            contracts=[EventContract.from_file(EVENT_CONTRACTS / "AccountOpened.v1.json")],
            removal_policy=profile.removal_policy,
            alarm_topic=self.alarm_topic,
        )
        self.transfer_events = EventBus(
            self,
            "TransferEvents",
            domain="transfers",
            contracts=[
                EventContract.from_file(EVENT_CONTRACTS / "TransferCompleted.v1.json"),
                EventContract.from_file(EVENT_CONTRACTS / "DepositCompleted.v1.json"),
            ],
            removal_policy=profile.removal_policy,
            alarm_topic=self.alarm_topic,
        )
        self.statement_events = EventBus(
            self,
            "StatementEvents",
            domain="statements",
            contracts=[EventContract.from_file(EVENT_CONTRACTS / "StatementExported.v1.json")],
            removal_policy=profile.removal_policy,
            alarm_topic=self.alarm_topic,
        )

        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "SignInUrl", value=self.sign_in_domain.base_url())
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        CfnOutput(self, "AuditTrailArn", value=self.audit.trail_arn)
        CfnOutput(self, "AccountEventsTopicArn", value=self.account_events.topic.topic_arn)
        CfnOutput(self, "TransferEventsTopicArn", value=self.transfer_events.topic.topic_arn)
        CfnOutput(self, "StatementEventsTopicArn", value=self.statement_events.topic.topic_arn)

    def _user_pool(self, profile: EnvironmentProfile) -> cognito.UserPool:
        user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"payments-{profile.name}",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=(
                cognito.FeaturePlan.PLUS
                if profile.cognito_threat_protection
                else cognito.FeaturePlan.ESSENTIALS
            ),
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION
                if profile.cognito_threat_protection
                else None
            ),
            deletion_protection=profile.deletion_protection,
            removal_policy=profile.removal_policy,
        )
        if not profile.cognito_threat_protection:
            reason = (
                "Threat protection needs the Cognito Plus plan, billed per active user; this "
                "profile (no real customers) leaves it off. The prod profile enforces it."
            )
            acknowledge(user_pool, "AwsSolutions::AwsSolutions-COG3", reason)
            acknowledge(user_pool, "AwsSolutions::AwsSolutions-COG8", reason)
        return user_pool

    def _sign_in_domain(self, profile: EnvironmentProfile) -> cognito.UserPoolDomain:
        """Cognito managed login (the newer version) on the profile's domain prefix: the web
        UI sends customers there to sign in (the clients live with the UIs that use them)."""
        return self.user_pool.add_domain(
            "SignInDomain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=profile.auth_domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )

    def _web_acl(self, profile: EnvironmentProfile) -> wafv2.CfnWebACL:
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"payments-{profile.name}-{metric}",
                sampled_requests_enabled=True,
            )

        def managed_rule_group(priority: int, rule_group: str) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=rule_group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=rule_group
                    )
                ),
                visibility_config=visibility(rule_group),
            )

        return wafv2.CfnWebACL(
            self,
            "ApiWebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("api-web-acl"),
            rules=[
                managed_rule_group(0, "AWSManagedRulesCommonRuleSet"),
                managed_rule_group(1, "AWSManagedRulesKnownBadInputsRuleSet"),
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=2,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=1000, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=visibility("rate-limit-per-ip"),
                ),
            ],
        )

    def _vpc(self, profile: EnvironmentProfile, availability_zones: Sequence[str]) -> ec2.Vpc:
        """Public, private (egress through NAT) and isolated (databases) subnets per AZ.

        The AZs are the deployment target's (``app.py`` resolves them), not looked up
        here: synth needs no AWS account, and an account-agnostic stack would otherwise get
        only two.
        """
        flow_logs = logs.LogGroup(
            self,
            "VpcFlowLogs",
            retention=profile.log_retention,
            removal_policy=profile.removal_policy,
        )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.0.0.0/16"),
            availability_zones=list(availability_zones),
            nat_gateways=profile.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            # Free gateway endpoints: S3 (image layers) and DynamoDB traffic skip the NAT.
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
        )
        return vpc

    def _api_gateway_logging_role(self) -> None:
        role = iam.Role(
            self,
            "ApiGatewayLoggingRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets API Gateway write execution and access logs in this account/region",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-wide API Gateway logging role must write to log groups that API "
            "Gateway names after APIs created later; AWS maintains this policy for that role.",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        # One setting per account and region, which every Platform stack deployed there
        # sets: deleting one stack must leave the account pointing at a role that exists.
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
