"""Where `scf ops` acts: the running local stack (its env.json) or a deployed stage (its
CloudFormation stack: the template names the queues and the daily schedules, the stack's resources
give their physical ids). Both are read the same way, from the template, as the local stack is built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from infra.local.template import Template


class TargetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    timezone: str
    queue_url: str
    input: str

    def as_env(self) -> dict[str, str]:
        """The shape `infra.local.daily` reads (env.json's `schedules`)."""
        return {
            "name": self.name,
            "expression": self.expression,
            "timezone": self.timezone,
            "queue_url": self.queue_url,
            "input": self.input,
        }


@dataclass(frozen=True)
class Target:
    label: str  # "local stack" or "stack scf-example"
    sqs: Any
    queues: dict[str, str]  # snake name (`repayments`, `repayments_dlq`, ...) -> queue URL
    schedules: tuple[Schedule, ...]

    def queue_url(self, name: str) -> str:
        wanted = name.replace("-", "_").lower()
        if wanted not in self.queues:
            known = ", ".join(sorted(self.queues))
            raise TargetError(f"{self.label} has no queue {name!r} (it has: {known})")
        return self.queues[wanted]


def local_target() -> Target:
    from infra.local.state import read_env

    return target_of_env(read_env())


def target_of_env(env: dict[str, Any]) -> Target:
    """The local stack described by its env.json (`queues`, `schedules`, the emulator's endpoint)."""
    from infra.local.emulator import client

    schedules = tuple(
        Schedule(s.get("name", ""), s["expression"], s["timezone"], s["queue_url"], s["input"])
        for s in env.get("schedules") or []
    )
    sqs = client("sqs", env["aws_endpoint_url"], env["region"])
    return Target("local stack", sqs, dict(env.get("queues") or {}), schedules)


def stage_target(stack_name: str, session: Any = None) -> Target:
    """A deployed stack, with the credentials and region of `session` (default: the environment's)."""
    session = session or boto3.session.Session()
    cloudformation = session.client("cloudformation")
    try:
        body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    except cloudformation.exceptions.ClientError as exc:
        raise TargetError(f"stack {stack_name}: {exc}") from exc
    template = Template(json.loads(body) if isinstance(body, str) else body)
    physical: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
    return targets_from(f"stack {stack_name}", template, physical, session.client("sqs"))


def targets_from(label: str, template: Template, physical: dict[str, str], sqs: Any) -> Target:
    """The queues (an SQS queue's physical id is its URL) and schedules of a deployed template."""
    queues = {
        name: physical[logical] for name, logical in template.queue_names().items() if logical in physical
    }
    schedules = tuple(
        Schedule(spec.logical_id, spec.expression, spec.timezone, physical[spec.queue_logical_id], spec.input)
        for spec in template.schedules()
        if spec.queue_logical_id in physical
    )
    return Target(label, sqs, queues, schedules)
