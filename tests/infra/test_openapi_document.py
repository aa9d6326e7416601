"""The OpenAPI document (infra/openapi.py) cannot drift from what is served: its routes are exactly
the synthesized REST API's (as the local gateway reads them) and the handlers' own, it is valid
OpenAPI 3.0, the API serves exactly it, and it carries the contract's field names (CONTRACT.md
section 8, written out here rather than imported).

tests/e2e/test_api_as_documented.py checks the running stack's answers against it."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_spec_validator import validate
from synthesized_stack import Synthesized
from test_cdk_stack import ROUTES, api_methods

from infra.local.template import Template, render_mapping_template
from infra.openapi import DOCUMENT_PATH, document, operations
from scf.adapters.http import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    LOANS_PAGE,
    PATH_ID_MAX_LENGTH,
    PATH_ID_PATTERN,
    REVIEWS_PAGE,
    UNMATCHED_PAGE,
)
from scf.domain.policy import CURRENT_POLICY_VERSION, load_policy
from tests.support import load_handler

pytestmark = pytest.mark.infra

STAGE = "prod"
# CONTRACT.md section 8, "Field names", and the table's request and answer shapes.
CONTRACT_FIELDS = {
    "CreditLine": {
        "supplier_id",
        "currency",
        "as_of",
        "stages",
        "borrowing_base",
        "facility_cap",
        "outstanding",
        "available",
    },
    "Stage": {"stage", "open", "eligible", "ratio", "amount"},
    "Application": {
        "application_id",
        "status",
        "reasons",
        "amount",
        "currency",
        "term_days",
        "grade",
        "annual_rate",
        "loan_id",
        "policy_version",
        "decided_at",
    },
    "Reason": {"code", "message"},
    "Loan": {
        "loan_id",
        "status",
        "currency",
        "principal",
        "outstanding_principal",
        "interest_due",
        "penalty_due",
        "payoff",
        "annual_rate",
        "term_days",
        "value_date",
        "maturity_date",
        "extended",
        "repayments",
    },
    "Repayment": {"repayment_id", "loan_id", "status", "source", "amount", "allocation", "value_date"},
    "Allocation": {"penalty", "interest", "principal", "overpayment"},
    "ApplicationRequest": {"amount", "currency", "term_days"},
    "RepaymentRequest": {"amount"},
    "RepaymentAccepted": {"repayment_id", "status"},
    "ReviewDecisionRequest": {"decision", "note"},
    "OpsLoan": {"supplier_id", "payout", "history", "loan_id", "status", "principal", "repayments"},
    "OpsApplication": {"application_id", "status", "reasons", "review", "supplier_id", "created_at"},
    "HistoryEvent": {"at", "event", "by", "detail"},
    "LoanPage": {"items", "next_token"},
    "ApplicationPage": {"items", "next_token"},
    "UnmatchedPage": {"items", "next_token"},
}
CONTRACT_ENUMS = {
    ("Repayment", "status"): ["PENDING", "APPLIED", "FAILED"],
    ("Repayment", "source"): ["SUPPLIER", "SETTLEMENT_SWEEP", "BANK_CREDIT"],
    ("Application", "status"): ["APPROVED", "DECLINED", "REVIEW"],
    ("Loan", "status"): ["APPROVED", "DISBURSING", "ACTIVE", "OVERDUE", "REPAID", "FAILED"],
    ("ReviewDecisionRequest", "decision"): ["APPROVE", "DECLINE"],
}
MONEY_FIELDS = {
    "CreditLine": {"borrowing_base", "facility_cap", "outstanding", "available"},
    "Stage": {"open", "eligible", "amount"},
    "Loan": {"principal", "outstanding_principal", "interest_due", "penalty_due", "payoff"},
    "OpsLoan": {"principal", "outstanding_principal", "interest_due", "penalty_due", "payoff"},
    "Allocation": {"penalty", "interest", "principal", "overpayment"},
    "ApplicationRequest": {"amount"},
    "RepaymentRequest": {"amount"},
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document(server_url=f"/{STAGE}")


def served_by_the_template(synthesized: Synthesized) -> dict[str, Any]:
    (props,) = [p for (m, path), p in api_methods(synthesized).items() if (m, path) == ("GET", DOCUMENT_PATH)]
    (answer,) = props["Integration"]["IntegrationResponses"]
    return dict(json.loads(render_mapping_template(answer["ResponseTemplates"]["application/json"])))


def test_the_document_is_valid_openapi_3_0(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.0.")
    validate(doc)  # raises on any violation of the OpenAPI 3.0 schema and its semantic rules


def test_the_api_serves_exactly_the_document_with_its_stage_as_the_server(
    synthesized: Synthesized, doc: dict[str, Any]
) -> None:
    served = served_by_the_template(synthesized)
    assert served == doc
    assert served["servers"] == [{"url": "/prod"}]
    (stage,) = synthesized.of_type("AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == STAGE


def test_the_mapping_template_is_only_a_base64_decode() -> None:
    # API Gateway's template language would read the document's `$ref` and `#/...` as its own syntax
    encoded = base64.b64encode(b'{"$ref": "#/x"}').decode()
    assert render_mapping_template(f'$util.base64Decode("{encoded}")') == b'{"$ref": "#/x"}'


def test_the_documented_routes_are_exactly_the_ones_the_gateway_serves(
    synthesized: Synthesized, doc: dict[str, Any]
) -> None:
    served = {(route.method, route.path) for route in Template(synthesized.template).routes()}
    assert operations(doc) == served
    assert served == {*ROUTES, ("GET", DOCUMENT_PATH)}


@pytest.mark.parametrize("function", sorted(set(ROUTES.values())))
def test_each_handler_serves_exactly_its_documented_routes(function: str, doc: dict[str, Any]) -> None:
    app = load_handler(function).app
    served = {
        (route.method, re.sub(r"<(\w+)>", r"{\1}", route.path))
        for route in [*app._static_routes, *app._dynamic_routes]
    }
    documented = {route for route, owner in ROUTES.items() if owner == function}
    assert served == documented
    assert documented <= operations(doc)


def test_every_v1_operation_needs_the_bearer_token_and_only_the_document_is_public(
    doc: dict[str, Any],
) -> None:
    (scheme,) = doc["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert doc["security"] == [{"cognitoBearer": []}]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if path == DOCUMENT_PATH:
                assert operation["security"] == []
            else:
                assert "security" not in operation, (method, path)  # the document-wide bearer token
                assert "401" in operation["responses"], (method, path)


def test_every_post_takes_the_idempotency_key_and_every_path_parameter_is_declared(
    doc: dict[str, Any],
) -> None:
    shared = doc["components"]["parameters"]
    ids = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            parameters = [
                shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                for p in operation.get("parameters", [])
            ]
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            headers = {p["name"] for p in parameters if p["in"] == "header" and p["required"]}
            assert ("Idempotency-Key" in headers) == (method == "post"), (method, path)
    assert len(ids) == len(set(ids))


def _parameters(doc: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    shared = doc["components"]["parameters"]
    return [
        shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in operation.get("parameters", [])
    ]


def test_the_idempotency_key_is_the_toolkits_rule(doc: dict[str, Any]) -> None:
    key = doc["components"]["parameters"]["IdempotencyKey"]

    assert (key["name"], key["in"], key["required"]) == (IDEMPOTENCY_HEADER, "header", True)
    assert key["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    }


def test_every_path_id_is_the_toolkits_rule(doc: dict[str, Any]) -> None:
    path_ids = [
        p["schema"]
        for item in doc["paths"].values()
        for operation in item.values()
        for p in _parameters(doc, operation)
        if p["in"] == "path"
    ]

    assert len(path_ids) == 10
    for schema in path_ids:
        assert schema == {
            "type": "string",
            "minLength": 1,
            "maxLength": PATH_ID_MAX_LENGTH,
            "pattern": PATH_ID_PATTERN,
        }


def test_every_page_limit_is_the_toolkits_for_its_route(doc: dict[str, Any]) -> None:
    limits = {
        operation["operationId"]: p["schema"]
        for item in doc["paths"].values()
        for operation in item.values()
        for p in _parameters(doc, operation)
        if p["name"] == "limit"
    }

    assert limits == {
        operation: {"type": "integer", "minimum": 1, "maximum": size.maximum, "default": size.default}
        for operation, size in (
            ("listLoans", LOANS_PAGE),
            ("listOpsLoans", LOANS_PAGE),
            ("listReviews", REVIEWS_PAGE),
            ("listUnmatched", UNMATCHED_PAGE),
        )
    }


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items() for method, op in item.items()]


def test_every_post_documents_the_400_of_a_bad_key_and_the_422_of_a_reused_one(doc: dict[str, Any]) -> None:
    posts = [(path, op) for method, path, op in _operations(doc) if method == "post"]

    assert len(posts) == 6
    for path, operation in posts:
        assert {"400", "422"} <= set(operation["responses"]), path


def test_every_operation_with_a_path_id_documents_404(doc: dict[str, Any]) -> None:
    with_ids = [(method, path, op) for method, path, op in _operations(doc) if "{" in path]

    assert len(with_ids) == 10
    for method, path, operation in with_ids:
        assert "404" in operation["responses"], (method, path)


def test_every_paged_operation_documents_422(doc: dict[str, Any]) -> None:
    paged = [
        (path, op) for _, path, op in _operations(doc) if "limit" in {p["name"] for p in _parameters(doc, op)}
    ]

    assert len(paged) == 4
    for path, operation in paged:
        assert "422" in operation["responses"], path


def test_errors_are_problem_json_and_every_operation_has_a_default(doc: dict[str, Any]) -> None:
    responses = doc["components"]["responses"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if path == DOCUMENT_PATH:
                continue
            assert "default" in operation["responses"]
            for status, answer in operation["responses"].items():
                answer = responses[answer["$ref"].rsplit("/", 1)[1]] if "$ref" in answer else answer
                if status == "default" or status.startswith(("4", "5")):
                    assert list(answer["content"]) == ["application/problem+json"], (method, path, status)
                    schema = answer["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
                else:
                    assert list(answer["content"]) == ["application/json"], (method, path, status)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["properties"])


def test_the_schemas_carry_the_contracts_field_names(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name, fields in CONTRACT_FIELDS.items():
        assert fields <= set(schemas[name]["properties"]), (name, fields - set(schemas[name]["properties"]))
    for (name, field), values in CONTRACT_ENUMS.items():
        assert schemas[name]["properties"][field]["enum"] == values, (name, field)
    money = schemas["Money"]
    assert money["type"] == "string" and re.match(money["pattern"], "1250000.00")
    for bad in ("1250000", "1250000.0", "1250000.000", "-1.00", "+1.00", "NaN", "1e3"):
        assert not re.match(money["pattern"], bad), bad
    for name, fields in MONEY_FIELDS.items():
        for field in fields:
            assert _refers_to(schemas[name]["properties"][field], "Money"), (name, field)
    assert _refers_to(schemas["Loan"]["properties"]["repayments"]["items"], "Repayment")
    assert schemas["Application"]["required"].count("loan_id") == 0  # only when approved
    payout = schemas["OpsLoan"]["properties"]["payout"]
    assert {"payment_id", "bank_code", "account", "status"} <= set(payout["properties"])
    assert _refers_to(schemas["OpsLoan"]["properties"]["history"]["items"], "HistoryEvent")
    portfolio = schemas["Portfolio"]["properties"]
    assert {"as_of", "loans_by_status", "aging", "interest_due", "overpayment_owed"} <= set(portfolio)
    assert portfolio["aging"]["items"]["properties"]["bucket"]["enum"] == [
        "CURRENT",
        "1-30",
        "31-60",
        "61-90",
        "90+",
    ]
    assert {"count", "outstanding_principal", "penalty_due"} <= set(portfolio["aging"]["items"]["properties"])
    assert "supplier_id" in schemas["OpsLoanSummary"]["properties"]


def test_the_policy_bounds_are_the_current_policys(doc: dict[str, Any]) -> None:
    policy = load_policy(CURRENT_POLICY_VERSION)
    request = doc["components"]["schemas"]["ApplicationRequest"]["properties"]
    assert (request["term_days"]["minimum"], request["term_days"]["maximum"]) == (
        policy.term_min_days,
        policy.term_max_days,
    )
    assert (
        f"{policy.min_amount_minor // 100}.{policy.min_amount_minor % 100:02d}"
        in request["amount"]["description"]
    )
    assert policy.policy_version in doc["info"]["description"]


def _minimum_pattern(schema_name: str) -> str:
    (pattern,) = [
        part["pattern"]
        for part in document()["components"]["schemas"][schema_name]["properties"]["amount"]["allOf"]
        if "pattern" in part
    ]
    return pattern


MINIMUM_PATTERNS = {
    _minimum_pattern("ApplicationRequest"): load_policy(CURRENT_POLICY_VERSION).min_amount_minor,
    _minimum_pattern("RepaymentRequest"): 1,
}


@given(minor=st.integers(min_value=0, max_value=10**18 - 1))
def test_the_document_states_each_amounts_minimum_as_a_pattern(minor: int) -> None:
    """A request valid by the document is never refused for its amount: the application's minimum
    (policy) and the repayment's more-than-zero are patterns, not prose."""
    text = f"{minor // 100}.{minor % 100:02d}"
    for pattern, minimum in MINIMUM_PATTERNS.items():
        assert (re.fullmatch(pattern, text) is not None) == (minor >= minimum), (pattern, text)
        for altered in (f"0{text}", f"{text}0", f"{text}\n", text.replace(".", ",")):
            assert re.fullmatch(pattern, altered) is None, altered


def test_every_link_names_an_operation_and_its_parameters(doc: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for item in doc["paths"].values() for op in item.values()}
    links = 0
    for operation in by_id.values():
        for answer in operation["responses"].values():
            for name, link in answer.get("links", {}).items():
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", []) if "name" in p}
                names |= (
                    {"Idempotency-Key"} if any("$ref" in p for p in target.get("parameters", [])) else set()
                )
                assert set(link["parameters"]) <= names, (operation["operationId"], name)
                links += 1
    chain = {("applyForFinancing", "getLoan"), ("getLoan", "repayLoan"), ("repayLoan", "getRepayment")}
    linked = {
        (op["operationId"], link["operationId"])
        for op in by_id.values()
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    }
    assert chain <= linked and links >= len(chain)


def _refers_to(schema: dict[str, Any], name: str) -> bool:
    target = f"#/components/schemas/{name}"
    return schema.get("$ref") == target or any(part.get("$ref") == target for part in schema.get("allOf", []))
