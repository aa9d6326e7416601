"""The local API Gateway: routes from the template's REST API, a Cognito-like authorizer, and
requests turned into API Gateway REST proxy events for the function's worker."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from infra.local import docs
from infra.local.template import GatewayResponse, Route, TemplateError, path_group
from infra.local.tokens import InvalidToken, verify
from infra.local.worker import InvokeResult

PROBLEM_JSON = "application/problem+json"
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's REST integration limit
HEALTH_PATH = "/_local/health"
SUPPORTED_AUTHORIZATION = frozenset({"NONE", "COGNITO_USER_POOLS"})
# API Gateway's own answers when the template does not customize them: (status, message)
DEFAULT_RESPONSES = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "BAD_REQUEST_PARAMETERS": (400, "Invalid request parameters"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}
ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "BAD_REQUEST_PARAMETERS": "BadRequestException",
    "INTEGRATION_FAILURE": "InternalServerErrorException",
    "INTEGRATION_TIMEOUT": "InternalServerErrorException",
}


def gateway_error(
    response_type: str, message: str | None, request_id: str, custom: dict[str, GatewayResponse]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """An error API Gateway answers itself: the template's gateway response for the type (or its
    DEFAULT_4XX / DEFAULT_5XX), else API Gateway's default `{"message": ...}`."""
    status, default_message = DEFAULT_RESPONSES[response_type]
    message = message or default_message
    headers = [("x-amzn-ErrorType", ERROR_TYPES[response_type])]
    chosen = custom.get(response_type) or custom.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
    if chosen is None or chosen.template is None:
        body = json.dumps({"message": message}).encode()
        if chosen is not None:
            headers += list(chosen.headers.items())
        return (chosen.status if chosen and chosen.status else status), headers, body
    variables = {
        "$context.error.messageString": json.dumps(message),
        "$context.error.message": json.dumps(message)[1:-1],
        "$context.error.responseType": response_type,
        "$context.requestId": request_id,
    }
    rendered = chosen.template
    for name, value in variables.items():
        rendered = rendered.replace(name, value)
    return chosen.status or status, headers + list(chosen.headers.items()), rendered.encode()


def missing_parameters(
    route: Route, headers: dict[str, str], query: dict[str, list[str]], path: dict[str, str]
) -> list[str]:
    """The required request parameters (method.request.*) a request lacks, as API Gateway checks them."""
    lowered = {name.lower() for name, value in headers.items() if value}
    present = {
        "header": lambda name: name.lower() in lowered,
        "querystring": lambda name: bool(query.get(name)),
        "path": lambda name: bool(path.get(name)),
    }
    missing = []
    for location, names in route.required_parameters.items():
        check = present.get(location)
        missing += [name for name in names if check is not None and not check(name)]
    return missing


@dataclass(frozen=True)
class MatchedRoute:
    route: Route
    path_parameters: dict[str, str]


class Router:
    def __init__(self, routes: list[Route]) -> None:
        # Literal segments win over {parameters}, as API Gateway prefers the most specific resource.
        self._routes = sorted(routes, key=lambda route: (route.path.count("{"), -len(route.path)))
        self._compiled = [(route, route.pattern) for route in self._routes]

    def match(self, method: str, path: str) -> MatchedRoute | None:
        for route, pattern in self._compiled:
            found = pattern.match(path)
            if found and route.method in (method, "ANY"):
                names = _parameter_names(route.path)
                values = found.groupdict()
                return MatchedRoute(route, {name: unquote(values[group]) for name, group in names.items()})
        return None


def _parameter_names(path: str) -> dict[str, str]:
    names = {}
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].removesuffix("+")
            names[name] = path_group(name)
    return names


def proxy_event(
    *,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    matched: MatchedRoute,
    claims: dict[str, str] | None,
    stage: str,
    account_id: str,
    api_id: str,
    source_ip: str,
    host: str,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy event."""
    split = urlsplit(raw_path)
    path = unquote(split.path)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = parse_qs(split.query, keep_blank_values=True)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "resourceId": api_id,
        "resourcePath": matched.route.path,
        "httpMethod": method,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "stage": stage,
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "domainName": host,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {
            "sourceIp": source_ip,
            "userAgent": single_headers.get("User-Agent") or _header(single_headers, "user-agent"),
            "accountId": None,
            "caller": None,
            "user": None,
            "userArn": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "accessKey": None,
            "apiKey": None,
        },
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": matched.route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": matched.path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": text if body else None,
        "isBase64Encoded": encoded if body else False,
    }


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class MalformedResponse(ValueError):
    pass


def proxy_response(payload: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) from a Lambda proxy integration answer; malformed -> MalformedResponse."""
    if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
        raise MalformedResponse("the answer has no integer statusCode")
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if set(payload) - allowed:
        raise MalformedResponse(f"unexpected fields {sorted(set(payload) - allowed)}")
    headers: list[tuple[str, str]] = []
    multi = payload.get("multiValueHeaders") or {}
    for name, value in (payload.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    body = payload.get("body")
    if body is None:
        raw = b""
    elif not isinstance(body, str):
        raise MalformedResponse("body is not a string")
    elif payload.get("isBase64Encoded"):
        raw = base64.b64decode(body)
    else:
        raw = body.encode("utf-8")
    return payload["statusCode"], headers, raw


Invoke = Callable[[str, dict[str, Any], float], InvokeResult]


class Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        routes: list[Route],
        invoke: Invoke,
        public_key: bytes,
        issuer: str,
        stage: str,
        account_id: str,
        port: int = 0,
        host: str = "127.0.0.1",
        health: Callable[[], dict[str, Any]] | None = None,
        timeouts: dict[str, float] | None = None,
        gateway_responses: dict[str, GatewayResponse] | None = None,
    ) -> None:
        unsupported = {route.authorization_type for route in routes} - SUPPORTED_AUTHORIZATION
        if unsupported:
            raise TemplateError(f"authorization types {sorted(unsupported)} are not supported locally")
        super().__init__((host, port), _GatewayHandler)
        self.router = Router(routes)
        self.invoke = invoke
        self.public_key = public_key
        self.issuer = issuer
        self.stage = stage
        self.account_id = account_id
        self.api_id = "local"
        self.health = health or (lambda: {"status": "ok"})
        self.timeouts = timeouts or {}
        self.gateway_responses = gateway_responses or {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        thread.start()
        return thread


class _GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]], request_id: str) -> None:
        self.send_response(status)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, response_type: str, request_id: str, message: str | None = None) -> None:
        status, headers, body = gateway_error(
            response_type, message, request_id, self.server.gateway_responses
        )
        self._send(status, body, headers, request_id)

    def _handle(self) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isascii() or not declared.isdigit():
            self.send_error(400, "Bad Request", "Content-Length is not a length")
            return
        length = int(declared)
        body = self.rfile.read(length) if length else b""
        self.path = self._without_stage(self.path)
        path = urlsplit(self.path).path
        if path == HEALTH_PATH and self.command == "GET":
            self._send(200, json.dumps(self.server.health()).encode(), [], request_id)
            return
        if self.command in ("GET", "HEAD") and (
            path == docs.DOCS_PATH or path.startswith(docs.DOCS_PATH + "/")
        ):
            self._docs(path, request_id)
            return
        matched = self.server.router.match(self.command, unquote(path))
        if matched is None:
            self._error("MISSING_AUTHENTICATION_TOKEN", request_id)
            return
        claims = None
        if matched.route.authorization_type == "COGNITO_USER_POOLS":
            claims = self._claims()
            if claims is None:
                self._error("UNAUTHORIZED", request_id)
                return
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        missing = missing_parameters(
            matched.route, dict(self.headers.items()), query, matched.path_parameters
        )
        if missing:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            self._error("BAD_REQUEST_PARAMETERS", request_id, message)
            return
        if matched.route.function is None:
            mock = matched.route.mock_response or {"statusCode": 200, "headers": {}, "body": b""}
            self._send(mock["statusCode"], mock.get("body", b""), list(mock["headers"].items()), request_id)
            return
        event = proxy_event(
            method=self.command,
            raw_path=self.path,
            headers=list(self.headers.items()),
            body=body,
            matched=matched,
            claims=claims,
            stage=self.server.stage,
            account_id=self.server.account_id,
            api_id=self.server.api_id,
            source_ip=self.client_address[0],
            host=self.headers.get("Host", ""),
        )
        event["requestContext"]["requestId"] = request_id
        timeout = min(
            INTEGRATION_TIMEOUT_SECONDS,
            self.server.timeouts.get(matched.route.function, INTEGRATION_TIMEOUT_SECONDS),
        )
        result = self.server.invoke(matched.route.function, event, timeout)
        if result.timed_out:
            self._error("INTEGRATION_TIMEOUT", request_id)
            return
        if not result.ok:
            self._error("INTEGRATION_FAILURE", request_id)
            return
        try:
            status, headers, raw = proxy_response(result.payload)
        except MalformedResponse:
            self._error("INTEGRATION_FAILURE", request_id)
            return
        self._send(status, raw, headers, request_id)
        elapsed = (time.monotonic() - started) * 1000
        print(
            f"[gateway] {self.command} {self.path} -> {status} ({matched.route.function}, {elapsed:.0f} ms)",
            flush=True,
        )

    def _without_stage(self, raw_path: str) -> str:
        """`/<stage>/v1/...` -> `/v1/...`: the API answers at its stage URL as in the cloud (where the
        OpenAPI document's server is `/<stage>`) and, for short URLs, at the root."""
        prefix = f"/{self.server.stage}"
        if raw_path == prefix or raw_path.startswith((prefix + "/", prefix + "?")):
            return raw_path[len(prefix) :] or "/"
        return raw_path

    def _docs(self, path: str, request_id: str) -> None:
        """Swagger UI over the API's own OpenAPI document (infra/local/docs.py); a local addition,
        like the health route."""
        if path == docs.DOCS_PATH:
            self._send(200, docs.page(), [("Content-Type", "text/html; charset=utf-8")], request_id)
            return
        found = docs.asset(path)
        if found is None:
            self._error("MISSING_AUTHENTICATION_TOKEN", request_id)
            return
        content, content_type = found
        headers = [("Content-Type", content_type), ("Cache-Control", "max-age=3600")]
        self._send(200, content, headers, request_id)

    def _claims(self) -> dict[str, str] | None:
        header = self.headers.get("Authorization")
        if not header:
            return None
        token = header[7:].strip() if header[:7].lower() == "bearer " else header.strip()
        try:
            return verify(token, self.server.public_key, self.server.issuer)
        except InvalidToken:
            return None

    def __getattr__(self, name: str) -> Any:
        """`do_<METHOD>` for every method, odd ones (TRACE, CONNECT, PROPFIND, ...) included: the
        router answers a method no route has as API Gateway does (MISSING_AUTHENTICATION_TOKEN,
        which the template's gateway responses make a 404 problem+json), never http.server's 501."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses itself (a malformed request line, a URI or headers too long) as
        problem+json rather than its HTML page."""
        title = message or self.responses.get(code, ("Error",))[0]
        body = {"type": "about:blank", "title": title, "status": code, "detail": explain or title}
        self.close_connection = True
        self.request_version = self.protocol_version  # a status line even for a garbled request line
        self._send(code, json.dumps(body).encode(), [("Content-Type", PROBLEM_JSON)], str(uuid.uuid4()))
