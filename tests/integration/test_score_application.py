"""score_application against moto: credit line, decisions, atomic reservation, idempotency, reviews."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from unittest import mock

import boto3
import botocore.client
import pytest
from moto import mock_aws

from scf.adapters.dynamodb.models import ApplicationItem, ExposureItem, LoanItem, OutboxItem
from scf.domain.ids import LOAN_ID as LOAN_ID_PATTERN
from tests.support import LambdaContext, create_tables, inbox_senders, load_handler, s3_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "events"
BUCKET = "scf-inbox"
TABLE = "scf-business"
SUPPLIER = "S-1001"


CTX = LambdaContext("score_application")


class Api:
    def __init__(self, handler: ModuleType, ingest: ModuleType) -> None:
        self.handler, self.ingest = handler, ingest

    def drop(self, key: str, data: bytes) -> None:
        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
        assert self.ingest.handler(s3_event(key), CTX) == {"batchItemFailures": []}

    def call(self, template: str, *, body=None, claims=None, path=None, query=None, key="k-1", raw_body=None):
        event = json.loads((EVENTS / template).read_text())
        if body is not None or raw_body is not None:
            event["body"] = raw_body if raw_body is not None else json.dumps(body)
        if claims is not None:
            event["requestContext"]["authorizer"]["claims"] = claims
        if path is not None:
            event["path"] = path
            parts = path.split("/")  # /v1/<resource>/<id>... or /v1/ops/<resource>/<id>
            event["pathParameters"] = {"application_id": parts[4] if parts[2] == "ops" else parts[3]}
        if query is not None:
            event["queryStringParameters"] = query
        if "Idempotency-Key" in event["headers"]:
            if key is None:
                event["headers"].pop("Idempotency-Key")
            else:
                event["headers"]["Idempotency-Key"] = key
        answer = self.handler.handler(event, CTX)
        return answer["statusCode"], json.loads(answer["body"])

    def apply(self, amount: str, *, key: str | None = "k-1", supplier: str = SUPPLIER, term: int = 30):
        return self.call(
            "apigw_post_application.json",
            body={"amount": amount, "currency": "CNY", "term_days": term},
            claims=supplier_claims(supplier),
            key=key,
        )

    def credit_line(self, supplier: str = SUPPLIER):
        return self.call("apigw_get_credit_line.json", claims=supplier_claims(supplier))


def loans() -> list[LoanItem]:
    return list(LoanItem.scan(LoanItem.sk == "LOAN"))


def applications() -> list[ApplicationItem]:
    return list(ApplicationItem.scan(ApplicationItem.sk == "APPLICATION"))


def supplier_claims(supplier: str) -> dict:
    return {"sub": f"sub-{supplier}", "custom:supplier_id": supplier, "token_use": "id"}


OPS = {"sub": "reviewer-1", "cognito:groups": "ops", "token_use": "id"}


@pytest.fixture
def api(monkeypatch, tmp_path):
    clock_file = tmp_path / "today"
    clock_file.write_text("2026-11-28")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "INBOX_BUCKET": BUCKET,
        "INBOX_SENDERS": inbox_senders("platform"),
        "SCF_CLOCK": f"file:{clock_file}",
        "POWERTOOLS_SERVICE_NAME": "score_application",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from scf.config import settings

        settings.cache_clear()
        create_tables(TABLE)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        client = Api(load_handler("score_application"), load_handler("ingest_settlement"))
        client.drop(
            "platform/master/suppliers.csv", (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
        )
        client.drop("platform/docs/documents.csv", (EVENTS / "files" / "platform_documents.csv").read_bytes())
        yield client
        settings.cache_clear()


def test_credit_line_shows_every_term_to_the_minor_unit(api):
    status, line = api.credit_line()
    assert status == 200
    assert line == {
        "supplier_id": SUPPLIER,
        "currency": "CNY",
        "as_of": "2026-11-28",
        "stages": [
            {
                "stage": "ORDERED",
                "open": "300000.00",
                "eligible": "300000.00",
                "ratio": "0.30",
                "amount": "90000.00",
                "amount_exact": "90000.00",
                "window_days": 60,
            },
            {
                "stage": "RECEIVED",
                "open": "680000.00",
                "eligible": "280000.00",
                "ratio": "0.70",
                "amount": "196000.00",
                "amount_exact": "196000.00",
                "window_days": 120,
            },
            {
                "stage": "INVOICED",
                "open": "200000.00",
                "eligible": "200000.00",
                "ratio": "0.90",
                "amount": "180000.00",
                "amount_exact": "180000.00",
                "window_days": 120,
            },
        ],
        "eligible": "780000.00",
        "borrowing_base_exact": "466000.00",
        "borrowing_base": "466000.00",
        "facility_cap": "450000.00",
        "facility_cap_derivation": {
            "goods_receipts_window_days": 180,
            "goods_receipts_total": "900000.00",
            "share_of_receipts": "0.5",
            "maximum": "50000000.00",
        },
        "limit": "450000.00",
        "limit_source": "facility_cap",
        "outstanding": "0.00",
        "available": "450000.00",
        "policy_version": "2026-12-03.1",
    }
    status, problem = api.call(
        "apigw_get_credit_line.json", claims=supplier_claims(SUPPLIER), query={"currency": "XYZ"}
    )
    assert (status, problem["field"]) == (422, "currency")
    status, problem = api.call("apigw_get_credit_line.json", claims=OPS)
    assert status == 403


def test_the_credit_line_is_per_currency(api):
    """The documents are in CNY: the USD line of the same supplier is empty, and a CNY loan does not
    touch it."""
    assert api.apply("100000.00")[1]["status"] == "APPROVED"
    status, line = api.call(
        "apigw_get_credit_line.json", claims=supplier_claims(SUPPLIER), query={"currency": "USD"}
    )
    assert status == 200 and (line["currency"], line["as_of"]) == ("USD", "2026-11-28")
    assert [(s["stage"], s["open"], s["eligible"], s["amount"]) for s in line["stages"]] == [
        ("ORDERED", "0.00", "0.00", "0.00"),
        ("RECEIVED", "0.00", "0.00", "0.00"),
        ("INVOICED", "0.00", "0.00", "0.00"),
    ]
    assert (line["borrowing_base"], line["facility_cap"], line["outstanding"], line["available"]) == (
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    )
    _, cny = api.credit_line()
    assert (cny["outstanding"], cny["available"]) == ("100000.00", "350000.00")


def test_approved_application_creates_loan_reservation_and_outbox_at_once(api):
    status, app = api.apply("300000.00")
    assert status == 201
    assert app["status"] == "APPROVED" and app["reasons"] == []
    assert (app["amount"], app["currency"], app["term_days"], app["grade"], app["annual_rate"]) == (
        "300000.00",
        "CNY",
        30,
        "B",
        "0.10",
    )
    assert app["policy_version"] == "2026-12-03.1" and app["decided_at"].endswith("Z")
    assert LOAN_ID_PATTERN.fullmatch(app["loan_id"]) and len(app["loan_id"]) <= 35
    loan = LoanItem.get(*LoanItem.key(app["loan_id"]))
    assert (loan.status, loan.supplier_id, loan.principal_minor, loan.annual_rate, loan.term_days) == (
        "APPROVED",
        SUPPLIER,
        30_000_000,
        "0.10",
        30,
    )
    assert (loan.penalty_multiplier, loan.day_count, loan.application_id) == (
        "1.5",
        "ACT/360",
        app["application_id"],
    )
    assert loan.gsi1pk == f"SUPPLIER#{SUPPLIER}#LOANS" and loan.gsi1sk.endswith(f"#{app['loan_id']}")
    assert ExposureItem.get(*ExposureItem.key(SUPPLIER, "CNY")).principal_minor == 30_000_000
    (event,) = list(OutboxItem.scan(OutboxItem.event_type == "LoanApproved"))
    assert event.target == "disbursements"
    assert json.loads(event.payload) == {
        "event_id": f"LoanApproved-{app['loan_id']}",
        "version": "1",
        "loan_id": app["loan_id"],
        "supplier_id": SUPPLIER,
        "amount": "300000.00",
        "currency": "CNY",
    }
    assert event.expires_at is not None
    _, line = api.credit_line()
    assert (line["outstanding"], line["available"]) == ("300000.00", "150000.00")
    status, again = api.call(
        "apigw_get_application.json",
        claims=supplier_claims(SUPPLIER),
        path=f"/v1/applications/{app['application_id']}",
    )
    assert status == 200 and again["loan_id"] == app["loan_id"]


def test_amount_above_available_is_declined_and_nothing_is_reserved(api):
    status, app = api.apply("450000.01")
    assert status == 201 and app["status"] == "DECLINED"
    assert [r["code"] for r in app["reasons"]] == ["AMOUNT_EXCEEDS_AVAILABLE"]
    assert "loan_id" not in app
    assert loans() == []
    stored = ApplicationItem.get(*ApplicationItem.key(app["application_id"]))
    assert stored.status == "DECLINED" and stored.inputs["available_minor"] == 45_000_000
    with pytest.raises(ExposureItem.DoesNotExist):
        ExposureItem.get(*ExposureItem.key(SUPPLIER, "CNY"))


@pytest.mark.parametrize(
    ("raw_body", "field"),
    [
        ('{"amount": 300000, "currency": "CNY", "term_days": 30}', "amount"),
        ('{"amount": "300000.001", "currency": "CNY", "term_days": 30}', "amount"),
        ('{"amount": NaN, "currency": "CNY", "term_days": 30}', "amount"),
        ('{"amount": "999.99", "currency": "CNY", "term_days": 30}', "amount"),
        ('{"amount": "1000.00", "currency": "BTC", "term_days": 30}', "currency"),
        ('{"amount": "1000.00", "currency": "CNY", "term_days": 91}', "term_days"),
        ('{"amount": "1000.00", "currency": "CNY"}', "term_days"),
    ],
)
def test_bad_input_is_422_problem_naming_the_field(api, raw_body, field):
    status, problem = api.call(
        "apigw_post_application.json", raw_body=raw_body, claims=supplier_claims(SUPPLIER)
    )
    assert status == 422
    assert problem["field"] == field and problem["status"] == 422 and problem["title"]
    assert applications() == []


def test_another_suppliers_application_is_404(api):
    _, app = api.apply("1000.00")
    status, problem = api.call(
        "apigw_get_application.json",
        claims=supplier_claims("S-1002"),
        path=f"/v1/applications/{app['application_id']}",
    )
    assert status == 404 and problem["code"] == "NOT_FOUND"


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api):
    first = api.apply("100000.00", key="retry-me")
    second = api.apply("100000.00", key="retry-me")
    assert first == second and first[1]["status"] == "APPROVED"
    assert len(loans()) == 1
    status, problem = api.apply("100001.00", key="retry-me")
    assert status == 422 and problem["code"] == "IDEMPOTENCY_KEY_REUSED"
    # The same key from another supplier is another request.
    assert (
        api.apply("1000.00", key="retry-me", supplier="S-1002")[1]["application_id"]
        != first[1]["application_id"]
    )


def count_calls(fn):
    calls: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        calls.append(operation_name)
        return real(self, operation_name, api_params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counting):
        result = fn()
    return result, calls


def test_dynamodb_calls_per_decision(api):
    api.credit_line()  # warm: connections exist, as in a warm Lambda
    (_, app), calls = count_calls(lambda: api.apply("1000.00", key="count-1"))
    assert app["status"] == "APPROVED" and calls == ["BatchGetItem", "TransactWriteItems"]
    (_, app), calls = count_calls(lambda: api.apply("900000.00", key="count-2"))
    assert app["status"] == "DECLINED" and calls == ["BatchGetItem", "PutItem"]
    (_, app), calls = count_calls(lambda: api.apply("900000.00", key="count-2"))
    assert calls == ["BatchGetItem"]  # an idempotent retry: one read
    _, calls = count_calls(api.credit_line)
    assert calls == ["BatchGetItem"]


def test_review_queue_and_ops_decision(api):
    suppliers = (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
    api.drop("platform/master/unverified.csv", suppliers.replace(b"Textiles Co.,true", b"Textiles Co.,false"))
    status, app = api.apply("200000.00", key="review-me")
    assert status == 201 and app["status"] == "REVIEW"
    assert [r["code"] for r in app["reasons"]] == ["BANK_ACCOUNT_UNVERIFIED"]
    assert ApplicationItem.get(*ApplicationItem.key(app["application_id"])).gsi1pk == "REVIEW#PENDING"

    status, problem = api.call("apigw_get_reviews_ops.json", claims=supplier_claims(SUPPLIER))
    assert status == 403
    status, page = api.call("apigw_get_reviews_ops.json", claims=OPS)
    assert status == 200 and [i["application_id"] for i in page["items"]] == [app["application_id"]]
    assert page["items"][0]["supplier_id"] == SUPPLIER and page["next_token"] is None

    path = f"/v1/reviews/{app['application_id']}/decision"
    status, problem = api.call(
        "apigw_post_review_decision_ops.json", claims=OPS, path=path, body={"decision": "MAYBE"}
    )
    assert (status, problem["field"]) == (422, "decision")
    status, problem = api.call(
        "apigw_post_review_decision_ops.json",
        claims=supplier_claims(SUPPLIER),
        path=path,
        body={"decision": "APPROVE"},
    )
    assert status == 403
    status, decided = api.call(
        "apigw_post_review_decision_ops.json",
        claims=OPS,
        path=path,
        body={"decision": "APPROVE", "note": "ok"},
    )
    assert status == 200 and decided["status"] == "APPROVED" and LOAN_ID_PATTERN.fullmatch(decided["loan_id"])
    assert decided["review"]["by"] == "reviewer-1"
    assert ExposureItem.get(*ExposureItem.key(SUPPLIER, "CNY")).principal_minor == 20_000_000
    assert LoanItem.get(*LoanItem.key(decided["loan_id"])).status == "APPROVED"
    # A retry of the same verdict answers the same; the other verdict is a conflict.
    status, again = api.call(
        "apigw_post_review_decision_ops.json",
        claims=OPS,
        path=path,
        body={"decision": "APPROVE", "note": "ok"},
    )
    assert status == 200 and again == decided
    assert len(loans()) == 1
    # The same key with another body is a misused key (contract section 8) ...
    status, problem = api.call(
        "apigw_post_review_decision_ops.json", claims=OPS, path=path, body={"decision": "DECLINE"}
    )
    assert (status, problem["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    # ... and any new request on a decided application is a conflict, whatever its verdict.
    for verdict in ("APPROVE", "DECLINE"):
        status, problem = api.call(
            "apigw_post_review_decision_ops.json",
            claims=OPS,
            path=path,
            body={"decision": verdict, "note": "again"},
            key=f"second-look-{verdict}",
        )
        assert (status, problem["code"]) == (409, "REVIEW_CONFLICT")
    assert len(loans()) == 1
    stored = ApplicationItem.get(*ApplicationItem.key(app["application_id"]))
    assert stored.status == "APPROVED" and stored.review["note"] == "ok"
    assert stored.review["by"] == "reviewer-1" and stored.review["at"] == decided["review"]["at"]
    assert decided["review"] == {
        "decision": "APPROVE",
        "note": "ok",
        "by": "reviewer-1",
        "at": stored.decided_at,
    }
    # The supplier sees what was decided and when; who reviewed it and the note stay with ops.
    status, mine = api.call(
        "apigw_get_application.json",
        claims=supplier_claims(SUPPLIER),
        path=f"/v1/applications/{app['application_id']}",
    )
    assert status == 200 and mine["status"] == "APPROVED" and mine["loan_id"] == decided["loan_id"]
    assert mine["review"] == {"decision": "APPROVE", "at": stored.decided_at}
    assert api.call("apigw_get_reviews_ops.json", claims=OPS)[1]["items"] == []
    status, _ = api.call(
        "apigw_post_review_decision_ops.json",
        claims=OPS,
        path="/v1/reviews/APNOPE/decision",
        body={"decision": "DECLINE"},
    )
    assert status == 404


def test_ops_approval_rechecks_availability(api):
    suppliers = (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
    api.drop("platform/master/unverified.csv", suppliers.replace(b"Textiles Co.,true", b"Textiles Co.,false"))
    _, first = api.apply("300000.00", key="r-1")
    _, second = api.apply("300000.00", key="r-2")
    assert first["status"] == second["status"] == "REVIEW"
    ok_path = f"/v1/reviews/{first['application_id']}/decision"
    assert (
        api.call(
            "apigw_post_review_decision_ops.json", claims=OPS, path=ok_path, body={"decision": "APPROVE"}
        )[0]
        == 200
    )
    path = f"/v1/reviews/{second['application_id']}/decision"
    status, problem = api.call(
        "apigw_post_review_decision_ops.json", claims=OPS, path=path, body={"decision": "APPROVE"}
    )
    assert status == 409 and problem["errors"][0]["code"] == "AMOUNT_EXCEEDS_AVAILABLE"
    status, declined = api.call(
        "apigw_post_review_decision_ops.json",
        claims=OPS,
        path=path,
        body={"decision": "DECLINE", "note": "no room"},
    )
    assert status == 200 and declined["status"] == "DECLINED"
    assert ExposureItem.get(*ExposureItem.key(SUPPLIER, "CNY")).principal_minor == 30_000_000


def hold_for_review(api: Api, amount: str, key: str) -> dict:
    suppliers = (EVENTS / "files" / "platform_suppliers.csv").read_bytes()
    api.drop("platform/master/unverified.csv", suppliers.replace(b"Textiles Co.,true", b"Textiles Co.,false"))
    status, held = api.apply(amount, key=key)
    assert (status, held["status"]) == (201, "REVIEW")
    return held


def review(api: Api, application_id: str, body: dict, *, reviewer: str = "reviewer-1", key: str = "k-1"):
    return api.call(
        "apigw_post_review_decision_ops.json",
        claims={**OPS, "sub": reviewer},
        path=f"/v1/reviews/{application_id}/decision",
        body=body,
        key=key,
    )


def test_a_review_decision_finds_the_application_by_id_in_a_fixed_number_of_calls(api):
    """Ops name the application by id only: one GetItem finds it, however many applications wait
    (no query of the review queue); an approval then costs the decision's read and one transaction."""
    held = [hold_for_review(api, "1000.00", key=f"wait-{i}") for i in range(12)]
    assert ApplicationItem.get(*ApplicationItem.key(held[0]["application_id"])).gsi1pk == "REVIEW#PENDING"
    (status, decided), calls = count_calls(
        lambda: review(api, held[7]["application_id"], {"decision": "APPROVE", "note": "ok"})
    )
    assert (status, decided["status"]) == (200, "APPROVED")
    assert calls == ["GetItem", "BatchGetItem", "TransactWriteItems"]
    (status, declined), calls = count_calls(
        lambda: review(api, held[3]["application_id"], {"decision": "DECLINE", "note": "no"}, key="k-2")
    )
    assert (status, declined["status"]) == (200, "DECLINED") and calls == ["GetItem", "PutItem"]
    (status, _), calls = count_calls(
        lambda: review(api, held[7]["application_id"], {"decision": "APPROVE", "note": "ok"})
    )
    assert status == 200 and calls == ["GetItem"]  # the retry: the first answer, read once
    # A decided application leaves the queue (the index holds only applications waiting).
    decided_item = ApplicationItem.get(*ApplicationItem.key(held[7]["application_id"]))
    assert (decided_item.gsi1pk, decided_item.gsi1sk) == (None, None)
    _, page = api.call("apigw_get_reviews_ops.json", claims=OPS, query={"limit": "100"})
    waiting = [i["application_id"] for i in page["items"]]
    assert len(waiting) == 10 and held[7]["application_id"] not in waiting
    assert held[3]["application_id"] not in waiting


def test_an_application_never_held_for_review_cannot_be_reviewed(api):
    _, approved = api.apply("1000.00", key="at-once")
    assert approved["status"] == "APPROVED"
    status, problem = review(api, approved["application_id"], {"decision": "DECLINE", "note": "late"})
    assert (status, problem["code"]) == (409, "REVIEW_CONFLICT")
    assert "never in review" in problem["detail"]
    stored = ApplicationItem.get(*ApplicationItem.key(approved["application_id"]))
    assert stored.status == "APPROVED" and stored.review is None


def test_a_review_idempotency_key_belongs_to_its_reviewer(api):
    """Reviewer 2 sending reviewer 1's key and body is another request: the application is already
    decided, so 409, not reviewer 1's answer replayed as if it were reviewer 2's."""
    held = hold_for_review(api, "1000.00", key="held")
    body = {"decision": "APPROVE", "note": "fine"}
    status, first = review(api, held["application_id"], body, reviewer="reviewer-1", key="same")
    assert status == 200 and first["review"]["by"] == "reviewer-1"
    assert review(api, held["application_id"], body, reviewer="reviewer-1", key="same") == (200, first)
    status, problem = review(api, held["application_id"], body, reviewer="reviewer-2", key="same")
    assert (status, problem["code"]) == (409, "REVIEW_CONFLICT")
    assert len(loans()) == 1


def test_a_reviewer_never_decides_an_application_of_the_supplier_its_token_names(api):
    """CONTRACT.md section 8: an ops token that also carries custom:supplier_id of the application's
    supplier is refused (403), and the application stays in review for another reviewer."""
    held = hold_for_review(api, "1000.00", key="own")
    status, problem = api.call(
        "apigw_post_review_decision_ops.json",
        claims={**OPS, "sub": "reviewer-9", "custom:supplier_id": SUPPLIER},
        path=f"/v1/reviews/{held['application_id']}/decision",
        body={"decision": "APPROVE", "note": "my own"},
        key="own-1",
    )
    assert (status, problem["code"]) == (403, "OWN_SUPPLIER")
    assert ApplicationItem.get(*ApplicationItem.key(held["application_id"])).status == "REVIEW"
    assert review(api, held["application_id"], {"decision": "DECLINE", "note": "other"})[0] == 200


def ops_application(api: Api, application_id: str, claims: dict | None = None):
    return api.call(
        "apigw_get_ops_application.json",
        claims=claims or OPS,
        path=f"/v1/ops/applications/{application_id}",
    )


def test_ops_read_any_application_with_its_decision_review_and_supplier(api):
    held = hold_for_review(api, "200000.00", key="ops-read")
    review(api, held["application_id"], {"decision": "DECLINE", "note": "documents missing"})
    stored = ApplicationItem.get(*ApplicationItem.key(held["application_id"]))
    status, seen = ops_application(api, held["application_id"])
    assert status == 200
    assert seen == {
        "application_id": held["application_id"],
        "status": "DECLINED",
        "reasons": held["reasons"],
        "amount": "200000.00",
        "currency": "CNY",
        "term_days": 30,
        "grade": held["grade"],
        "annual_rate": held["annual_rate"],
        "policy_version": held["policy_version"],
        "decided_at": stored.decided_at,
        "review": {
            "decision": "DECLINE",
            "note": "documents missing",
            "by": "reviewer-1",
            "at": stored.decided_at,
        },
        "supplier_id": SUPPLIER,
        "created_at": stored.created_at,
    }


def test_ops_read_an_application_decided_at_once_with_its_loan(api):
    _, approved = api.apply("1000.00", key="at-once")
    status, seen = ops_application(api, approved["application_id"])
    assert status == 200 and (seen["status"], seen["loan_id"]) == ("APPROVED", approved["loan_id"])
    assert "review" not in seen and seen["supplier_id"] == SUPPLIER


def test_a_supplier_token_cannot_use_the_ops_application_read(api):
    _, mine = api.apply("1000.00", key="mine")
    status, problem = ops_application(api, mine["application_id"], claims=supplier_claims(SUPPLIER))
    assert (status, problem["code"]) == (403, "NOT_OPS")


@pytest.mark.parametrize("application_id", ["AP0000000000000000000Z", "AP%2F..", "A" * 65])
def test_an_unknown_application_is_404_to_ops(api, application_id):
    status, problem = ops_application(api, application_id)
    assert (status, problem["code"]) == (404, "NOT_FOUND")


def test_a_supplier_reading_an_application_gets_only_its_own(api):
    """Applications are keyed by id: the read checks the owner, and a supplier cannot replay another
    supplier's idempotent answer by using the same key."""
    _, mine = api.apply("1000.00", key="shared-key")
    _, theirs = api.apply("1000.00", key="shared-key", supplier="S-1002")
    assert mine["application_id"] != theirs["application_id"]
    for supplier, app in ((SUPPLIER, theirs), ("S-1002", mine)):
        status, problem = api.call(
            "apigw_get_application.json",
            claims=supplier_claims(supplier),
            path=f"/v1/applications/{app['application_id']}",
        )
        assert (status, problem["code"]) == (404, "NOT_FOUND")


def test_the_business_date_is_taken_in_the_policys_time_zone(api):
    from scf.domain.policy import live_policy

    wired = api.handler.bootstrap().credit

    assert wired.clock.timezone == live_policy(os.environ).timezone == "Asia/Shanghai"


def test_a_function_told_another_zone_than_its_policys_refuses_to_start(api, monkeypatch):
    """A decision and a loan must agree on what "today" is."""
    from scf.config import ConfigError, settings

    monkeypatch.setenv("POLICY_TIMEZONE", "Europe/Berlin")
    settings.cache_clear()

    with pytest.raises(ConfigError, match="Europe/Berlin"):
        load_handler("score_application").bootstrap()


def test_the_approval_records_the_suppliers_account_on_the_loan(api):
    _, app = api.apply("300000.00")

    loan = LoanItem.get(*LoanItem.key(app["loan_id"]))
    assert loan.payout_account == {  # S-1001 in events/files/platform_suppliers.csv
        "bank_code": "ICBC",
        "account_number": "6222020200112233445",
        "name": "Hangzhou Bright Textiles Co.",
        "masked": "***************3445",
    }


def test_an_account_changed_while_deciding_is_not_the_one_written_on_the_loan(api, monkeypatch):
    from scf.adapters.dynamodb.credit_repository import DynamoCreditRepository
    from scf.adapters.dynamodb.models import SupplierItem

    original = DynamoCreditRepository.snapshot
    changed = {"done": False}

    def snapshot_then_the_master_data_changes(self, *args, **kwargs):
        snap = original(self, *args, **kwargs)
        if not changed["done"]:
            changed["done"] = True
            SupplierItem(*SupplierItem.key(SUPPLIER)).update(
                actions=[SupplierItem.account_number.set("6222020200199990000")]
            )
        return snap

    monkeypatch.setattr(DynamoCreditRepository, "snapshot", snapshot_then_the_master_data_changes)

    _, app = api.apply("300000.00")

    loan = LoanItem.get(*LoanItem.key(app["loan_id"]))
    assert app["status"] == "APPROVED" and changed["done"]
    assert loan.payout_account["account_number"] == "6222020200199990000"  # decided again on it


def test_an_ops_reviewer_never_decides_an_application_of_its_own_supplier(api):
    """Contract section 8: an ops token naming the application's supplier is refused (403), and
    the application stays in review for another reviewer."""
    held = hold_for_review(api, "1000.00", key="mine")
    path = f"/v1/reviews/{held['application_id']}/decision"
    own = {**OPS, "custom:supplier_id": SUPPLIER}
    status, problem = api.call(
        "apigw_post_review_decision_ops.json", claims=own, path=path, body={"decision": "APPROVE"}
    )
    assert (status, problem["code"]) == (403, "OWN_SUPPLIER")
    assert ApplicationItem.get(*ApplicationItem.key(held["application_id"])).status == "REVIEW"
    other = {**OPS, "custom:supplier_id": "S-OTHER"}
    status, decided = api.call(
        "apigw_post_review_decision_ops.json", claims=other, path=path, body={"decision": "DECLINE"}
    )
    assert (status, decided["status"]) == (200, "DECLINED")
