"""Who may call what (BOLA/BFLA), through the running local stack: every operation of the OpenAPI
document against supplier A (who owns the objects), supplier B, ops, no token, an expired token, a
token of another issuer and one signed by another key, each with its expected status. The routes
come from the document, so a new route without a row in ROWS fails here. Then the doors the
document does not list: every other method on every path, and ids no key can hold, get a 404
problem+json."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import tokens
from infra.local.loop import LocalClient, Timeline, onboard, wait_for_loan
from infra.openapi import DOCUMENT_PATH, document, operations
from scf.adapters.http import PATH_ID_MAX_LENGTH

pytestmark = pytest.mark.e2e

DOC = document()
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Row:
    """The expected status for supplier A (the owner of every object named), supplier B and ops;
    every caller without a valid token gets 401 on any operation that needs one."""

    a: int
    b: int
    ops: int


# One line per operation of the document (a new route adds its line here).
ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/v1/credit-line"): Row(a=200, b=200, ops=403),
    ("POST", "/v1/applications"): Row(a=201, b=201, ops=403),  # B's own, declined: not A's
    ("GET", "/v1/applications/{application_id}"): Row(a=200, b=404, ops=403),
    ("GET", "/v1/loans"): Row(a=200, b=200, ops=403),  # each its own list
    ("GET", "/v1/loans/{loan_id}"): Row(a=200, b=404, ops=403),
    ("POST", "/v1/loans/{loan_id}/repayments"): Row(a=202, b=404, ops=403),
    ("GET", "/v1/repayments/{repayment_id}"): Row(a=200, b=404, ops=403),
    ("POST", "/v1/loans/{loan_id}/extension"): Row(a=409, b=404, ops=403),  # A: too early
    ("GET", "/v1/reviews"): Row(a=403, b=403, ops=200),
    ("POST", "/v1/reviews/{application_id}/decision"): Row(a=403, b=403, ops=409),  # already decided
    ("GET", "/v1/ops/applications/{application_id}"): Row(a=403, b=403, ops=200),
    ("GET", "/v1/ops/loans/{loan_id}"): Row(a=403, b=403, ops=200),
    ("GET", "/v1/unmatched"): Row(a=403, b=403, ops=200),
    ("POST", "/v1/unmatched/{item_id}/resolution"): Row(a=403, b=403, ops=404),  # no such item
    ("GET", "/v1/ops/loans"): Row(a=403, b=403, ops=200),
    ("GET", "/v1/ops/portfolio"): Row(a=403, b=403, ops=200),
    ("POST", "/v1/ops/payments/{payment_id}/outcome"): Row(a=403, b=403, ops=404),  # no such payment
    ("GET", DOCUMENT_PATH): Row(a=200, b=200, ops=200),
}
# A valid body for each POST (the path and the caller are what is under test, not the body).
BODIES: dict[str, dict[str, Any]] = {
    "/v1/applications": {"amount": "1000.00", "currency": "CNY", "term_days": 30},
    "/v1/loans/{loan_id}/repayments": {"amount": "1.00"},
    "/v1/reviews/{application_id}/decision": {"decision": "DECLINE", "note": "access matrix"},
    "/v1/unmatched/{item_id}/resolution": {"action": "DISMISS", "note": "access matrix"},
    "/v1/ops/payments/{payment_id}/outcome": {"status": "REJECTED", "reason": "access matrix"},
}
# Query parameters a GET needs to be a valid request (the ops loan list needs a filter).
QUERIES: dict[str, dict[str, str]] = {"/v1/ops/loans": {"status": "ACTIVE"}}
CALLERS = ["supplier_a", "supplier_b", "ops", "no_token", "expired", "other_issuer", "other_key"]
ODD_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"]


@dataclass
class World:
    local: LocalClient
    ids: dict[str, str]  # path parameter -> supplier A's object
    tokens: dict[str, str | None]

    def call(self, method: str, template: str, caller: str) -> requests.Response:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else {}
        token = self.tokens[caller]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method,
            self.local.api + template.format(**self.ids),
            json=BODIES.get(template) if method == "POST" else None,
            params=QUERIES.get(template) if method == "GET" else None,
            headers=headers,
            timeout=35,
        )


@pytest.fixture(scope="module")
def world(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> World:
    local = LocalClient(local_stack.env)
    supplier = "SUP-ACL-A-" + uuid.uuid4().hex[:6].upper()
    onboard(local, supplier, Timeline())
    owner = local.token(supplier_id=supplier)
    request = {"amount": "100000.00", "currency": "CNY", "term_days": 30}
    application = local.call("POST", "/v1/applications", owner, request, idempotency_key="acl").json()
    loan_id = application["loan_id"]
    wait_for_loan(local, owner, loan_id, "ACTIVE", [])
    repayment = local.call("POST", f"/v1/loans/{loan_id}/repayments", owner, {"amount": "1.00"}, "acl-r")
    assert repayment.status_code == 202, repayment.text
    issuer, private = local.env["token_issuer"], Path(local.env["private_key_file"]).read_bytes()
    other_key, _ = tokens.generate_keys(tmp_path_factory.mktemp("other-key"))
    return World(
        local,
        ids={
            "application_id": application["application_id"],
            "loan_id": loan_id,
            "repayment_id": repayment.json()["repayment_id"],
            "item_id": "NO-SUCH-ITEM",  # an unmatched bank item nobody has: ops get 404
            "payment_id": "NO-SUCH-PAYMENT",  # a payment order nobody sent: ops get 404
        },
        tokens={
            "supplier_a": owner,
            "supplier_b": local.token(supplier_id="SUP-ACL-B-" + uuid.uuid4().hex[:6].upper()),
            "ops": local.token(ops=True),
            "no_token": None,
            "expired": tokens.issue(private, issuer, supplier_id=supplier, now=time.time() - 13 * 3600),
            "other_issuer": tokens.issue(private, "https://elsewhere.example", supplier_id=supplier),
            "other_key": tokens.issue(other_key.read_bytes(), issuer, supplier_id=supplier),
        },
    )


def test_every_documented_operation_has_its_row() -> None:
    assert set(ROWS) == operations(DOC), {
        "without a row": operations(DOC) - set(ROWS),
        "not in the document": set(ROWS) - operations(DOC),
    }


def expected(method: str, path: str, caller: str) -> int:
    row = ROWS[(method, path)]  # KeyError: the operation has no row yet
    if caller in ("supplier_a", "supplier_b", "ops"):
        return int(getattr(row, caller.removeprefix("supplier_")))
    public = DOC["paths"][path][method.lower()].get("security") == []
    return row.a if public else 401


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(operations(DOC)))
def test_each_caller_gets_the_expected_status(world: World, method: str, path: str, caller: str) -> None:
    response = world.call(method, path, caller)
    assert response.status_code == expected(method, path, caller), (caller, response.text[:400])
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == PROBLEM_JSON, response.headers
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize("path", sorted(DOC["paths"]))
def test_a_method_the_document_does_not_list_is_a_404_problem(world: World, path: str) -> None:
    listed = {method.upper() for method in DOC["paths"][path]}
    for method in [method for method in ODD_METHODS if method not in listed]:
        response = world.call(method, path, "supplier_a")
        assert response.status_code == 404, (method, path, response.status_code, response.text[:200])
        assert response.headers["Content-Type"] == PROBLEM_JSON, (method, path)
        if method != "HEAD":
            assert response.json()["status"] == 404


@pytest.mark.parametrize(("method", "path"), sorted(op for op in operations(DOC) if "{" in op[1]))
def test_an_id_no_key_can_hold_is_a_404_problem(world: World, method: str, path: str) -> None:
    caller = "ops" if ROWS[(method, path)].a == 403 else "supplier_a"  # the route's own audience
    for odd in ["A" * (PATH_ID_MAX_LENGTH + 1), "A" * 5000, "LN%00", "%E2%80%AE", "..", "a%2Fb"]:
        ids = dict.fromkeys(world.ids, odd)
        url = path.format(**ids)
        headers = {"Authorization": f"Bearer {world.tokens[caller]}", "Idempotency-Key": uuid.uuid4().hex}
        response = requests.request(
            method, world.local.api + url, json=BODIES.get(path), headers=headers, timeout=35
        )
        assert response.status_code == 404, (method, url[:80], response.status_code, response.text[:200])
        assert response.headers["Content-Type"] == PROBLEM_JSON
