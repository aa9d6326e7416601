"""Deploying a template into the embedded moto and reading physical ids back."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from infra.local.emulator import (
    Deployment,
    client,
    configure_bucket_versioning,
    configure_notifications,
    deploy,
)
from infra.local.template import Template


def test_the_stack_is_created_in_moto_and_physical_names_are_read_back(deployed: Deployment) -> None:
    dynamodb = client("dynamodb", deployed.endpoint, deployed.region)
    table = dynamodb.describe_table(TableName=deployed.physical_ids["DataTable1234"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    sqs = client("sqs", deployed.endpoint, deployed.region)
    attributes = sqs.get_queue_attributes(
        QueueUrl=deployed.queue_url("IngestSettlementFilesQueue11"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"] == deployed.queue_arn("IngestSettlementFilesDlq33")
    assert set(deployed.queues()) == {
        "settlement_files",
        "settlement_files_dlq",
        "disbursements",
        "disbursements_dlq",
    }


def test_function_environments_resolve_to_what_was_deployed(deployed: Deployment) -> None:
    specs = {spec.name: spec for spec in deployed.template.functions()}
    env = deployed.environment_of(specs["ingest_settlement"])
    assert env["TABLE_NAME"] == deployed.physical_ids["DataTable1234"]
    assert env["INBOX_BUCKET"] == deployed.physical_ids["IngestInboxBucketAB12"]
    assert env["QUEUE_ARN"] == deployed.queue_arn("IngestSettlementFilesQueue11")
    assert env["STREAM_ARN"].startswith(f"arn:aws:dynamodb:us-east-1:{deployed.account_id}:table/")
    assert env["REGION_TEXT"] == "region-us-east-1"
    assert json.loads(env["BANK_ACCOUNTS"]) == {"SIMBANK": ["LENDER-001"]}
    assert "INBOX_BUCKET" not in deployed.environment_of(specs["disburse"])
    assert deployed.function_names["IngestFunctionAA"] == "t-IngestFunctionAA"


def test_bucket_notifications_come_from_the_templates_notification_resource(deployed: Deployment) -> None:
    (bucket,) = configure_notifications(deployed)
    s3 = client("s3", deployed.endpoint, deployed.region)
    sqs = client("sqs", deployed.endpoint, deployed.region)
    queue = deployed.queue_url("IngestSettlementFilesQueue11")
    s3.put_object(Bucket=bucket, Key="reports/ignored.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="platform/a/b.csv", Body=b"x")
    bodies = []
    for _ in range(3):
        answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [json.loads(message["Body"]) for message in answer.get("Messages", [])]
    keys = [
        unquote_plus(record["s3"]["object"]["key"]) for body in bodies for record in body.get("Records", [])
    ]
    assert keys == ["platform/a/b.csv"]  # the prefix filter of the template applies
    assert any(body.get("Event") == "s3:TestEvent" for body in bodies)  # as S3 does on configuration


def test_the_synthesized_template_deploys(synthesized: Template, moto_endpoint: str) -> None:
    deployment = deploy(synthesized, moto_endpoint, "us-east-1", stack_name="synth")
    configure_notifications(deployment)
    # moto's CloudFormation leaves versioning out: the inbox is versioned as the template says.
    (inbox,) = configure_bucket_versioning(deployment)
    assert client("s3", moto_endpoint, "us-east-1").get_bucket_versioning(Bucket=inbox)["Status"] == "Enabled"
    environments = {spec.name: deployment.environment_of(spec) for spec in synthesized.functions()}
    tables = {env["TABLE_NAME"] for env in environments.values()}
    assert len(tables) == 1
    dynamodb = client("dynamodb", moto_endpoint, "us-east-1")
    assert dynamodb.describe_table(TableName=tables.pop())["Table"]["StreamSpecification"]["StreamEnabled"]
    assert environments["ingest_settlement"]["INBOX_BUCKET"]
    assert {"settlement_files", "disbursements", "repayments"} <= set(deployment.queues())
