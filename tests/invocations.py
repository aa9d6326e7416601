"""Concurrent Lambda invocations for tests: each in its own process, as Lambda runs one invocation
per execution environment at a time.

Threads will not do. Powertools' event handler keeps the current event on a class attribute
(`BaseRouter.current_event`), one per process for every resolver in it, so another thread's event
can replace a thread's own between `resolve` storing it and the route reading it. CI saw exactly
that: two threads decided the same request (the same Idempotency-Key and body), and one of the
24 answers was another application's.

The processes are forked from a fork server that imported the handlers' dependencies once and runs
no thread of its own, so forking is safe and cheap. Each process takes the environment it is given
(the test's, after its monkeypatching), so it talks to the store the environment names: a moto
*server*, the one store that processes can share. A barrier after each invocation's first
`BatchGetItem` makes every invocation decide on the same snapshot; after it the calls race freely.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
from dataclasses import dataclass
from typing import Any

# What a handler imports, imported once in the fork server rather than in every process.
PRELOAD = [
    "boto3",
    "botocore.client",
    "pynamodb.models",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "scf.service.credit",
    "scf.adapters.dynamodb.credit_repository",
    "tests.invocations",
]
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Invocation:
    """One invocation's answer (status, body) and the DynamoDB operations it made, in order."""

    status: int
    body: dict[str, Any]
    operations: list[str]


def invoke_concurrently(
    function: str, events: list[dict[str, Any]], *, sync_after: str = "BatchGetItem"
) -> list[Invocation]:
    """Invoke `functions/<function>/handler.py` with every event at once, one process each; the
    answers in event order. Any process's failure (or a missing answer) fails the caller."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    barrier = context.Barrier(len(events))
    results: Any = context.Queue()
    environment = dict(os.environ)
    processes = [
        context.Process(
            target=_invoke,
            args=(function, i, event, environment, barrier, results, sync_after),
            name=f"invocation-{i}",
        )
        for i, event in enumerate(events)
    ]
    for process in processes:
        process.start()
    answers: dict[int, Invocation] = {}
    errors: list[str] = []
    try:
        for _ in events:
            index, invocation, error = results.get(timeout=TIMEOUT_SECONDS)
            if error is not None:
                errors.append(f"invocation {index}: {error}")
            else:
                answers[index] = invocation
    except queue.Empty:
        errors.append(f"{len(events) - len(answers) - len(errors)} invocations never answered")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    assert not errors, errors
    return [answers[i] for i in range(len(events))]


def _invoke(
    function: str,
    index: int,
    event: dict[str, Any],
    environment: dict[str, str],
    barrier: Any,
    results: Any,
    sync_after: str,
) -> None:
    """In the invocation's process: the test's environment, a fresh handler module, every
    DynamoDB operation recorded, the barrier after the first `sync_after` call."""
    try:
        os.environ.clear()
        os.environ.update(environment)
        import botocore.client

        from scf.config import settings
        from tests.support import LambdaContext, load_handler

        settings.cache_clear()
        operations: list[str] = []
        real = botocore.client.BaseClient._make_api_call
        synced = False

        def recorded(self: Any, operation_name: str, api_params: Any) -> Any:
            nonlocal synced
            operations.append(operation_name)
            result = real(self, operation_name, api_params)
            if operation_name == sync_after and not synced:
                synced = True
                barrier.wait(timeout=60)
            return result

        botocore.client.BaseClient._make_api_call = recorded  # type: ignore[method-assign]
        module = load_handler(function)
        answer = module.handler(event, LambdaContext(function))
        invocation = Invocation(answer["statusCode"], json.loads(answer["body"]), operations)
        results.put((index, invocation, None))
    except BaseException as exc:  # reported to the test, which fails on it
        barrier.abort()
        results.put((index, None, f"{type(exc).__name__}: {exc}"))
