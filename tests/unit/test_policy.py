"""The policy document: versioned, frozen, the contract's defaults."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from scf.domain.policy import DEFAULT_POLICY, INVOICED, ORDERED, RECEIVED, CreditPolicy

pytestmark = pytest.mark.unit


def test_defaults_are_the_contract_values():
    p = DEFAULT_POLICY
    assert [(r.stage, r.ratio, r.window_days) for r in p.stage_rules] == [
        (ORDERED, Decimal("0.30"), 60),
        (RECEIVED, Decimal("0.70"), 120),
        (INVOICED, Decimal("0.90"), 120),
    ]
    assert p.facility_cap_max_minor == 5_000_000_000
    assert (p.term_min_days, p.term_max_days, p.min_amount_minor) == (15, 90, 100_000)
    assert (p.short_history_days, p.high_dilution, p.large_amount_minor) == (
        90,
        Decimal("0.10"),
        1_000_000_000,
    )
    assert (p.grade_a.annual_rate, p.grade_b.annual_rate, p.grade_c.annual_rate) == (
        Decimal("0.08"),
        Decimal("0.10"),
        Decimal("0.12"),
    )
    assert (p.penalty_multiplier, p.day_count, p.timezone) == (Decimal("1.5"), "ACT/360", "Asia/Shanghai")


def test_policy_is_frozen_and_versioned():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.high_dilution = Decimal("0.5")  # type: ignore[misc]
    assert DEFAULT_POLICY.policy_version == "2026-11-28.1"
    changed = dataclasses.replace(DEFAULT_POLICY, policy_version="2026-12-01.1", high_dilution=Decimal("0.2"))
    assert changed.policy_version != DEFAULT_POLICY.policy_version


def test_history_horizon_covers_every_window():
    assert DEFAULT_POLICY.history_horizon_days == 180
    assert CreditPolicy(sales_baseline_days=200).history_horizon_days == 230


def test_no_float_in_the_policy():
    for f in dataclasses.fields(DEFAULT_POLICY):
        assert not isinstance(getattr(DEFAULT_POLICY, f.name), float), f.name
