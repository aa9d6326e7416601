"""Payouts: the outbox pipe for `disbursements`, its queue, and the disburse function."""

from __future__ import annotations

from aws_cdk import Duration, Tags
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.banks import Banks
from infra.constructs.common import Layers, base_environment, queue_with_dlq, scf_function
from infra.constructs.config import StackConfig
from infra.constructs.data import Data
from infra.constructs.outbox import outbox_pipe

FUNCTION_NAME = "disburse"
OUTBOX_TARGET = "disbursements"
# A batch of 10 payouts, each a bank call that may wait for a status inquiry after a timeout.
FUNCTION_TIMEOUT = Duration.seconds(120)


class Disbursement(Construct):
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
        Tags.of(self).add("scf:component", "disbursement")
        self.queues = queue_with_dlq(self, "DisbursementsQueue", consumer_timeout=FUNCTION_TIMEOUT)
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
            description="Pays out approved loans through the bank gateway adapters, at most once",
            layers=layers,
            environment=environment,
            timeout=FUNCTION_TIMEOUT,
        )
        data.grant_business_data(self.function.role)
        banks.grant_gateway(self.function.role)
        self.function.function.add_event_source(
            event_sources.SqsEventSource(self.queues.queue, batch_size=10, report_batch_item_failures=True)
        )
