import json

import pytest

from scf.adapters.http import (
    Problem,
    api_resolver,
    json_body,
    ok,
    positive_amount,
    require_ops,
    require_supplier,
)

pytestmark = pytest.mark.unit

app = api_resolver()


@app.get("/v1/me")
def me():  # type: ignore[no-untyped-def]
    return ok({"supplier_id": require_supplier(app)})


@app.get("/v1/ops")
def ops():  # type: ignore[no-untyped-def]
    return ok({"subject": require_ops(app).subject})


@app.post("/v1/amount")
def amount():  # type: ignore[no-untyped-def]
    return ok({"minor": positive_amount(json_body(app), "amount")})


@app.post("/v1/kinds")
def kinds():  # type: ignore[no-untyped-def]
    return ok({name: type(value).__name__ for name, value in json_body(app).items()})


@app.get("/v1/boom")
def boom():  # type: ignore[no-untyped-def]
    raise RuntimeError("secret internals")


def _event(method: str, path: str, claims: dict | None = None, body: str | None = None) -> dict:
    return {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": {},
        "requestContext": {"authorizer": {"claims": claims}} if claims is not None else {},
        "body": body,
    }


def _call(event: dict) -> tuple[int, str, dict]:
    answer = app.resolve(event, {})
    content_type = answer["multiValueHeaders"]["Content-Type"][0]
    return answer["statusCode"], content_type, json.loads(answer["body"])


def test_supplier_comes_from_the_claim() -> None:
    status, _, body = _call(_event("GET", "/v1/me", {"sub": "u1", "custom:supplier_id": "SUP-1"}))
    assert (status, body) == (200, {"supplier_id": "SUP-1"})


def test_no_supplier_claim_is_forbidden_as_problem_json() -> None:
    status, content_type, body = _call(_event("GET", "/v1/me", {"sub": "u1"}))
    assert status == 403
    assert content_type == "application/problem+json"
    assert body["status"] == 403 and body["code"] == "NOT_A_SUPPLIER" and body["type"].startswith("https://")


@pytest.mark.parametrize(
    ("groups", "status"), [("ops", 200), ("[admin, ops]", 200), ("admin", 403), ("", 403)]
)
def test_ops_group_in_every_shape_cognito_sends(groups: str, status: int) -> None:
    assert _call(_event("GET", "/v1/ops", {"sub": "r1", "cognito:groups": groups}))[0] == status


@pytest.mark.parametrize(
    "raw", ['{"amount": NaN}', '{"amount": Infinity}', '{"amount": 12.5}', '{"amount": "1.5"}']
)
def test_bad_money_is_422_naming_the_field(raw: str) -> None:
    status, content_type, body = _call(_event("POST", "/v1/amount", {"custom:supplier_id": "S"}, raw))
    assert (status, content_type, body["field"], body["code"]) == (
        422,
        "application/problem+json",
        "amount",
        "INVALID_AMOUNT",
    )


@pytest.mark.parametrize("raw", ["", "[1]", "{", "null"])
def test_body_that_is_not_an_object_is_400(raw: str) -> None:
    status, _, body = _call(_event("POST", "/v1/amount", {}, raw))
    assert status == 400 and body["code"] == "INVALID_JSON"


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"a":' * 100_000])
def test_a_body_nested_deeper_than_the_parser_goes_is_400_not_500(raw: str) -> None:
    status, _, body = _call(_event("POST", "/v1/amount", {}, raw))

    assert (status, body["code"]) == (400, "INVALID_JSON")


def test_an_unknown_route_is_a_404_problem() -> None:
    status, content_type, body = _call(_event("GET", "/v1/nowhere", {}))

    assert (status, content_type, body["code"]) == (404, "application/problem+json", "NO_ROUTE")


def test_an_unexpected_error_is_a_500_problem_without_internals() -> None:
    status, _, body = _call(_event("GET", "/v1/boom", {}))

    assert status == 500 and "secret" not in json.dumps(body)


def test_problem_body_shape() -> None:
    body = Problem(409, "Conflict", "loan is REPAID", code="LOAN_NOT_OPEN").body()

    assert body == {
        "type": "https://scf.dev/problems/loan-not-open",
        "title": "Conflict",
        "status": 409,
        "detail": "loan is REPAID",
        "code": "LOAN_NOT_OPEN",
    }


def test_a_non_finite_literal_is_kept_as_a_marker_for_the_fields_own_check() -> None:
    status, _, body = _call(_event("POST", "/v1/kinds", {}, '{"a": NaN, "b": -Infinity, "c": 1}'))

    assert (status, body) == (200, {"a": "NonFinite", "b": "NonFinite", "c": "int"})
