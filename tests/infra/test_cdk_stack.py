"""The synthesized cloud stack against docs/architecture.md (the seam) and DESIGN.md's habits.

Expected values are written out here from the doc, not imported from infra/, so a drift in either
shows up as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from synthesized_stack import Synthesized

from infra.constructs.common import REPO_ROOT
from scf.service.metrics import LEDGER_MISMATCH

pytestmark = pytest.mark.infra

FUNCTIONS = {"ingest_settlement", "score_application", "disburse", "apply_repayment"}
ROUTES = {
    ("GET", "/v1/unmatched"): "ingest_settlement",
    ("POST", "/v1/unmatched/{item_id}/resolution"): "ingest_settlement",
    ("GET", "/v1/credit-line"): "score_application",
    ("POST", "/v1/applications"): "score_application",
    ("GET", "/v1/applications/{application_id}"): "score_application",
    ("GET", "/v1/reviews"): "score_application",
    ("POST", "/v1/reviews/{application_id}/decision"): "score_application",
    ("GET", "/v1/ops/applications/{application_id}"): "score_application",
    ("GET", "/v1/loans"): "apply_repayment",
    ("GET", "/v1/loans/{loan_id}"): "apply_repayment",
    ("POST", "/v1/loans/{loan_id}/repayments"): "apply_repayment",
    ("GET", "/v1/repayments/{repayment_id}"): "apply_repayment",
    ("POST", "/v1/loans/{loan_id}/extension"): "apply_repayment",
    ("GET", "/v1/ops/loans/{loan_id}"): "apply_repayment",
    ("GET", "/v1/ops/loans"): "apply_repayment",
    ("GET", "/v1/ops/portfolio"): "apply_repayment",
    ("POST", "/v1/ops/payments/{payment_id}/outcome"): "apply_repayment",
}
COMMON_ENV = {
    "TABLE_NAME",
    "SCF_CLOCK",
    "POLICY_TIMEZONE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
}
BANK_ENV = {"BANKS", "OUTBOUND_BUCKET"}
ENVIRONMENT = {
    "ingest_settlement": COMMON_ENV
    | {"INBOX_BUCKET", "INBOX_SENDERS", "BANKS", "SETTLEMENT_FILES_QUEUE_URL"},
    "score_application": COMMON_ENV,
    "disburse": COMMON_ENV | BANK_ENV,
    "apply_repayment": COMMON_ENV | BANK_ENV,
}
# queue construct path -> (consuming function, batch size)
QUEUE_TRIGGERS = {
    "Scf/Ingest/SettlementFilesQueue": ("ingest_settlement", 1),
    "Scf/Disbursement/DisbursementsQueue": ("disburse", 10),
    "Scf/Repayment/RepaymentsQueue": ("apply_repayment", 10),
}
ITEM_ACTIONS = {
    f"dynamodb:{action}"
    for action in [
        "GetItem",
        "BatchGetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "ConditionCheckItem",
    ]
}
DATA_SERVICES = ("dynamodb:", "s3:", "sqs:", "kms:", "sns:", "secretsmanager:")
# The local stage of cdk.json (docs/bank-gateways.md): three banks played by the simulated bank.
LOCAL_BANKS = {
    "default_bank": "SIMBANK",
    "banks": {
        "SIMBANK": {
            "adapter": "simulated",
            "url": "local:simulated-bank",
            "accounts": [{"account_number": "LENDER-OPS-001", "name": "SCF Lender Operations"}],
        },
        "FILEBANK": {
            "adapter": "iso20022-file",
            "pain001": "pain.001.001.09",
            "pain008": "pain.008.001.02",
            "accounts": [{"account_number": "LENDER-FILE-001", "name": "SCF Lender Operations"}],
        },
        "RESTBANK": {
            "adapter": "rest-signed",
            "url": "local:simulated-bank",
            "key_id": "scf-local-restbank",
            "secret": "scf-local/banks/RESTBANK/signing-key",
            "accounts": [{"account_number": "LENDER-REST-001", "name": "SCF Lender Operations"}],
        },
    },
}
PAYING_FUNCTIONS = {"disburse", "apply_repayment"}


# --- helpers -----------------------------------------------------------------------------------


def references(value: Any) -> Iterator[str]:
    """Logical ids that `value` refers to (Ref / Fn::GetAtt), at any depth."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield value["Ref"]
            return
        if set(value) == {"Fn::GetAtt"}:
            yield value["Fn::GetAtt"][0]
            return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def path_of(resource: dict[str, Any]) -> str:
    return str(resource["Metadata"]["aws:cdk:path"]).removesuffix("/Resource")


def by_path(synthesized: Synthesized, path: str) -> tuple[str, dict[str, Any]]:
    found = [(lid, r) for lid, r in synthesized.resources.items() if path_of(r) == path]
    assert len(found) == 1, f"expected one resource at {path}, found {[lid for lid, _ in found]}"
    return found[0]


def function_names(synthesized: Synthesized) -> dict[str, str]:
    """Logical id -> scf:function tag of the project's functions (not CDK-internal ones)."""
    names = {}
    for lid, resource in synthesized.of_type("AWS::Lambda::Function").items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        if "scf:function" in tags:
            assert resource["Metadata"]["scf:function"] == tags["scf:function"]
            names[lid] = tags["scf:function"]
    return names


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy_document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(synthesized: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    found = []
    for resource in synthesized.of_type("AWS::IAM::Policy").values():
        if role_logical_id in set(references(resource["Properties"]["Roles"])):
            found.extend(statements(resource["Properties"]["PolicyDocument"]))
    role = synthesized.resources[role_logical_id]["Properties"]
    for inline in role.get("Policies", []):
        found.extend(statements(inline["PolicyDocument"]))
    return found


def actions_of(statement_list: list[dict[str, Any]]) -> set[str]:
    return {action for s in statement_list if s["Effect"] == "Allow" for action in as_list(s["Action"])}


def function_role(synthesized: Synthesized, name: str) -> str:
    lid = next(lid for lid, n in function_names(synthesized).items() if n == name)
    return next(references(synthesized.resources[lid]["Properties"]["Role"]))


# --- data ------------------------------------------------------------------------------------


def test_business_table_keys_gsi_stream_ttl_pitr(synthesized: Synthesized, template: Any) -> None:
    _, table = by_path(synthesized, "Scf/Data/Table")
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "gsi1pk", "AttributeType": "S"},
                    {"AttributeName": "gsi1sk", "AttributeType": "S"},
                    {"AttributeName": "gsi2pk", "AttributeType": "S"},
                    {"AttributeName": "gsi2sk", "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    # Loans by stored status and maturity: the daily job's reads.
                    "IndexName": "gsi2",
                    "KeySchema": [
                        {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
        },
    )
    props = table["Properties"]
    assert props["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    ("queue_path", "owned"),
    [
        (
            "Scf/Repayment/RepaymentsQueue",
            {"OVERDUE", "DUE_SOON", "INQUIRE", "REFUND", "REPUBLISH", "LEDGER_CHECK"},
        ),
        ("Scf/Disbursement/DisbursementsQueue", {"INQUIRE", "REPUBLISH"}),
    ],
)
def test_the_daily_steps_are_scheduled_at_0005_business_time_onto_their_owners_queue(
    synthesized: Synthesized, queue_path: str, owned: set[str]
) -> None:
    queue_lid, _ = by_path(synthesized, queue_path)
    schedules = {
        lid: r["Properties"]
        for lid, r in synthesized.resources.items()
        if r["Type"] == "AWS::Scheduler::Schedule"
        and queue_lid in set(references(r["Properties"]["Target"]["Arn"]))
    }
    steps = set()
    for props in schedules.values():
        assert props["ScheduleExpression"] == "cron(5 0 * * ? *)"
        assert props["ScheduleExpressionTimezone"] == "Asia/Shanghai"
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        target = props["Target"]
        message = json.loads(target["Input"])
        assert message["scf"] == "daily"
        assert message["business_date"] == "<aws.scheduler.scheduled-time>"
        steps.add(message["step"])
        role = next(references(target["RoleArn"]))
        granted = role_statements(synthesized, role)
        assert actions_of(granted) == {"sqs:SendMessage"}
        assert all(queue_lid in set(references(st["Resource"])) for st in granted)
        trust = synthesized.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [st["Principal"] for st in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert steps == owned


def test_the_business_table_is_the_only_table(synthesized: Synthesized) -> None:
    """Idempotency is by business key in the business table (docs/decisions/0005)."""
    table_id, _ = by_path(synthesized, "Scf/Data/Table")

    tables = synthesized.of_type("AWS::DynamoDB::Table")

    assert set(tables) == {table_id}


# --- queues ----------------------------------------------------------------------------------


def dead_letter_queues(synthesized: Synthesized) -> set[str]:
    """Queues' redrive targets and pipes' dead-letter queues."""
    pipe_dlqs = {
        next(references(params["DeadLetterConfig"]))
        for pipe in synthesized.of_type("AWS::Pipes::Pipe").values()
        if "DeadLetterConfig"
        in (params := pipe["Properties"]["SourceParameters"]["DynamoDBStreamParameters"])
    }
    return pipe_dlqs | {
        next(references(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
        for q in synthesized.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }


def test_every_work_queue_has_a_dlq_after_five_receives(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    dlqs = dead_letter_queues(synthesized)
    work_queues = {lid for lid in queues if lid not in dlqs}
    assert {path_of(queues[lid]) for lid in work_queues} == set(QUEUE_TRIGGERS)
    assert len(work_queues) == 3 and len(dlqs) == 6  # and the three pipes'
    for lid in work_queues:
        assert queues[lid]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    for lid in dlqs:
        assert queues[lid]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_every_dlq_has_an_alarm_to_the_encrypted_topic(synthesized: Synthesized) -> None:
    topics = synthesized.of_type("AWS::SNS::Topic")
    assert len(topics) == 1
    (topic_id, topic) = next(iter(topics.items()))
    key_id = next(references(topic["Properties"]["KmsMasterKeyId"]))
    assert synthesized.resources[key_id]["Properties"]["EnableKeyRotation"] is True
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm").values()
    for dlq in dead_letter_queues(synthesized):
        matching = [
            a["Properties"]
            for a in alarms
            if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and dlq in set(references(a["Properties"]["Dimensions"]))
        ]
        assert len(matching) == 1, f"no alarm on DLQ {dlq}"
        alarm = matching[0]
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert topic_id in set(references(alarm["AlarmActions"]))


def test_a_ledger_mismatch_alarms_on_the_metric_the_ledger_check_emits(synthesized: Synthesized) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == LEDGER_MISMATCH
    ]
    assert alarm["Namespace"] == "scf"  # POWERTOOLS_METRICS_NAMESPACE of every function
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "apply_repayment"}]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
    assert "docs/operations.md#ledgermismatch" in alarm["AlarmDescription"]


def test_every_alarm_names_a_runbook_section_that_exists(synthesized: Synthesized) -> None:
    headings = {
        line.lstrip("#").strip().lower()
        for line in (REPO_ROOT / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("### ")
    }
    for lid, alarm in synthesized.of_type("AWS::CloudWatch::Alarm").items():
        description = alarm["Properties"]["AlarmDescription"]
        assert "Runbook: docs/operations.md#" in description, lid
        assert description.rsplit("#", 1)[1] in headings, lid


def test_every_function_has_an_errors_alarm(synthesized: Synthesized) -> None:
    alarmed = {
        target
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors" and a["Properties"].get("Namespace") == "AWS/Lambda"
        for target in references(a["Properties"]["Dimensions"])
    }
    assert set(function_names(synthesized)) <= alarmed


def test_queues_are_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    for lid, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, lid
    denied_without_tls: set[str] = set()
    for policy in synthesized.of_type("AWS::SQS::QueuePolicy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                denied_without_tls.update(references(policy["Properties"]["Queues"]))
    assert denied_without_tls == set(queues)


def test_event_source_mappings_report_batch_item_failures(synthesized: Synthesized, template: Any) -> None:
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 3)
    template.all_resources_properties(
        "AWS::Lambda::EventSourceMapping", {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    )
    names = function_names(synthesized)
    functions = synthesized.of_type("AWS::Lambda::Function")
    seen = {}
    for mapping in synthesized.of_type("AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue_id = next(references(props["EventSourceArn"]))
        function_id = next(references(props["FunctionName"]))
        queue = synthesized.resources[queue_id]
        seen[path_of(queue)] = (names[function_id], props["BatchSize"])
        # DESIGN.md section 5: visibility timeout >= 6 x the function timeout
        timeout = functions[function_id]["Properties"]["Timeout"]
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
    assert seen == QUEUE_TRIGGERS


# --- inbox bucket ----------------------------------------------------------------------------


def test_buckets_are_encrypted_tls_only_private_and_the_inbox_versioned(synthesized: Synthesized) -> None:
    buckets = synthesized.of_type("AWS::S3::Bucket")
    assert len(buckets) == 3  # the inbox, the outbound messages, the access logs
    for lid, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], lid
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    tls_only = set()
    for policy in synthesized.of_type("AWS::S3::BucketPolicy").values():
        for statement in statements(policy["Properties"]["PolicyDocument"]):
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                tls_only.update(references(policy["Properties"]["Bucket"]))
    assert tls_only == set(buckets)
    _, inbox = by_path(synthesized, "Scf/Ingest/InboxBucket")
    assert inbox["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = inbox["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {r.get("Prefix") for r in rules} == {None, "reports/.parts/"}
    (everything,) = [r for r in rules if "Prefix" not in r]
    assert everything["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    (parts,) = [r for r in rules if r.get("Prefix") == "reports/.parts/"]
    assert parts["ExpirationInDays"] == 7  # parts of a file that never finished
    logs_id, access_logs = by_path(synthesized, "Scf/Ingest/AccessLogsBucket")
    assert next(references(inbox["Properties"]["LoggingConfiguration"]["DestinationBucketName"])) == logs_id
    # Every bucket is versioned: a deleted or overwritten access log stays a day as a noncurrent version.
    assert access_logs["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    (kept,) = access_logs["Properties"]["LifecycleConfiguration"]["Rules"]
    assert (kept["ExpirationInDays"], kept["NoncurrentVersionExpiration"]) == (400, {"NoncurrentDays": 1})


def joined(value: Any) -> str:
    """An `Fn::Join` of strings and `Fn::GetAtt`s as text, each attribute written `<id.Attribute>`."""
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "<{}.{}>".format(*p["Fn::GetAtt"]) for p in parts)


def test_each_partner_has_a_sender_role_that_may_write_only_under_its_prefix(
    synthesized: Synthesized,
) -> None:
    """CONTRACT.md section 6: one identity per partner; its role puts objects under `<partner>/`
    only, the bucket policy denies it anywhere else and denies everyone else there, and the
    function is told each partner's role id (what S3 notifications name as the uploader)."""
    inbox_id, _ = by_path(synthesized, "Scf/Ingest/InboxBucket")
    partners = ["platform", *sorted(LOCAL_BANKS["banks"])]
    roles = {partner: by_path(synthesized, f"Scf/Ingest/Sender-{partner}")[0] for partner in partners}
    sender_roles = {
        lid for lid, r in synthesized.of_type("AWS::IAM::Role").items() if "/Sender-" in path_of(r)
    }
    assert set(roles.values()) == sender_roles
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if next(references(p["Properties"]["Bucket"])) == inbox_id
    ]
    denies = [s for s in statements(policy) if s["Effect"] == "Deny" and s["Action"] == "s3:PutObject"]
    for partner, role_id in roles.items():
        own = f"<{inbox_id}.Arn>/{partner}/*"
        granted = role_statements(synthesized, role_id)
        assert actions_of(granted) == {"s3:PutObject", "s3:AbortMultipartUpload"}
        assert [joined(s["Resource"]) for s in granted] == [own]
        elsewhere = [s for s in denies if s["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}]
        assert [joined(s["NotResource"]) for s in elsewhere] == [own]
        others = [s for s in denies if "Resource" in s and joined(s["Resource"]) == own]
        assert [(s["Principal"], s["Condition"]) for s in others] == [
            ({"AWS": "*"}, {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": [role_id, "Arn"]}}})
        ]
    (function_id,) = [lid for lid, name in function_names(synthesized).items() if name == "ingest_settlement"]
    env = synthesized.resources[function_id]["Properties"]["Environment"]["Variables"]
    assert json.loads(joined(env["INBOX_SENDERS"])) == {
        partner: f"<{role_id}.RoleId>" for partner, role_id in roles.items()
    }


def test_inbox_notifies_the_settlement_queue_for_every_key(synthesized: Synthesized) -> None:
    """One notification without a key filter: every sender, configured or not, gets a report
    (an unknown one a REJECTED report); the handler skips reports/ keys so reports never loop."""
    inbox_id, _ = by_path(synthesized, "Scf/Ingest/InboxBucket")
    queue_id, _ = by_path(synthesized, "Scf/Ingest/SettlementFilesQueue")
    (notifications,) = synthesized.of_type("Custom::S3BucketNotifications").values()
    props = notifications["Properties"]
    assert next(references(props["BucketName"])) == inbox_id
    (configuration,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert next(references(configuration["QueueArn"])) == queue_id
    assert "Filter" not in configuration
    assert not any(k in props["NotificationConfiguration"] for k in ("LambdaFunctionConfigurations",))


# --- API -------------------------------------------------------------------------------------


def api_paths(synthesized: Synthesized) -> dict[str, str]:
    """ApiGateway::Resource logical id -> full path, rebuilt from PathPart / ParentId."""
    resources = synthesized.of_type("AWS::ApiGateway::Resource")

    def full_path(lid: str) -> str:
        props = resources[lid]["Properties"]
        parent = props["ParentId"]
        prefix = full_path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    return {lid: full_path(lid) for lid in resources}


def api_methods(synthesized: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> the method's properties."""
    paths = api_paths(synthesized)
    return {
        (method["Properties"]["HttpMethod"], paths[method["Properties"]["ResourceId"]["Ref"]]): method[
            "Properties"
        ]
        for method in synthesized.of_type("AWS::ApiGateway::Method").values()
    }


def test_every_v1_method_requires_a_cognito_token(synthesized: Synthesized) -> None:
    methods = api_methods(synthesized)
    (authorizer_id, authorizer) = next(iter(synthesized.of_type("AWS::ApiGateway::Authorizer").items()))
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert set(ROUTES) <= set(methods)
    for route in ROUTES:
        props = methods[route]
        assert props["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert next(references(props["AuthorizerId"])) == authorizer_id


def test_the_only_public_method_is_the_openapi_document_answered_by_api_gateway_itself(
    synthesized: Synthesized,
) -> None:
    public = {route: props for route, props in api_methods(synthesized).items() if route not in ROUTES}
    assert list(public) == [("GET", "/openapi.json")]
    props = public[("GET", "/openapi.json")]
    assert props["AuthorizationType"] == "NONE" and "AuthorizerId" not in props
    integration = props["Integration"]
    assert integration["Type"] == "MOCK" and "Uri" not in integration  # no function, no data
    (answer,) = integration["IntegrationResponses"]
    assert answer["ResponseParameters"]["method.response.header.Content-Type"] == "'application/json'"


def test_user_pool_has_supplier_id_and_ops_group(synthesized: Synthesized) -> None:
    (pool,) = synthesized.of_type("AWS::Cognito::UserPool").values()
    schema = {a["Name"]: a for a in pool["Properties"]["Schema"]}
    assert schema["supplier_id"]["AttributeDataType"] == "String"
    assert schema["supplier_id"]["Mutable"] is False
    (group,) = synthesized.of_type("AWS::Cognito::UserPoolGroup").values()
    assert group["Properties"]["GroupName"] == "ops"
    (client,) = synthesized.of_type("AWS::Cognito::UserPoolClient").values()
    assert "custom:supplier_id" not in client["Properties"]["WriteAttributes"]


def test_the_app_client_signs_in_by_srp_with_no_oauth_flow_and_no_callback(synthesized: Synthesized) -> None:
    (client,) = synthesized.of_type("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert props.get("AllowedOAuthFlowsUserPoolClient", False) is False
    for absent in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert absent not in props, absent


def test_routes_are_exactly_the_documented_ones(synthesized: Synthesized) -> None:
    paths = api_paths(synthesized)
    names = function_names(synthesized)
    routes = {}
    for method in synthesized.of_type("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        integration = props["Integration"]
        if integration["Type"] == "MOCK":
            continue  # GET /openapi.json, checked above
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        targets = [lid for lid in references(integration["Uri"]) if lid in names]
        assert len(targets) == 1
        routes[(props["HttpMethod"], paths[props["ResourceId"]["Ref"]])] = names[targets[0]]
    assert routes == ROUTES


def test_posts_require_an_idempotency_key_and_the_validator_is_on(synthesized: Synthesized) -> None:
    (validator_id, validator) = next(iter(synthesized.of_type("AWS::ApiGateway::RequestValidator").items()))
    assert validator["Properties"]["ValidateRequestParameters"] is True
    methods = api_methods(synthesized)
    for route in ROUTES:
        props = methods[route]
        assert next(references(props["RequestValidatorId"])) == validator_id
        if props["HttpMethod"] == "POST":
            assert props["RequestParameters"]["method.request.header.Idempotency-Key"] is True


def test_every_error_the_gateway_answers_itself_is_problem_json(synthesized: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synthesized.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN"} <= set(responses)
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"  # an unknown route
    for kind, props in responses.items():
        assert props["ResponseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/problem+json'"
        }, kind
        body = props["ResponseTemplates"]["application/json"]
        body = body.replace("$context.error.message", "m").replace("$context.requestId", "r")
        problem = json.loads(body)
        assert {"type", "title", "detail", "request_id"} <= set(problem), kind
        if "StatusCode" in props:
            assert problem["status"] == int(props["StatusCode"]), kind


def test_stage_has_access_logs_and_throttling(synthesized: Synthesized) -> None:
    (stage,) = synthesized.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    log_group = next(references(props["AccessLogSetting"]["DestinationArn"]))
    assert synthesized.resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    fields = json.loads(props["AccessLogSetting"]["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status" and fields["resourcePath"] == "$context.resourcePath"
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["LoggingLevel"] in {"ERROR", "INFO"}
    assert settings["DataTraceEnabled"] is False


def test_access_logs_name_the_caller_from_the_verified_token(synthesized: Synthesized) -> None:
    """Not identity.caller/user (IAM only, always empty behind a Cognito authorizer): the claims."""
    (stage,) = synthesized.of_type("AWS::ApiGateway::Stage").values()
    fields = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    assert fields["sub"] == "$context.authorizer.claims.sub"
    assert fields["supplierId"] == "$context.authorizer.claims['custom:supplier_id']"
    assert fields["groups"] == "$context.authorizer.claims['cognito:groups']"
    values = " ".join(fields.values())
    assert "$context.identity.caller" not in values and "$context.identity.user" not in values
    assert "Authorization" not in values and "body" not in values.lower()


# --- functions -------------------------------------------------------------------------------


def test_four_functions_with_runtime_layers_and_log_retention(synthesized: Synthesized) -> None:
    names = function_names(synthesized)
    assert sorted(names.values()) == sorted(FUNCTIONS)
    layers = synthesized.of_type("AWS::Lambda::LayerVersion")
    assert {path_of(layer) for layer in layers.values()} == {"Scf/SharedLayer", "Scf/DepsLayer"}
    for lid, name in names.items():
        resource = synthesized.resources[lid]
        props = resource["Properties"]
        assert props["Handler"] == "handler.handler"
        assert props["Runtime"] == "python3.11"
        assert props["Architectures"] == ["arm64"]
        assert set(references(props["Layers"])) == set(layers)
        assert resource["Metadata"]["scf:code-path"] == f"functions/{name}"
        log_group = synthesized.resources[next(references(props["LoggingConfig"]["LogGroup"]))]
        assert log_group["Properties"]["RetentionInDays"] > 0
    for lid, log_group in synthesized.of_type("AWS::Logs::LogGroup").items():
        assert log_group["Properties"].get("RetentionInDays"), f"{lid} keeps logs forever"


def test_every_log_group_is_encrypted_with_the_rotated_logs_key(synthesized: Synthesized) -> None:
    key_id, key = by_path(synthesized, "Scf/LogsKey")
    assert key["Properties"]["EnableKeyRotation"] is True
    (logs_service,) = [
        s for s in statements(key["Properties"]["KeyPolicy"]) if "Service" in s.get("Principal", {})
    ]
    assert logs_service["Principal"]["Service"] == {
        "Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
    }
    assert "kms:EncryptionContext:aws:logs:arn" in logs_service["Condition"]["ArnLike"]
    log_groups = synthesized.of_type("AWS::Logs::LogGroup")
    assert len(log_groups) >= 6  # four functions, API access logs, the enrichment's logs
    for lid, log_group in log_groups.items():
        assert set(references(log_group["Properties"].get("KmsKeyId"))) == {key_id}, lid


def test_the_table_is_backed_up_monthly_for_a_year_beside_pitr(synthesized: Synthesized) -> None:
    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    (plan,) = synthesized.of_type("AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 3 1 * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 366}
    (selection,) = synthesized.of_type("AWS::Backup::BackupSelection").values()
    assert set(references(selection["Properties"]["BackupSelection"]["Resources"])) == {table_id}
    (vault,) = synthesized.of_type("AWS::Backup::BackupVault").values()
    assert vault["DeletionPolicy"] == "Retain"


def test_function_environment_is_exactly_the_documented_one(synthesized: Synthesized) -> None:
    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    inbox_id, _ = by_path(synthesized, "Scf/Ingest/InboxBucket")
    outbound_id, _ = by_path(synthesized, "Scf/Banks/OutboundBucket")
    for lid, name in function_names(synthesized).items():
        env = synthesized.resources[lid]["Properties"]["Environment"]["Variables"]
        assert set(env) == ENVIRONMENT[name], name
        assert env["TABLE_NAME"] == {"Ref": table_id}
        assert env["SCF_CLOCK"] == "system"
        assert env["POLICY_TIMEZONE"] == "Asia/Shanghai"
        assert env["POWERTOOLS_SERVICE_NAME"] == name
        if "INBOX_BUCKET" in env:
            assert env["INBOX_BUCKET"] == {"Ref": inbox_id}
            queue_id, _ = by_path(synthesized, "Scf/Ingest/SettlementFilesQueue")
            assert env["SETTLEMENT_FILES_QUEUE_URL"] == {"Ref": queue_id}
        if "BANKS" in env:
            assert json.loads(env["BANKS"]) == LOCAL_BANKS
        if "OUTBOUND_BUCKET" in env:
            assert env["OUTBOUND_BUCKET"] == {"Ref": outbound_id}


# --- IAM -------------------------------------------------------------------------------------


def test_no_wildcard_actions_and_no_star_resource_on_data(synthesized: Synthesized) -> None:
    documents = [p["Properties"]["PolicyDocument"] for p in synthesized.of_type("AWS::IAM::Policy").values()]
    for role in synthesized.of_type("AWS::IAM::Role").values():
        documents.extend(inline["PolicyDocument"] for inline in role["Properties"].get("Policies", []))
    assert documents
    for document in documents:
        for statement in statements(document):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"wildcard action {action}"
            if any(a.startswith(DATA_SERVICES) for a in as_list(statement["Action"])):
                assert "*" not in as_list(statement["Resource"]), statement


def test_each_function_gets_only_what_it_uses(synthesized: Synthesized) -> None:
    inbox_id, _ = by_path(synthesized, "Scf/Ingest/InboxBucket")
    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    own_queue = {name: path for path, (name, _) in QUEUE_TRIGGERS.items()}
    for name in FUNCTIONS:
        granted = role_statements(synthesized, function_role(synthesized, name))
        actions = actions_of(granted)
        dynamodb_actions = {a for a in actions if a.startswith("dynamodb:")}
        assert {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
        } <= dynamodb_actions
        assert dynamodb_actions <= ITEM_ACTIONS, "no Scan, no table or stream management for functions"
        for statement in granted:
            if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])):
                assert set(references(statement["Resource"])) <= {table_id}
        sent_to = {
            path_of(synthesized.resources[lid])
            for s in granted
            if "sqs:SendMessage" in as_list(s["Action"])
            for lid in references(s["Resource"])
        }
        # Events leave through the outbox; only ingest sends, the continuations of its own files.
        expected = {"Scf/Ingest/SettlementFilesQueue"} if name == "ingest_settlement" else set()
        assert sent_to == expected, name
        s3_actions = {a for a in actions if a.startswith("s3:")}
        if name == "ingest_settlement":
            assert s3_actions == {
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:ListBucket",
            }
            for action, suffix in (
                ("s3:PutObject", "/reports/*"),
                ("s3:AbortMultipartUpload", "/reports/*"),
                ("s3:DeleteObject", "/reports/.parts/*"),  # a long file's report parts, once written
            ):
                (statement,) = [s for s in granted if action in as_list(s["Action"])]
                (resource,) = as_list(statement["Resource"])
                assert resource["Fn::Join"][1][-1] == suffix, action
                assert inbox_id in set(references(resource))
            (listing,) = [s for s in granted if "s3:ListBucket" in as_list(s["Action"])]
            assert listing["Condition"] == {"StringLike": {"s3:prefix": ["reports/.parts/*"]}}
        elif name in PAYING_FUNCTIONS:
            assert_writes_only_bank_messages(synthesized, granted)
        else:
            assert not s3_actions
        secrets_read = [
            s for s in granted if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
        ]
        if name in PAYING_FUNCTIONS:
            (statement,) = secrets_read
            assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
            assert set(references(statement["Resource"])) == {restbank_secret(synthesized)}
        else:
            assert secrets_read == [], name
        consumed = {
            path_of(synthesized.resources[lid])
            for s in granted
            if "sqs:ReceiveMessage" in as_list(s["Action"])
            for lid in references(s["Resource"])
        }
        assert consumed == ({own_queue[name]} if name in own_queue else set())
        # The paying functions' BackoffBatchProcessor shortens a failed record's visibility: on the
        # function's own queue only (granted with the event source mapping's consume actions).
        shortened = {
            path_of(synthesized.resources[lid])
            for s in granted
            if "sqs:ChangeMessageVisibility" in as_list(s["Action"])
            for lid in references(s["Resource"])
        }
        assert shortened == consumed, name


def table_statements(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    granted = role_statements(synthesized, function_role(synthesized, name))
    return [s for s in granted if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]


def write_prefixes(synthesized: Synthesized, name: str, action: str) -> set[str]:
    """The partition-key patterns `name` may write with `action` (dynamodb:LeadingKeys)."""
    found: set[str] = set()
    for statement in table_statements(synthesized, name):
        if action in as_list(statement["Action"]):
            found |= set(statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
    return found


def test_table_grants_are_infra_table_access_exactly(synthesized: Synthesized) -> None:
    """The synthesized policy is the table both the grant and the tests' write recorder read: reads
    on the table and the indexes the function queries; each write action on the table alone, for
    partition keys of its prefixes, and required to name them (the Null condition)."""
    from infra.table_access import READ_ACTIONS, TABLE_ACCESS, WRITE_ACTIONS

    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    assert set(TABLE_ACCESS) == FUNCTIONS
    for name, access in TABLE_ACCESS.items():
        found = table_statements(synthesized, name)
        (reads,) = [s for s in found if set(as_list(s["Action"])) & set(READ_ACTIONS)]
        assert set(as_list(reads["Action"])) == set(READ_ACTIONS) and "Condition" not in reads, name
        indexes = {
            resource["Fn::Join"][1][-1].removeprefix("/index/")
            for resource in as_list(reads["Resource"])
            if "Fn::Join" in resource
        }
        assert indexes == set(access.indexes), name
        for action in WRITE_ACTIONS:
            expected = {f"{prefix}*" for prefix in access.writes.get(action, ())}
            assert write_prefixes(synthesized, name, action) == expected, (name, action)
        for statement in found:
            if set(as_list(statement["Action"])) & set(WRITE_ACTIONS):
                assert set(as_list(statement["Action"])) <= set(WRITE_ACTIONS), statement
                (resource,) = as_list(statement["Resource"])
                assert resource == {"Fn::GetAtt": [table_id, "Arn"]}, (name, resource)
                assert statement["Condition"]["Null"] == {"dynamodb:LeadingKeys": "false"}


def test_no_function_may_change_the_ledger_and_deletes_are_the_refund_marker_only(
    synthesized: Synthesized,
) -> None:
    for name in FUNCTIONS:
        for action in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            assert "LEDGER#*" not in write_prefixes(synthesized, name, action), (name, action)
        # Postings are created by the money functions only (score_application moves no money).
        assert ("LEDGER#*" in write_prefixes(synthesized, name, "dynamodb:PutItem")) == (
            name != "score_application"
        )
        deletes = write_prefixes(synthesized, name, "dynamodb:DeleteItem")
        # A refunded loan's refund-owed marker (LOAN#<id>, sk REFUND): whoever settles a refund.
        assert deletes == ({"LOAN#*"} if name in {"apply_repayment", "ingest_settlement"} else set()), name
        batch = write_prefixes(synthesized, name, "dynamodb:BatchWriteItem")
        assert batch == ({"SUPPLIER#*"} if name == "ingest_settlement" else set()), name


# --- outbox pipes ----------------------------------------------------------------------------


# A pipe's role: read the table stream, send to one queue (its target or its dead-letter queue).
STREAM_TO_QUEUE = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}


def test_outbox_pipes_carry_the_documented_filter(synthesized: Synthesized) -> None:
    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    pipes = {lid: p for lid, p in synthesized.of_type("AWS::Pipes::Pipe").items() if "Outbox" in lid}
    assert {path_of(p) for p in pipes.values()} == {"Scf/Disbursement/OutboxPipe", "Scf/Repayment/OutboxPipe"}
    for pipe in pipes.values():
        props = pipe["Properties"]
        target = "disbursements" if path_of(pipe).startswith("Scf/Disbursement") else "repayments"
        assert props["Source"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
        queue_path = (
            "Scf/Disbursement/DisbursementsQueue"
            if target == "disbursements"
            else "Scf/Repayment/RepaymentsQueue"
        )
        assert path_of(synthesized.resources[next(references(props["Target"]))]) == queue_path
        assert "InputTemplate" not in props.get("TargetParameters", {})
        (pattern,) = props["SourceParameters"]["FilterCriteria"]["Filters"]
        assert json.loads(pattern["Pattern"]) == {
            "eventName": ["INSERT", "MODIFY"],  # MODIFY: an outbox item touched by REPUBLISH
            "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "target": {"S": [target]}}},
        }
        granted = role_statements(synthesized, next(references(props["RoleArn"])))
        assert actions_of(granted) == STREAM_TO_QUEUE
        for statement in granted:
            assert statement["Resource"] != "*"


# --- domain events (docs/events.md, docs/decisions/0007-domain-events-bus.md) ------------------

PUBLIC_EVENTS = [
    "LoanApproved", "LoanActivated", "LoanFailed", "RepaymentApplied", "RepaymentFailed", "LoanRepaid",
    "LoanExtended", "LoanDueSoon", "LoanOverdue", "RefundPaid", "UnmatchedBankItem", "FileProcessed",
]  # fmt: skip


def test_the_domain_events_bus_is_archived_for_a_year(synthesized: Synthesized) -> None:
    bus_id, bus = by_path(synthesized, "Scf/Events/Bus")
    assert bus["Properties"]["Name"].endswith("-events")
    (archive,) = synthesized.of_type("AWS::Events::Archive").values()
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert archive["Properties"]["RetentionDays"] == 365
    assert archive["Properties"]["EventPattern"] == {"source": ["scf"]}


def test_the_domain_events_pipe_takes_public_outbox_items_to_the_bus(synthesized: Synthesized) -> None:
    table_id, _ = by_path(synthesized, "Scf/Data/Table")
    bus_id, _ = by_path(synthesized, "Scf/Events/Bus")
    machine_id, machine = by_path(synthesized, "Scf/Events/Enrichment")
    dlq_id, _ = by_path(synthesized, "Scf/Events/PipeDlq")
    _, pipe = by_path(synthesized, "Scf/Events/Pipe")
    props = pipe["Properties"]
    assert props["Source"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert props["Target"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert props["Enrichment"] == {"Ref": machine_id}
    (pattern,) = props["SourceParameters"]["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}, "event_type": {"S": PUBLIC_EVENTS}}},
    }
    stream = props["SourceParameters"]["DynamoDBStreamParameters"]
    assert stream["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert (
        0 < stream["MaximumRetryAttempts"] <= 185
        and stream["OnPartialBatchItemFailure"] == "AUTOMATIC_BISECT"
    )
    assert props["TargetParameters"] == {
        "EventBridgeEventBusParameters": {"DetailType": "$.detail_type", "Source": "scf", "Time": "$.time"},
        "InputTemplate": "<$.detail>",
    }
    # The enrichment parses the payload without code: an Express machine of Map and Pass states.
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"
    definition = json.loads(machine["Properties"]["DefinitionString"])
    each = definition["States"][definition["StartAt"]]["ItemProcessor"]
    (state,) = each["States"].values()
    assert state["Parameters"]["detail.$"] == "States.StringToJson($.dynamodb.NewImage.payload.S)"
    granted = role_statements(synthesized, next(references(props["RoleArn"])))
    assert actions_of(granted) == STREAM_TO_QUEUE | {"states:StartSyncExecution", "events:PutEvents"}
    for statement in granted:
        assert statement["Resource"] != "*"


# --- cdk-nag and tags ------------------------------------------------------------------------


def test_cdk_nag_has_no_unacknowledged_finding_and_every_acknowledgment_has_a_reason(
    synthesized: Synthesized,
) -> None:
    report = synthesized.validation_report()
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert set(plugins) == {"AwsSolutions", "NIST.800.53.R5"}
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], name
        acknowledged = plugin["suppressedViolations"]
        assert acknowledged, "the report lists the acknowledged findings"
        for finding in acknowledged:
            assert finding["acknowledgedId"] == f"{name}::{finding['ruleName']}"
            assert finding["ruleName"].startswith(f"{name}-")
            assert len(finding["reason"].strip()) >= 40, finding["ruleName"]


def test_acknowledgments_are_documented_in_the_decision_record(synthesized: Synthesized) -> None:
    from infra.constructs.common import REPO_ROOT

    record = (REPO_ROOT / "docs" / "decisions" / "0002-cloud-stack.md").read_text()
    for plugin in synthesized.validation_report()["pluginReports"]:
        for finding in plugin["suppressedViolations"]:
            rule = finding["ruleName"].split("[")[0]
            assert rule in record, f"{rule} is acknowledged but not explained in docs/decisions/0002"


def test_every_taggable_resource_is_tagged_with_the_project(synthesized: Synthesized) -> None:
    for lid, resource in synthesized.of_type("AWS::Lambda::Function").items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("project") == "scf", lid
    for resource_type in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"):
        for lid, resource in synthesized.of_type(resource_type).items():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            assert tags.get("project") == "scf", lid


def test_code_assets_are_small_and_clean(synthesized: Synthesized) -> None:
    """DESIGN.md section 7: an asset must never carry a virtual environment or a tool's cache; its
    only bytecode is the runtime's, compiled by the build (unchecked-hash, infra/assets.py)."""
    asset_dirs = {
        resource["Metadata"]["aws:asset:path"]
        for resource in synthesized.resources.values()
        if "aws:asset:path" in resource.get("Metadata", {})
    }
    assert len(asset_dirs) >= 3  # the layers and the function code
    for asset in asset_dirs:
        files = [p for p in (synthesized.outdir / asset).rglob("*") if p.is_file()]
        assert files, f"{asset} is empty"
        assert sum(p.stat().st_size for p in files) < 50 * 1024 * 1024, asset
        assert not any(
            part in {".pytest_cache", ".mypy_cache", ".venv", "site-packages"}
            for p in files
            for part in p.parts
        )
        assert all(is_runtime_bytecode(p) for p in files if p.suffix == ".pyc"), asset


def test_every_module_of_every_code_asset_has_its_bytecode(synthesized: Synthesized) -> None:
    """Lambda's code directories are read-only: a module without bytecode is compiled on every cold
    start. The functions' code, the shared layer and the deps layer each ship it."""
    ours = [
        *synthesized.of_type("AWS::Lambda::LayerVersion").values(),
        *(
            f
            for f in synthesized.of_type("AWS::Lambda::Function").values()
            if "scf:function" in f["Metadata"]
        ),
    ]
    assert len(ours) == 6  # two layers, four functions
    for resource in ours:
        asset = synthesized.outdir / resource["Metadata"]["aws:asset:path"]
        modules = list(asset.rglob("*.py"))
        assert modules, asset
        missing = [m for m in modules if not (m.parent / "__pycache__" / f"{m.stem}.{CPYTHON}.pyc").is_file()]
        assert not missing, missing[:5]


CPYTHON = "cpython-311"  # the functions' runtime, python3.11


def is_runtime_bytecode(path: Path) -> bool:
    """A `.pyc` for python3.11 in `__pycache__` beside its source, unchecked-hash (PEP 552 flags 1)."""
    header = path.read_bytes()[:8]
    source = path.parent.parent / f"{path.name.split('.')[0]}.py"
    return (
        path.parent.name == "__pycache__"
        and path.name.endswith(f".{CPYTHON}.pyc")
        and source.is_file()
        and int.from_bytes(header[4:8], "little") == 1
    )


# --- banks: outbound bucket, file banks' readers, REST banks' secrets ----------------------------


def restbank_secret(synthesized: Synthesized) -> str:
    lid, _ = by_path(synthesized, "Scf/Banks/RESTBANKSigningSecret")
    return lid


def object_prefix(resource: Any) -> str:
    """`<bucket ARN>/<prefix>` written as Fn::Join: the part after the ARN."""
    return str(resource["Fn::Join"][1][-1])


def assert_writes_only_bank_messages(synthesized: Synthesized, granted: list[dict[str, Any]]) -> None:
    """disburse and apply_repayment: write FILEBANK/* and _sent/*, read _sent/* (the file
    gateway's markers), list only under _sent/; nothing of the inbox."""
    outbound_id, _ = by_path(synthesized, "Scf/Banks/OutboundBucket")
    on_s3 = [s for s in granted if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert actions_of(on_s3) == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    for statement in on_s3:
        assert set(references(statement["Resource"])) == {outbound_id}
    (writes,) = [s for s in on_s3 if "s3:PutObject" in as_list(s["Action"])]
    assert as_list(writes["Action"]) == ["s3:PutObject"]
    assert {object_prefix(r) for r in as_list(writes["Resource"])} == {"/FILEBANK/*", "/_sent/*"}
    (reads,) = [s for s in on_s3 if "s3:GetObject" in as_list(s["Action"])]
    assert [object_prefix(r) for r in as_list(reads["Resource"])] == ["/_sent/*"]
    (listing,) = [s for s in on_s3 if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["_sent/*"]}}


def test_the_outbound_bucket_is_versioned_and_logged_like_the_inbox(synthesized: Synthesized) -> None:
    _, outbound = by_path(synthesized, "Scf/Banks/OutboundBucket")
    logs_id, _ = by_path(synthesized, "Scf/Ingest/AccessLogsBucket")

    props = outbound["Properties"]

    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert next(references(props["LoggingConfiguration"]["DestinationBucketName"])) == logs_id
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "outbound/"
    assert outbound["DeletionPolicy"] == "Retain"


def test_each_file_bank_has_a_read_only_role_limited_to_its_prefix(synthesized: Synthesized) -> None:
    outbound_id, _ = by_path(synthesized, "Scf/Banks/OutboundBucket")
    role_id, role = by_path(synthesized, "Scf/Banks/FILEBANKFileReaderRole")

    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    granted = role_statements(synthesized, role_id)

    # No reader_account in the local stage: AWS Transfer Family in this account only.
    assert trust["Principal"] == {"Service": "transfer.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert actions_of(granted) == {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"}
    for statement in granted:
        assert set(references(statement["Resource"])) == {outbound_id}
    (reads,) = [s for s in granted if "s3:GetObject" in as_list(s["Action"])]
    assert [object_prefix(r) for r in as_list(reads["Resource"])] == ["/FILEBANK/*"]
    (listing,) = [s for s in granted if "s3:ListBucket" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["FILEBANK/*"]}}
    readers = [
        path_of(r) for r in synthesized.of_type("AWS::IAM::Role").values() if "FileReader" in path_of(r)
    ]
    assert readers == ["Scf/Banks/FILEBANKFileReaderRole"]  # SIMBANK and RESTBANK take no files


def test_each_rest_bank_has_a_secret_the_stack_creates_with_a_placeholder(synthesized: Synthesized) -> None:
    secrets = synthesized.of_type("AWS::SecretsManager::Secret")

    (secret,) = secrets.values()

    props = secret["Properties"]
    assert props["Name"] == LOCAL_BANKS["banks"]["RESTBANK"]["secret"]
    assert "SecretString" not in props  # never a value in the template
    assert props["GenerateSecretString"]["PasswordLength"] == 64
    readers = {
        name
        for name in FUNCTIONS
        if any(
            restbank_secret(synthesized) in set(references(s["Resource"]))
            for s in role_statements(synthesized, function_role(synthesized, name))
        )
    }
    assert readers == PAYING_FUNCTIONS
