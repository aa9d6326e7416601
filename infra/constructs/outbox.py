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

from aws_cdk import aws_iam as iam
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.data import Data


def outbox_filter(target: str) -> dict[str, Any]:
    return {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "target": {"S": [target]}}},
    }


def stream_source(
    pattern: dict[str, Any], *, maximum_retry_attempts: int, dead_letter_arn: str | None = None
) -> pipes.CfnPipe.PipeSourceParametersProperty:
    """The table stream as a pipe's source: from TRIM_HORIZON (events committed before the pipe
    existed are still delivered), batches of 10 split in halves on failure, one filter."""
    dead_letter = pipes.CfnPipe.DeadLetterConfigProperty(arn=dead_letter_arn) if dead_letter_arn else None
    return pipes.CfnPipe.PipeSourceParametersProperty(
        dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
            starting_position="TRIM_HORIZON",
            batch_size=10,
            maximum_retry_attempts=maximum_retry_attempts,
            on_partial_batch_item_failure="AUTOMATIC_BISECT",
            dead_letter_config=dead_letter,
        ),
        filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
            filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(pattern))]
        ),
    )


def outbox_pipe(scope: Construct, *, data: Data, queue: sqs.IQueue, target: str) -> pipes.CfnPipe:
    """`<scope>/OutboxPipe` and its role `<scope>/OutboxPipeRole` (read the stream, send to the queue)."""
    role = iam.Role(
        scope,
        "OutboxPipeRole",
        assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
        description=f"scf outbox pipe to {target}: read the table stream, send to one queue",
    )
    data.grant_stream_read(role)
    queue.grant_send_messages(role)
    pipe = pipes.CfnPipe(
        scope,
        "OutboxPipe",
        description=f"Outbox events with target={target} from the business table stream",
        role_arn=role.role_arn,
        source=data.stream_arn,
        # -1: retry until the record leaves the stream (24 h); a committed event is not dropped
        # after a few failed sends.
        source_parameters=stream_source(outbox_filter(target), maximum_retry_attempts=-1),
        target=queue.queue_arn,
    )
    pipe.node.add_dependency(role)
    return pipe
