"""Powertools behind the ports (docs/operations.md, "Observability"): EMF metrics, bank calls as
X-Ray subsegments with a log line, and the correlation id set on the logger and for the outbox.
Tracing is off outside Lambda (Powertools) and wherever POWERTOOLS_TRACE_DISABLED is true."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from scf import correlation
from scf.service.metrics import Metrics, Unit
from scf.service.payments import BankGateway, PaymentOrder, PaymentResult

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics as PowertoolsMetrics
    from aws_lambda_powertools import Tracer

    from scf.service.lending_day import DailyJob, StepResult

# Patched by each handler's Tracer: boto3/botocore calls (DynamoDB through PynamoDB, S3, SQS,
# Secrets Manager) become subsegments. Not patch_all: each patcher is import time at cold start.
TRACED_MODULES = ("botocore",)
CORRELATION_HEADER = "x-correlation-id"
MAX_CORRELATION_ID = 128
DEFAULT_NAMESPACE = "scf"  # the stack sets POWERTOOLS_METRICS_NAMESPACE (infra/constructs/common.py)

logger = Logger(child=True)
Result = TypeVar("Result")


def metrics_namespace() -> str:
    """The functions' metric namespace: POWERTOOLS_METRICS_NAMESPACE, else `scf` (tests, scripts)."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


class EmfMetrics(Metrics):
    """A point with dimensions is one EMF line at once (`single_metric`: EMF allows one dimension
    set per line); without, it joins the handler's `Metrics`, flushed by `log_metrics`."""

    def __init__(self, metrics: PowertoolsMetrics) -> None:
        self.metrics = metrics

    def put(self, name: str, value: float, unit: Unit = Unit.COUNT, **dimensions: str) -> None:  # float-ok
        if not dimensions:
            self.metrics.add_metric(name=name, unit=MetricUnit(unit.value), value=value)
            return
        with single_metric(
            name=name,
            unit=MetricUnit(unit.value),
            value=value,
            namespace=self.metrics.namespace,
            default_dimensions={**self.metrics.default_dimensions, **dimensions},
        ):
            pass


class TracedGateway(BankGateway):
    """Every call to a bank: a subsegment `## bank.<operation>` (annotations bank, payment_id,
    correlation_id) and one log line with its outcome and milliseconds."""

    def __init__(self, inner: BankGateway, bank_code: str, tracer: Tracer) -> None:
        self.inner = inner
        self.bank_code = bank_code
        self.tracer = tracer

    def pay(self, order: PaymentOrder) -> PaymentResult:
        return self._call("pay", order.payment_id, lambda: self.inner.pay(order))

    def status(self, payment_id: str) -> PaymentResult:
        return self._call("status", payment_id, lambda: self.inner.status(payment_id))

    def __getattr__(self, name: str) -> Any:  # the adapter's other methods (tests, file banks)
        return getattr(self.inner, name)

    def _call(self, operation: str, payment_id: str, call: Callable[[], PaymentResult]) -> PaymentResult:
        fields = {"bank_code": self.bank_code, "operation": operation, "payment_id": payment_id}
        started = time.perf_counter()
        with self.tracer.provider.in_subsegment(f"## bank.{operation}") as subsegment:
            subsegment.put_annotation("bank", self.bank_code)
            subsegment.put_annotation("payment_id", payment_id)
            correlation_id = correlation.current()
            if correlation_id:
                subsegment.put_annotation("correlation_id", correlation_id)
            try:
                result = call()
            except Exception as exc:
                logger.warning("bank call failed", extra={**fields, "error": type(exc).__name__})
                raise
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        logger.info("bank call", extra={**fields, "status": result.status.value, "ms": elapsed_ms})
        return result


def correlate(log: Logger, correlation_id: str | None) -> None:
    """The id of the work in hand: on every log line (`correlation_id`) and every outbox item."""
    correlation_id = correlation_id[:MAX_CORRELATION_ID] if correlation_id else None
    log.set_correlation_id(correlation_id)
    correlation.set_current(correlation_id)


def api_correlation_id(event: Mapping[str, Any]) -> str | None:
    """The caller's `X-Correlation-Id` header (any case), else API Gateway's request id."""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == CORRELATION_HEADER and value:
            return str(value)
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else None


def file_correlation_id(key: str) -> str:
    return f"file:{key}"


def daily_correlation_id(step: str, business_date: str) -> str:
    return f"daily:{step}:{business_date}"


def run_daily(job: DailyJob, body: str, log: Logger) -> StepResult:
    """A daily-job queue message: its step run under the correlation id `daily:<step>:<date>`."""
    from scf.service.lending_day import daily_message  # the daily functions' path only

    message = daily_message(body, job.timezone)
    correlate(log, daily_correlation_id(message.step, message.business_date.isoformat()))
    result = job.run_message(message)
    log.info("daily step done", extra=result.as_json())
    return result
