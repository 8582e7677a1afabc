"""Someone else's CDK app that uses the installed cdk-microservices library.

It imports only aws_cdk, constructs, AWS Solutions Constructs and ``cdk_microservices`` (never
this repository's ``stacks`` or sources), and builds its patterns over infrastructure the
team already has: an existing DynamoDB table and Cognito user pool, imported by name. An
AWS Solutions Construct (``LambdaToSqs``) feeds the queue of one of our ``QueueWorker``s in
the same stack. ``tests/consumer/test_consumer_app.py`` synthesizes it in the floor
environment of ``make test-floor``.

Run: ``python app.py`` (writes the cloud assembly to ``$CDK_OUTDIR``, or a temporary folder).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Environment, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_solutions_constructs.aws_lambda_sqs import LambdaToSqs
from constructs import Construct

from cdk_microservices import ApiRoute, ApiService, QueueWorker, ServiceTable

HANDLERS = Path(__file__).resolve().parent / "handlers"


class OrdersStack(Stack):
    """An orders service: an API over an existing table, and a worker fed by a producer."""

    def __init__(self, scope: Construct, id_: str, *, env: Environment) -> None:
        super().__init__(scope, id_, env=env)
        orders = ServiceTable(
            self,
            "Orders",
            existing_table=dynamodb.Table.from_table_name(self, "ExistingOrders", "orders"),
        )
        users = cognito.UserPool.from_user_pool_id(self, "Users", "eu-west-1_Example1")
        self.api = ApiService(
            self,
            "OrdersApi",
            service_name="orders",
            code=HANDLERS,
            user_pool=users,
            routes=[ApiRoute(method="GET", path="/orders/{id}", handler="api.get_order")],
            environment={"TABLE_NAME": orders.table.table_name},
        )
        orders.grant(self.api.function_for("GET /orders/{id}"), "dynamodb:GetItem")

        self.worker = QueueWorker(
            self,
            "Fulfilment",
            service_name="fulfilment",
            code=HANDLERS,
            handler="worker.handler",
        )
        # AWS Solutions Constructs' pattern, given our worker's queue to send to.
        self.producer = LambdaToSqs(
            self,
            "Producer",
            existing_queue_obj=self.worker.queue,
            lambda_function_props=lambda_.FunctionProps(
                runtime=lambda_.Runtime.PYTHON_3_13,
                code=lambda_.Code.from_asset(str(HANDLERS)),
                handler="producer.handler",
            ),
        )


def main() -> None:
    app = App()
    OrdersStack(app, "Orders", env=Environment(account="111111111111", region="eu-west-1"))
    app.synth()


if __name__ == "__main__":
    main()
