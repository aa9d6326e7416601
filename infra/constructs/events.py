"""Domain events for the cloud team (contract section 10, docs/events.md): the bus with its archive,
and one pipe from the business table's stream to the bus.

The pipe takes every outbox item whose `event_type` is public, whatever its internal target. The
item's `payload` is a JSON string and an input template cannot turn a string into an object, so an
Express state machine (no code: `States.StringToJson`) enriches each record into
`{detail_type, time, detail}` (docs/decisions/0007-domain-events-bus.md). The local stack runs the
same definition from the template (infra/local/events.py).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.common import acknowledge, log_retention
from infra.constructs.config import StackConfig
from infra.constructs.data import Data
from infra.constructs.outbox import stream_source
from scf.events import EVENT_SOURCE, PUBLIC_EVENTS

ARCHIVE_RETENTION = Duration.days(365)
# A record that still fails after this many tries (each batch split in halves first) goes to the
# dead-letter queue as its stream position; the outbox item stays in the table for 7 days.
MAXIMUM_RETRY_ATTEMPTS = 10
NEW_IMAGE = "$.dynamodb.NewImage"


def domain_events_filter() -> dict[str, Any]:
    return {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "event_type": {"S": list(PUBLIC_EVENTS)}}},
    }


def enrichment_definition() -> dict[str, Any]:
    """Each stream record of the batch -> `{detail_type, time, detail}` (detail: the payload parsed)."""
    return {
        "Comment": "scf domain events: an outbox stream record as the bus event's parts",
        "StartAt": "EachRecord",
        "States": {
            "EachRecord": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "AsBusEvent",
                    "States": {
                        "AsBusEvent": {
                            "Type": "Pass",
                            "Parameters": {
                                "detail_type.$": f"{NEW_IMAGE}.event_type.S",
                                "time.$": f"{NEW_IMAGE}.created_at.S",
                                "detail.$": f"States.StringToJson({NEW_IMAGE}.payload.S)",
                            },
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


class DomainEvents(Construct):
    """`<id>/Bus` (`<stack name>-events`), its archive, `<id>/Enrichment`, `<id>/Pipe` and its DLQ."""

    def __init__(self, scope: Construct, construct_id: str, *, data: Data, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "events")
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{config.stack_name}-events")
        self.archive = self.bus.archive(
            "Archive",
            archive_name=f"{config.stack_name}-events",
            description="Every scf domain event, for the cloud team's replays",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            retention=ARCHIVE_RETENTION,
        )
        self.dlq = sqs.Queue(
            self,
            "PipeDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dlq,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the domain-events pipe (DeadLetterConfig), which "
            "cdk-nag does not read as a redrive policy; it has its own alarm.",
        )
        self.enrichment = self._enrichment(config)
        role = iam.Role(
            self,
            "PipeRole",
            assumed_by=iam.ServicePrincipal("pipes.amazonaws.com"),
            description="scf domain-events pipe: read the table stream, enrich, put on one bus",
        )
        data.grant_stream_read(role)
        self.enrichment.grant_start_sync_execution(role)
        self.bus.grant_put_events_to(role)
        self.dlq.grant_send_messages(role)
        self.pipe = pipes.CfnPipe(
            self,
            "Pipe",
            description="Public outbox events from the business table stream to the domain-events bus",
            role_arn=role.role_arn,
            source=data.stream_arn,
            source_parameters=stream_source(
                domain_events_filter(),
                maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
                dead_letter_arn=self.dlq.queue_arn,
            ),
            enrichment=self.enrichment.state_machine_arn,
            target=self.bus.event_bus_arn,
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(
                input_template="<$.detail>",
                event_bridge_event_bus_parameters=pipes.CfnPipe.PipeTargetEventBridgeEventBusParametersProperty(
                    detail_type="$.detail_type", source=EVENT_SOURCE, time="$.time"
                ),
            ),
        )
        self.pipe.node.add_dependency(role)

    def _enrichment(self, config: StackConfig) -> sfn.StateMachine:
        log_group = logs.LogGroup(self, "EnrichmentLogs", retention=log_retention(config))
        machine = sfn.StateMachine(
            self,
            "Enrichment",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(enrichment_definition())),
            timeout=Duration.seconds(30),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions' vended log delivery (logs:CreateLogDelivery and friends) and X-Ray "
            "tracing accept no resource narrower than *; the state machine calls no other service.",
        )
        return machine
