"""The ledger check's alarm (scf.service.ledger_check `MismatchAlarm`) as an EMF metric. Apart from
adapters/observability.py so that only the daily ledger check loads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from scf.service.ledger_check import LedgerMismatch, MismatchAlarm
from scf.service.metrics import LEDGER_MISMATCH

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics as PowertoolsMetrics


class EmfMismatchAlarm(MismatchAlarm):
    """`LedgerMismatch` = 1 (Count) for the loan, at once; the loan id and the day ride as
    properties, not dimensions (one alarm over the function's `service`)."""

    def __init__(self, metrics: PowertoolsMetrics) -> None:
        self.metrics = metrics

    def raise_alarm(self, mismatch: LedgerMismatch) -> None:
        with single_metric(
            name=LEDGER_MISMATCH,
            unit=MetricUnit.Count,
            value=1,
            namespace=self.metrics.namespace,
            default_dimensions=self.metrics.default_dimensions,
        ) as metric:
            metric.add_metadata(key="loan_id", value=mismatch.loan_id)
            metric.add_metadata(key="day", value=mismatch.checked_day.isoformat())
