"""The running local stack serves its OpenAPI document and Swagger UI, and answers every documented
operation as documented: each answer's status is one the operation lists, its content type the
documented one, and its body matches the documented schema strictly (a field the document does not
describe fails, so the document cannot fall behind the handlers). Every operation is exercised with
its success answer and its errors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from infra.local.loop import LocalClient, Timeline, onboard, wait_for_loan
from infra.local.state import read_clock, write_clock
from infra.openapi import DOCUMENT_PATH, document, operations
from tests.e2e.test_banks import Stack
from tests.e2e.test_inquiry_in_the_stack import lost_payout
from tests.e2e.test_ops_outcome_in_the_stack import sent_long_ago
from tests.integration.statement_world import camt054, camt_entry

pytestmark = pytest.mark.e2e


def resolved(schema: Any, components: dict[str, Any]) -> Any:
    """The schema with every `$ref` inlined and every object closed (additionalProperties: false),
    so that an undocumented field in an answer fails."""
    if isinstance(schema, list):
        return [resolved(item, components) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return resolved(components[schema["$ref"].rsplit("/", 1)[1]], components)
    out = {name: resolved(value, components) for name, value in schema.items()}
    if "properties" in schema and schema.get("description") != "The OpenAPI document of this API.":
        out.setdefault("additionalProperties", False)
    return out


@dataclass
class DocumentedApi:
    """Calls the running API and checks each answer against the document."""

    local: LocalClient
    doc: dict[str, Any]
    seen: set[tuple[str, str, str]] = field(default_factory=set)  # (METHOD, path template, status)

    def call(
        self,
        method: str,
        template: str,
        token: str | None,
        *,
        path: dict[str, str] | None = None,
        body: Any = None,
        key: str | None = "auto",
        params: dict[str, str] | None = None,
        expect: int,
    ) -> dict[str, Any]:
        url = template.format(**(path or {}))
        if key == "auto":
            key = str(uuid.uuid4()) if method == "POST" else None
        response = self.local.call(method, url, token, body, idempotency_key=key, params=params)
        assert response.status_code == expect, (method, url, response.status_code, response.text[:600])
        return self.check(method, template, response)

    def check(self, method: str, template: str, response: requests.Response) -> dict[str, Any]:
        operation = self.doc["paths"][template][method.lower()]
        status = str(response.status_code)
        answers = operation["responses"]
        answer = answers.get(status) or answers["default"]
        if "$ref" in answer:
            answer = self.doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        content_type = response.headers["Content-Type"].split(";")[0]
        assert content_type in answer["content"], (method, template, status, content_type)
        schema = resolved(answer["content"][content_type]["schema"], self.doc["components"]["schemas"])
        body: dict[str, Any] = response.json()
        errors = sorted(
            OAS30Validator(schema, format_checker=oas30_format_checker).iter_errors(body),
            key=lambda e: e.path,
        )
        assert not errors, (method, template, status, [f"{list(e.path)}: {e.message}" for e in errors], body)
        self.seen.add((method, template, status))
        return body


@pytest.fixture(scope="module")
def api(local_stack: Any) -> DocumentedApi:
    local = LocalClient(local_stack.env)
    doc = local.http.get(local.api + DOCUMENT_PATH, timeout=10).json()
    return DocumentedApi(local, doc)


def test_the_document_is_served_as_built_at_the_root_and_at_the_stage_url(local_stack: Any) -> None:
    api_url = local_stack.env["api_url"]
    for url in (f"{api_url}{DOCUMENT_PATH}", f"{api_url}/prod{DOCUMENT_PATH}"):
        response = requests.get(url, timeout=10)  # no token: the document is public
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert response.json() == document(server_url="/prod")


def test_swagger_ui_is_served_and_reads_the_document(local_stack: Any) -> None:
    api_url = local_stack.env["api_url"]
    page = requests.get(f"{api_url}/docs", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text and 'url: "openapi.json"' in page.text
    for asset in ("docs/swagger-ui-bundle.min.js", "docs/swagger-ui.min.css"):
        assert requests.get(f"{api_url}/{asset}", timeout=10).status_code == 200
    # the document's server is the stage path: what "Try it out" calls is answered
    token = LocalClient(local_stack.env).token(supplier_id="SUP-DOCS")
    answer = requests.get(
        f"{api_url}/prod/v1/credit-line", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200


def test_every_operation_answers_as_documented(api: DocumentedApi, local_stack: Any) -> None:
    local = api.local
    supplier = "SUP-OAS-" + uuid.uuid4().hex[:6].upper()
    token = local.token(supplier_id=supplier)
    ops = local.token(ops=True)
    stranger = local.token(supplier_id="SUP-OAS-STRANGER")
    onboard(local, supplier, Timeline())

    # credit line
    api.call("GET", "/v1/credit-line", token, params={"currency": "CNY"}, expect=200)
    api.call("GET", "/v1/credit-line", token, params={"currency": "XXX"}, expect=422)
    api.call("GET", "/v1/credit-line", None, expect=401)
    api.call("GET", "/v1/credit-line", ops, expect=403)

    # applications
    request = {"amount": "100000.00", "currency": "CNY", "term_days": 30}
    application = api.call("POST", "/v1/applications", token, body=request, key="oas-apply-1", expect=201)
    assert application["status"] == "APPROVED", application
    api.call(
        "POST", "/v1/applications", token, body={**request, "term_days": 45}, key="oas-apply-1", expect=422
    )
    api.call("POST", "/v1/applications", token, body={**request, "amount": 100000}, expect=422)
    api.call("POST", "/v1/applications", token, body={**request, "term_days": 5}, expect=422)
    api.call("POST", "/v1/applications", token, body=request, key=None, expect=400)
    too_long = api.call("POST", "/v1/applications", token, body=request, key="k" * 129, expect=400)
    assert too_long["code"] == "INVALID_IDEMPOTENCY_KEY", too_long
    api.call("POST", "/v1/applications", None, body=request, expect=401)
    app_path = "/v1/applications/{application_id}"
    api.call("GET", app_path, token, path={"application_id": application["application_id"]}, expect=200)
    api.call("GET", app_path, stranger, path={"application_id": application["application_id"]}, expect=404)
    api.call("GET", app_path, token, path={"application_id": "A" * 65}, expect=404)  # no key holds it

    # loans
    loan_id = application["loan_id"]
    loan_path = {"loan_id": loan_id}
    wait_for_loan(local, token, loan_id, "ACTIVE", [])
    page = api.call("GET", "/v1/loans", token, params={"limit": "5"}, expect=200)
    assert [item["loan_id"] for item in page["items"]] == [loan_id]
    api.call("GET", "/v1/loans", token, params={"limit": "0"}, expect=422)
    loan = api.call("GET", "/v1/loans/{loan_id}", token, path=loan_path, expect=200)
    api.call("GET", "/v1/loans/{loan_id}", stranger, path=loan_path, expect=404)

    # extension: refused today, granted five days before maturity
    extension = "/v1/loans/{loan_id}/extension"
    refused = api.call("POST", extension, token, path=loan_path, expect=409)
    assert refused["code"] == "EXTENSION_TOO_EARLY"
    api.call("POST", extension, stranger, path=loan_path, expect=404)
    clock = Path(local_stack.env["clock_file"])
    today = read_clock(clock)
    write_clock(clock, date.fromisoformat(loan["maturity_date"]) - timedelta(days=5))
    try:
        extended = api.call("POST", extension, token, path=loan_path, expect=200)
    finally:
        write_clock(clock, today)
    assert extended["extended"] is True

    # repayments
    repay = "/v1/loans/{loan_id}/repayments"
    payoff = api.call("GET", "/v1/loans/{loan_id}", token, path=loan_path, expect=200)["payoff"]
    api.call("POST", repay, token, path=loan_path, body={"amount": "0.00"}, expect=422)
    api.call("POST", repay, token, path=loan_path, body="not an object", expect=400)
    api.call("POST", repay, stranger, path=loan_path, body={"amount": payoff}, expect=404)
    accepted = api.call("POST", repay, token, path=loan_path, body={"amount": payoff}, expect=202)
    repayment_path = {"repayment_id": accepted["repayment_id"]}
    api.call("GET", "/v1/repayments/{repayment_id}", token, path=repayment_path, expect=200)
    wait_for_loan(local, token, loan_id, "REPAID", [])
    applied = api.call("GET", "/v1/repayments/{repayment_id}", token, path=repayment_path, expect=200)
    assert applied["status"] == "APPLIED" and applied["allocation"]["principal"] == "100000.00"
    api.call("GET", "/v1/repayments/{repayment_id}", stranger, path=repayment_path, expect=404)
    api.call("POST", repay, token, path=loan_path, body={"amount": "1.00"}, expect=409)
    api.call("GET", "/v1/loans/{loan_id}", token, path=loan_path, expect=200)  # with its repayment

    # reviews: an unverified bank account sends the application to ops
    reviewed = "SUP-OAS-R-" + uuid.uuid4().hex[:6].upper()
    onboard(local, reviewed, Timeline(), verified=False)
    held = api.call("POST", "/v1/applications", local.token(supplier_id=reviewed), body=request, expect=201)
    assert held["status"] == "REVIEW", held
    listed = api.call("GET", "/v1/reviews", ops, params={"limit": "100"}, expect=200)
    assert held["application_id"] in {item["application_id"] for item in listed["items"]}
    api.call("GET", "/v1/reviews", token, expect=403)
    api.call("GET", "/v1/reviews", ops, params={"next_token": "garbage"}, expect=422)
    decision = "/v1/reviews/{application_id}/decision"
    held_path = {"application_id": held["application_id"]}
    verdict = {"decision": "APPROVE", "note": "verified by phone"}
    api.call("POST", decision, ops, path=held_path, body={"decision": "MAYBE"}, expect=422)
    api.call("POST", decision, token, path=held_path, body=verdict, expect=403)
    api.call("POST", decision, ops, path={"application_id": "AP-NONE"}, body=verdict, expect=404)
    approved = api.call("POST", decision, ops, path=held_path, body=verdict, key="oas-review-1", expect=200)
    assert approved["status"] == "APPROVED" and approved["review"]["decision"] == "APPROVE"
    api.call(
        "POST", decision, ops, path=held_path, body={**verdict, "note": "x"}, key="oas-review-1", expect=422
    )
    api.call("POST", decision, ops, path=held_path, body={"decision": "DECLINE"}, expect=409)

    # ops reads of any application and any loan
    ops_application = "/v1/ops/applications/{application_id}"
    seen = api.call("GET", ops_application, ops, path=held_path, expect=200)
    assert (seen["supplier_id"], seen["review"]["note"]) == (reviewed, "verified by phone")
    api.call("GET", ops_application, token, path=held_path, expect=403)
    api.call("GET", ops_application, ops, path={"application_id": "AP-NONE"}, expect=404)
    ops_loan = "/v1/ops/loans/{loan_id}"
    history = api.call("GET", ops_loan, ops, path=loan_path, expect=200)
    assert history["supplier_id"] == supplier and history["payout"]["status"] == "SETTLED"
    assert {"LoanApproved", "LoanActivated", "RepaymentApplied", "LoanRepaid", "LoanExtended"} <= {
        entry["event"] for entry in history["history"]
    }
    api.call("GET", ops_loan, token, path=loan_path, expect=403)
    api.call("GET", ops_loan, ops, path={"loan_id": "LN-NONE"}, expect=404)
    listed = api.call("GET", "/v1/ops/loans", ops, params={"supplier_id": supplier}, expect=200)
    assert {(i["loan_id"], i["supplier_id"]) for i in listed["items"]} >= {(loan_path["loan_id"], supplier)}
    api.call("GET", "/v1/ops/loans", ops, params={"status": "LATE"}, expect=422)
    api.call("GET", "/v1/ops/loans", token, params={"status": "ACTIVE"}, expect=403)
    book = api.call("GET", "/v1/ops/portfolio", ops, params={"currency": "CNY"}, expect=200)
    assert [row["bucket"] for row in book["aging"]] == ["CURRENT", "1-30", "31-60", "61-90", "90+"]
    api.call("GET", "/v1/ops/portfolio", ops, params={"currency": "JPY"}, expect=422)

    # unmatched bank items: a credit on the lender's account that names no loan
    bank = str(local.env["lender_account"]["bank_code"])
    account = str(local.env["lender_account"]["account_number"])
    key = f"{bank}/statements/{uuid.uuid4().hex}.xml"
    statement = camt054(
        [camt_entry("12.34", "CRDT", reference=f"OAS-{uuid.uuid4().hex[:8]}", remittance="no loan here")],
        account=account,
        message_id=f"OAS-{uuid.uuid4().hex[:8]}",
    )
    local.upload(key, statement)
    assert local.wait_report(key)["status"] == "PROCESSED"
    unmatched = api.call("GET", "/v1/unmatched", ops, params={"limit": "100"}, expect=200)
    assert key in {item["file_key"] for item in unmatched["items"]}
    api.call("GET", "/v1/unmatched", token, expect=403)
    api.call("GET", "/v1/unmatched", ops, params={"limit": "1000"}, expect=422)
    (item,) = [item for item in unmatched["items"] if item["file_key"] == key]
    resolution = "/v1/unmatched/{item_id}/resolution"
    at = {"item_id": item["item_id"]}
    dismiss = {"action": "DISMISS", "note": "test credit"}
    api.call("POST", resolution, ops, path=at, body={"action": "KEEP"}, expect=422)
    api.call("POST", resolution, token, path=at, body=dismiss, expect=403)
    api.call("POST", resolution, ops, path={"item_id": "NOSUCHITEM"}, body=dismiss, expect=404)
    done = api.call("POST", resolution, ops, path=at, body=dismiss, expect=200)
    assert (done["status"], done["resolution"]["action"]) == ("RESOLVED", "DISMISS")
    api.call("POST", resolution, ops, path=at, body=dismiss, expect=409)  # another key: once per item
    resolved = api.call(
        "GET", "/v1/unmatched", ops, params={"status": "RESOLVED", "limit": "100"}, expect=200
    )
    assert item["item_id"] in {i["item_id"] for i in resolved["items"]}

    # ops record a bank's answer: a FILEBANK payout whose file the bank lost
    stack = Stack(local.env)
    loan_id, payment_id = lost_payout(stack, stack.onboard("FILEBANK"))
    outcome = "/v1/ops/payments/{payment_id}/outcome"
    at = {"payment_id": payment_id}
    rejected = {"status": "REJECTED", "reason": "AC04: account closed"}
    api.call("POST", outcome, ops, path=at, body={"status": "PENDING", "reason": "x"}, expect=422)
    api.call("POST", outcome, token, path=at, body=rejected, expect=403)
    api.call("POST", outcome, ops, path={"payment_id": "PAY-NONE"}, body=rejected, expect=404)
    api.call("POST", outcome, ops, path=at, body=rejected, expect=409)  # sent just now: too recent
    sent_long_ago(stack, payment_id)
    closed = api.call("POST", outcome, ops, path=at, body=rejected, expect=200)
    assert (closed["loan_id"], closed["loan_status"], closed["effect"]) == (loan_id, "FAILED", "REJECTED")

    api.call("GET", DOCUMENT_PATH, None, expect=200)

    succeeded = {(method, path) for method, path, status in api.seen if status.startswith("2")}
    assert succeeded == operations(api.doc), operations(api.doc) - succeeded
    statuses = {status for _, _, status in api.seen}
    assert {"400", "401", "403", "404", "409", "422"} <= statuses


def test_an_unknown_route_is_a_problem_json_404(local_stack: Any) -> None:
    local = LocalClient(local_stack.env)
    response = local.call("GET", "/v1/no-such-thing", local.token(supplier_id="SUP-1"))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "no such route"
