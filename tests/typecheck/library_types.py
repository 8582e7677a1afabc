"""What a caller's type checker sees of the library: ``mypy --strict`` must accept this file
(tests/test_library_types.py runs it, and runs it as a program too)."""

from __future__ import annotations

from typing import assert_type

from aws_cdk import App, AspectPriority, Aspects, Environment, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2

from cdk_microservices import (
    AuditTrail,
    Cache,
    CloudFrontWebAcl,
    ContainerService,
    EventBus,
    EventContract,
    LogRetentionAspect,
    ManagedFunction,
    QueueWorker,
    RelationalDatabase,
    ServiceTable,
    StaticSite,
)

app = App()
stack = Stack(app, "Types", env=Environment(region="eu-west-1"))
vpc = ec2.Vpc(
    stack,
    "Vpc",
    max_azs=2,
    subnet_configuration=[
        ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
        ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        ec2.SubnetConfiguration(name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    ],
)

# The construct id is 'id', as in aws-cdk-lib.
orders = ServiceTable(stack, id="Orders")
# A created table is a Table: its methods are there.
assert_type(orders.table, dynamodb.Table)
orders.table.add_global_secondary_index(
    index_name="by_customer",
    partition_key=dynamodb.Attribute(name="customer", type=dynamodb.AttributeType.STRING),
)
imported = ServiceTable(
    stack, "Legacy", existing_table=dynamodb.Table.from_table_name(stack, "L", "legacy")
)
assert_type(imported.table, dynamodb.ITable)

database = RelationalDatabase(stack, "Ledger", vpc=vpc, database_name="ledger")
assert_type(database.cluster, rds.DatabaseCluster)
# Always there: no None check needed before using the credentials.
assert_type(database.secret, secretsmanager.ISecret)

node_cache = Cache(stack, "NodeCache", vpc=vpc, mode="node")
assert_type(node_cache.auth_secret, secretsmanager.Secret)
serverless_cache = Cache(stack, "Cache", vpc=vpc)
assert_type(serverless_cache.auth_secret, None)

bus = EventBus(
    stack,
    "OrderEvents",
    domain="orders",
    contracts=[EventContract(name="OrderPlaced", version=1, schema={"type": "object"})],
)
assert_type(bus.topic, sns.Topic)

worker = QueueWorker(
    stack, "Worker", service_name="orders", code="handlers", handler="worker.handler"
)
assert_type(worker.queue, sqs.Queue)
assert_type(worker.dead_letter_queue, sqs.Queue)
existing_worker = QueueWorker(
    stack,
    "ExistingWorker",
    service_name="orders",
    code="handlers",
    handler="worker.handler",
    existing_queue=sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:eu-west-1:1:orders"),
)
assert_type(existing_worker.queue, sqs.IQueue)
assert_type(existing_worker.dead_letter_queue, None)

# A function of its own: every resource it creates, typed as what it is.
report = ManagedFunction(
    stack,
    "Report",
    service_name="orders",
    code="handlers",
    handler="worker.handler",
    description="Reports yesterday's orders",
)
assert_type(report.function, lambda_.Function)
assert_type(report.alias, lambda_.Alias)
assert_type(report.role, iam.Role)
assert_type(report.log_group, logs.LogGroup)
assert_type(report.application, codedeploy.LambdaApplication)
assert_type(report.deployment_group, codedeploy.LambdaDeploymentGroup)
assert_type(report.alarms, list[cloudwatch.Alarm])
assert_type(report.dead_letter_queue, sqs.IQueue | None)

service = ContainerService(
    stack,
    "Service",
    service_name="ledger",
    image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.14-slim"),
    vpc=vpc,
)
assert_type(service.cluster, ecs.Cluster)
assert_type(service.load_balancer, elbv2.ApplicationLoadBalancer)
# What the created classes offer beyond their interfaces is there to use.
service.load_balancer.set_attribute("idle_timeout.timeout_seconds", "120")

# A web ACL for CloudFront lives in us-east-1; the site may be anywhere.
edge = Stack(app, "Edge", env=Environment(region="us-east-1"))
web_acl = CloudFrontWebAcl(edge, "SiteAcl", metric_prefix="site")
assert_type(web_acl.web_acl, wafv2.CfnWebACL)
assert_type(web_acl.arn, str)
site = StaticSite(stack, "Site", connect_sources=["https://auth.example.com"])
# A created bucket is a Bucket; the distribution and headers policy always exist.
assert_type(site.bucket, s3.Bucket)
assert_type(site.log_bucket, s3.Bucket)
assert_type(site.distribution, cloudfront.Distribution)
assert_type(site.response_headers_policy, cloudfront.ResponseHeadersPolicy)
assert_type(site.spa_function, cloudfront.Function | None)
site.add_api("/api/*", origins.HttpOrigin("api.example.com"))
deployment = site.deploy("Deploy", [s3deploy.Source.data("index.html", "<!doctype html>")])
assert_type(deployment, s3deploy.BucketDeployment)
existing_site = StaticSite(
    stack, "ExistingSite", existing_bucket=s3.Bucket.from_bucket_name(stack, "B", "site-bucket")
)
assert_type(existing_site.bucket, s3.IBucket)

# Every resource the audit trail creates is there, typed as what it is.
audit = AuditTrail(stack, "Audit", log_retention=logs.RetentionDays.ONE_MONTH, retention_days=400)
assert_type(audit.trail, cloudtrail.Trail)
assert_type(audit.bucket, s3.Bucket)
assert_type(audit.access_log_bucket, s3.Bucket)
assert_type(audit.key, kms.Key)
assert_type(audit.log_group, logs.LogGroup)
assert_type(audit.logs_role, iam.Role)
assert_type(audit.metric_filters, dict[str, logs.MetricFilter])
assert_type(audit.alarms, list[cloudwatch.Alarm])
assert_type(audit.trail_name, str)
assert_type(audit.trail_arn, str)

# An aspect of the app: every function aws-cdk-lib adds gets a log group with a retention.
Aspects.of(app).add(
    LogRetentionAspect(
        retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
    ),
    priority=AspectPriority.MUTATING,
)
