"""The business table: single-table design, its stream is the outbox. Idempotency is by business key
in this table (docs/decisions/0005-idempotency-by-business-key.md): there is no second table."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Tags
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.common import ScfFunction, acknowledge, data_removal
from infra.constructs.config import StackConfig
from infra.table_access import GSI1, GSI2, READ_ACTIONS, TABLE_ACCESS, WRITE_ACTIONS

STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "data")
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
            time_to_live_attribute="expires_at",
            removal_policy=data_removal(config),
            deletion_protection=config.deletion_protection,
        )
        self.table.add_global_secondary_index(
            index_name=GSI1,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.table.add_global_secondary_index(
            index_name=GSI2,
            partition_key=dynamodb.Attribute(name="gsi2pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi2sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        self.backup_plan = self._backup_plan()

    def _backup_plan(self) -> backup.BackupPlan:
        """Monthly backups of the table kept a year, beside PITR's 35 days of continuous restore
        points: the ledger and loans as they stood at each month's start. The vault outlives the
        stack (its recovery points are the point of it)."""
        vault = backup.BackupVault(self, "BackupVault", removal_policy=RemovalPolicy.RETAIN)
        plan = backup.BackupPlan(self, "BackupPlan", backup_vault=vault)
        plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Monthly",
                schedule_expression=events.Schedule.cron(day="1", hour="3", minute="0"),  # UTC
                delete_after=Duration.days(366),  # no cold storage: DynamoDB's needs an account opt-in
            )
        )
        selection = plan.add_selection(
            "Table", resources=[backup.BackupResource.from_dynamo_db_table(self.table)]
        )
        acknowledge(
            selection,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            "The role AWS Backup assumes to back up the selected table: AWS's documented service "
            "policy for backups (no restore policy is attached), used by AWS Backup only.",
        )
        return plan

    @property
    def stream_arn(self) -> str:
        arn = self.table.table_stream_arn
        assert arn is not None  # the table is defined with a stream above
        return arn

    def grant_table_access(self, function: ScfFunction) -> None:
        """The function's TABLE_ACCESS (infra/table_access.py) as IAM: reads of any item and of the
        indexes it queries; each write action on the table only, for items whose partition key has
        one of its prefixes. Transactions are authorized by these per-item actions; no Scan."""
        access = TABLE_ACCESS[function.name]
        grantee = function.role
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(READ_ACTIONS),
            resource_arns=[
                self.table.table_arn,
                *(f"{self.table.table_arn}/index/{index}" for index in access.indexes),
            ],
        )
        for action in WRITE_ACTIONS:
            prefixes = access.writes.get(action)
            if not prefixes:
                continue
            grantee.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[action],
                    resources=[self.table.table_arn],
                    conditions={
                        "ForAllValues:StringLike": {
                            "dynamodb:LeadingKeys": [f"{prefix}*" for prefix in sorted(prefixes)]
                        },
                        # ForAllValues holds for a request without the key: require it.
                        "Null": {"dynamodb:LeadingKeys": "false"},
                    },
                )
            )

    def grant_stream_read(self, grantee: iam.IGrantable) -> None:
        """Read the outbox stream, on the stream's ARN only (CDK's grant uses `*` for ListStreams)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=STREAM_READ_ACTIONS, resource_arns=[self.stream_arn]
        )
