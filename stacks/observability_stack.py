"""ObservabilityStack: one overview dashboard across the services of an environment.

One row per service: its health alarm's status (the composite alarm its
``ServiceMonitoring`` made, in ALARM while any of the service's alarms is) and its key
metrics (requests, errors, p99 latency, from its front door: API, site or load balancer).
Each service's own dashboard holds the detail; this one answers "which service is hurting?".
The alarms and metric dimensions are read from the service stacks (cross-stack references).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from cdk_microservices import ServiceMonitoring
from stacks.config import EnvironmentProfile

ROW_HEIGHT = 5


class ObservabilityStack(Stack):
    """The cross-service overview dashboard of one environment."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        profile: EnvironmentProfile,
        services: Sequence[ServiceMonitoring],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.overview = cloudwatch.Dashboard(
            self,
            "Overview",
            dashboard_name=f"payments-{profile.name}-overview",
            default_interval=Duration.hours(3),
        )
        self.overview.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# payments {profile.name}: services\n"
                    "Each row: the service's health alarm (any of its alarms) and its front "
                    "door's requests, server errors and p99 latency. The service's own "
                    "dashboard (payments-"
                    f"{profile.name}-<service>) has the detail and every alarm."
                ),
                width=24,
                height=2,
            )
        )
        for service in services:
            self.overview.add_widgets(*_row(service))


def _row(service: ServiceMonitoring) -> list[cloudwatch.IWidget]:
    """A service's health alarm status and key metrics, one dashboard row."""
    widgets: list[cloudwatch.IWidget] = [
        cloudwatch.AlarmStatusWidget(
            alarms=[service.health_alarm],
            title=f"{service.service_name} health",
            width=6,
            height=ROW_HEIGHT,
        )
    ]
    key = service.key_metrics
    if key is None:
        widgets.append(
            cloudwatch.TextWidget(
                markdown=f"{service.service_name}: no front door metrics",
                width=18,
                height=ROW_HEIGHT,
            )
        )
        return widgets
    widgets += [
        cloudwatch.GraphWidget(
            title=f"{service.service_name} requests ({key.source})",
            left=[key.requests],
            width=6,
            height=ROW_HEIGHT,
        ),
        cloudwatch.GraphWidget(
            title=f"{service.service_name} errors",
            left=[key.errors],
            width=6,
            height=ROW_HEIGHT,
        ),
    ]
    if key.latency_p99 is not None:
        widgets.append(
            cloudwatch.GraphWidget(
                title=f"{service.service_name} p99 latency",
                left=[key.latency_p99],
                width=6,
                height=ROW_HEIGHT,
            )
        )
    return widgets
