"""The daily job's schedules (contract section 10): at 00:05 in the policy's time zone, one message
per step on the queue of the function that owns the step's data. The message is
`{"scf": "daily", "step": <step>, "business_date": <aws.scheduler.scheduled-time>}`: the handler
reads the scheduled moment as the business date it falls on in the policy's zone. The local stack
reads these schedules from the template (DESIGN.md section 3)."""

from __future__ import annotations

import json

from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

DAILY_AT = "cron(5 0 * * ? *)"  # 00:05 every day (every calendar day is a business day today)
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


def daily_message_template(step: str) -> str:
    return json.dumps({"scf": "daily", "step": step, "business_date": SCHEDULED_TIME})


def daily_schedules(
    scope: Construct, *, queue: sqs.IQueue, steps: tuple[str, ...], timezone: str
) -> list[scheduler.CfnSchedule]:
    """One schedule per step, sending to `queue` with a role that may send there only."""
    role = iam.Role(
        scope,
        "DailyScheduleRole",
        assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        description="EventBridge Scheduler: send the daily job's messages to one queue",
    )
    role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]))
    schedules = []
    for step in steps:
        schedules.append(
            scheduler.CfnSchedule(
                scope,
                f"Daily{step.title().replace('_', '')}Schedule",
                description=f"scf daily job, step {step}, 00:05 business time",
                schedule_expression=DAILY_AT,
                schedule_expression_timezone=timezone,
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                state="ENABLED",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=queue.queue_arn,
                    role_arn=role.role_arn,
                    input=daily_message_template(step),
                    # Delivery retried for a day; a step is idempotent for its business date.
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_event_age_in_seconds=86_400, maximum_retry_attempts=185
                    ),
                ),
            )
        )
    return schedules
