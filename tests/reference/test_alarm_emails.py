"""The profile's alarm addresses become email subscriptions of the platform's alarm topic."""

from __future__ import annotations

import dataclasses

from aws_cdk import App, Environment
from aws_cdk.assertions import Template
from reference_app import cli_context

from stacks.config import DEFAULT_AVAILABILITY_ZONES, DEV, PROFILES
from stacks.platform_stack import PlatformStack


def test_the_profiles_alarm_addresses_are_mailed_and_none_by_default() -> None:
    assert all(profile.alarm_emails == () for profile in PROFILES.values())
    profile = dataclasses.replace(DEV, alarm_emails=("oncall@example.org",))
    app = App(context=cli_context(), builtin_cloud_formation_validation=False)
    platform = PlatformStack(
        app,
        "Platform",
        profile=profile,
        availability_zones=DEFAULT_AVAILABILITY_ZONES["us-east-1"][: profile.availability_zones],
        env=Environment(region="us-east-1"),
    )
    [subscription] = Template.from_stack(platform).find_resources("AWS::SNS::Subscription").values()
    properties = subscription["Properties"]
    assert (properties["Protocol"], properties["Endpoint"]) == ("email", "oncall@example.org")
    assert platform.resolve(properties["TopicArn"]) == platform.resolve(
        platform.alarm_topic.topic_arn
    )
