"""tools/synth_summary.py names the jobs and workflows a stack has, however few."""

from __future__ import annotations

from tools.synth_summary import describe


def _resources(*kinds: str) -> dict[str, dict[str, object]]:
    return {f"R{index}": {"Type": kind} for index, kind in enumerate(kinds)}


def test_the_three_most_frequent_kinds_come_first() -> None:
    text = describe(
        _resources(*["AWS::IAM::Role"] * 3, *["AWS::SQS::Queue"] * 2, "AWS::S3::Bucket")
    )
    assert text == "3 AWS::IAM::Role, 2 AWS::SQS::Queue, 1 AWS::S3::Bucket, ..."


def test_schedules_and_state_machines_are_named_even_when_rare() -> None:
    text = describe(
        _resources(
            *["AWS::CloudWatch::Alarm"] * 5,
            *["AWS::IAM::Role"] * 4,
            *["AWS::Logs::LogGroup"] * 3,
            "AWS::Scheduler::Schedule",
            "AWS::StepFunctions::StateMachine",
        )
    )
    assert text.endswith("1 AWS::Scheduler::Schedule, 1 AWS::StepFunctions::StateMachine, ...")


def test_a_frequent_operations_kind_is_not_named_twice() -> None:
    text = describe(_resources(*["AWS::Scheduler::Schedule"] * 4))
    assert text == "4 AWS::Scheduler::Schedule, ..."
