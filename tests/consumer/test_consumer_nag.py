"""A consumer who uses the installed library as documented gets no cdk-nag finding from it.

Runs in the floor environment (``make test-floor``): the library from a wheel of the
checkout, aws-cdk-lib at its floor, cdk-nag 3. The app below is what a platform team wrote
when it found that the library's own grants left open findings in its app: an encrypted
table with an index read by one function, IAM-authorized routes granted to a caller, an
override of the stage options, a worker with a queue override.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Duration, Environment, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from cdk_microservices import ApiRoute, ApiService, QueueWorker, ServiceTable

HANDLERS = Path(__file__).resolve().parent / "orders_app" / "handlers"


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


def test_documented_use_leaves_no_open_finding(app: App) -> None:
    stack = Stack(app, "Orders", env=Environment(account="111111111111", region="eu-west-1"))
    table = ServiceTable(stack, "Orders", encryption="customer_managed")
    table.table.add_global_secondary_index(
        index_name="by_customer",
        partition_key=dynamodb.Attribute(name="customer", type=dynamodb.AttributeType.STRING),
    )
    api = ApiService(
        stack,
        "Api",
        service_name="orders",
        code=str(HANDLERS),
        routes=[
            ApiRoute(method="GET", path="/orders/{id}", handler="api.handler", authorization="iam")
        ],
        web_acl_arn="arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/orders/1",
        rest_api_props={"deploy_options": apigw.StageOptions(throttling_rate_limit=5)},
    )
    table.grant(api.function_for("GET /orders/{id}"), "dynamodb:GetItem")
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    api.grant_invoke_iam_routes(caller)
    worker = QueueWorker(
        stack,
        "Worker",
        service_name="orders-worker",
        code=str(HANDLERS),
        handler="worker.handler",
        queue_props={"retention_period": Duration.days(2)},
    )
    table.grant(worker.function, "dynamodb:Query", indexes=["by_customer"])
    table.grant_write_data(worker.function)

    app.synth()  # cdk-nag fails it on any unacknowledged finding
