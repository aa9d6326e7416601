"""The local API Gateway: routing, the Cognito-like authorizer, the proxy event and response."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import tokens
from infra.local.gateway import Gateway, MalformedResponse, Router, gateway_error, proxy_response
from infra.local.template import Route, Template
from infra.local.worker import InvokeResult

ISSUER = "http://127.0.0.1/local-user-pool"


class FakeFunctions:
    """Records the events and answers what the test tells it to."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.answer = InvokeResult(ok=True, payload={"statusCode": 200, "body": "{}"})

    def __call__(self, function: str, event: dict[str, Any], timeout: float) -> InvokeResult:
        self.events.append((function, event))
        return self.answer


@pytest.fixture
def keys(tmp_path: Path) -> tuple[bytes, bytes]:
    private, public = tokens.generate_keys(tmp_path)
    return private.read_bytes(), public.read_bytes()


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


@pytest.fixture
def gateway(
    fixture_template: Template, functions: FakeFunctions, keys: tuple[bytes, bytes]
) -> Iterator[Gateway]:
    server = Gateway(
        routes=fixture_template.routes(),
        invoke=functions,
        public_key=keys[1],
        issuer=ISSUER,
        stage=fixture_template.stage_name(),
        account_id="123456789012",
        gateway_responses=fixture_template.gateway_responses(),
    )
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def bearer(keys: tuple[bytes, bytes], supplier: str = "SUP-1") -> dict[str, str]:
    return {"Authorization": "Bearer " + tokens.issue(keys[0], ISSUER, supplier_id=supplier)}


def test_a_request_becomes_a_rest_proxy_event(gateway: Gateway, functions: FakeFunctions, keys: Any) -> None:
    functions.answer = InvokeResult(
        ok=True,
        payload={
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Extra": "1"},
            "body": '{"ok": true}',
        },
    )
    response = requests.post(
        f"{gateway.url}/v1/loans/L%2D1/repayments?a=1&a=2&empty=",
        data=b'{"amount": "1.00"}',
        headers={**bearer(keys), "Idempotency-Key": "k-1", "X-Multi": "x"},
        timeout=5,
    )
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert response.headers["X-Extra"] == "1" and response.headers["x-amzn-RequestId"]
    ((function, event),) = functions.events
    assert function == "ingest_settlement"
    assert event["resource"] == "/v1/loans/{loan_id}/repayments"
    assert event["path"] == "/v1/loans/L-1/repayments"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"loan_id": "L-1"}
    assert event["queryStringParameters"] == {"a": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "empty": [""]}
    assert event["headers"]["Idempotency-Key"] == "k-1"
    assert event["multiValueHeaders"]["X-Multi"] == ["x"]
    assert event["body"] == '{"amount": "1.00"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1stage" and context["resourcePath"] == "/v1/loans/{loan_id}/repayments"
    assert context["httpMethod"] == "POST" and context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    claims = context["authorizer"]["claims"]
    assert claims["custom:supplier_id"] == "SUP-1" and claims["token_use"] == "id" and claims["iss"] == ISSUER


def test_a_get_without_query_or_body_has_nulls(gateway: Gateway, functions: FakeFunctions, keys: Any) -> None:
    requests.get(f"{gateway.url}/v1/credit-line", headers=bearer(keys), timeout=5)
    ((function, event),) = functions.events
    assert function == "score_application"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None and event["body"] is None


def test_a_binary_body_arrives_base64_encoded(gateway: Gateway, functions: FakeFunctions, keys: Any) -> None:
    headers = {**bearer(keys), "Idempotency-Key": "k"}
    requests.post(f"{gateway.url}/v1/loans/L/repayments", data=b"\xff\xfe", headers=headers, timeout=5)
    event = functions.events[0][1]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
)
def test_missing_or_invalid_tokens_get_the_templates_401_without_invoking(
    gateway: Gateway, functions: FakeFunctions, headers: dict[str, str]
) -> None:
    response = requests.get(f"{gateway.url}/v1/credit-line", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "title": "Unauthorized",
        "status": 401,
        "detail": "Unauthorized",
        "request_id": response.headers["x-amzn-RequestId"],
    }
    assert functions.events == []


def test_required_request_parameters_are_checked_as_the_validator_says(
    gateway: Gateway, functions: FakeFunctions, keys: Any
) -> None:
    response = requests.post(
        f"{gateway.url}/v1/loans/L-1/repayments", json={}, headers=bearer(keys), timeout=5
    )
    assert response.status_code == 400
    assert response.json() == {
        "title": "Bad Request",
        "status": 400,
        "detail": "Missing required request parameters: [Idempotency-Key]",
    }
    assert functions.events == []
    headers = {**bearer(keys), "idempotency-key": "k"}  # header names are case-insensitive
    assert requests.post(f"{gateway.url}/v1/loans/L-1/repayments", json={}, headers=headers, timeout=5).ok


def test_uncustomized_errors_keep_api_gateways_default_body() -> None:
    status, headers, body = gateway_error("INTEGRATION_FAILURE", None, "rid", {})
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert ("x-amzn-ErrorType", "InternalServerErrorException") in headers


def test_unknown_routes_and_methods_get_403_like_api_gateway(
    gateway: Gateway, functions: FakeFunctions, keys: Any
) -> None:
    for method, path in [("GET", "/v1/nothing"), ("DELETE", "/v1/credit-line"), ("GET", "/v1/loans/a/b/c")]:
        response = requests.request(method, f"{gateway.url}{path}", headers=bearer(keys), timeout=5)
        assert response.status_code == 403
        assert response.json() == {"message": "Missing Authentication Token"}
    assert functions.events == []


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "CONNECT", "FOO"])
def test_odd_methods_are_routed_like_any_other_never_http_servers_501(
    gateway: Gateway, functions: FakeFunctions, keys: Any, method: str
) -> None:
    host, port = gateway.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=5)
    connection.request(method, "/v1/loans", headers=bearer(keys))
    response = connection.getresponse()
    assert response.status == 403  # the template's MISSING_AUTHENTICATION_TOKEN (the real one: 404)
    assert json.loads(response.read()) == {"message": "Missing Authentication Token"}
    assert functions.events == []


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /v1/loans HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET /v1/loans HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"NOT A REQUEST LINE AT ALL\r\n\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_what_http_server_refuses_itself_is_problem_json(
    gateway: Gateway, functions: FakeFunctions, request_bytes: bytes, status: int
) -> None:
    host, port = gateway.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as raw:
        raw.sendall(request_bytes)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == str(status).encode()
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == status
    assert functions.events == []


def test_function_errors_and_malformed_answers_are_502_and_timeouts_504(
    gateway: Gateway, functions: FakeFunctions, keys: Any
) -> None:
    functions.answer = InvokeResult(ok=False, error={"errorType": "KeyError", "errorMessage": "x"})
    response = requests.get(f"{gateway.url}/v1/credit-line", headers=bearer(keys), timeout=5)
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})
    functions.answer = InvokeResult(ok=True, payload={"body": "no status"})
    assert requests.get(f"{gateway.url}/v1/credit-line", headers=bearer(keys), timeout=5).status_code == 502
    functions.answer = InvokeResult(ok=False, timed_out=True, error={})
    response = requests.get(f"{gateway.url}/v1/credit-line", headers=bearer(keys), timeout=5)
    assert (response.status_code, response.json()) == (504, {"message": "Endpoint request timed out"})


def test_mock_integrations_answer_without_a_function(gateway: Gateway, functions: FakeFunctions) -> None:
    response = requests.options(f"{gateway.url}/v1/loans", timeout=5)
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert functions.events == []


def test_a_mock_integration_answers_its_rendered_template(keys: tuple[bytes, bytes]) -> None:
    document = Route(
        "GET",
        "/openapi.json",
        None,
        "NONE",
        mock_response={
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": b'{"a": 1}',
        },
    )
    server = Gateway([document], FakeFunctions(), keys[1], ISSUER, "prod", "123456789012")
    server.start()
    try:
        response = requests.get(f"{server.url}/openapi.json", timeout=5)
        assert (response.status_code, response.json()) == (200, {"a": 1})
        assert response.headers["Content-Type"] == "application/json"
    finally:
        server.shutdown()
        server.server_close()


def test_the_api_also_answers_at_its_stage_url_as_in_the_cloud(
    gateway: Gateway, functions: FakeFunctions, keys: Any
) -> None:
    response = requests.get(f"{gateway.url}/v1stage/v1/loans/L-1?x=1", headers=bearer(keys), timeout=5)
    assert response.status_code == 200
    ((_, event),) = functions.events
    assert event["path"] == "/v1/loans/L-1" and event["pathParameters"] == {"loan_id": "L-1"}
    assert event["requestContext"]["path"] == "/v1stage/v1/loans/L-1"
    assert event["queryStringParameters"] == {"x": "1"}
    # only the stage itself is a prefix: /v1stagex/... is no route
    assert (
        requests.get(f"{gateway.url}/v1stagex/v1/loans/L-1", headers=bearer(keys), timeout=5).status_code
        == 403
    )


def test_docs_is_swagger_ui_from_the_installed_package_over_the_served_document(gateway: Gateway) -> None:
    page = requests.get(f"{gateway.url}/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(sources) == ["docs/swagger-ui-bundle.min.js", "docs/swagger-ui.min.css"]
    assert 'url: "openapi.json"' in page.text  # relative: /docs -> /openapi.json, /prod/docs -> /prod/...
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the internet
    for source, content_type in zip(sorted(sources), ["application/javascript", "text/css"], strict=True):
        asset = requests.get(f"{gateway.url}/{source}", timeout=5)
        assert asset.status_code == 200 and asset.headers["Content-Type"] == content_type
        assert len(asset.content) > 10_000
    assert (
        b"SwaggerUIBundle" in requests.get(f"{gateway.url}/docs/swagger-ui-bundle.min.js", timeout=5).content
    )
    assert requests.get(f"{gateway.url}/docs/../etc/passwd", timeout=5).status_code in (403, 404)
    assert requests.get(f"{gateway.url}/docs/other.js", timeout=5).status_code == 403


def test_health(gateway: Gateway) -> None:
    response = requests.get(f"{gateway.url}/_local/health", timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_literal_segments_win_over_parameters() -> None:
    routes = [
        Route("GET", "/v1/loans/{loan_id}", "by_id", "NONE"),
        Route("GET", "/v1/loans/overdue", "overdue", "NONE"),
    ]
    router = Router(routes)
    matched = router.match("GET", "/v1/loans/overdue")
    assert matched is not None and matched.route.function == "overdue"
    matched = router.match("GET", "/v1/loans/L-9")
    assert matched is not None and matched.path_parameters == {"loan_id": "L-9"}


def test_proxy_responses_are_read_as_api_gateway_reads_them() -> None:
    status, headers, body = proxy_response(
        {
            "statusCode": 200,
            "headers": {"A": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00bin").decode(),
            "isBase64Encoded": True,
        }
    )
    assert status == 200 and body == b"\x00bin"
    assert ("A", "1") in headers and ("Set-Cookie", "a=1") in headers and ("Set-Cookie", "b=2") in headers
    for malformed in [
        None,
        "text",
        {"statusCode": "200"},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "x": 1},
    ]:
        with pytest.raises(MalformedResponse):
            proxy_response(malformed)
    assert json.loads(proxy_response({"statusCode": 200, "body": '{"a": 1}'})[2]) == {"a": 1}
