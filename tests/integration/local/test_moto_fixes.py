"""The emulator fixes (infra/local/moto_fixes.py) keep DynamoDB's answers and make them atomic:
item reads written as plain JSON give back exactly what was stored, queries look only at what can
match and still page and sort as DynamoDB does, and concurrent conditional writes never both win."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from infra.local import moto_fixes
from tests.support import REGION, create_tables

pytestmark = pytest.mark.integration

TABLE = "fixes-business"
EVERY_TYPE = {
    "pk": "P#1",
    "sk": "S#1",
    "text": "年度 ☃",
    "number": Decimal("12345678901234567890.123456789"),
    "negative": Decimal(-7),
    "binary": b"\x00\xff\x10zlib",
    "flag": True,
    "nothing": None,
    "listed": ["a", Decimal(1), b"\x01", {"nested": [True, None]}],
    "mapped": {"inner": {"deeper": Decimal("0.5")}, "blob": b"\x02"},
    "strings": {"x", "y"},
    "numbers": {Decimal(1), Decimal("2.5")},
    "binaries": {b"\x03", b"\x04"},
    "gsi1pk": "INDEX#A",
    "gsi1sk": "0001",
}


@pytest.fixture
def table(aws: None) -> Any:
    moto_fixes.install()
    create_tables(TABLE)
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE)


def _put_partition(table: Any, pk: str, count: int, index: str | None = None) -> None:
    with table.batch_writer() as batch:
        for i in range(count):
            item: dict[str, Any] = {"pk": pk, "sk": f"S#{i:04d}", "n": i}
            if index:
                item |= {"gsi1pk": index, "gsi1sk": f"{count - i:04d}"}
            batch.put_item(Item=item)


def test_every_item_read_gives_back_every_attribute_type(table: Any) -> None:
    table.put_item(Item=EVERY_TYPE)
    client = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": "P#1", "sk": "S#1"}

    assert table.get_item(Key=key, ConsistentRead=True)["Item"] == EVERY_TYPE
    batch = boto3.resource("dynamodb", region_name=REGION).batch_get_item(
        RequestItems={TABLE: {"Keys": [key, {"pk": "P#1", "sk": "missing"}]}}
    )
    assert batch["Responses"][TABLE] == [EVERY_TYPE]
    assert batch["UnprocessedKeys"] == {}
    assert table.query(KeyConditionExpression=Key("pk").eq("P#1"))["Items"] == [EVERY_TYPE]
    assert table.scan()["Items"] == [EVERY_TYPE]
    raw = client.transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": {"pk": {"S": "P#1"}, "sk": {"S": "S#1"}}}}]
    )
    assert raw["Responses"][0]["Item"]["binary"] == {"B": b"\x00\xff\x10zlib"}
    assert raw["Responses"][0]["Item"]["number"] == {"N": "12345678901234567890.123456789"}
    projected = table.get_item(
        Key=key, ProjectionExpression="#t, mapped.inner", ExpressionAttributeNames={"#t": "text"}
    )["Item"]
    assert projected == {"text": "年度 ☃", "mapped": {"inner": {"deeper": Decimal("0.5")}}}


def test_a_table_query_sees_its_partition_only_in_key_order_and_pages(table: Any) -> None:
    _put_partition(table, "P#A", 30)
    _put_partition(table, "P#B", 30)
    first = table.query(KeyConditionExpression=Key("pk").eq("P#A"), Limit=12)
    assert [item["n"] for item in first["Items"]] == list(range(12))
    rest = table.query(
        KeyConditionExpression=Key("pk").eq("P#A"), ExclusiveStartKey=first["LastEvaluatedKey"]
    )
    assert [item["n"] for item in rest["Items"]] == list(range(12, 30))
    backwards = table.query(
        KeyConditionExpression=Key("pk").eq("P#B") & Key("sk").begins_with("S#002"),
        ScanIndexForward=False,
    )
    assert [item["n"] for item in backwards["Items"]] == list(range(29, 19, -1))
    assert table.query(KeyConditionExpression=Key("pk").eq("P#none"))["Items"] == []


def test_an_index_query_finds_its_hash_key_across_partitions_sorted_by_the_index(table: Any) -> None:
    _put_partition(table, "P#A", 10, index="IDX#1")
    _put_partition(table, "P#B", 10, index="IDX#2")
    _put_partition(table, "P#C", 5)  # not in the index
    answer = table.query(IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq("IDX#1"), Limit=4)
    assert [item["gsi1sk"] for item in answer["Items"]] == ["0001", "0002", "0003", "0004"]
    assert {item["pk"] for item in answer["Items"]} == {"P#A"}
    rest = table.query(
        IndexName="gsi1",
        KeyConditionExpression=Key("gsi1pk").eq("IDX#1"),
        ExclusiveStartKey=answer["LastEvaluatedKey"],
    )
    assert len(rest["Items"]) == 6
    ranged = table.query(
        IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq("IDX#2") & Key("gsi1sk").lte("0003")
    )
    assert [item["n"] for item in ranged["Items"]] == [9, 8, 7]


def test_concurrent_conditional_transactions_never_both_win(table: Any) -> None:
    """Threads race to move a version-guarded counter on; each success must be the only writer of
    its version, so the count of successes equals the final version. (The threads call moto as the
    server's request threads do.)"""
    client = boto3.client("dynamodb", region_name=REGION)
    client.put_item(TableName=TABLE, Item={"pk": {"S": "C"}, "sk": {"S": "C"}, "version": {"N": "0"}})
    wins: list[int] = []
    lock = threading.Lock()

    def racer() -> None:
        mine = boto3.client("dynamodb", region_name=REGION)
        for _ in range(25):
            read = mine.get_item(
                TableName=TABLE, Key={"pk": {"S": "C"}, "sk": {"S": "C"}}, ConsistentRead=True
            )
            version = int(read["Item"]["version"]["N"])
            try:
                mine.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": TABLE,
                                "Key": {"pk": {"S": "C"}, "sk": {"S": "C"}},
                                "UpdateExpression": "SET version = :next",
                                "ConditionExpression": "version = :read",
                                "ExpressionAttributeValues": {
                                    ":read": {"N": str(version)},
                                    ":next": {"N": str(version + 1)},
                                },
                            }
                        },
                        {
                            "Put": {
                                "TableName": TABLE,
                                "Item": {"pk": {"S": "WIN"}, "sk": {"S": f"{version:06d}"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                )
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "TransactionCanceledException"
                continue
            with lock:
                wins.append(version)

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = client.get_item(TableName=TABLE, Key={"pk": {"S": "C"}, "sk": {"S": "C"}}, ConsistentRead=True)
    assert int(final["Item"]["version"]["N"]) == len(wins)
    assert sorted(wins) == list(range(len(wins)))


def notified_bucket(bucket: str, versioned: bool = False) -> tuple[Any, Callable[[], list[dict[str, Any]]]]:
    """A bucket whose uploads are notified to a queue: the S3 client and a function that gives the
    notification records received so far."""
    moto_fixes.install()
    s3, sqs = boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName="files")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    def records() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]

    return s3, records


def test_s3_notifications_name_the_object_version(aws: None) -> None:
    """As S3 does for a versioned bucket: each upload's notification names its version (so the
    same bytes uploaded again can be told from a notification delivered again), with a sequencer."""
    s3, records = notified_bucket("versioned-inbox", versioned=True)
    put = [
        s3.put_object(Bucket="versioned-inbox", Key="platform/f.csv", Body=b"same")["VersionId"]
        for _ in range(2)
    ]
    objects = [record["s3"]["object"] for record in records()]
    assert [o["versionId"] for o in objects] == put and put[0] != put[1]
    assert len({o["sequencer"] for o in objects}) == 2


def test_s3_notifications_name_the_uploader_as_s3_does(aws: None) -> None:
    """An upload with an assumed role's keys is named `AWS:<role id>:<session>` (what the ingestion
    checks against the partner's role id); one with other keys names no role."""
    s3, records = notified_bucket("inbox")
    iam, sts = boto3.client("iam", region_name=REGION), boto3.client("sts", region_name=REGION)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="platform-sender", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    keys = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="upload")["Credentials"]
    as_role = boto3.client(
        "s3",
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    as_role.put_object(Bucket="inbox", Key="platform/a.csv", Body=b"a")
    s3.put_object(Bucket="inbox", Key="platform/b.csv", Body=b"b")
    named = {unquote_plus(r["s3"]["object"]["key"]): r["userIdentity"]["principalId"] for r in records()}
    assert named["platform/a.csv"] == f"AWS:{role['RoleId']}:upload"
    assert not named["platform/b.csv"].startswith(f"AWS:{role['RoleId']}")


def test_stream_records_read_back_as_written(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetRecords (the local stack's outbox pipes read every record) is answered as plain JSON:
    each record's image, keys, event name and creation time come back as DynamoDB writes them."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "local")
    create_tables(TABLE, endpoint_url=moto_endpoint)
    dynamodb = boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    before = datetime.now(UTC)
    table = dynamodb.Table(TABLE)
    table.put_item(Item=EVERY_TYPE)
    table.update_item(
        Key={"pk": "P#1", "sk": "S#1"},
        UpdateExpression="SET flag = :f",
        ExpressionAttributeValues={":f": False},
    )
    streams = boto3.client("dynamodbstreams", endpoint_url=moto_endpoint, region_name=REGION)
    arn = table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=10)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    image = TypeDeserializer()
    assert {k: image.deserialize(v) for k, v in records[0]["dynamodb"]["NewImage"].items()} == EVERY_TYPE
    assert image.deserialize(records[1]["dynamodb"]["NewImage"]["flag"]) is False
    assert records[0]["dynamodb"]["Keys"] == {"pk": {"S": "P#1"}, "sk": {"S": "S#1"}}
    created = records[0]["dynamodb"]["ApproximateCreationDateTime"]
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
