"""Alarms and where they go: one encrypted SNS topic; an alarm on every DLQ, on every function's
errors, on the age of every work queue, on the API's 5XX answers and on the daily LEDGER_CHECK's
mismatches. Each description names its runbook section in docs/operations.md."""

from __future__ import annotations

from aws_cdk import Duration, Tags
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

# A message older than this in a work queue means its consumer is stuck or failing.
QUEUE_AGE_THRESHOLD = Duration.minutes(15)
LEDGER_MISMATCH = "LedgerMismatch"  # scf.adapters.metrics.LEDGER_MISMATCH
LEDGER_OWNER = "apply_repayment"  # the function that owns the ledger and runs LEDGER_CHECK
RUNBOOK = "docs/operations.md"


def runbook(section: str) -> str:
    """Where an alarm's description sends the reader: `docs/operations.md#<anchor>` of a heading."""
    return f"Runbook: {RUNBOOK}#{section.lower()}"


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

        def alarm(alarm_id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
            created = cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)

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
                pair.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
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
                f"Records in the {name} dead-letter queue: the bus did not take them. "
                + runbook("PipeDeadLetterQueue"),
            )
        for function in functions:
            alarm(
                f"{function.name}ErrorsAlarm",
                function.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                1,
                f"{function.name} raised errors (failed invocations, not reported batch item failures). "
                + runbook("FunctionErrors"),
            )
        alarm(
            "Api5xxAlarm",
            rest_api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
            5,
            "The API answered 5XX at least 5 times in 5 minutes. " + runbook("Api5xx"),
        )
        alarm(
            "LedgerMismatchAlarm",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=LEDGER_MISMATCH,
                dimensions_map={"service": LEDGER_OWNER},
                period=Duration.hours(1),
                statistic="Sum",
            ),
            1,
            "A loan's ledger postings do not sum to its stored balances (daily LEDGER_CHECK); nothing "
            "was changed. " + runbook("LedgerMismatch"),
        )
