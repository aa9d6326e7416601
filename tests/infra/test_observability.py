"""Observability in the stack (issue 12): traces, alarms worth waking for with their runbooks, the
dashboard of the business metrics, and a dead-letter target on every pipe."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from synthesized_stack import Synthesized
from test_cdk_stack import function_names, references

from scf.service.metrics import CATALOGUE

pytestmark = pytest.mark.infra

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
RUNBOOK_LINK = re.compile(r"docs/operations\.md#([a-z0-9-]+)")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for line in markdown.splitlines():
        if match := re.match(r"^#{1,6}\s+(.*?)\s*$", line):
            found.add(re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-"))
    return found


def alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {lid: a["Properties"] for lid, a in synthesized.of_type("AWS::CloudWatch::Alarm").items()}


def dashboard_body(synthesized: Synthesized) -> str:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    # Fn::Join of literal parts and references: the literal parts are what the widgets say.
    return "".join(part if isinstance(part, str) else "" for part in body["Fn::Join"][1])


def test_every_function_traces_actively(synthesized: Synthesized) -> None:
    functions = synthesized.of_type("AWS::Lambda::Function")
    for lid in function_names(synthesized):
        assert functions[lid]["Properties"]["TracingConfig"] == {"Mode": "Active"}, lid


def test_every_alarm_names_a_runbook_section_that_exists_and_goes_to_the_alarm_topic(
    synthesized: Synthesized,
) -> None:
    sections = anchors(OPERATIONS.read_text())
    (topic_id,) = synthesized.of_type("AWS::SNS::Topic")
    for lid, alarm in alarms(synthesized).items():
        links = RUNBOOK_LINK.findall(alarm["AlarmDescription"])
        assert links, f"{lid} names no runbook section"
        assert set(links) <= sections, f"{lid}: no heading for {links} in docs/operations.md"
        assert topic_id in set(references(alarm["AlarmActions"])), lid


def test_the_runbook_reader_finds_only_real_headings() -> None:
    assert anchors("## Runbooks\n### Api5xx\ntext # not a heading\n") == {"runbooks", "api5xx"}


def test_every_function_has_a_throttles_alarm(synthesized: Synthesized) -> None:
    alarmed = {
        target
        for a in alarms(synthesized).values()
        if a.get("MetricName") == "Throttles" and a.get("Namespace") == "AWS/Lambda"
        for target in references(a["Dimensions"])
    }
    assert set(function_names(synthesized)) <= alarmed


def test_every_pipe_has_a_dead_letter_queue_and_a_failures_alarm(synthesized: Synthesized) -> None:
    pipes = synthesized.of_type("AWS::Pipes::Pipe")
    queues = synthesized.of_type("AWS::SQS::Queue")
    failing = {
        target
        for a in alarms(synthesized).values()
        if a.get("Namespace") == "AWS/EventBridge/Pipes" and a.get("MetricName") == "ExecutionFailed"
        for target in references(a["Dimensions"])
    }
    assert len(pipes) == 3
    for lid, pipe in pipes.items():
        stream = pipe["Properties"]["SourceParameters"]["DynamoDBStreamParameters"]
        (dlq,) = references(stream["DeadLetterConfig"])
        assert dlq in queues, lid
        assert lid in failing, f"no ExecutionFailed alarm on pipe {lid}"


def test_the_api_alarms_on_5xx_and_on_p99_latency(synthesized: Synthesized) -> None:
    found = alarms(synthesized).values()
    api = {a.get("MetricName"): a for a in found if a.get("Namespace") == "AWS/ApiGateway"}
    assert api["5XXError"]["Statistic"] == "Sum"
    assert api["Latency"]["ExtendedStatistic"] == "p99"
    assert api["Latency"]["EvaluationPeriods"] == 3


def test_payouts_not_active_within_15_minutes_alarm_on_the_emitted_metrics(synthesized: Synthesized) -> None:
    (alarm,) = [a for lid, a in alarms(synthesized).items() if lid.startswith("ObservabilityPayoutNotActive")]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    expression = next(q["Expression"] for q in queries.values() if "Expression" in q)
    assert alarm["Threshold"] == 900 and "stuck, 0) * 900" in expression
    stats = {q["Id"]: q["MetricStat"]["Metric"] for q in queries.values() if "MetricStat" in q}
    assert {m["MetricName"] for m in stats.values()} == {"ApprovalToActive", "OpenPaymentsInquired"}
    assert all(m["Namespace"] == "scf" for m in stats.values())
    services = {d["Value"] for m in stats.values() for d in m["Dimensions"] if d["Name"] == "service"}
    assert services == {"disburse", "ingest_settlement"}


def test_the_dashboard_shows_every_business_metric_and_the_alarms(synthesized: Synthesized) -> None:
    body = dashboard_body(synthesized)
    for name in CATALOGUE:
        assert f'MetricName=\\"{name}\\"' in body, name
    # The whole body parses once the references are filled in.
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    widgets = json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))["widgets"]
    assert any(w["properties"].get("title") == "Alarms" for w in widgets)
    assert len([w for w in widgets if "SEARCH(" in json.dumps(w)]) == len(CATALOGUE)


def test_the_functions_publish_metrics_in_the_namespace_the_alarms_read(synthesized: Synthesized) -> None:
    functions = synthesized.of_type("AWS::Lambda::Function")
    for lid in function_names(synthesized):
        environment = functions[lid]["Properties"]["Environment"]["Variables"]
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "scf", lid
