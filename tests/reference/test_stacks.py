"""Fine-grained assertions on the reference app's stacks, in both environment profiles."""

from __future__ import annotations

from typing import Any

import pytest
from reference_app import resources_of_type

from stacks.config import DEV, PROD, EnvironmentProfile

PROFILES = [DEV, PROD]
SERVICE_STACKS = ["Accounts", "Statements"]
# Pinned: a new logical ID would make CloudFormation replace the table and lose its data.
ACCOUNTS_TABLE_LOGICAL_ID = "AccountsTable0B30E896"
HANDLERS = {
    "POST /accounts": "open_account.handler",
    "GET /accounts": "list_accounts.handler",
    "GET /accounts/{id}": "get_account.handler",
}
ACCOUNTS_TABLE_ARN = {"Fn::GetAtt": [ACCOUNTS_TABLE_LOGICAL_ID, "Arn"]}
OWNER_INDEX_ARN = {"Fn::Join": ["", [ACCOUNTS_TABLE_ARN, "/index/by-owner"]]}
# The index by owner exactly as the handler tests' moto table has it
# (tests/handlers/accounts_api/conftest.py, OWNER_INDEX): keep the two the same.
OWNER_INDEX = {
    "IndexName": "by-owner",
    "KeySchema": [
        {"AttributeName": "owner_sub", "KeyType": "HASH"},
        {"AttributeName": "opened_at", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}


def _stack(templates: dict[str, dict[str, Any]], profile: EnvironmentProfile, name: str) -> Any:
    return templates[f"{profile.stage_id}/{name}"]


def _function_by_route(template: dict[str, Any], route: str) -> tuple[str, Any]:
    matches = [
        (logical_id, resource)
        for logical_id, resource in resources_of_type(template, "AWS::Lambda::Function")
        if resource["Properties"]["Handler"] == HANDLERS[route]
    ]
    assert len(matches) == 1, f"expected one function for {route}, found {len(matches)}"
    return matches[0]


def _statements_of_role(template: dict[str, Any], role_logical_id: str) -> list[Any]:
    statements = []
    for _, policy in resources_of_type(template, "AWS::IAM::Policy"):
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_accounts_table_logical_id_is_pinned(profile: EnvironmentProfile, synthesized_app):
    tables = dict(
        resources_of_type(_stack(synthesized_app, profile, "Accounts"), "AWS::DynamoDB::Table")
    )
    assert list(tables) == [ACCOUNTS_TABLE_LOGICAL_ID]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_accounts_table_follows_the_profile(profile: EnvironmentProfile, synthesized_app):
    table = _stack(synthesized_app, profile, "Accounts")["Resources"][ACCOUNTS_TABLE_LOGICAL_ID]
    expected_policy = "Retain" if profile is PROD else "Delete"
    assert table["DeletionPolicy"] == expected_policy
    assert table["UpdateReplacePolicy"] == expected_policy
    properties = table["Properties"]
    assert properties["DeletionProtectionEnabled"] is profile.deletion_protection
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # SSEEnabled without a key: the AWS managed KMS key (aws/dynamodb)
    assert properties["SSESpecification"] == {"SSEEnabled": True}


@pytest.mark.parametrize("service", SERVICE_STACKS)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_every_log_group_keeps_the_profiles_retention(profile, service, synthesized_app):
    expected_days = {DEV.name: 7, PROD.name: 365}[profile.name]
    template = _stack(synthesized_app, profile, service)
    log_groups = dict(resources_of_type(template, "AWS::Logs::LogGroup"))
    functions = list(resources_of_type(template, "AWS::Lambda::Function"))
    workflows = list(resources_of_type(template, "AWS::StepFunctions::StateMachine"))
    # the API's access and execution logs, one per function and one per workflow
    assert len(log_groups) == 2 + len(functions) + len(workflows)
    for logical_id, log_group in log_groups.items():
        assert log_group["Properties"]["RetentionInDays"] == expected_days, logical_id
    for logical_id, function in functions:
        target = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert target in log_groups, f"{logical_id} logs to {target}, not its own log group"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_api_stage_follows_the_profile(profile: EnvironmentProfile, synthesized_app):
    template = _stack(synthesized_app, profile, "Accounts")
    [(_, stage)] = resources_of_type(template, "AWS::ApiGateway::Stage")
    [settings] = stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == profile.api_throttling_rate_limit
    assert settings["ThrottlingBurstLimit"] == profile.api_throttling_burst_limit
    assert settings["LoggingLevel"] == profile.api_execution_logging_level
    assert settings["DataTraceEnabled"] is False
    assert stage["Properties"]["TracingEnabled"] is True
    [(_, association)] = resources_of_type(template, "AWS::WAFv2::WebACLAssociation")
    # a cross-stack reference to the platform's web ACL
    assert {"Fn::ImportValue", "Fn::GetStackOutput"} & association["Properties"]["WebACLArn"].keys()


def _path_of(template: dict[str, Any], resource_id: Any) -> str:
    """The path of an API Gateway resource (``{"Ref": ...}`` or the root's ``Fn::GetAtt``)."""
    if "Fn::GetAtt" in resource_id:
        assert resource_id["Fn::GetAtt"][1] == "RootResourceId"
        return ""
    properties = template["Resources"][resource_id["Ref"]]["Properties"]
    return f"{_path_of(template, properties['ParentId'])}/{properties['PathPart']}"


def _routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every method of the stack's APIs by ``"METHOD /path"``: its authorization, authorizer
    and the logical id of the function it invokes (through its ``live`` alias)."""
    routes = {}
    for _, method in resources_of_type(template, "AWS::ApiGateway::Method"):
        properties = method["Properties"]
        key = f"{properties['HttpMethod']} {_path_of(template, properties['ResourceId'])}"
        [alias_id] = [
            part["Ref"]
            for part in properties["Integration"]["Uri"]["Fn::Join"][1]
            if isinstance(part, dict)
        ]
        alias = template["Resources"][alias_id]
        assert alias["Type"] == "AWS::Lambda::Alias"
        assert alias["Properties"]["Name"] == "live"
        target = alias["Properties"]["FunctionName"]["Ref"]
        routes[key] = {
            "authorization": properties["AuthorizationType"],
            "authorizer": properties.get("AuthorizerId"),
            "function": target,
        }
    return routes


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_every_accounts_route_requires_cognito(profile: EnvironmentProfile, synthesized_app):
    template = _stack(synthesized_app, profile, "Accounts")
    [(authorizer_id, authorizer)] = resources_of_type(template, "AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"

    routes = _routes(template)

    assert routes.keys() == HANDLERS.keys()
    for route, method in routes.items():
        assert method["authorization"] == "COGNITO_USER_POOLS", route
        assert method["authorizer"] == {"Ref": authorizer_id}, route
        function_id, _ = _function_by_route(template, route)
        assert method["function"] == function_id, route


@pytest.mark.parametrize(
    ("route", "allowed", "resources"),
    [
        ("POST /accounts", {"dynamodb:PutItem"}, [ACCOUNTS_TABLE_ARN]),
        ("GET /accounts", {"dynamodb:Query"}, [OWNER_INDEX_ARN]),
        ("GET /accounts/{id}", {"dynamodb:GetItem"}, [ACCOUNTS_TABLE_ARN]),
    ],
)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_each_route_gets_only_the_table_actions_it_uses(
    profile: EnvironmentProfile,
    route: str,
    allowed: set[str],
    resources: list[Any],
    synthesized_app,
):
    template = _stack(synthesized_app, profile, "Accounts")
    _, function = _function_by_route(template, route)
    role_logical_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements_of_role(template, role_logical_id)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert len(dynamodb) == 1
    assert _actions(dynamodb[0]) == allowed
    granted = dynamodb[0]["Resource"]
    assert (granted if isinstance(granted, list) else [granted]) == resources
    assert not [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    role = template["Resources"][role_logical_id]
    assert "ManagedPolicyArns" not in role["Properties"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_accounts_table_has_an_index_by_owner(profile: EnvironmentProfile, synthesized_app):
    template = _stack(synthesized_app, profile, "Accounts")
    properties = template["Resources"][ACCOUNTS_TABLE_LOGICAL_ID]["Properties"]

    assert properties["GlobalSecondaryIndexes"] == [OWNER_INDEX]
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": name, "AttributeType": "S"}
        for name in ("pk", "sk", "owner_sub", "opened_at")
    ]
    # The list function is told the index's name; no other function is.
    _, function = _function_by_route(template, "GET /accounts")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["OWNER_INDEX_NAME"] == OWNER_INDEX["IndexName"]
    for route in HANDLERS.keys() - {"GET /accounts"}:
        _, other = _function_by_route(template, route)
        assert "OWNER_INDEX_NAME" not in other["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_only_the_list_function_may_query_and_only_the_index(
    profile: EnvironmentProfile, synthesized_app
):
    template = _stack(synthesized_app, profile, "Accounts")
    _, list_function = _function_by_route(template, "GET /accounts")
    list_role = list_function["Properties"]["Role"]["Fn::GetAtt"][0]
    queries = []
    for _, policy in resources_of_type(template, "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            granted = statement["Resource"]
            granted = granted if isinstance(granted, list) else [granted]
            # No statement names the index but the list function's, nor any index/* pattern.
            if OWNER_INDEX_ARN in granted or "/index/" in str(granted):
                assert policy["Properties"]["Roles"] == [{"Ref": list_role}], statement
                assert granted == [OWNER_INDEX_ARN], statement
            if _actions(statement) & {"dynamodb:Query", "dynamodb:Scan", "dynamodb:*"}:
                queries.append((policy["Properties"]["Roles"], _actions(statement), granted))
    assert queries == [([{"Ref": list_role}], {"dynamodb:Query"}, [OWNER_INDEX_ARN])]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_user_pool_follows_the_profile(profile: EnvironmentProfile, synthesized_app):
    template = _stack(synthesized_app, profile, "Platform")
    [(_, pool)] = resources_of_type(template, "AWS::Cognito::UserPool")
    properties = pool["Properties"]
    assert properties["MfaConfiguration"] == "ON"
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    if profile.cognito_threat_protection:
        assert properties["UserPoolTier"] == "PLUS"
        assert properties["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    else:
        assert properties["UserPoolTier"] == "ESSENTIALS"
        assert "UserPoolAddOns" not in properties
    assert properties["DeletionProtection"] == (
        "ACTIVE" if profile.deletion_protection else "INACTIVE"
    )


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_vpc_follows_the_profile(profile: EnvironmentProfile, synthesized_app):
    template = _stack(synthesized_app, profile, "Platform")
    subnets = [s["Properties"] for _, s in resources_of_type(template, "AWS::EC2::Subnet")]
    zones = {s["AvailabilityZone"] for s in subnets}
    assert zones == {f"us-east-1{z}" for z in "abc"[: profile.availability_zones]}
    # public, private and isolated subnets in every zone
    assert len(subnets) == 3 * profile.availability_zones
    assert len(list(resources_of_type(template, "AWS::EC2::NatGateway"))) == profile.nat_gateways
    isolated = [
        route_table
        for logical_id, route_table in resources_of_type(template, "AWS::EC2::Route")
        if "Isolated" in logical_id
    ]
    assert isolated == [], "isolated subnets (databases) must have no route out"
    [(_, flow_log)] = resources_of_type(template, "AWS::EC2::FlowLog")
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    [(_, cluster)] = resources_of_type(template, "AWS::ECS::Cluster")
    insights = "enabled" if profile.container_insights else "disabled"
    assert {"Name": "containerInsights", "Value": insights} in cluster["Properties"][
        "ClusterSettings"
    ]


# Pinned: new logical IDs would replace the trail, its bucket (and the logs in it) or the
# key that decrypts them.
AUDIT_TRAIL_LOGICAL_IDS = {
    "AWS::CloudTrail::Trail": "AuditTrail49D399D8",
    "AWS::S3::Bucket": "AuditTrailBucketA91FD435",
    "AWS::KMS::Key": "AuditTrailKeyA4D56A7A",
}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_platform_records_the_account_in_an_audit_trail(
    profile: EnvironmentProfile, synthesized_app
):
    template = _stack(synthesized_app, profile, "Platform")
    resources = template["Resources"]
    [(trail_id, trail)] = resources_of_type(template, "AWS::CloudTrail::Trail")
    assert trail_id == AUDIT_TRAIL_LOGICAL_IDS["AWS::CloudTrail::Trail"]
    properties = trail["Properties"]
    assert properties["IsMultiRegionTrail"] is True
    assert properties["IncludeGlobalServiceEvents"] is True
    assert properties["EnableLogFileValidation"] is True
    assert properties["EventSelectors"] == [
        {"IncludeManagementEvents": True, "ReadWriteType": "All"}
    ]
    # Unique per stage, so Dev and Prod can share an account.
    assert properties["TrailName"].startswith(f"{profile.stage_id}Platform-AuditTrail-")
    assert properties["KMSKeyId"] == {
        "Fn::GetAtt": [AUDIT_TRAIL_LOGICAL_IDS["AWS::KMS::Key"], "Arn"]
    }
    assert properties["S3BucketName"] == {"Ref": AUDIT_TRAIL_LOGICAL_IDS["AWS::S3::Bucket"]}
    log_group_id = properties["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
    expected_days = {DEV.name: 7, PROD.name: 365}[profile.name]
    assert resources[log_group_id]["Properties"]["RetentionInDays"] == expected_days
    # Stateful parts follow the profile's removal policy.
    expected_policy = "Retain" if profile is PROD else "Delete"
    for logical_id in (
        AUDIT_TRAIL_LOGICAL_IDS["AWS::S3::Bucket"],
        AUDIT_TRAIL_LOGICAL_IDS["AWS::KMS::Key"],
        log_group_id,
    ):
        assert resources[logical_id]["DeletionPolicy"] == expected_policy, logical_id
    assert template["Outputs"]["AuditTrailArn"]["Value"] == {"Fn::GetAtt": [trail_id, "Arn"]}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_the_audit_alarms_notify_the_platform_alarm_topic(
    profile: EnvironmentProfile, synthesized_app
):
    template = _stack(synthesized_app, profile, "Platform")
    [(topic_id, _)] = [
        (logical_id, topic)
        for logical_id, topic in resources_of_type(template, "AWS::SNS::Topic")
        if topic["Properties"].get("DisplayName") == f"payments {profile.name} alarms"
    ]
    alarms = {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for _, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm")
        if alarm["Properties"].get("Namespace") == "CloudTrailMetrics"
    }
    assert set(alarms) == {"RootUserUsage", "ConsoleSignInWithoutMfa", "IamPolicyChanges"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
