"""`scf ops --stage NAME` finds a deployed stack's queues and daily schedules from its template
(the same names the local stack uses), with the physical ids CloudFormation lists."""

from __future__ import annotations

from typing import Any

from synthesized_stack import Synthesized

from infra.local.template import Template
from infra.ops.target import targets_from


def test_a_deployed_stacks_queues_and_schedules_come_from_its_template(synthesized: Synthesized) -> None:
    template = Template(synthesized.template)
    physical: dict[str, Any] = {logical: f"https://sqs.example/{logical}" for logical in template.resources}

    target = targets_from("stack scf-local", template, physical, sqs=None)

    for name in ("repayments", "disbursements", "settlement_files"):
        assert target.queue_url(name).startswith("https://sqs.example/")
        assert target.queue_url(f"{name}_dlq") != target.queue_url(name)
    assert target.schedules, "the daily job's schedules"
    assert all(s.queue_url.startswith("https://sqs.example/") for s in target.schedules)
    assert all('"scf": "daily"' in s.input for s in target.schedules)
