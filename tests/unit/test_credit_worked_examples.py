"""Every worked example of docs/credit-policy.md: its documents, applied in order, give every number
its table states, and each stated decision (status, every fired rule, grade and rate)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from scf.adapters.files.platform_csv import read_rows
from scf.domain.decision import ApplicationRequest, DecisionInputs, decide
from scf.domain.files import validate_document
from scf.domain.money import format_amount, parse_amount
from scf.domain.policy import DEFAULT_POLICY, STAGES
from scf.domain.pool import Pool
from scf.service.credit import credit_line_view

pytestmark = pytest.mark.unit

DOC = Path(__file__).parents[2] / "docs" / "credit-policy.md"


def _examples() -> list[tuple[str, str, list[tuple[str, str]]]]:
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^### (Example \d+: .*)$", text, flags=re.M)
    examples = []
    for title, body in zip(sections[1::2], sections[2::2], strict=True):
        csv_block = re.search(r"```csv\n(.*?)```", body, re.S)
        assert csv_block, title
        rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|$", body, re.M)
        examples.append((title, csv_block.group(1), rows))
    return examples


EXAMPLES = _examples()


def test_the_policy_document_has_the_worked_examples_it_promises():
    titles = [title for title, _, _ in EXAMPLES]
    assert len(titles) >= 4, titles
    stated = [value for _, _, rows in EXAMPLES for name, value in rows if name == "decision"]
    statuses = {value.split(" -> ")[1].split()[0] for value in stated}
    assert statuses == {"APPROVED", "DECLINED", "REVIEW"}


@pytest.mark.parametrize(("title", "csv_block", "rows"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_worked_example(title, csv_block, rows):
    expected = dict(rows)
    today = date.fromisoformat(expected["as_of"])
    pool = Pool()
    for row in read_rows(csv_block.splitlines(keepends=True)):
        record = validate_document(row, today)
        assert not isinstance(record, list), record
        pool.apply(record.document)
    line = pool.credit_line(today, DEFAULT_POLICY, outstanding_minor=parse_amount(expected["outstanding"]))
    stages = {v.stage: v for v in line.stages}
    for stage in STAGES:
        view = stages[stage]
        terms = (view.open_minor, view.eligible_minor, view.amount_minor)
        shown = " ".join(format_amount(term) for term in terms)
        assert shown == expected[stage], stage
    assert format_amount(line.borrowing_base_minor) == expected["borrowing_base"]
    view = credit_line_view("S", "CNY", line, DEFAULT_POLICY)  # the answer a supplier reads
    for name in ("borrowing_base_exact", "limit_source"):
        if name in expected:
            assert view[name] == expected[name], name
    assert format_amount(line.facility_cap_minor) == expected["facility_cap"]
    assert format_amount(line.available_minor) == expected["available"]
    metrics = pool.metrics(today, DEFAULT_POLICY)
    assert str(metrics.history_days) == expected["history_days"]
    assert str(metrics.dilution) == expected["dilution"]
    inputs = DecisionInputs("ACTIVE", True, 0, line.available_minor, metrics)
    decisions = [value for name, value in rows if name == "decision"]
    assert decisions, title
    for stated in decisions:
        amount, outcome = stated.split(" -> ")
        status, _, rules = outcome.partition(" ")
        decision = decide(ApplicationRequest(parse_amount(amount), "CNY", 30), inputs, DEFAULT_POLICY)
        assert decision.status == status, stated
        assert [r.code for r in decision.reasons] == (rules.split(",") if rules else []), stated
        assert (decision.grade, str(decision.annual_rate)) == (expected["grade"], expected["annual_rate"])
