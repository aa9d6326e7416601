"""A property-based fuzz of the running local stack with its own OpenAPI document (schemathesis,
stateful: the document's links lead it from an application to its loan to a repayment), as a
supplier and as ops. Every answer must be no 5xx, a status, content type and body the document
lists, a valid request by the document accepted, an invalid one refused with a 4xx, and a missing or
wrong token refused. docs/security.md says what it proves; SCF_FUZZ_EXAMPLES runs it longer."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from infra.local.loop import LocalClient, Timeline, onboard, wait_for_loan
from infra.local.process import StackFailed, StackProcess, start_stack
from infra.openapi import document
from scf.adapters.http import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

# Bounded for `make test` (2 cores): each scenario is up to STEPS calls.
EXAMPLES = int(os.environ.get("SCF_FUZZ_EXAMPLES", "40"))
STEPS = 6
CHECKS = {
    # Schemathesis wants 405 with Allow for a method the document does not list. API Gateway (REST)
    # answers such a method as a missing route, which the stack makes a 404 problem+json (as the
    # local gateway does); tests/e2e/test_api_access_matrix.py holds every odd method to that.
    "unsupported_method": {"enabled": False},
}


def fuzzed_schema(local: LocalClient, token: str) -> Any:
    """The document as served, the stack's URL, the caller's bearer token (explicit auth, so the
    ignored_auth check also sends each request without it and with a wrong one)."""
    config = schemathesis.Config.from_dict({"checks": CHECKS})
    schema = schemathesis.openapi.from_dict(document(server_url="/"), config=config)
    schema.config.update(base_url=local.api)

    @schema.auth()
    class Bearer:
        def get(self, case: Any, context: Any) -> str:
            return token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    @schema.hook("map_query")
    def only_given_page_tokens(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
        """A `next_token` is opaque: only one the API gave is valid (the document says so; a forged
        one is 422 INVALID_TOKEN, tests/unit/test_page_tokens.py). The links pass the real ones."""
        if query:
            query.pop("next_token", None)
        return query

    @schema.hook("map_headers")
    def fresh_idempotency_keys(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        """The same key with another body is 422 by contract; generated keys are short and collide,
        so a valid key is made unique per request (an invalid one is left to be refused)."""
        key = (headers or {}).get(IDEMPOTENCY_HEADER)
        if headers and isinstance(key, str) and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
            headers[IDEMPOTENCY_HEADER] = f"{key[:90]}#{uuid.uuid4().hex}"
        return headers

    return schema


def run(schema: Any) -> None:
    schema.as_state_machine().run(
        settings=hypothesis.settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,  # a call's time is the stack's, not the property's
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
    )


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """A stack of the fuzz's own: what it writes (odd repayments, resolutions, reviews) never
    reaches the other end-to-end tests' stack and its daily job."""
    try:
        stack = start_stack(tmp_path_factory.mktemp("scf-local-fuzz"))
    except StackFailed as exc:
        pytest.fail(str(exc))
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def local(local_stack: Any) -> LocalClient:
    return LocalClient(local_stack.env)


def test_the_api_holds_to_its_document_for_a_supplier_with_a_loan(local: LocalClient) -> None:
    supplier = "SUP-FUZZ-" + uuid.uuid4().hex[:6].upper()
    onboard(local, supplier, Timeline())
    token = local.token(supplier_id=supplier)
    request = {"amount": "100000.00", "currency": "CNY", "term_days": 30}
    approved = local.call("POST", "/v1/applications", token, request, idempotency_key="fuzz-seed").json()
    wait_for_loan(local, token, approved["loan_id"], "ACTIVE", [])  # a loan to repay and extend
    run(fuzzed_schema(local, token))


@pytest.mark.xfail(
    raises=hypothesis.errors.FlakyStrategyDefinition,
    strict=False,
    reason="hypothesis cannot replay a stateful run whose links read live state (the review queue "
    "changes as the run decides reviews); any finding of the API itself still fails the test",
)
def test_the_api_holds_to_its_document_for_ops_with_a_review_waiting(local: LocalClient) -> None:
    held = "SUP-FUZZ-R-" + uuid.uuid4().hex[:6].upper()
    onboard(local, held, Timeline(), verified=False)  # its application waits for ops
    request = {"amount": "100000.00", "currency": "CNY", "term_days": 30}
    answer = local.call("POST", "/v1/applications", local.token(supplier_id=held), request, "fuzz-held")
    assert answer.json()["status"] == "REVIEW", answer.text
    run(fuzzed_schema(local, local.token(ops=True)))
