"""Workflow: a Step Functions standard workflow with its logs, tracing and alarms.

Creates:

- ``log_group``: where every execution's history goes (level ALL, with execution data),
  kept ``log_retention`` and removed with ``removal_policy``. Its name starts with
  ``/aws/vendedlogs/states/``: Step Functions adds each log group it delivers to to the
  account's CloudWatch Logs resource policy, which is limited to 5120 characters; groups
  under ``/aws/vendedlogs/`` are covered without growing it (Step Functions Developer
  Guide, "Avoiding Amazon CloudWatch Logs resource policy size restrictions",
  https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html). The name ends with
  the id of the stack that created it, so a stack created again after a delete that kept
  the group (``RETAIN``) does not collide with the group left behind;
- ``role``: the state machine's role, holding what the definition's tasks grant it, log
  delivery and X-Ray;
- ``state_machine``: a STANDARD state machine with ``timeout`` (required: no execution
  runs forever), X-Ray tracing and logging ALL to ``log_group``;
- ``alarms``: failed executions, timed-out executions, throttled executions
  (``ALARM_NAMES``), each on the AWS/States metric of this state machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_microservices._alarms import at_least_alarm, notify, resolve_thresholds
from cdk_microservices._function_logs import LOG_GROUP_REMOVAL_POLICIES
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    merge_props,
    reject_conflicts,
    require_duration,
    require_pattern,
    require_service_name,
)
from cdk_microservices.compliance import acknowledge

VENDED_LOGS_PREFIX = "/aws/vendedlogs/states/"
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600
"""A standard workflow's execution runs at most one year."""
ALARM_PERIOD = Duration.minutes(5)
DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ExecutionsFailed": 1,
    "ExecutionsTimedOut": 1,
    "ExecutionThrottled": 1,
}
"""Each alarm's default threshold: executions (or throttled events) within 5 minutes."""
ALARM_NAMES = tuple(DEFAULT_THRESHOLDS)
# Keyword arguments of sfn.StateMachine that an argument of this construct owns.
_OWNED_PROPS = {
    "definition": "definition",
    "definition_body": "definition",
    "role": "the construct's role",
    "timeout": "timeout",
    "state_machine_name": "state_machine_name",
}


class Workflow(Construct):
    """A Step Functions standard workflow with logs, tracing and alarms.

    ``definition`` is the workflow: a chain of states (``sfn.IChainable``) or a
    ``sfn.DefinitionBody`` (from states, or Amazon States Language JSON from a string or a
    file, into which ``TimeoutSeconds`` is written). ``timeout`` is required (1 second to
    1 year): an execution that runs longer is stopped and counted as timed out.

    Defaults (each can be changed by its argument):

    - type STANDARD (exactly-once steps, execution history kept 90 days), X-Ray tracing on;
    - logging level ALL with execution data to ``log_group`` (``/aws/vendedlogs/states/...``),
      kept ``log_retention`` (one month) and removed with ``removal_policy`` (``RETAIN``);
    - the role is created here and holds only what the definition's tasks grant it, plus
      log delivery and X-Ray (which accept only ``Resource: *``; acknowledged for cdk-nag);
    - alarms (``ALARM_NAMES``), each on one or more events within 5 minutes, thresholds
      overridable by name with ``alarm_thresholds``: ``ExecutionsFailed``,
      ``ExecutionsTimedOut``, ``ExecutionThrottled``; sent to ``alarm_topic`` if given;
      ``alarms=False`` turns them off.

    Escape hatch: ``state_machine_props`` overrides keyword arguments of
    ``aws_stepfunctions.StateMachine`` (not those an argument owns: ``definition``,
    ``role``, ``timeout``, ``state_machine_name``); a changed default is reported as a
    warning.
    """

    CONSTRUCT = "Workflow"
    ALARM_THRESHOLDS: Mapping[str, float] = DEFAULT_THRESHOLDS
    """Each alarm's name and default threshold, as every pattern has them."""

    @checked_arguments("Workflow")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        service_name: str,
        definition: sfn.IChainable | sfn.DefinitionBody,
        timeout: Duration,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        state_machine_name: str | None = None,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        state_machine_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        require_service_name(name, service_name)
        if timeout is None:
            raise fail(name, "timeout", "is required: give the longest an execution may run")
        require_duration(
            name,
            "timeout",
            timeout,
            min_seconds=0,
            max_seconds=MAX_TIMEOUT_SECONDS,
            exclusive_minimum=True,
            whole_seconds=True,
        )
        body = _definition_body(name, definition, timeout)
        if not isinstance(log_retention, logs.RetentionDays):
            raise fail(
                name,
                "log_retention",
                f"must be an aws_logs.RetentionDays, got {type(log_retention).__name__}",
            )
        if log_retention == logs.RetentionDays.INFINITE:
            raise fail(name, "log_retention", "is INFINITE; give the logs a limited retention")
        if removal_policy not in LOG_GROUP_REMOVAL_POLICIES:
            raise fail(
                name,
                "removal_policy",
                f"is {removal_policy!r}; allowed values are RemovalPolicy.RETAIN, "
                "RemovalPolicy.DESTROY and RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE",
            )
        if state_machine_name is not None:
            require_pattern(
                name,
                "state_machine_name",
                state_machine_name,
                r"[A-Za-z0-9_-]{1,80}",
                "1-80 letters, digits, '-' or '_'",
            )
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(name, DEFAULT_THRESHOLDS, alarm_thresholds)
        for key, owner in _OWNED_PROPS.items():
            if key in (state_machine_props or {}):
                raise fail(
                    name,
                    "state_machine_props",
                    f"sets {key!r}, which {owner} decides; use that argument instead",
                )

        self.service_name = service_name
        self.timeout = timeout
        stack = Stack.of(self)
        # The stack's id ends with a UUID that is new each time the stack is created.
        stack_uuid = Fn.select(2, Fn.split("/", stack.stack_id))
        unique = Names.unique_resource_name(self, max_length=64, separator="-")
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"{VENDED_LOGS_PREFIX}{service_name}-{unique}-{stack_uuid}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Runs {self.node.path}; holds only what its tasks are granted",
        )
        defaults: dict[str, object] = {
            "definition_body": body,
            "state_machine_type": sfn.StateMachineType.STANDARD,
            "timeout": timeout,
            "tracing_enabled": True,
            "role": self.role,
            "logs": sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            "comment": f"{service_name}: {self.node.path}",
        }
        if state_machine_name is not None:
            defaults["state_machine_name"] = state_machine_name
        props = merge_props(
            name, "state_machine_props", sfn.StateMachine, defaults, state_machine_props, scope=self
        )
        self.state_machine = sfn.StateMachine(self, "StateMachine", **props)  # type: ignore[arg-type]
        acknowledge(
            self.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Step Functions' log delivery actions (logs:CreateLogDelivery, "
            "logs:PutResourcePolicy, logs:DescribeLogGroups...) and X-Ray's "
            "PutTraceSegments/PutTelemetryRecords/GetSampling* do not support resource-level "
            "permissions, so logging and tracing need Resource '*' (Step Functions Developer "
            "Guide, 'Using CloudWatch Logs to log execution history'). The role is otherwise "
            "scoped by the definition's tasks.",
        )

        self.alarms: list[cloudwatch.Alarm] = []
        if alarms:
            self._add_alarms(thresholds, alarm_topic)

    def _add_alarms(self, thresholds: Mapping[str, float], topic: sns.ITopic | None) -> None:
        service = self.service_name
        path = self.node.path
        timeout = self.timeout.to_seconds()
        machine = self.state_machine
        specs = [
            (
                "ExecutionsFailed",
                machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: an execution of the workflow {path} failed. First: open the "
                "failed execution in the Step Functions console (or its log group) and read "
                "the error and cause of the state that failed; then start it again or fix "
                "what it called.",
            ),
            (
                "ExecutionsTimedOut",
                machine.metric_timed_out(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: an execution of the workflow {path} ran longer than its "
                f"{timeout} s timeout and was stopped. First: find the state it was in "
                "(execution history) and check the service that state waits for.",
            ),
            (
                "ExecutionThrottled",
                machine.metric_throttled(period=ALARM_PERIOD, statistic="Sum"),
                f"{service}: Step Functions throttled the workflow {path}. First: check what "
                "started so many executions and the account's Step Functions quotas "
                "(StartExecution, state transitions) in Service Quotas.",
            ),
        ]
        alarms = [
            at_least_alarm(
                self,
                f"{alarm_name}Alarm",
                metric=metric,
                description=description,
                threshold=thresholds[alarm_name],
            )
            for alarm_name, metric, description in specs
        ]
        notify(alarms, topic)
        self.alarms = alarms

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start executions of the workflow."""
        return self.state_machine.grant_start_execution(grantee)


def _definition_body(
    construct: str, definition: sfn.IChainable | sfn.DefinitionBody, timeout: Duration
) -> sfn.DefinitionBody:
    """``definition`` as a DefinitionBody whose definition carries ``timeout``.

    aws-cdk-lib writes the state machine's ``timeout`` (``TimeoutSeconds``) into a
    definition built from states only; a definition given as Amazon States Language text
    (``DefinitionBody.from_string`` / ``from_file``) gets it here, so that no workflow of
    this construct runs without one."""
    if isinstance(definition, sfn.ChainDefinitionBody):
        return definition
    if isinstance(definition, sfn.StringDefinitionBody | sfn.FileDefinitionBody):
        if isinstance(definition, sfn.StringDefinitionBody):
            text = definition.body
        else:
            text = Path(definition.path).read_text(encoding="utf-8")
        try:
            document = json.loads(text) if not Token.is_unresolved(text) else None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise fail(
                construct,
                "definition",
                "is Amazon States Language text that is not a JSON object without tokens; "
                "build it from states (an IChainable) instead",
            )
        seconds = int(timeout.to_seconds())
        given = document.get("TimeoutSeconds")
        if given is not None and given != seconds:
            raise fail(
                construct,
                "definition",
                f"sets TimeoutSeconds {given!r}, but timeout is {seconds} seconds; give one",
            )
        document["TimeoutSeconds"] = seconds
        return sfn.DefinitionBody.from_string(json.dumps(document))
    if isinstance(definition, sfn.DefinitionBody):
        raise fail(
            construct,
            "definition",
            f"is a {type(definition).__name__}; pass states (an IChainable) or "
            "DefinitionBody.from_chainable/from_string/from_file",
        )
    # jsii interfaces defy isinstance: a chainable has a start state and end states.
    if hasattr(definition, "start_state") and hasattr(definition, "end_states"):
        return sfn.DefinitionBody.from_chainable(definition)
    raise fail(
        construct,
        "definition",
        f"must be an aws_stepfunctions.IChainable (a state or a chain of states) or a "
        f"DefinitionBody, got {type(definition).__name__}",
    )
