"""Each decision stores its policy version and inputs; `explain` recomputes it from them under that
version, after the live policy has changed, and notices a stored decision that does not follow."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from scf.adapters.dynamodb.credit_repository import DynamoCreditRepository
from scf.adapters.dynamodb.models import ApplicationItem
from scf.clock import FixedClock
from scf.domain.line_terms import LineTerms
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy
from scf.domain.pool import Document
from scf.service.credit import CreditService, explain
from tests.support import seed_supplier

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 28)
# The old policy tolerated 20% dilution (the live one, the contract default, 10%) and advanced only
# half of received goods (the live one 0.70).
OLD = replace(
    DEFAULT_POLICY,
    policy_version="2026-06-01.1",
    high_dilution=Decimal("0.20"),
    stage_rules=tuple(
        replace(rule, ratio=Decimal("0.50")) if rule.stage == "RECEIVED" else rule
        for rule in DEFAULT_POLICY.stage_rules
    ),
)
VERSIONS = {p.policy_version: p for p in (OLD, DEFAULT_POLICY)}


def seed(supplier_id: str, *, verified: bool = True) -> None:
    documents = (
        Document("GR-1", "GOODS_RECEIPT", date(2026, 3, 1), 100_000_000),
        Document("GR-2", "GOODS_RECEIPT", date(2026, 10, 1), 100_000_000),
        Document("RT-2", "RETURN", date(2026, 10, 20), 15_000_000, references=("GR-2",)),  # 15%
    )
    seed_supplier(supplier_id, documents, verified=verified)


def service(policy: CreditPolicy) -> CreditService:
    return CreditService(
        DynamoCreditRepository(), FixedClock(TODAY), policy=policy, policies=VERSIONS.__getitem__
    )


BODY = {"amount": "50000.00", "currency": "CNY", "term_days": 30}


def test_an_old_decision_is_re_explained_under_its_own_version(tables):
    seed("S-1")
    first = service(OLD).apply("S-1", BODY, "k-1")
    assert (first["status"], first["policy_version"], first["grade"]) == ("APPROVED", "2026-06-01.1", "C")
    # The policy changed: the same request today is held for review ...
    live = service(DEFAULT_POLICY)
    today = live.apply("S-1", BODY, "k-2")
    assert (today["status"], [r["code"] for r in today["reasons"]]) == ("REVIEW", ["HIGH_DILUTION"])
    # ... and the old decision is still explained by the inputs and the version it stored.
    explanation = live.explain("S-1", first["application_id"])
    assert explanation is not None and explanation.matches, explanation
    assert explanation.policy_version == "2026-06-01.1"
    # Under the old ratios, 850,000.00 received and eligible x 0.50 = 425,000.00 was the limit
    # (below the cap of 500,000.00), and so the available amount.
    assert explanation.recomputed == {
        "status": "APPROVED",
        "reasons": [],
        "grade": "C",
        "annual_rate": "0.12",
        "line": {"limit_minor": 42_500_000, "available_minor": 42_500_000},
    }
    explained_now = live.explain("S-1", today["application_id"])
    assert explained_now is not None and explained_now.matches
    assert explained_now.recomputed["reasons"] == today["reasons"]  # messages too, word for word
    stored = ApplicationItem.get(*ApplicationItem.key(first["application_id"]))
    assert stored.inputs["policy_version"] == "2026-06-01.1"
    assert (stored.inputs["available_minor"], stored.inputs["limit"]) == (42_500_000, "425000.00")
    assert stored.inputs["line"] == {
        "as_of": "2026-11-28",
        "stages": [["ORDERED", 0, 0], ["RECEIVED", 185_000_000, 85_000_000], ["INVOICED", 0, 0]],
        "receipts_cap_window_minor": 100_000_000,
        "outstanding_minor": 0,
    }
    # The version matters: the same terms under the live ratios give the cap, 500,000.00.
    assert LineTerms.from_json(stored.inputs["line"]).derive(DEFAULT_POLICY).available_minor == 50_000_000
    # Decided after the first loan reserved 50,000.00 of it.
    assert explained_now.recomputed["line"] == {"limit_minor": 50_000_000, "available_minor": 45_000_000}
    assert live.explain("S-1", "APNOPE") is None


def test_a_stored_decision_that_does_not_follow_from_its_inputs_is_noticed(tables):
    seed("S-1")
    answer = service(DEFAULT_POLICY).apply("S-1", {**BODY, "amount": "500000.01"}, "k-1")
    assert answer["status"] == "DECLINED"
    record = DynamoCreditRepository().get_application("S-1", answer["application_id"])
    assert record is not None and explain(record, VERSIONS.__getitem__).matches
    tampered = replace(record, inputs={**record.inputs, "available_minor": 60_000_000})
    explanation = explain(tampered, VERSIONS.__getitem__)
    assert not explanation.matches
    assert explanation.recomputed["reasons"] != explanation.stored["reasons"]
    # The available amount no longer follows from the stored line terms either.
    assert explanation.recomputed["line"] != explanation.stored["line"]
    assert not explain(replace(record, grade="A"), VERSIONS.__getitem__).matches
    # A stored line term that does not give the stored available amount is noticed by itself:
    # 100,000.00 received and eligible x 0.70 would put the limit at 70,000.00, below the cap.
    line = record.inputs["line"]
    stages = [
        [stage, open_, 10_000_000 if stage == "RECEIVED" else eligible]
        for stage, open_, eligible in line["stages"]
    ]
    misread = replace(record, inputs={**record.inputs, "line": {**line, "stages": stages}})
    explanation = explain(misread, VERSIONS.__getitem__)
    assert explanation.recomputed["reasons"] == explanation.stored["reasons"]
    assert not explanation.matches and explanation.recomputed["line"] != explanation.stored["line"]


def test_an_ops_approval_is_explained_with_its_own_inputs(tables):
    seed("S-2", verified=False)
    live = service(DEFAULT_POLICY)
    held = live.apply("S-2", BODY, "k-1")
    assert [r["code"] for r in held["reasons"]] == ["HIGH_DILUTION", "BANK_ACCOUNT_UNVERIFIED"]
    approved = live.review(held["application_id"], {"decision": "APPROVE", "note": "checked"}, "ops-1", "r-1")
    assert approved is not None and approved["status"] == "APPROVED"
    explanation = live.explain("S-2", held["application_id"])
    assert explanation is not None and explanation.matches, explanation
    assert explanation.stored["status"] == "REVIEW" and explanation.stored["approval_status"] == "APPROVED"
    assert explanation.recomputed["approval_line"] == {
        "limit_minor": 50_000_000,
        "available_minor": 50_000_000,
    }
