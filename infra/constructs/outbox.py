"""The outbox relay: an EventBridge Pipe from the business table's stream to one capability's queue.

The filter is the seam with the local stack (docs/architecture.md, "Outbox pipe filter"), which
evaluates the same pattern from the template. It passes INSERT (the event written with its change)
and MODIFY: an outbox item is written once and only ever modified by the daily REPUBLISH, which
touches it to publish it again (docs/operations.md, "REPUBLISH"); TTL removals (REMOVE) never
pass. No input template: the message body is the DynamoDB stream record, as Pipes sends it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.common import acknowledge
from infra.constructs.data import Data

OUTBOX_DLQ_SUFFIX = "OutboxPipeDlq"  # `<Target>OutboxPipeDlq`: one name per queue in the template
# A record still failing after this long goes to the pipe's dead-letter queue (its stream position;
# the outbox item stays in the table 7 days) and raises the DLQ alarm; before, PipeFailures fires.
MAXIMUM_RECORD_AGE = Duration.hours(6)


def outbox_filter(target: str) -> dict[str, Any]:
    return {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "target": {"S": [target]}}},
    }


def stream_source(
    pattern: dict[str, Any],
    *,
    maximum_retry_attempts: int,
    dead_letter_arn: str | None = None,
    maximum_record_age_in_seconds: int | None = None,
) -> pipes.CfnPipe.PipeSourceParametersProperty:
    """The table stream as a pipe's source: from TRIM_HORIZON (events committed before the pipe
    existed are still delivered), batches of 10 split in halves on failure, one filter."""
    dead_letter = pipes.CfnPipe.DeadLetterConfigProperty(arn=dead_letter_arn) if dead_letter_arn else None
    return pipes.CfnPipe.PipeSourceParametersProperty(
        dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
            starting_position="TRIM_HORIZON",
            batch_size=10,
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_record_age_in_seconds=maximum_record_age_in_seconds,
            on_partial_batch_item_failure="AUTOMATIC_BISECT",
            dead_letter_config=dead_letter,
        ),
        filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
            filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(pattern))]
        ),
    )


def outbox_pipe(scope: Construct, *, data: Data, queue: sqs.IQueue, target: str) -> pipes.CfnPipe:
    """`<scope>/OutboxPipe`, its role `<scope>/OutboxPipeRole` (read the stream, send to the queue)
    and its dead-letter queue `<scope>/<Target>OutboxPipeDlq` (`outbox_dlq`)."""
    role = iam.Role(
        scope,
        "OutboxPipeRole",
        assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
        description=f"scf outbox pipe to {target}: read the table stream, send to one queue",
    )
    data.grant_stream_read(role)
    queue.grant_send_messages(role)
    dlq = sqs.Queue(
        scope,
        target.title().replace("_", "") + OUTBOX_DLQ_SUFFIX,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        dlq,
        "AwsSolutions-SQS3",
        "This queue is the dead-letter queue of an outbox pipe (DeadLetterConfig), which cdk-nag does "
        "not read as a redrive policy; it has its own alarm.",
    )
    dlq.grant_send_messages(role)
    pipe = pipes.CfnPipe(
        scope,
        "OutboxPipe",
        description=f"Outbox events with target={target} from the business table stream",
        role_arn=role.role_arn,
        source=data.stream_arn,
        # -1: retry until MAXIMUM_RECORD_AGE, then the dead-letter queue; a committed event is not
        # dropped after a few failed sends, nor silently when it leaves the stream (24 h).
        source_parameters=stream_source(
            outbox_filter(target),
            maximum_retry_attempts=-1,
            dead_letter_arn=dlq.queue_arn,
            maximum_record_age_in_seconds=int(MAXIMUM_RECORD_AGE.to_seconds()),
        ),
        target=queue.queue_arn,
    )
    pipe.node.add_dependency(role)
    return pipe


def outbox_dlq(scope: Construct) -> sqs.IQueue:
    """The dead-letter queue `outbox_pipe` made in `scope`."""
    (dlq,) = [c for c in scope.node.children if c.node.id.endswith(OUTBOX_DLQ_SUFFIX)]
    assert isinstance(dlq, sqs.Queue)
    return dlq
