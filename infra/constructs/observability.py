"""Alarms, where they go and the dashboard: one encrypted SNS topic (the stage's `alarmEmail`); an
alarm on every dead-letter queue (queues and pipes), every work queue's age, every function's
errors and throttles, every pipe's failures, the API's 5XX and p99 latency, payouts not ACTIVE
15 minutes after approval, and the daily LEDGER_CHECK's mismatches. Each description names its
runbook section in docs/operations.md (`runbook`); tests/infra/test_observability.py checks the
sections exist. The dashboard shows the business metrics (scf.service.metrics.CATALOGUE, EMF from
the functions) beside the alarms."""

from __future__ import annotations

from aws_cdk import Duration, Tags, aws_pipes
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.common import METRICS_NAMESPACE, QueueWithDlq, ScfFunction
from infra.constructs.config import StackConfig
from scf.service import metrics as business
from scf.service.metrics import CATALOGUE, Unit

# A message older than this in a work queue means its consumer is stuck or failing.
QUEUE_AGE_THRESHOLD = Duration.minutes(15)
LEDGER_OWNER = "apply_repayment"  # the function that owns the ledger and runs LEDGER_CHECK
RUNBOOK = "docs/operations.md"
# The API's p99 latency worth waking for: sustained over 3 periods of 5 minutes.
API_P99_THRESHOLD = Duration.seconds(3)
API_LATENCY_PERIODS = 3
# Contract section 9: application to money within seconds. 15 minutes is an incident.
PAYOUT_ACTIVE_WITHIN = Duration.minutes(15)
# The functions whose use cases make a loan ACTIVE (a bank's answer at once; a report in a file).
ACTIVATING_FUNCTIONS = ("disburse", "ingest_settlement")
PAYOUT_OWNER = "disburse"  # its daily INQUIRE asks about payouts still open (OpenPaymentsInquired)
PERIOD = Duration.minutes(5)


def runbook(section: str) -> str:
    """Where an alarm's description sends the reader: `docs/operations.md#<anchor>` of a heading."""
    return f"Runbook: {RUNBOOK}#{section.lower()}"


def business_metric_widget(name: str) -> cloudwatch.GraphWidget:
    """Every series of one business metric (all its dimension values), by SEARCH."""
    unit, dimensions = CATALOGUE[name]
    statistic = "Sum" if unit is Unit.COUNT else "p99"
    schema = ",".join((METRICS_NAMESPACE, *dimensions, "service"))
    expression = f"SEARCH('{{{schema}}} MetricName=\"{name}\"', '{statistic}', {int(PERIOD.to_seconds())})"
    return cloudwatch.GraphWidget(
        title=f"{name} ({statistic}, {unit.value})",
        left=[cloudwatch.MathExpression(expression=expression, label="", period=PERIOD)],
        width=8,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        queues: dict[str, QueueWithDlq],
        functions: list[ScfFunction],
        rest_api: apigw.RestApi,
        dlqs: dict[str, sqs.IQueue] | None = None,
        pipes: dict[str, aws_pipes.CfnPipe] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "observability")
        # A customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        self.alarm_key = kms.Key(
            self, "AlarmTopicKey", enable_key_rotation=True, description="scf alarm topic encryption"
        )
        self.alarm_key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name="scf alarms", master_key=self.alarm_key, enforce_ssl=True
        )
        if config.alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            alarm_id: str,
            metric: cloudwatch.IMetric,
            threshold: float,  # float-ok: a CloudWatch threshold
            description: str,
            *,
            evaluation_periods: int = 1,
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        for name, pair in queues.items():
            alarm(
                f"{name}DlqAlarm",
                pair.dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                1,
                f"Messages in the {name} dead-letter queue: inspect, fix, then redrive. "
                + runbook("DeadLetterQueue"),
            )
            alarm(
                f"{name}AgeAlarm",
                pair.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                QUEUE_AGE_THRESHOLD.to_seconds(),
                f"The oldest {name} message waits longer than {QUEUE_AGE_THRESHOLD.to_minutes()} minutes. "
                + runbook("QueueAge"),
            )
        for name, dlq in (dlqs or {}).items():  # dead-letter queues of pipes (no work queue beside)
            alarm(
                f"{name}DlqAlarm",
                dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                1,
                f"Stream records in the {name} dead-letter queue: the pipe gave up on them. "
                + runbook("PipeDeadLetters"),
            )
        for name, pipe in (pipes or {}).items():
            alarm(
                f"{name}PipeFailedAlarm",
                pipe_metric(pipe, "ExecutionFailed"),
                1,
                f"The {name} pipe failed executions (it retries them). " + runbook("PipeFailures"),
            )
        for function in functions:
            alarm(
                f"{function.name}ErrorsAlarm",
                function.function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                f"{function.name} raised errors (failed invocations, not reported batch item failures). "
                + runbook("FunctionErrors"),
            )
            alarm(
                f"{function.name}ThrottlesAlarm",
                function.function.metric_throttles(period=PERIOD, statistic="Sum"),
                1,
                f"{function.name} invocations were throttled (reserved or account concurrency). "
                + runbook("FunctionThrottles"),
            )
        alarm(
            "Api5xxAlarm",
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            5,
            "The API answered 5XX at least 5 times in 5 minutes. " + runbook("Api5xx"),
        )
        alarm(
            "LedgerMismatchAlarm",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=business.LEDGER_MISMATCH,
                dimensions_map={"service": LEDGER_OWNER},
                period=Duration.hours(1),
                statistic="Sum",
            ),
            1,
            "A loan's ledger postings do not sum to its stored balances (daily LEDGER_CHECK); nothing "
            "was changed. " + runbook("LedgerMismatch"),
        )
        alarm(
            "ApiLatencyAlarm",
            rest_api.metric_latency(period=PERIOD, statistic="p99"),
            API_P99_THRESHOLD.to_milliseconds(),
            f"The API's p99 latency is above {API_P99_THRESHOLD.to_seconds()} s for "
            f"{API_LATENCY_PERIODS} periods of 5 minutes. " + runbook("ApiLatency"),
            evaluation_periods=API_LATENCY_PERIODS,
        )
        alarm(
            "PayoutNotActiveAlarm",
            payout_not_active(),
            PAYOUT_ACTIVE_WITHIN.to_seconds(),
            f"A payout became ACTIVE more than {PAYOUT_ACTIVE_WITHIN.to_minutes()} minutes after its "
            "approval, or the daily inquiry found payouts still without an outcome. "
            + runbook("PayoutNotActive"),
        )
        self.dashboard = self._dashboard(config, functions, rest_api, queues, pipes or {})

    def _dashboard(
        self,
        config: StackConfig,
        functions: list[ScfFunction],
        rest_api: apigw.RestApi,
        queues: dict[str, QueueWithDlq],
        pipes: dict[str, aws_pipes.CfnPipe],
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.stack_name}-operations",
            default_interval=Duration.hours(24),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24, height=6)
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="## Business (EMF, namespace `scf`; docs/operations.md#metrics)", width=24, height=1
            )
        )
        dashboard.add_widgets(*(business_metric_widget(name) for name in CATALOGUE))
        dashboard.add_widgets(
            cloudwatch.AlarmWidget(
                title="Payouts not ACTIVE within 15 minutes",
                alarm=next(a for a in self.alarms if a.node.id == "PayoutNotActiveAlarm"),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API: 5XX and p99 latency",
                left=[rest_api.metric_server_error(period=PERIOD, statistic="Sum")],
                right=[rest_api.metric_latency(period=PERIOD, statistic="p99")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Functions: errors and throttles",
                left=[
                    f.function.metric_errors(period=PERIOD, statistic="Sum", label=f.name) for f in functions
                ],
                right=[
                    f.function.metric_throttles(period=PERIOD, statistic="Sum", label=f"{f.name} throttles")
                    for f in functions
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Functions: p99 duration",
                left=[
                    f.function.metric_duration(period=PERIOD, statistic="p99", label=f.name)
                    for f in functions
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queues: oldest message (s)",
                left=[
                    q.queue.metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic="Maximum", label=n
                    )
                    for n, q in queues.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Pipes: failed executions",
                left=[pipe_metric(p, "ExecutionFailed", label=n) for n, p in pipes.items()],
                width=12,
            ),
        )
        return dashboard


def pipe_metric(pipe: aws_pipes.CfnPipe, name: str, *, label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/EventBridge/Pipes",
        metric_name=name,
        dimensions_map={"PipeName": pipe.ref},
        period=PERIOD,
        statistic="Sum",
        label=label,
    )


def payout_not_active() -> cloudwatch.MathExpression:
    """Seconds, at least 900 when, in 5 minutes, an activation came 15+ minutes after its approval
    (`ApprovalToActive` maximum, from each function that activates loans) or the daily INQUIRE of
    disburse found payouts sent 15+ minutes before and still open (`OpenPaymentsInquired` x 900)."""
    using: dict[str, cloudwatch.IMetric] = {
        f"late{i}": cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=business.APPROVAL_TO_ACTIVE,
            dimensions_map={"service": service},
            period=PERIOD,
            statistic="Maximum",
        )
        for i, service in enumerate(ACTIVATING_FUNCTIONS)
    }
    using["stuck"] = cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=business.OPEN_PAYMENTS_INQUIRED,
        dimensions_map={"service": PAYOUT_OWNER, "kind": "PAYOUT"},
        period=PERIOD,
        statistic="Maximum",
    )
    late = ", ".join(f"FILL({key}, 0)" for key in using if key.startswith("late"))
    seconds = int(PAYOUT_ACTIVE_WITHIN.to_seconds())
    return cloudwatch.MathExpression(
        expression=f"MAX([{late}, FILL(stuck, 0) * {seconds}])",
        using_metrics=using,
        label="payouts not ACTIVE within 15 minutes",
        period=PERIOD,
    )
