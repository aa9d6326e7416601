"""Repayments: the outbox pipe for `repayments`, its queue, apply_repayment (its API routes are
wired in the Api construct) and the daily job's loan steps scheduled onto that queue."""

from __future__ import annotations

from aws_cdk import Duration, Tags
from constructs import Construct

from infra.constructs.banks import Banks, paying_function
from infra.constructs.common import Layers
from infra.constructs.config import StackConfig
from infra.constructs.daily import daily_schedules
from infra.constructs.data import Data

FUNCTION_NAME = "apply_repayment"
OUTBOX_TARGET = "repayments"
# scf.service.lending_day.Step, owned by this function (INQUIRE: its collections and refunds;
# REPUBLISH: its RepaymentRequested events)
DAILY_STEPS = ("OVERDUE", "DUE_SOON", "INQUIRE", "REFUND", "REPUBLISH", "LEDGER_CHECK")
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
        self.queues, self.pipe, self.function = paying_function(
            self,
            name=FUNCTION_NAME,
            description="Applies repayments (waterfall, ledger), extensions and serves loan views",
            queue_id="RepaymentsQueue",
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
