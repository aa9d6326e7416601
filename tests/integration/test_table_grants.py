"""The recorder that stands in for IAM in the tests (tests/table_grants.py): a handler's write
outside its function's key prefixes is caught, one inside is not, and calls are read the way IAM
authorizes them (a transaction item by item)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import TABLE
from tests.support import REGION
from tests.table_grants import Call, Recorder, accesses, as_function, outside_functions, refused

pytestmark = pytest.mark.integration


def put(pk: str) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": "X"}}
    )


def test_a_handler_writing_outside_its_prefixes_is_refused(tables: Any, table_grants: Recorder) -> None:
    as_function("score_application", put)("LEDGER#L1")  # score_application moves no money
    as_function("score_application", put)("APPLICATION#A1")
    assert table_grants.refused() == ["score_application: dynamodb:PutItem on pk 'LEDGER#L1'"]
    table_grants.calls.clear()  # the refusal was the point; the fixture would fail this test


def test_calls_outside_a_handler_or_marked_as_the_tests_own_are_nobodys(
    tables: Any, table_grants: Recorder
) -> None:
    put("LEDGER#L1")  # a test's seeding
    with outside_functions():
        as_function("disburse", put)("OUTBOX#E1")  # still a function's: the innermost one counts
        put("FILE#F1")
    assert table_grants.calls == [Call("disburse", "dynamodb:PutItem", "OUTBOX#E1")]


def test_a_transaction_is_authorized_item_by_item() -> None:
    request = {
        "TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "LEDGER#L1"}, "sk": {"S": "POSTING#1"}}}},
            {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "LOAN#L1"}, "sk": {"S": "LOAN"}}}},
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "LOAN#L1"}, "sk": {"S": "REFUND"}}}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "SUPPLIER#S1"}, "sk": {"S": "POOL#EUR"}},
                }
            },
        ]
    }
    found = [Call("disburse", *access) for access in accesses("TransactWriteItems", request)]
    assert [(c.action, c.pk) for c in found] == [
        ("dynamodb:PutItem", "LEDGER#L1"),
        ("dynamodb:UpdateItem", "LOAN#L1"),
        ("dynamodb:DeleteItem", "LOAN#L1"),
        ("dynamodb:ConditionCheckItem", "SUPPLIER#S1"),
    ]
    # disburse never deletes: the one refused item refuses the whole transaction in AWS.
    assert [c.action for c in found if refused(c)] == ["dynamodb:DeleteItem"]


@pytest.mark.parametrize(
    ("call", "allowed"),
    [
        (Call("ingest_settlement", "dynamodb:BatchWriteItem", "SUPPLIER#S1"), True),
        (Call("ingest_settlement", "dynamodb:BatchWriteItem", "LOAN#L1"), False),
        (Call("ingest_settlement", "dynamodb:PutItem", "PAYMENT#RF1"), True),  # a RETURNed credit's refund
        (Call("score_application", "dynamodb:PutItem", "PAYMENT#P1"), False),  # decisions pay nothing
        (Call("apply_repayment", "dynamodb:UpdateItem", "LEDGER#L1"), False),  # postings are never changed
        (Call("apply_repayment", "dynamodb:Query", index="gsi2"), True),
        (Call("score_application", "dynamodb:Query", index="gsi2"), False),
        (Call("apply_repayment", "dynamodb:Scan"), False),
        (Call("apply_repayment", "dynamodb:DescribeTable"), False),
        (Call("unknown_function", "dynamodb:GetItem", "LOAN#L1"), False),
    ],
)
def test_the_grant_table_decides(call: Call, allowed: bool) -> None:
    assert refused(call) is not allowed
