"""Files: the inbox bucket, its partners' sender roles, its notifications to the settlement-files
queue, and ingest_settlement."""

from __future__ import annotations

import re

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from infra.constructs.common import (
    Layers,
    acknowledge,
    acknowledge_bucket_encryption_and_replication,
    base_environment,
    data_removal,
    logical_id,
    queue_with_dlq,
    scf_function,
)
from infra.constructs.config import StackConfig
from infra.constructs.data import Data

FUNCTION_NAME = "ingest_settlement"
REPORTS_PREFIX = "reports/"
PARTS_PREFIX = f"{REPORTS_PREFIX}.parts/"  # report parts of long files (scf/service/ingest.py)
FUNCTION_TIMEOUT = Duration.minutes(5)
SENDER_SESSION = Duration.hours(1)
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class Ingest(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: Data, layers: Layers, config: StackConfig
    ) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "ingest")
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            removal_policy=data_removal(config),
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging accepts
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,  # a log deleted or overwritten stays a noncurrent version for a day
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(400), noncurrent_version_expiration=Duration.days(1)
                )
            ],
        )
        self.inbox_bucket = s3.Bucket(
            self,
            "InboxBucket",
            removal_policy=data_removal(config),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="inbox/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(400),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # Report parts are deleted once their report is written; one left by a file that
                # never finished goes after a week, and deleted parts' versions after a day.
                s3.LifecycleRule(
                    prefix=PARTS_PREFIX,
                    expiration=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
        )
        self.queues = queue_with_dlq(self, "SettlementFilesQueue", consumer_timeout=FUNCTION_TIMEOUT)
        # Every object key reaches the queue, whatever its prefix: a sender that is not configured
        # must still get a REJECTED report. The handler ignores `reports/` keys (our own reports), so
        # a report never triggers ingestion and never gets a report of its own.
        for partner in config.inbox_partners:
            if f"{partner}/".startswith(REPORTS_PREFIX):
                raise ValueError(f"partner id {partner!r} collides with the reports/ prefix")
        self.sender_roles = {partner: self._sender_role(partner) for partner in config.inbox_partners}
        self.inbox_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.queues.queue)
        )

        environment = base_environment(
            FUNCTION_NAME,
            table_name=data.table.table_name,
            config=config,
        )
        environment["INBOX_BUCKET"] = self.inbox_bucket.bucket_name
        environment["BANKS"] = config.banks_json  # which of the lender's accounts each bank holds
        # Who may send under each prefix: the partner role's unique id, which S3 notifications name
        # as the uploader (`userIdentity.principalId` = `AWS:<role id>:<session>`; docs/ingestion.md).
        environment["INBOX_SENDERS"] = Stack.of(self).to_json_string(
            {partner: role.role_id for partner, role in self.sender_roles.items()}
        )
        # A file too large for one invocation continues through its own queue (scf/service/checkpoint.py).
        environment["SETTLEMENT_FILES_QUEUE_URL"] = self.queues.queue.queue_url
        self.function = scf_function(
            self,
            name=FUNCTION_NAME,
            config=config,
            description="Ingests partner files from the inbox: documents, credit pool, statements, sweeps",
            layers=layers,
            environment=environment,
            timeout=FUNCTION_TIMEOUT,
            memory_size=1024,
        )
        data.grant_table_access(self.function)
        iam.Grant.add_to_principal(
            grantee=self.function.role,
            actions=["s3:GetObject"],
            resource_arns=[self.inbox_bucket.arn_for_objects("*")],
        )
        iam.Grant.add_to_principal(
            grantee=self.function.role,
            actions=["s3:PutObject"],
            resource_arns=[self.inbox_bucket.arn_for_objects(f"{REPORTS_PREFIX}*")],
        )
        # A long file's report is streamed together from its parts (multipart beyond 8 MB), which
        # are listed and then deleted.
        iam.Grant.add_to_principal(
            grantee=self.function.role,
            actions=["s3:AbortMultipartUpload"],
            resource_arns=[self.inbox_bucket.arn_for_objects(f"{REPORTS_PREFIX}*")],
        )
        iam.Grant.add_to_principal(
            grantee=self.function.role,
            actions=["s3:DeleteObject"],
            resource_arns=[self.inbox_bucket.arn_for_objects(f"{PARTS_PREFIX}*")],
        )
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.inbox_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{PARTS_PREFIX}*"]}},
            )
        )
        iam.Grant.add_to_principal(
            grantee=self.function.role,
            actions=["sqs:SendMessage"],
            resource_arns=[self.queues.queue.queue_arn],
        )
        self.function.function.add_event_source(
            event_sources.SqsEventSource(
                self.queues.queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=config.reserved_concurrency.get(FUNCTION_NAME),
            )
        )
        self._acknowledge_findings()

    def _sender_role(self, partner: str) -> iam.Role:
        """The partner's identity (CONTRACT.md section 6, "Senders are authenticated"): it may put
        objects under `<partner>/` only, and nobody else may put objects there (bucket policy)."""
        own = self.inbox_bucket.arn_for_objects(f"{partner}/*")
        role = iam.Role(
            self,
            f"Sender-{partner}",
            assumed_by=iam.AccountRootPrincipal(),  # whom the account lets assume it (the partner's access)
            description=f"Uploads {partner}'s files to the inbox, under {partner}/ only",
            max_session_duration=SENDER_SESSION,
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[own])
        )
        sid = re.sub(r"[^A-Za-z0-9]", "", partner)
        # Deny wins over any Allow: the role writes nowhere else, and no one else writes there.
        self.inbox_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Sender{sid}WritesOnlyUnderItsPrefix",
                effect=iam.Effect.DENY,
                principals=[iam.ArnPrincipal(role.role_arn)],
                actions=["s3:PutObject"],
                not_resources=[own],
            )
        )
        self.inbox_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"OnlySender{sid}WritesUnderItsPrefix",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[own],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.inbox_bucket)}.Arn>/{partner}/*]",
            f"{partner} uploads files under its own prefix with names it chooses (CONTRACT.md s.6); "
            "put only, objects of this one bucket, and the bucket policy denies it anywhere else.",
        )
        return role

    def _acknowledge_findings(self) -> None:
        acknowledge_bucket_encryption_and_replication(
            self.access_logs_bucket,
            "S3 server access logging delivers only to a bucket encrypted with SSE-S3, never SSE-KMS.",
        )
        acknowledge_bucket_encryption_and_replication(
            self.inbox_bucket,
            "The partners' files arrive under per-partner roles (some assumed cross-account); SSE-S3 "
            "keeps access decided by IAM and the bucket policy alone, without a key policy per partner.",
        )
        bucket = logical_id(self.inbox_bucket)
        acknowledge(
            self.function.role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
            "ingest_settlement reads whichever partner file a notification names; the keys are "
            "partner-chosen under configured prefixes. Objects of this one bucket only, read only.",
        )
        acknowledge(
            self.function.role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{REPORTS_PREFIX}*]",
            "ingest_settlement writes one report per file at reports/<key>.report.json (CONTRACT.md s.6); "
            "writes are limited to the reports/ prefix of this bucket.",
        )
        acknowledge(
            self.function.role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{PARTS_PREFIX}*]",
            "ingest_settlement deletes the parts of a long file's report once the report is written; "
            "deletes are limited to the reports/.parts/ prefix of this bucket.",
        )
        # CDK's singleton that applies the bucket notifications at deploy time
        # (Custom::S3BucketNotifications).
        handler = Stack.of(self).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        if handler is not None:
            acknowledge(
                handler,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "CDK's internal bucket-notifications handler, run only during deployment; the managed "
                "policy only lets it write its own logs.",
            )
