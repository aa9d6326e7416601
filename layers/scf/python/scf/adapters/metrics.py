"""Metrics the alarms watch, as CloudWatch embedded metric format (Powertools `single_metric`: one
EMF line on stdout, flushed at once; the namespace is POWERTOOLS_METRICS_NAMESPACE, the dimension
`service` the function's POWERTOOLS_SERVICE_NAME, as infra/constructs/observability.py expects)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from scf.service.ledger_check import LedgerMismatch, MismatchAlarm

LEDGER_MISMATCH = "LedgerMismatch"


class EmfMismatchAlarm(MismatchAlarm):
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def raise_alarm(self, mismatch: LedgerMismatch) -> None:
        """`LedgerMismatch` = 1 (Count) for the loan; the loan id rides as a property, not a dimension."""
        with single_metric(
            name=LEDGER_MISMATCH, unit=MetricUnit.Count, value=1, namespace=self.namespace
        ) as metric:
            metric.add_metadata(key="loan_id", value=mismatch.loan_id)
            metric.add_metadata(key="day", value=mismatch.checked_day.isoformat())
