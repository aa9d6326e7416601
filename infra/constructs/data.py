"""The business table: single-table design, its stream is the outbox. Idempotency is by business key
in this table (docs/decisions/0005-idempotency-by-business-key.md): there is no second table."""

from __future__ import annotations

from aws_cdk import Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.common import data_removal
from infra.constructs.config import StackConfig

GSI1 = "gsi1"
GSI2 = "gsi2"  # loans by stored status and maturity (docs/access-patterns.md, "Loans by status")
# Item-level actions only: no Scan (a decision must not scan), no table management.
# Transactions are authorized by these per-item actions.
BUSINESS_DATA_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]
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

    @property
    def stream_arn(self) -> str:
        arn = self.table.table_stream_arn
        assert arn is not None  # the table is defined with a stream above
        return arn

    def grant_business_data(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=BUSINESS_DATA_ACTIONS,
            resource_arns=[
                self.table.table_arn,
                f"{self.table.table_arn}/index/{GSI1}",
                f"{self.table.table_arn}/index/{GSI2}",
            ],
        )

    def grant_stream_read(self, grantee: iam.IGrantable) -> None:
        """Read the outbox stream, on the stream's ARN only (CDK's grant uses `*` for ListStreams)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=STREAM_READ_ACTIONS, resource_arns=[self.stream_arn]
        )
