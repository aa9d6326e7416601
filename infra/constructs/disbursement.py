"""Payouts: the outbox pipe for `disbursements`, its queue, the disburse function and the daily
job's payout steps scheduled onto that queue: the status inquiry (INQUIRE) and REPUBLISH of loans
approved but not paid out."""

from __future__ import annotations

from aws_cdk import Duration, Tags
from constructs import Construct

from infra.constructs.banks import Banks, paying_function
from infra.constructs.common import Layers
from infra.constructs.config import StackConfig
from infra.constructs.daily import daily_schedules
from infra.constructs.data import Data

FUNCTION_NAME = "disburse"
OUTBOX_TARGET = "disbursements"
DAILY_STEPS = ("INQUIRE", "REPUBLISH")  # scf.service.lending_day.Step owned here (payouts, LoanApproved)
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
        self.queues, self.pipe, self.function = paying_function(
            self,
            name=FUNCTION_NAME,
            description="Pays out approved loans through the bank gateway adapters, at most once",
            queue_id="DisbursementsQueue",
            target=OUTBOX_TARGET,
            timeout=FUNCTION_TIMEOUT,
            data=data,
            layers=layers,
            config=config,
            banks=banks,
        )
        self.daily = daily_schedules(
            self, queue=self.queues.queue, steps=DAILY_STEPS, timezone=config.policy_timezone
        )
