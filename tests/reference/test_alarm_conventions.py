"""Every alarm of the reference app follows the library's conventions: a description that
says what it means and what to do first, an alarm action and an OK action to an SNS topic,
and an explicit treatment of missing data."""

from __future__ import annotations

from deploy_rules import Templates, resolve, resources

from cdk_microservices._alarms import DESCRIPTION_FORMAT, MAX_DESCRIPTION_LENGTH


def _alarms(templates: Templates) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (alarm.stack, alarm.logical_id, alarm.properties)
        for alarm in resources(templates, "AWS::CloudWatch::Alarm")
    ]


def test_the_stages_have_alarms(synthesized_app: Templates) -> None:
    stacks = {stack for stack, _, _ in _alarms(synthesized_app)}
    # Every stack with a pattern that alarms: platform (audit trail, event buses), the
    # three services and the edge (us-east-1 by default), in both stages.
    for stage in ("Dev", "Prod"):
        for name in ("Platform", "Accounts", "Statements", "Transfers", "Edge"):
            assert f"{stage}/{name}" in stacks, f"{stage}/{name} has no alarm"


def test_every_alarm_says_what_it_means_and_what_to_do_first(
    synthesized_app: Templates,
) -> None:
    for stack, logical_id, properties in _alarms(synthesized_app):
        description = properties.get("AlarmDescription")
        assert isinstance(description, str), f"{stack}/{logical_id}: no description"
        assert DESCRIPTION_FORMAT.fullmatch(description), f"{stack}/{logical_id}: {description!r}"
        assert description.count("First: ") == 1, f"{stack}/{logical_id}"
        assert len(description) <= MAX_DESCRIPTION_LENGTH, f"{stack}/{logical_id}"


def test_every_alarm_notifies_a_topic_of_alarm_and_ok(synthesized_app: Templates) -> None:
    for stack, logical_id, properties in _alarms(synthesized_app):
        for field in ("AlarmActions", "OKActions"):
            targets = resolve(synthesized_app, stack, properties.get(field, []))
            assert targets, f"{stack}/{logical_id}: no {field}"
            assert {target.type for target in targets} == {"AWS::SNS::Topic"}, (
                f"{stack}/{logical_id}: {field} must go to an SNS topic"
            )


def test_every_alarm_says_how_missing_data_is_treated(synthesized_app: Templates) -> None:
    for stack, logical_id, properties in _alarms(synthesized_app):
        assert properties.get("TreatMissingData") in {
            "breaching",
            "notBreaching",
            "ignore",
            "missing",
        }, f"{stack}/{logical_id}: TreatMissingData is not set"
