"""The daily job in the local stack: the template's schedules (DESIGN.md section 3: the template
is the source) fired by `scf local clock set` for each business day the clock moved past, in
order, each day's messages consumed before the next day's are sent and before the command returns.
A schedule's `<aws.scheduler.scheduled-time>` becomes the moment it would have fired that day."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
DAILY_CRON = re.compile(r"^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$")


class DailyJobError(RuntimeError):
    pass


def fires_at(expression: str, timezone: str, day: date) -> datetime:
    """When a daily `cron(M H * * ? *)` schedule fires on `day` in `timezone`, in UTC."""
    match = DAILY_CRON.match(expression)
    if match is None:
        raise DailyJobError(f"the local stack runs daily cron schedules only, not {expression!r}")
    minute, hour = int(match.group(1)), int(match.group(2))
    local = datetime.combine(day, clock_time(hour, minute), ZoneInfo(timezone))
    return local.astimezone(ZoneInfo("UTC"))


def days_passed(before: date, after: date) -> list[date]:
    """The business days the clock moved past: (before, after], oldest first."""
    return [before + timedelta(days=n) for n in range(1, (after - before).days + 1)]


def message_body(schedule: dict[str, Any], day: date) -> str:
    moment = fires_at(schedule["expression"], schedule["timezone"], day)
    text: str = schedule["input"]
    return text.replace(SCHEDULED_TIME, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def fire(env: dict[str, Any], days: Iterable[date], *, timeout: float = 60.0) -> list[tuple[date, str]]:
    """Send every schedule's message for each day in order; after each day wait until its queues
    are empty (the workers consumed the messages). Returns (day, body) in the order sent; nothing
    when the stack has no schedules. Each day is `scf ops rerun-day` for that day."""
    days = list(days)
    if not env.get("schedules") or not days:
        return []
    from infra.ops.rerun import rerun_day  # it builds on this module's message and wait
    from infra.ops.target import target_of_env

    target = target_of_env(env)
    return [
        (day, sent.body)
        for day in days
        for sent in rerun_day(target, day, today=days[-1], wait_seconds=timeout, progress=False)
    ]


def wait_until_consumed(sqs: Any, queue_url: str, *, timeout: float, what: str) -> None:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(int(attributes.get(name, "0")) == 0 for name in names):
            return
        if time.monotonic() > deadline:
            raise DailyJobError(f"{what} was not consumed from {queue_url} within {timeout:.0f} s")
        time.sleep(0.1)
