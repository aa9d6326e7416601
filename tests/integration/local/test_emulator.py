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
    assert json.loads(env["BANKS"])["default_bank"] == "SIMBANK"
    assert "INBOX_BUCKET" not in deployed.environment_of(specs["disburse"])
    assert deployed.function_names["IngestFunctionAA"] == "t-IngestFunctionAA"


def test_a_secret_of_the_template_is_created_with_a_value_and_what_refers_to_it_is_deployed(
    deployed: Deployment,
) -> None:
    arn = deployed.resolve({"Ref": "BanksRESTBANKSigningSecret99"})
    secretsmanager = client("secretsmanager", deployed.endpoint, deployed.region)

    answer = secretsmanager.get_secret_value(SecretId="t-local/banks/RESTBANK/signing-key")

    assert answer["ARN"] == arn and len(answer["SecretString"]) >= 32
    assert "FunctionRoleDefaultPolicy77" in deployed.physical_ids  # its grant names the ARN
    iam = client("iam", deployed.endpoint, deployed.region)
    role = deployed.physical_ids["FunctionRole66"]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    assert arn in json.dumps(document)


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
    # moto's CloudFormation leaves versioning out: every bucket (inbox, outbound, access logs) is
    # versioned as the template says.
    versioned = configure_bucket_versioning(deployment)
    assert len(versioned) == 3
    for bucket in versioned:
        assert (
            client("s3", moto_endpoint, "us-east-1").get_bucket_versioning(Bucket=bucket)["Status"]
            == "Enabled"
        )
    # The REST bank's secret exists in the emulator, and the functions' grant on it was deployed.
    (secret_id,) = [lid for lid, _ in synthesized.of_type("AWS::SecretsManager::Secret")]
    secret_arn = deployment.resolve({"Ref": secret_id})
    secretsmanager = client("secretsmanager", moto_endpoint, "us-east-1")
    assert secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"]
    assert not [lid for lid, why in deployment.dropped.items() if secret_id in why]
    environments = {spec.name: deployment.environment_of(spec) for spec in synthesized.functions()}
    tables = {env["TABLE_NAME"] for env in environments.values()}
    assert len(tables) == 1
    dynamodb = client("dynamodb", moto_endpoint, "us-east-1")
    assert dynamodb.describe_table(TableName=tables.pop())["Table"]["StreamSpecification"]["StreamEnabled"]
    assert environments["ingest_settlement"]["INBOX_BUCKET"]
    assert {"settlement_files", "disbursements", "repayments"} <= set(deployment.queues())
