"""`scf ops rerun-day DATE`: the daily job's messages for one business date, sent again to the
queues of the functions that own the steps (every step is idempotent for its date: a rerun does
only what was left undone). The messages are the schedules' own inputs from the template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from tqdm import tqdm

from infra.local.daily import message_body, wait_until_consumed
from infra.ops.target import Schedule, Target, TargetError


@dataclass(frozen=True)
class Sent:
    step: str
    queue_url: str
    body: str


def step_of(schedule: Schedule) -> str:
    return str(json.loads(schedule.input).get("step", schedule.name))


def rerun_day(
    target: Target,
    day: date,
    *,
    today: date,
    steps: tuple[str, ...] = (),
    wait_seconds: float | None = 120.0,
    progress: bool = True,
) -> list[Sent]:
    """Send the daily messages of `day` (only `steps`, when given) and, unless `wait_seconds` is
    None, wait until their queues are drained. A day after `today` has not begun: refused."""
    if day > today:
        raise TargetError(f"{day} has not begun (today is {today} on {target.label})")
    known = {step_of(schedule) for schedule in target.schedules}
    unknown = sorted(set(steps) - known)
    if unknown:
        raise TargetError(
            f"no daily step {', '.join(unknown)} on {target.label} (steps: {', '.join(sorted(known))})"
        )
    chosen = [s for s in target.schedules if not steps or step_of(s) in steps]
    sent = []
    for schedule in tqdm(chosen, unit="step", desc=f"rerun {day}", disable=not progress):
        body = message_body(schedule.as_env(), day)
        target.sqs.send_message(QueueUrl=schedule.queue_url, MessageBody=body)
        sent.append(Sent(step_of(schedule), schedule.queue_url, body))
    if wait_seconds is not None:
        for queue_url in sorted({s.queue_url for s in sent}):
            wait_until_consumed(target.sqs, queue_url, timeout=wait_seconds, what=f"the daily job of {day}")
    return sent
