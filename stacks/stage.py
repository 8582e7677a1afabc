"""PaymentsStage: one environment of the reference app, every stack of it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Stage, Tags
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from stacks.accounts_stack import ACCOUNTS_CODE, AccountsStack
from stacks.config import EnvironmentProfile
from stacks.platform_stack import PlatformStack
from stacks.statements_stack import STATEMENTS_CODE, StatementsStack
from stacks.transfers_stack import TransfersStack


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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        Tags.of(self).add("project", "cdk-microservices-payments")
        Tags.of(self).add("environment", profile.name)

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
