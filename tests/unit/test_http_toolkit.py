"""The HTTP input toolkit (scf.adapters.http, CONTRACT.md section 8): the Idempotency-Key rule,
pages, path ids and event detection, on a resolver of its own and on every function's routes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scf.adapters.http import (
    IDEMPOTENCY_KEY_RULE,
    MAX_PAGE_SIZE,
    PATH_ID_PATTERN,
    PageSize,
    api_resolver,
    idempotency_key,
    is_api_request,
    ok,
    page,
)
from scf.service.credit import application_id_for, new_id
from scf.service.repayment import repayment_id_for
from scf.service.statements import BANK_CREDIT_PREFIX
from scf.service.sweeps import sweep_repayment_id
from tests.support import EVENTS, load_handler

pytestmark = pytest.mark.unit

app = api_resolver()
SMALL_PAGE = PageSize(default=7, maximum=30)
reached: list[str] = []  # the ids that got past the toolkit into a route


@app.post("/v1/keyed")
def keyed() -> Any:
    return ok({"key": idempotency_key(app)})


@app.get("/v1/paged")
def paged() -> Any:
    wanted = page(app, SMALL_PAGE)
    return ok({"limit": wanted.limit, "next_token": wanted.next_token})


@app.get("/v1/things/<thing_id>")
def thing(thing_id: str) -> Any:
    reached.append(thing_id)
    return ok({"thing_id": thing_id})


def _event(
    method: str, path: str, headers: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    claims = {"sub": "u1", "custom:supplier_id": "S-1", "cognito:groups": "ops"}
    return {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": headers or {},
        "queryStringParameters": query,
        "requestContext": {"authorizer": {"claims": claims}},
        "body": "{}" if method == "POST" else None,
    }


def _call(resolver: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = resolver.resolve(event, {})
    return answer["statusCode"], json.loads(answer["body"])


# ---- Idempotency-Key -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k", " ", "~", "a" * 128, "5b1c0d6e-0000-4000-8000-000000000001"])
def test_a_key_of_1_to_128_printable_ascii_characters_is_taken(key: str) -> None:
    status, body = _call(app, _event("POST", "/v1/keyed", {"Idempotency-Key": key}))

    assert (status, body) == (200, {"key": key})


def test_the_header_name_is_case_insensitive() -> None:
    status, body = _call(app, _event("POST", "/v1/keyed", {"idempotency-key": "k-1"}))

    assert (status, body) == (200, {"key": "k-1"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Idempotency-Key": ""},
        {"Idempotency-Key": "a" * 129},
        {"Idempotency-Key": "clé"},
        {"Idempotency-Key": "tab\there"},
        {"Idempotency-Key": "line\n"},
        {"Idempotency-Key": "del\x7f"},
    ],
    ids=["missing", "empty", "129 characters", "non-ASCII", "tab", "trailing newline", "DEL"],
)
def test_a_missing_or_malformed_key_is_one_400_naming_the_header(headers: dict[str, str]) -> None:
    status, body = _call(app, _event("POST", "/v1/keyed", headers))

    assert status == 400
    assert (body["code"], body["field"], body["detail"]) == (
        "INVALID_IDEMPOTENCY_KEY",
        "Idempotency-Key",
        IDEMPOTENCY_KEY_RULE,
    )


# ---- pages -----------------------------------------------------------------------------------------


def test_without_limit_a_page_has_the_routes_default_size() -> None:
    status, body = _call(app, _event("GET", "/v1/paged"))

    assert (status, body) == (200, {"limit": 7, "next_token": None})


@pytest.mark.parametrize("limit", ["1", "30", "007"])
def test_a_limit_from_1_to_the_routes_maximum_is_taken(limit: str) -> None:
    status, body = _call(app, _event("GET", "/v1/paged", query={"limit": limit, "next_token": "t"}))

    assert (status, body) == (200, {"limit": int(limit), "next_token": "t"})


@pytest.mark.parametrize("limit", ["0", "31", "", "-1", "1.5", "ten", "²", "9" * 5000])
def test_any_other_limit_is_one_422_naming_it(limit: str) -> None:
    status, body = _call(app, _event("GET", "/v1/paged", query={"limit": limit}))

    assert status == 422
    assert (body["code"], body["field"], body["detail"]) == (
        "INVALID_LIMIT",
        "limit",
        "limit: must be a whole number from 1 to 30",
    )


def test_a_page_size_allows_at_most_the_shared_maximum_by_default() -> None:
    assert PageSize(default=20).maximum == MAX_PAGE_SIZE == 100


# ---- path ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "made",
    [
        new_id("LN"),
        new_id("AP"),
        application_id_for("S-1001", "k" * 128),
        repayment_id_for("S-1001", "k-1"),
        repayment_id_for("S-1001", None),
        sweep_repayment_id("S-1001", "INV-1", "LN00000000000000000000"),
        BANK_CREDIT_PREFIX + "A" * 26,
    ],
    ids=[
        "loan",
        "application",
        "keyed application",
        "repayment",
        "keyless repayment",
        "sweep",
        "bank credit",
    ],
)
def test_every_id_the_package_makes_is_a_path_id(made: str) -> None:
    assert re.fullmatch(PATH_ID_PATTERN, made), made


@pytest.mark.parametrize("thing_id", ["L1", "AP-NONE", "S_1", "x" * 64])
def test_a_well_formed_id_reaches_the_route(thing_id: str) -> None:
    status, body = _call(app, _event("GET", f"/v1/things/{thing_id}"))

    assert (status, body) == (200, {"thing_id": thing_id})


@pytest.mark.parametrize("thing_id", ["x" * 65, "x" * 5000, "a b", "a.b", "clé", "a%00b", "$'{}"])
def test_an_id_no_key_could_hold_is_404_and_reaches_no_route(thing_id: str) -> None:
    reached.clear()

    status, body = _call(app, _event("GET", f"/v1/things/{thing_id}"))

    assert (status, body["code"], reached) == (404, "NOT_FOUND", [])


# ---- the functions' routes -------------------------------------------------------------------------

API_FUNCTIONS = ["score_application", "apply_repayment", "ingest_settlement"]


def _routes(function: str) -> list[tuple[str, str]]:
    """(METHOD, path with `ID1` for every path parameter) of each route the function serves."""
    resolver = load_handler(function).app
    return [
        (route.method, re.sub(r"<\w+>", "ID1", route.path))
        for route in [*resolver._static_routes, *resolver._dynamic_routes]
    ]


POSTS = [(f, path) for f in API_FUNCTIONS for method, path in _routes(f) if method == "POST"]
WITH_IDS = [(f, m, path) for f in API_FUNCTIONS for m, path in _routes(f) if "ID1" in path]


def test_the_functions_serve_posts_and_path_ids() -> None:
    assert len(POSTS) == 6 and len(WITH_IDS) == 10


@pytest.mark.parametrize(("function", "path"), POSTS)
def test_every_post_without_a_key_is_400_before_any_store_is_touched(function: str, path: str) -> None:
    handler = load_handler(function)

    status, body = _call(handler.app, _event("POST", path))

    assert (status, body["code"], body["field"]) == (400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key")
    assert handler.bootstrap.cache_info().currsize == 0


@pytest.mark.parametrize(("function", "method", "path"), WITH_IDS)
def test_every_path_id_no_key_could_hold_is_404_before_any_store_is_touched(
    function: str, method: str, path: str
) -> None:
    handler = load_handler(function)

    status, body = _call(handler.app, _event(method, path.replace("ID1", "L" * 65)))

    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert handler.bootstrap.cache_info().currsize == 0


# ---- API or queue ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "api"),
    [
        ("apigw_get_unmatched_ops.json", True),
        ("apigw_post_application.json", True),
        ("sqs_s3_object_created.json", False),
        ("sqs_s3_test_event.json", False),
    ],
)
def test_an_event_is_an_api_request_or_a_queues_batch(sample: str, api: bool) -> None:
    event = json.loads((EVENTS / sample).read_text())

    assert is_api_request(event) is api
