"""One composition root per function (`bootstrap()`), and every root refuses a policy whose time zone
is not POLICY_TIMEZONE (contract section 2: "today" is the business date in the policy's zone)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scf.config import ConfigError, settings
from tests.support import ROOT, load_handler

pytestmark = pytest.mark.unit

FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/handler.py"))
OLD_ROOTS = ("service", "services", "wiring", "disbursement")


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TABLE_NAME", "scf-test")
    monkeypatch.setenv("POLICY_TIMEZONE", "Europe/Berlin")
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_there_are_four_functions() -> None:
    assert FUNCTIONS == ["apply_repayment", "disburse", "ingest_settlement", "score_application"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_builds_its_services_in_bootstrap_only(function: str) -> None:
    handler = load_handler(function)

    assert callable(handler.bootstrap)
    assert [name for name in OLD_ROOTS if hasattr(handler, name)] == []


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.usefixtures("berlin")
def test_each_function_refuses_to_start_with_a_policy_in_another_time_zone(function: str) -> None:
    handler = load_handler(function)

    with pytest.raises(ConfigError, match="Europe/Berlin"):
        handler.bootstrap()
