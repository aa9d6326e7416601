"""Repayments: the outbox pipe for `repayments`, its queue, apply_repayment (its API routes are
wired in the Api construct) and the daily job's loan steps scheduled onto that queue."""

from __future__ import annotations

from aws_cdk import Duration, Tags
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.banks import Banks
from infra.constructs.common import Layers, base_environment, queue_with_dlq, scf_function
from infra.constructs.config import StackConfig
from infra.constructs.daily import daily_schedules
from infra.constructs.data import Data
from infra.constructs.outbox import outbox_pipe

FUNCTION_NAME = "apply_repayment"
OUTBOX_TARGET = "repayments"
DAILY_STEPS = ("OVERDUE", "DUE_SOON")  # scf.service.lending_day.Step, owned by this function
# Also serves API routes, whose integration times out at 29 s; SQS batches of 10 fit as well.
FUNCTION_TIMEOUT = Duration.seconds(60)


class Repayment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: Data,
        layers: Layers,
        config: StackConfig,
        banks: Banks,
    ) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "repayment")
        self.queues = queue_with_dlq(self, "RepaymentsQueue", consumer_timeout=FUNCTION_TIMEOUT)
        self.pipe = outbox_pipe(self, data=data, queue=self.queues.queue, target=OUTBOX_TARGET)
        environment = base_environment(
            FUNCTION_NAME,
            table_name=data.table.table_name,
            config=config,
        )
        environment.update(banks.environment())
        self.function = scf_function(
            self,
            name=FUNCTION_NAME,
            description="Applies repayments (waterfall, ledger), extensions and serves loan views",
            layers=layers,
            environment=environment,
            timeout=FUNCTION_TIMEOUT,
        )
        data.grant_business_data(self.function.role)
        banks.grant_gateway(self.function.role)
        self.function.function.add_event_source(
            event_sources.SqsEventSource(self.queues.queue, batch_size=10, report_batch_item_failures=True)
        )
        self.daily = daily_schedules(
            self, queue=self.queues.queue, steps=DAILY_STEPS, timezone=config.policy_timezone
        )
