"""Bank connectivity of a stage (CONTRACT.md section 7, docs/bank-gateways.md): the outbound bucket
that file banks read their payment messages from, one read-only identity per file bank limited to
its own prefix, and one Secrets Manager secret per signed-REST bank.

- Outbound bucket: S3-managed encryption, TLS only (bucket policy), versioned, no public access,
  server access logs into the stack's access-log bucket under `outbound/`. Messages are written at
  `<bank_code>/<YYYY-MM-DD>/<MsgId>.xml`; `_sent/` is the file gateway's own (its markers).
- A file bank's reader role (`<code>FileReaderRole`) may list and read `<code>/*` only. It is
  assumed by the AWS account the stage names as the bank's `reader_account` (the bank pulls with
  its own identities, cross-account), else by AWS Transfer Family in this account (an SFTP
  connector pushing the files to the bank's server; configuration, not code).
- A rest-signed bank's secret is created here under the name the stage gives, holding a generated
  placeholder until the operator puts the key the bank issued (docs/bank-gateways.md).
- Only the functions that pay (disburse, apply_repayment) get `grant_gateway`: write to the file
  banks' prefixes and `_sent/`, read `_sent/`, and read those secrets' values.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.common import (
    Layers,
    QueueWithDlq,
    ScfFunction,
    acknowledge,
    acknowledge_bucket_encryption_and_replication,
    base_environment,
    data_removal,
    logical_id,
    queue_with_dlq,
    scf_function,
)
from infra.constructs.config import READER_ACCOUNT, StackConfig
from infra.constructs.data import Data
from infra.constructs.outbox import outbox_pipe

SENT_PREFIX = "_sent/"  # the file gateway's own markers, never a bank's
TRANSFER_SERVICE = "transfer.amazonaws.com"


class Banks(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, access_logs_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        Tags.of(self).add("scf:component", "banks")
        self.config = config
        self.outbound_bucket = s3.Bucket(
            self,
            "OutboundBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix="outbound/",
            removal_policy=data_removal(config),  # payment orders sent are records to keep
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(400),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        acknowledge_bucket_encryption_and_replication(
            self.outbound_bucket,
            "The banks read their messages cross-account or through AWS Transfer Family; SSE-S3 keeps "
            "that access decided by each reader role's prefix alone, without a key policy per bank.",
        )
        self.file_banks = sorted(config.banks_with_adapter("iso20022-file"))
        self.reader_roles: dict[str, iam.Role] = {
            code: self._reader_role(code, config.banks["banks"][code].get(READER_ACCOUNT))
            for code in self.file_banks
        }
        self.secrets: dict[str, secretsmanager.Secret] = {
            code: self._secret(code, str(bank["secret"]))
            for code, bank in config.banks_with_adapter("rest-signed").items()
        }

    def environment(self) -> dict[str, str]:
        """The variables of the functions that pay (docs/architecture.md)."""
        return {"BANKS": self.config.banks_json, "OUTBOUND_BUCKET": self.outbound_bucket.bucket_name}

    def grant_gateway(self, role: iam.IRole) -> None:
        """What the bank gateways of a paying function use, and nothing else."""
        bucket = self.outbound_bucket
        if self.file_banks:
            iam.Grant.add_to_principal(
                grantee=role,
                actions=["s3:PutObject"],
                resource_arns=[
                    *(bucket.arn_for_objects(f"{code}/*") for code in self.file_banks),
                    bucket.arn_for_objects(f"{SENT_PREFIX}*"),
                ],
            )
            iam.Grant.add_to_principal(
                grantee=role,
                actions=["s3:GetObject"],
                resource_arns=[bucket.arn_for_objects(f"{SENT_PREFIX}*")],
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{SENT_PREFIX}*"]}},
                )
            )
            self._acknowledge_gateway_writes(role)
        if self.secrets:
            iam.Grant.add_to_principal(
                grantee=role,
                actions=["secretsmanager:GetSecretValue"],
                resource_arns=[secret.secret_arn for _, secret in sorted(self.secrets.items())],
            )

    # -- parts ----------------------------------------------------------------------------------

    def _reader_role(self, code: str, reader_account: str | None) -> iam.Role:
        principal: iam.IPrincipal = (
            iam.AccountPrincipal(reader_account)
            if reader_account
            else iam.ServicePrincipal(
                TRANSFER_SERVICE,
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        role = iam.Role(
            self,
            f"{code}FileReaderRole",
            assumed_by=principal,
            description=f"scf: bank {code} reads its payment messages (outbound {code}/ prefix only)",
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resource_arns=[self.outbound_bucket.arn_for_objects(f"{code}/*")],
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.outbound_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{code}/*"]}},
            )
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.outbound_bucket)}.Arn>/{code}/*]",
            f"bank {code} reads the payment messages under its own prefix {code}/ (one object per "
            "message, named by date and message id); read only, this prefix of this bucket only.",
        )
        return role

    def _secret(self, code: str, name: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            f"{code}SigningSecret",
            secret_name=name,
            description=(
                f"scf: the HMAC signing key bank {code} issued. Created with a generated placeholder: "
                "the operator puts the bank's key (docs/bank-gateways.md)."
            ),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        rotation = (
            f"the signing key is issued by bank {code} and changes when the bank rotates it; the operator "
            "puts the new value (the adapter re-reads the secret after a refused signature). A Lambda "
            "rotation could not make the bank accept a key it did not issue."
        )
        acknowledge(secret, "AwsSolutions-SMG4", rotation)
        acknowledge(secret, "NIST.800.53.R5-SecretsManagerRotationEnabled", rotation)
        acknowledge(
            secret,
            "NIST.800.53.R5-SecretsManagerUsingKMSKey",
            "Encrypted with the account's AWS-managed Secrets Manager key; who may decrypt is decided by "
            "IAM, and only the two paying functions may read this secret (GetSecretValue on its ARN).",
        )
        return secret

    def _acknowledge_gateway_writes(self, role: iam.IRole) -> None:
        bucket = logical_id(self.outbound_bucket)
        for code in self.file_banks:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{code}/*]",
                f"the file gateway writes one payment message per order under {code}/<date>/<MsgId>.xml "
                "(CONTRACT.md s.7); writes only, to this bank's prefix of the outbound bucket.",
            )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{SENT_PREFIX}*]",
            "the file gateway keeps one marker per payment id under _sent/ so that a retried order is "
            "never written twice; read and write limited to that prefix of the outbound bucket.",
        )


def paying_function(
    scope: Construct,
    *,
    name: str,
    description: str,
    queue_id: str,
    target: str,
    timeout: Duration,
    data: Data,
    layers: Layers,
    config: StackConfig,
    banks: Banks,
) -> tuple[QueueWithDlq, pipes.CfnPipe, ScfFunction]:
    """A function that moves money: fed by its outbox target's queue (batches of 10, partial
    failures), with the business table and the banks' gateways (payouts and collections)."""
    queues = queue_with_dlq(scope, queue_id, consumer_timeout=timeout)
    pipe = outbox_pipe(scope, data=data, queue=queues.queue, target=target)
    environment = base_environment(name, table_name=data.table.table_name, config=config)
    environment.update(banks.environment())
    function = scf_function(
        scope,
        name=name,
        config=config,
        description=description,
        layers=layers,
        environment=environment,
        timeout=timeout,
    )
    data.grant_table_access(function)
    banks.grant_gateway(function.role)
    function.function.add_event_source(
        event_sources.SqsEventSource(
            queues.queue,
            batch_size=10,
            report_batch_item_failures=True,
            max_concurrency=config.reserved_concurrency.get(name),
        )
    )
    return queues, pipe, function
