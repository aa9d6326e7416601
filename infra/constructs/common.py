"""Building blocks every capability uses the same way: a function with its own role and log group,
and a queue with its dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, AssetHashType, Aws, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infra.assets import compiled, source_digest
from infra.constructs.config import StackConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
FUNCTION_TAG = "scf:function"
RUNTIME = lambda_.Runtime.PYTHON_3_11
# The deps layer is built for this platform (layers/deps/build.py: manylinux2014_aarch64).
ARCHITECTURE = lambda_.Architecture.ARM_64
RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT_FACTOR = 6
# The cdk-nag packs every synth runs (infra/app.py); a finding id starts with its pack's name.
NAG_PACKS = ("AwsSolutions", "NIST.800.53.R5")


def code_asset(source: Path) -> lambda_.Code:
    """`source` as Lambda loads it: staged with its bytecode (infra/assets.py), hashed by its sources
    so the template names the same asset on every machine."""
    staged = compiled(source)
    return lambda_.Code.from_asset(
        str(staged), asset_hash_type=AssetHashType.CUSTOM, asset_hash=source_digest(staged)
    )


@dataclass(frozen=True)
class Layers:
    shared: lambda_.ILayerVersion
    deps: lambda_.ILayerVersion


@dataclass(frozen=True)
class ScfFunction:
    name: str
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def log_retention(config: StackConfig) -> logs.RetentionDays:
    """The stage's `logRetentionDays` (cdk.json), for every log group of the stack."""
    return RETENTION[config.log_retention_days]


LOGS_KEY_ID = "LogsKey"


def logs_key(scope: IConstruct) -> kms.Key:
    """The stack's one key for its log groups (created by the first log group that asks): rotated,
    usable by CloudWatch Logs of this account and region for this account's log groups only."""
    stack = Stack.of(scope)
    found = stack.node.try_find_child(LOGS_KEY_ID)
    if isinstance(found, kms.Key):
        return found
    key = kms.Key(
        stack,
        LOGS_KEY_ID,
        description="scf log groups encryption (function logs, API access logs, state machine logs)",
        enable_key_rotation=True,
    )
    own_log_groups = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
    key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            resources=["*"],  # in a key policy, "*" is this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": own_log_groups}},
        )
    )
    return key


def log_group(scope: Construct, construct_id: str, config: StackConfig) -> logs.LogGroup:
    """A log group with the stage's retention, encrypted with the stack's logs key."""
    return logs.LogGroup(scope, construct_id, retention=log_retention(config), encryption_key=logs_key(scope))


def data_removal(config: StackConfig) -> RemovalPolicy:
    """The stage's `retainData`: the table, buckets and user pool outlive the stack (RETAIN), or
    go with it (DESTROY: a scratch stage)."""
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY


def scf_function(
    scope: Construct,
    *,
    name: str,
    config: StackConfig,
    description: str,
    layers: Layers,
    environment: dict[str, str],
    timeout: Duration,
    memory_size: int = 512,
) -> ScfFunction:
    """`functions/<name>` as `<scope>/Function`, with `FunctionRole` and `FunctionLogs` beside it.

    The role starts empty: each capability grants exactly what its function uses. The function and
    its CloudFormation resource carry `scf:function = <name>` (tag and metadata), which is how the
    local stack maps template resources to code directories.
    """
    code_dir = FUNCTIONS_DIR / name
    if not code_dir.is_dir():
        raise FileNotFoundError(f"function code directory {code_dir} does not exist")
    function_logs = log_group(scope, "FunctionLogs", config)
    role = iam.Role(
        scope,
        "FunctionRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"scf {name}: least privilege, granted per resource in infra/constructs",
    )
    function_logs.grant_write(role)
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler="handler.handler",
        code=code_asset(code_dir),
        layers=[layers.shared, layers.deps],
        role=role,
        log_group=function_logs,
        timeout=timeout,
        memory_size=memory_size,
        environment=environment,
        # X-Ray active tracing: the handler's Tracer adds the AWS calls and bank calls as subsegments.
        tracing=lambda_.Tracing.ACTIVE,
        # The stage's reservedConcurrency: protects a bank or the store from this function's bursts.
        reserved_concurrent_executions=config.reserved_concurrency.get(name),
    )
    Tags.of(function).add(FUNCTION_TAG, name)
    cfn_function = function.node.default_child
    assert isinstance(cfn_function, lambda_.CfnFunction)
    cfn_function.add_metadata(FUNCTION_TAG, name)
    cfn_function.add_metadata("scf:code-path", f"functions/{name}")
    created = ScfFunction(name=name, function=function, role=role, log_group=function_logs)
    acknowledge_runtime(created)
    acknowledge_function_placement(created, reserved=config.reserved_concurrency.get(name) is not None)
    acknowledge_tracing(created)
    return created


@dataclass(frozen=True)
class QueueWithDlq:
    queue: sqs.Queue
    dlq: sqs.Queue


def queue_with_dlq(scope: Construct, queue_id: str, *, consumer_timeout: Duration) -> QueueWithDlq:
    """`<scope>/<queue_id>` and `<scope>/<queue_id>Dlq`: SSE, TLS only, redrive after 5 receives,
    visibility timeout = 6 x the consuming function's timeout (DESIGN.md section 5)."""
    dlq = sqs.Queue(
        scope,
        f"{queue_id}Dlq",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    queue = sqs.Queue(
        scope,
        queue_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
    )
    return QueueWithDlq(queue=queue, dlq=dlq)


METRICS_NAMESPACE = "scf"  # the functions' EMF metrics (scf.adapters.observability) and their alarms


def base_environment(name: str, *, table_name: str, config: StackConfig) -> dict[str, str]:
    """The variables every function has (docs/architecture.md, "Function environment")."""
    return {
        "TABLE_NAME": table_name,
        "SCF_CLOCK": "system",
        "POLICY_TIMEZONE": config.policy_timezone,
        "POWERTOOLS_SERVICE_NAME": name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "LOG_LEVEL": config.log_level,
    }


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept one cdk-nag finding (its exact id, e.g. `AwsSolutions-IAM5[Resource::...]` or
    `NIST.800.53.R5-LambdaInsideVPC`) on `scope` and below, for a stated reason.
    docs/decisions/0002-cloud-stack.md lists every one."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} needs a reason")
    pack = rule.split("-", 1)[0]
    if pack not in NAG_PACKS:
        raise ValueError(f"{rule} is not a finding of the packs {NAG_PACKS}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as cdk-nag names it in findings."""
    stack = Stack.of(construct)
    resource = construct.node.default_child
    assert resource is not None
    return str(stack.resolve(stack.get_logical_id(resource)))  # type: ignore[arg-type]


def acknowledge_tracing(function: ScfFunction) -> None:
    acknowledge(
        function.role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray active tracing (Tracing.ACTIVE) grants xray:PutTraceSegments and "
        "xray:PutTelemetryRecords, which accept no resource narrower than *; they write traces only.",
    )


def acknowledge_runtime(function: ScfFunction) -> None:
    acknowledge(
        function.function,
        "AwsSolutions-L1",
        "Python 3.11 is the project's runtime (pyproject requires-python >=3.11,<3.12) and the deps "
        "layer is built for cp311; moving to a newer runtime is a deliberate upgrade of both.",
    )


def acknowledge_function_placement(function: ScfFunction, *, reserved: bool) -> None:
    """NIST 800-53 rev 5 findings every function shares, with why (docs/decisions/0002)."""
    acknowledge(
        function.function,
        "NIST.800.53.R5-LambdaInsideVPC",
        "The functions reach only AWS APIs (DynamoDB, S3, SQS, Secrets Manager) and the banks' HTTPS "
        "endpoints, and hold no network-reachable resource: IAM (least privilege per function) is the "
        "boundary. A VPC would add NAT gateways or interface endpoints per AZ and cold-start latency "
        "and protect nothing that is not already private.",
    )
    acknowledge(
        function.function,
        "NIST.800.53.R5-LambdaDLQ",
        "No function is invoked asynchronously: SQS-triggered ones (event source mappings) keep a "
        "failed message in their queue and its redrive DLQ (alarmed), and API Gateway invokes "
        "synchronously, answering the error. A function DLQ would never receive anything.",
    )
    if not reserved:
        acknowledge(
            function.function,
            "NIST.800.53.R5-LambdaConcurrency",
            "Reserved concurrency is set per stage (cdk.json reservedConcurrency) for the functions "
            "whose bursts would hurt a bank or the store; a function left without shares the account's "
            "pool (API functions bounded by the stage's throttling, every function's errors and queue "
            "age alarmed). Reserving for all would take from the unreserved pool AWS keeps at 100 and "
            "fail deployment in accounts with a low concurrency limit.",
        )


def acknowledge_bucket_encryption_and_replication(bucket: IConstruct, why_sse_s3: str) -> None:
    """NIST 800-53 rev 5 findings on the stack's buckets (SSE-S3, TLS only, versioned, retained)."""
    acknowledge(bucket, "NIST.800.53.R5-S3DefaultEncryptionKMS", why_sse_s3)
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Versioned and retained with the stack's data; cross-region replication needs a destination "
        "bucket in another region or account, which is the operating lender's disaster-recovery "
        "choice (docs/decisions/0002), not this single-region stack's.",
    )
