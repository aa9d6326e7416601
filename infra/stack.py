"""The scf stack: the two layers, the capabilities wired together, tags and outputs.

Each construct acknowledges its own cdk-nag findings (docs/decisions/0002-cloud-stack.md).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import AssetHashType, CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.banks import Banks
from infra.constructs.common import ARCHITECTURE, REPO_ROOT, RUNTIME, Layers, acknowledge, code_asset
from infra.constructs.config import StackConfig
from infra.constructs.data import Data
from infra.constructs.disbursement import Disbursement
from infra.constructs.events import DomainEvents
from infra.constructs.ingest import Ingest
from infra.constructs.observability import Observability
from infra.constructs.outbox import outbox_dlq
from infra.constructs.repayment import Repayment

SHARED_LAYER_DIR = REPO_ROOT / "layers" / "scf"


class ScfStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        deps_layer_dir: Path,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        Tags.of(self).add("project", "scf")

        layers = Layers(
            shared=lambda_.LayerVersion(
                self,
                "SharedLayer",
                code=code_asset(SHARED_LAYER_DIR),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="scf shared package (layers/scf/python/scf)",
            ),
            deps=lambda_.LayerVersion(
                self,
                "DepsLayer",
                # Compiled by its build; hashed by its fingerprint (the directory's name), not its 16 MB.
                code=lambda_.Code.from_asset(
                    str(deps_layer_dir), asset_hash_type=AssetHashType.CUSTOM, asset_hash=deps_layer_dir.name
                ),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="third-party packages (layers/deps/requirements.txt)",
            ),
        )
        self.data = Data(self, "Data", config=config)
        self.ingest = Ingest(self, "Ingest", data=self.data, layers=layers, config=config)
        self.banks = Banks(self, "Banks", config=config, access_logs_bucket=self.ingest.access_logs_bucket)
        self.disbursement = Disbursement(
            self, "Disbursement", data=self.data, layers=layers, config=config, banks=self.banks
        )
        self.repayment = Repayment(
            self, "Repayment", data=self.data, layers=layers, config=config, banks=self.banks
        )
        self.events = DomainEvents(self, "Events", data=self.data, config=config)
        self.api = Api(
            self,
            "Api",
            data=self.data,
            layers=layers,
            config=config,
            route_targets={
                self.ingest.function.name: self.ingest.function,
                self.repayment.function.name: self.repayment.function,
            },
        )
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            queues={
                "SettlementFiles": self.ingest.queues,
                "Disbursements": self.disbursement.queues,
                "Repayments": self.repayment.queues,
            },
            functions=[
                self.ingest.function,
                self.api.function,
                self.disbursement.function,
                self.repayment.function,
            ],
            rest_api=self.api.rest_api,
            dlqs={
                "DomainEventsPipe": self.events.dlq,
                "DisbursementsOutboxPipe": outbox_dlq(self.disbursement),
                "RepaymentsOutboxPipe": outbox_dlq(self.repayment),
            },
            pipes={
                "DomainEvents": self.events.pipe,
                "DisbursementsOutbox": self.disbursement.pipe,
                "RepaymentsOutbox": self.repayment.pipe,
            },
        )
        acknowledge(
            self,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "Each role's policy is its own (CDK's DefaultPolicy, AWS::IAM::Policy attached to that one "
            "role): a strict one-to-one policy that lives and goes with its role, which IAM's guidance "
            "prefers inline; a managed policy could be attached to other principals.",
        )
        CfnOutput(self, "InboxBucketName", value=self.ingest.inbox_bucket.bucket_name)
        CfnOutput(self, "OutboundBucketName", value=self.banks.outbound_bucket.bucket_name)
        for code, role in sorted(self.banks.reader_roles.items()):
            CfnOutput(self, f"{code}FileReaderRoleArn", value=role.role_arn)
        CfnOutput(self, "TableName", value=self.data.table.table_name)
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        CfnOutput(self, "AlarmTopicArn", value=self.observability.alarm_topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.observability.dashboard.dashboard_name)
