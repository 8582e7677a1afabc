"""``*_props`` escape hatches merge into the pattern's defaults, are held to the pattern's
rules, and say what they changed (issue 10, class 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Environment, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from unit_app import new_app, three_tier_vpc

from cdk_microservices import (
    ApiRoute,
    ApiService,
    ConstructArgumentError,
    ContainerService,
    QueueWorker,
    RelationalDatabase,
    ServiceTable,
    StaticSite,
)
from cdk_microservices._validation import merge_props

GET = ApiRoute(method="GET", path="/items/{id}", handler="read.handler")


def _stack() -> Stack:
    return Stack(
        new_app(),
        "Test",
        env=Environment(region="us-east-1"),
    )


def _warnings(stack: Stack) -> list[str]:
    return [
        str(entry.entry.data)
        for entry in Annotations.from_stack(stack).find_warning("*", Match.any_value())
    ]


def test_a_stage_override_keeps_logs_tracing_and_the_stage_name(code_dir: Path) -> None:
    """Before, ``deploy_options`` replaced the whole StageOptions: access logs, tracing and
    throttling went, and the execution log group was made for the wrong stage."""
    stack = _stack()
    ApiService(
        stack,
        "Items",
        service_name="items",
        code=code_dir,
        routes=[GET],
        user_pool=cognito.UserPool(stack, "Users"),
        rest_api_props={"deploy_options": apigw.StageOptions(throttling_rate_limit=5)},
    )
    template = Template.from_stack(stack)

    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "v1",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": [
                Match.object_like(
                    {"LoggingLevel": "INFO", "ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 100}
                )
            ],
        },
    )
    [log_group] = [
        group["Properties"]["LogGroupName"]
        for group in template.find_resources("AWS::Logs::LogGroup").values()
        if "LogGroupName" in group["Properties"]
    ]
    assert "/v1" in str(log_group)
    warnings = _warnings(stack)
    assert any("'deploy_options.throttling_rate_limit'" in warning for warning in warnings)
    assert not any("tracing_enabled" in warning for warning in warnings)


def test_a_table_override_keeps_point_in_time_recovery_on() -> None:
    stack = _stack()
    ServiceTable(
        stack,
        "Orders",
        table_props={
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=7
            ),
            "table_class": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
        },
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "PointInTimeRecoverySpecification": {
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": 7,
            },
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_a_dead_letter_queue_override_must_still_outlive_the_queue(code_dir: Path) -> None:
    with pytest.raises(
        ConstructArgumentError,
        match=r"'dead_letter_queue_props' leaves the dead-letter queue's retention \(3600 s\)",
    ):
        QueueWorker(
            _stack(),
            "Worker",
            service_name="statements",
            code=code_dir,
            handler="consumer.handler",
            dead_letter_queue_props={"retention_period": Duration.hours(1)},
        )


def test_a_queue_override_must_keep_a_safe_visibility_timeout(code_dir: Path) -> None:
    with pytest.raises(ConstructArgumentError, match=r"'queue_props' sets visibility_timeout"):
        QueueWorker(
            _stack(),
            "Worker",
            service_name="statements",
            code=code_dir,
            handler="consumer.handler",
            queue_props={"visibility_timeout": Duration.seconds(5)},
        )


def test_merge_is_deep_for_structs_and_mappings_and_replaces_the_rest() -> None:
    stack = _stack()
    defaults: dict[str, Any] = {
        "dead_letter_queue": None,
        "encryption": sqs.QueueEncryption.SQS_MANAGED,
        "enforce_ssl": True,
        "redrive_allow_policy": {"a": 1, "nested": {"keep": True, "change": 1}},
    }
    merged = merge_props(
        "Test",
        "queue_props",
        sqs.Queue,
        defaults,
        {
            "enforce_ssl": True,  # the same value: not reported
            "redrive_allow_policy": {"nested": {"change": 2}},
            "fifo": True,  # not a default: nothing to report
        },
        scope=stack,
    )
    assert merged["redrive_allow_policy"] == {"a": 1, "nested": {"keep": True, "change": 2}}
    assert merged["encryption"] is sqs.QueueEncryption.SQS_MANAGED
    assert merged["fifo"] is True
    warnings = _warnings(stack)
    assert len(warnings) == 1
    assert "'redrive_allow_policy.nested.change'" in warnings[0]


def test_an_unknown_override_key_is_still_rejected() -> None:
    with pytest.raises(ConstructArgumentError, match=r"unknown key\(s\) 'retention'"):
        merge_props("Test", "queue_props", sqs.Queue, {}, {"retention": 1}, scope=_stack())


def test_a_container_override_cannot_run_as_root_or_drop_the_named_port() -> None:
    stack = _stack()
    vpc = three_tier_vpc(stack)
    image = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.14-slim")

    def service(id: str, **container_props: Any) -> ContainerService:
        return ContainerService(
            stack,
            id,
            service_name="ledger",
            image=image,
            vpc=vpc,
            container_props=container_props,
        )

    with pytest.raises(ConstructArgumentError, match=r"must not run as root"):
        service("Root", user="0:0")
    with pytest.raises(ConstructArgumentError, match=r"without one named 'http'"):
        service("Ports", port_mappings=[ecs.PortMapping(container_port=8080)])
    with pytest.raises(ConstructArgumentError, match=r"\['RETRIES'\]' must be a string"):
        service("Env", environment={"RETRIES": 3})
    with pytest.raises(ConstructArgumentError, match=r"replaces volumes without the 'tmp'"):
        ContainerService(
            stack,
            "Volumes",
            service_name="ledger",
            image=image,
            vpc=vpc,
            task_definition_props={"volumes": [ecs.Volume(name="data")]},
        )


def test_database_overrides_are_held_to_the_capacity_rules() -> None:
    stack = _stack()
    vpc = three_tier_vpc(stack)
    with pytest.raises(ConstructArgumentError, match=r"leaves max capacity 1 ACU below min"):
        RelationalDatabase(
            stack,
            "Db",
            vpc=vpc,
            database_name="ledger",
            cluster_props={"serverless_v2_min_capacity": 2, "serverless_v2_max_capacity": 1},
        )
    with pytest.raises(ConstructArgumentError, match=r"'cluster_props' is 80"):
        RelationalDatabase(
            stack, "Db2", vpc=vpc, database_name="ledger", cluster_props={"port": 80}
        )


def test_stage_overrides_are_held_to_the_stage_rules(code_dir: Path) -> None:
    stack = _stack()
    with pytest.raises(ConstructArgumentError, match=r"'rest_api_props' is 'live-1'"):
        ApiService(
            stack,
            "Items",
            service_name="items",
            code=code_dir,
            routes=[GET],
            user_pool=cognito.UserPool(stack, "Users"),
            rest_api_props={"deploy_options": apigw.StageOptions(stage_name="live-1")},
        )


def test_a_site_bucket_override_keeps_its_privacy_and_says_what_it_changed() -> None:
    stack = _stack()
    StaticSite(
        stack,
        "Site",
        bucket_props={
            "versioned": False,
            "lifecycle_rules": [s3.LifecycleRule(expiration=Duration.days(365))],
        },
    )
    buckets = Template.from_stack(stack).find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": Match.any_value()}}
    )
    [site_bucket] = buckets.values()
    properties = site_bucket["Properties"]
    assert "VersioningConfiguration" not in properties
    assert properties["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    warnings = _warnings(stack)
    assert any(
        "'bucket_props' overrides the pattern's default for 'versioned'" in w for w in warnings
    )
    assert any("'lifecycle_rules'" in warning for warning in warnings)


def test_a_distribution_override_keeps_the_rest_and_says_what_it_changed() -> None:
    stack = _stack()
    StaticSite(
        stack,
        "Site",
        distribution_props={
            "http_version": cloudfront.HttpVersion.HTTP2,
            "comment": "the web UI",
        },
    )
    [distribution] = (
        Template.from_stack(stack).find_resources("AWS::CloudFront::Distribution").values()
    )
    config = distribution["Properties"]["DistributionConfig"]
    assert (config["HttpVersion"], config["Comment"]) == ("http2", "the web UI")
    assert config["DefaultRootObject"] == "index.html"
    assert config["Logging"]["Prefix"] == "cloudfront/"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    warnings = _warnings(stack)
    assert any(
        "'distribution_props' overrides the pattern's default for 'http_version'" in w
        for w in warnings
    )


def test_distribution_error_responses_are_reported_as_reaching_the_apis() -> None:
    stack = _stack()
    StaticSite(
        stack,
        "Site",
        distribution_props={
            "error_responses": [
                cloudfront.ErrorResponse(http_status=404, response_page_path="/404.html")
            ]
        },
    )
    assert any("apply to every behaviour" in warning for warning in _warnings(stack))
