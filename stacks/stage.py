"""PaymentsStage: one environment of the reference app, every stack of it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import AspectPriority, Aspects, Environment, Stage, Tags
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from cdk_microservices import LogRetentionAspect
from stacks.accounts_stack import ACCOUNTS_CODE, AccountsStack
from stacks.config import EnvironmentProfile
from stacks.edge_stack import WEB_SRC, EdgeFirewallStack, EdgeStack
from stacks.observability_stack import ObservabilityStack
from stacks.platform_stack import PlatformStack
from stacks.statements_stack import STATEMENTS_CODE, StatementsStack
from stacks.transfers_stack import TransfersStack

EDGE_FIREWALL_REGION = "us-east-1"
"""CloudFront accepts web ACLs created in us-east-1 only."""


class PaymentsStage(Stage):
    """The payments platform in one environment: ``cdk deploy '<stage id>/*'``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        availability_zones: Sequence[str],
        accounts_code_dir: Path = ACCOUNTS_CODE,
        statements_code_dir: Path = STATEMENTS_CODE,
        transfers_image: ecs.ContainerImage | None = None,
        web_dir: Path = WEB_SRC,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        Tags.of(self).add("project", "cdk-microservices-payments")
        Tags.of(self).add("environment", profile.name)
        # The library's constructs give their functions (and the aws-cdk-lib providers they
        # use) log groups with a retention; this covers what aws-cdk-lib adds for the rest,
        # e.g. the provider behind the platform VPC's restricted default security group.
        Aspects.of(self).add(
            LogRetentionAspect(
                retention=profile.log_retention, removal_policy=profile.removal_policy
            ),
            priority=AspectPriority.MUTATING,
        )

        # Every stack holds state or is read by the others: protect them where the
        # profile says so (prod), so that none is deleted by mistake.
        protection = profile.termination_protection
        self.platform = PlatformStack(
            self,
            "Platform",
            profile=profile,
            availability_zones=availability_zones,
            termination_protection=protection,
        )
        self.accounts = AccountsStack(
            self,
            "Accounts",
            profile=profile,
            user_pool=self.platform.user_pool,
            web_acl_arn=self.platform.web_acl.attr_arn,
            alarm_topic=self.platform.alarm_topic,
            account_events=self.platform.account_events,
            code_dir=accounts_code_dir,
            termination_protection=protection,
        )
        Tags.of(self.accounts).add("service", "accounts")
        self.statements = StatementsStack(
            self,
            "Statements",
            profile=profile,
            user_pool=self.platform.user_pool,
            web_acl_arn=self.platform.web_acl.attr_arn,
            alarm_topic=self.platform.alarm_topic,
            account_events=self.platform.account_events,
            transfer_events=self.platform.transfer_events,
            statement_events=self.platform.statement_events,
            code_dir=statements_code_dir,
            termination_protection=protection,
        )
        Tags.of(self.statements).add("service", "statements")
        self.transfers = TransfersStack(
            self,
            "Transfers",
            profile=profile,
            vpc=self.platform.vpc,
            cluster=self.platform.cluster,
            alarm_topic=self.platform.alarm_topic,
            account_events=self.platform.account_events,
            transfer_events=self.platform.transfer_events,
            user_pool=self.platform.user_pool,
            web_acl_arn=self.platform.web_acl.attr_arn,
            image=transfers_image,
            termination_protection=protection,
        )
        Tags.of(self.transfers).add("service", "transfers")

        # CloudFront takes only a web ACL made in us-east-1, wherever the stage is; the edge
        # stack reads its ARN across regions (weak references name the producer's region).
        self.edge_firewall = EdgeFirewallStack(
            self,
            "EdgeFirewall",
            profile=profile,
            env=Environment(account=self.account, region=EDGE_FIREWALL_REGION),
            termination_protection=protection,
        )
        self.edge = EdgeStack(
            self,
            "Edge",
            profile=profile,
            user_pool=self.platform.user_pool,
            sign_in_url=self.platform.sign_in_domain.base_url(),
            api_domains={
                "accounts": self.accounts.api.domain_name,
                "statements": self.statements.api.domain_name,
                "transfers": self.transfers.api.domain_name,
            },
            web_acl_arn=self.edge_firewall.web_acl.arn,
            alarm_topic=self.platform.alarm_topic,
            web_dir=web_dir,
            termination_protection=protection,
        )
        Tags.of(self.edge).add("service", "edge")

        # After the service stacks: it reads each one's health alarm and key metrics.
        self.observability = ObservabilityStack(
            self,
            "Observability",
            profile=profile,
            services=[
                self.accounts.monitoring,
                self.statements.monitoring,
                self.transfers.monitoring,
                self.edge.monitoring,
            ],
            termination_protection=protection,
        )
        Tags.of(self.observability).add("service", "observability")
