"""The domain-events pipe done locally (docs/local-stack.md, "Domain events"): the cloud's own
enrichment definition and target parameters read from a template, run on stream records, and
`scf local events` printing the log."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.events import domain_events_filter, enrichment_definition
from infra.local.cli import main
from infra.local.events import EventLog, bus_events, read_events, run_state_machine
from infra.local.pattern import matches_any
from infra.local.state import write_json_atomically
from infra.local.template import Template, TemplateError

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def a_template(definition: dict[str, Any]) -> Template:
    """A table, a bus, a state machine and the pipe between them, shaped as the CDK app writes them."""
    return Template(
        {
            "Resources": {
                "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
                "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "scf-events"}},
                "Machine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {"DefinitionString": json.dumps(definition)},
                },
                "Pipe": {
                    "Type": "AWS::Pipes::Pipe",
                    "Properties": {
                        "Source": {"Fn::GetAtt": ["Table", "StreamArn"]},
                        "Enrichment": {"Ref": "Machine"},
                        "Target": {"Fn::GetAtt": ["Bus", "Arn"]},
                        "SourceParameters": {
                            "FilterCriteria": {"Filters": [{"Pattern": json.dumps(domain_events_filter())}]}
                        },
                        "TargetParameters": {
                            "InputTemplate": "<$.detail>",
                            "EventBridgeEventBusParameters": {
                                "DetailType": "$.detail_type",
                                "Source": "scf",
                                "Time": "$.time",
                            },
                        },
                    },
                },
            }
        }
    )


def a_record(event_type: str, payload: dict[str, Any], target: str = "domain-events") -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "NewImage": {
                "pk": {"S": f"OUTBOX#{event_type}-L1"},
                "kind": {"S": "OUTBOX"},
                "target": {"S": target},
                "event_type": {"S": event_type},
                "created_at": {"S": "2026-03-02T09:00:00+08:00"},
                "payload": {"S": json.dumps(payload)},
            }
        },
    }


def test_the_clouds_enrichment_turns_an_outbox_record_into_the_bus_event() -> None:
    template = a_template(enrichment_definition())
    assert template.pipes() == []  # not a queue pipe
    (spec,) = template.bus_pipes()
    detail = {"event_id": "LoanActivated-L1", "version": "1", "loan_id": "L1", "principal": "10.00"}

    events = bus_events(spec, [a_record("LoanActivated", detail)], NOW)

    assert events == [
        {
            "detail_type": "LoanActivated",
            "source": "scf",
            "time": "2026-03-02T09:00:00+08:00",
            "detail": detail,
        }
    ]


def test_the_filter_takes_public_events_whatever_their_target_and_leaves_internal_ones() -> None:
    (spec,) = a_template(enrichment_definition()).bus_pipes()
    assert matches_any(spec.patterns, a_record("LoanApproved", {}, target="disbursements"))
    assert not matches_any(spec.patterns, a_record("RepaymentRequested", {}, target="repayments"))


def test_a_state_the_local_stack_cannot_run_refuses_to_start() -> None:
    task = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:x", "End": True}}}
    with pytest.raises(TemplateError, match="not supported locally"):
        run_state_machine(task, [{}])


def test_events_prints_the_log_as_json_lines_and_follow_prints_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCF_LOCAL_DIR", str(tmp_path))
    log = EventLog(tmp_path / "events.jsonl")
    write_json_atomically(tmp_path / "env.json", {"events_file": str(log.path), "pid": os.getpid()})
    log.append([{"detail_type": "LoanApproved", "source": "scf", "time": "t1", "detail": {"loan_id": "L1"}}])

    assert main(["local", "events"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"detail_type": "LoanApproved", "time": "t1", "detail": {"loan_id": "L1"}}

    followed = read_events(log.path, follow=True, poll_seconds=0.01)
    assert next(followed)["detail_type"] == "LoanApproved"
    later = threading.Timer(0.05, log.append, [[{"detail_type": "LoanActivated", "detail": {}}]])
    later.start()
    assert next(followed)["detail_type"] == "LoanActivated"  # waits for it
