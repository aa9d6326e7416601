"""The running local stack for end-to-end tests: `python -m infra.local` as a subprocess on free
ports with its own state directory; its log is attached to the report of a failing test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local.process import StackFailed, StackProcess, log_tail, start_stack


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "funcargs", {}).get("local_stack")
    if report.failed and isinstance(stack, StackProcess):
        report.sections.append(("local stack log (tail)", log_tail(stack.log)))


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    try:
        stack = start_stack(tmp_path_factory.mktemp("scf-local"))
    except StackFailed as exc:
        pytest.fail(str(exc))
    yield stack
    stack.stop()
