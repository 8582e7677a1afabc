"""cdk_microservices: reusable AWS CDK constructs for microservice patterns.

Import the patterns from here::

    from cdk_microservices import ApiRoute, ApiService, ServiceTable
"""

from cdk_microservices._alarms import describe as alarm_description
from cdk_microservices._log_bucket import access_log_bucket
from cdk_microservices._validation import ConstructArgumentError
from cdk_microservices.alarm_topic import AlarmTopic
from cdk_microservices.api_service import ApiRoute, ApiService, load_json_schema
from cdk_microservices.audit_trail import AuditTrail
from cdk_microservices.cache import Cache
from cdk_microservices.cloudfront_web_acl import CloudFrontWebAcl
from cdk_microservices.compliance import acknowledge
from cdk_microservices.container_api import ContainerApi
from cdk_microservices.container_service import ContainerService
from cdk_microservices.deployment import Deployment
from cdk_microservices.event_bus import EVENT_TYPE_ATTRIBUTE, EventBus, EventContract
from cdk_microservices.log_retention import LogRetentionAspect
from cdk_microservices.managed_function import ManagedFunction
from cdk_microservices.queue_worker import QueueWorker
from cdk_microservices.relational_database import RelationalDatabase
from cdk_microservices.scheduled_job import ScheduledFargateTask, ScheduledJob
from cdk_microservices.service_monitoring import KeyMetrics, MonitoredPattern, ServiceMonitoring
from cdk_microservices.service_table import ServiceTable
from cdk_microservices.static_site import StaticSite
from cdk_microservices.table_event_publisher import TableEventPublisher
from cdk_microservices.workflow import Workflow

__all__ = [
    "EVENT_TYPE_ATTRIBUTE",
    "AlarmTopic",
    "ApiRoute",
    "ApiService",
    "AuditTrail",
    "Cache",
    "CloudFrontWebAcl",
    "ConstructArgumentError",
    "ContainerApi",
    "ContainerService",
    "Deployment",
    "EventBus",
    "EventContract",
    "KeyMetrics",
    "LogRetentionAspect",
    "ManagedFunction",
    "MonitoredPattern",
    "QueueWorker",
    "RelationalDatabase",
    "ScheduledFargateTask",
    "ScheduledJob",
    "ServiceMonitoring",
    "ServiceTable",
    "StaticSite",
    "TableEventPublisher",
    "Workflow",
    "access_log_bucket",
    "acknowledge",
    "alarm_description",
    "load_json_schema",
]
