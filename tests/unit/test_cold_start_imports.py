"""A cold start (import handler + `bootstrap()`) loads only what every invocation of the function
needs (issue 12): what only some paths need (daily steps, ops views, bank parsers, payment
outcomes) is imported on its first use. Each function runs in a fresh interpreter, the way Lambda
starts it, with POWERTOOLS_TRACE_DISABLED=true (no X-Ray patching; the modules are the same)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from typing import Any

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.unit

LAYER = ROOT / "layers" / "scf" / "python"
PARSERS = ["scf.adapters.files.mt940", "scf.adapters.files.camt", "scf.adapters.files.pain002"]
BANK_PARSERS = set(PARSERS)
BANK_LIBRARIES = {"mt940", "defusedxml"}
INQUIRE_AND_REPUBLISH = {
    "scf.service.inquiries",
    "scf.service.outcomes",
    "scf.service.refunds",
    "scf.service.republish",
    "scf.adapters.dynamodb.republish_repository",
}
LEDGER_CHECK = {
    "scf.service.ledger_check",
    "scf.adapters.dynamodb.ledger_reader",
    "scf.adapters.ledger_alarm",
}
DAILY_ONLY = INQUIRE_AND_REPUBLISH | LEDGER_CHECK
OPS_LOAN_VIEW = {"scf.service.loan_history", "scf.adapters.dynamodb.loan_history_reader"}
OPS_OUTCOME = {"scf.service.ops_outcomes"}
LOAN_SIDE_OUTCOMES = {
    "scf.service.outcomes",
    "scf.service.refunds",
    "scf.service.repayment",
    "scf.service.lending_day",
    "scf.service.ledger_check",
}

# What each function's child does after its cold start: the paths its cold start leaves out.
FIRST_USE = {
    "apply_repayment": """
job = services.daily()
history = services.loan_history()
outcome = services.ops_outcomes()
used = {
    "steps": sorted(job.steps),
    "same_job": job is services.daily(),
    "history": type(history).__name__,
    "ops_outcome": type(outcome).__name__,
}
""",
    "disburse": """
job = services.daily()
used = {"steps": sorted(job.steps), "same_job": job is services.daily()}
""",
    "ingest_settlement": """
from scf.adapters.files.bank_detect import parser_for
parsers = [parser_for(fmt).__module__ for fmt in ("mt940", "camt.053", "pain.002")]
outcomes = services.ingest.matcher.outcomes.built()
used = {"parsers": parsers, "outcomes": type(outcomes).__name__}
""",
    "score_application": "used = {}",
}

CHILD = """
import gc, json, sys
sys.path[:0] = [{function_dir!r}, {layer!r}]
import handler
gc_after_import = {{"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}
services = handler.bootstrap()
print(json.dumps({{"modules": sorted(sys.modules), "gc": gc_after_import}}), flush=True)
{first_use}
print(json.dumps({{"used": used, "after": sorted(sys.modules)}}))
"""


def banks() -> str:
    stages = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]["scf:stages"]
    return json.dumps(stages["local"]["banks"])


@cache
def cold_start(function: str) -> dict[str, Any]:
    """The modules loaded by the function's cold start (`cold`), the garbage collector's state once
    the handler is imported (`gc`), what its first uses returned (`used`; the error if they
    failed) and the modules loaded after them (`after`)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "TABLE_NAME": "scf-test",
        "POWERTOOLS_SERVICE_NAME": function,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "BANKS": banks(),
        "OUTBOUND_BUCKET": "outbound",
        "INBOX_BUCKET": "inbox",
    }
    child = CHILD.format(
        function_dir=str(ROOT / "functions" / function), layer=str(LAYER), first_use=FIRST_USE[function]
    )
    done = subprocess.run(
        [sys.executable, "-c", child], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.splitlines()
    assert lines, done.stderr  # the cold start itself failed
    first_uses = json.loads(lines[1]) if len(lines) > 1 else {"used": done.stderr, "after": []}
    cold = json.loads(lines[0])
    return {"cold": cold["modules"], "gc": cold["gc"], **first_uses}


def loaded(function: str, modules: set[str]) -> set[str]:
    """Which of `modules` the function's cold start loaded."""
    return modules & set(cold_start(function)["cold"])


def missing(run: dict[str, Any], modules: set[str]) -> set[str]:
    """Which of `modules` are still not loaded after the first uses."""
    return modules - set(run["after"])


def test_the_repayments_cold_start_leaves_out_the_daily_steps_and_the_ops_routes() -> None:
    deferred = DAILY_ONLY | OPS_LOAN_VIEW | OPS_OUTCOME | BANK_PARSERS | BANK_LIBRARIES

    assert loaded("apply_repayment", deferred) == set()


def test_the_repayments_daily_steps_and_ops_routes_are_built_on_first_use() -> None:
    run = cold_start("apply_repayment")

    assert run["used"] == {
        "steps": ["DUE_SOON", "INQUIRE", "LEDGER_CHECK", "OVERDUE", "REFUND", "REPUBLISH"],
        "same_job": True,
        "history": "LoanHistoryService",
        "ops_outcome": "OpsOutcomeService",
    }
    assert missing(run, DAILY_ONLY | OPS_LOAN_VIEW | OPS_OUTCOME) == set()


def test_the_payouts_cold_start_leaves_out_the_daily_steps() -> None:
    deferred = DAILY_ONLY | {"scf.service.repayment"} | BANK_PARSERS | BANK_LIBRARIES

    assert loaded("disburse", deferred) == set()


def test_the_payouts_daily_steps_are_built_on_the_first_daily_message() -> None:
    run = cold_start("disburse")

    assert run["used"] == {"steps": ["INQUIRE", "REPUBLISH"], "same_job": True}
    assert missing(run, INQUIRE_AND_REPUBLISH | {"scf.service.repayment"}) == set()


def test_the_ingest_cold_start_leaves_out_the_bank_parsers_and_the_payment_outcomes() -> None:
    assert loaded("ingest_settlement", BANK_PARSERS | BANK_LIBRARIES | LOAN_SIDE_OUTCOMES) == set()


def test_the_ingest_bank_parsers_and_payment_outcomes_are_loaded_on_first_use() -> None:
    run = cold_start("ingest_settlement")

    assert run["used"] == {"parsers": PARSERS, "outcomes": "PaymentOutcomeService"}
    assert missing(run, BANK_PARSERS | BANK_LIBRARIES | {"scf.service.outcomes"}) == set()


def test_the_credit_cold_start_loads_no_daily_step_nor_bank_file_module() -> None:
    deferred = DAILY_ONLY | {"scf.service.lending_day"} | BANK_PARSERS | BANK_LIBRARIES

    assert loaded("score_application", deferred) == set()


@pytest.mark.parametrize("function", sorted(FIRST_USE))
def test_a_handler_freezes_what_its_import_allocated_and_collects_again(function: str) -> None:
    """Collection is off while the modules load (docs/benchmarks.md, "Cold start"), never after."""
    state = cold_start(function)["gc"]

    assert state["enabled"] is True
    assert state["frozen"] > 10_000  # the modules' objects, in the permanent generation
