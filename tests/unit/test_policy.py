"""The policy document: versioned, frozen, validated (errors name the field), the contract's defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from importlib import resources

import pytest

from scf.domain.policy import (
    CURRENT_POLICY_VERSION,
    DEFAULT_POLICY,
    INVOICED,
    ORDERED,
    POLICY_VERSION_ENV,
    RECEIVED,
    CreditPolicy,
    ExtensionRule,
    PolicyError,
    live_policy,
    load_policy,
    policy_from_document,
    shipped_versions,
    version_key,
)
from scf.domain.waterfall import INTEREST, PENALTY, PRINCIPAL

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


def test_defaults_are_the_contract_repayment_extension_and_daily_job_values():
    policy = CreditPolicy()

    assert policy.waterfall_order == (PENALTY, INTEREST, PRINCIPAL)
    assert policy.extension == ExtensionRule(days_before_maturity=7, days_after_maturity=3, extension_days=30)
    assert (policy.sweep_enabled, policy.sweep_ratio, policy.due_soon_days) == (True, Decimal("1.00"), 3)


def test_policy_is_frozen_and_versioned():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.high_dilution = Decimal("0.5")  # type: ignore[misc]
    assert DEFAULT_POLICY.policy_version == "2026-12-03.1"
    changed = dataclasses.replace(DEFAULT_POLICY, policy_version="2026-12-01.1", high_dilution=Decimal("0.2"))
    assert changed.policy_version != DEFAULT_POLICY.policy_version


def test_history_horizon_covers_every_window():
    assert DEFAULT_POLICY.history_horizon_days == 180
    assert CreditPolicy(sales_baseline_days=200).history_horizon_days == 230


def test_no_float_in_the_policy():
    for f in dataclasses.fields(DEFAULT_POLICY):
        assert not isinstance(getattr(DEFAULT_POLICY, f.name), float), f.name


# ---- the policy document ----------------------------------------------------------------------


def test_the_shipped_current_document_is_the_contract_defaults():
    assert CURRENT_POLICY_VERSION in shipped_versions()
    assert load_policy(CURRENT_POLICY_VERSION) == DEFAULT_POLICY
    assert policy_from_document(DEFAULT_POLICY.to_document()) == DEFAULT_POLICY


def test_the_document_2026_12_03_1_states_the_defaults():
    policy = load_policy("2026-12-03.1")

    assert policy == CreditPolicy()


def test_the_document_2026_11_28_1_loads_with_the_values_its_decisions_ran_under():
    policy = load_policy("2026-11-28.1")

    assert policy == dataclasses.replace(CreditPolicy(), policy_version="2026-11-28.1")
    assert policy.extension == ExtensionRule(days_before_maturity=7, days_after_maturity=3, extension_days=30)
    assert (policy.waterfall_order, policy.due_soon_days) == ((PENALTY, INTEREST, PRINCIPAL), 3)


@pytest.mark.parametrize("name", ["waterfall_order", "extension", "due_soon_days"])
def test_a_document_from_the_version_that_introduced_a_field_must_state_it(name):
    document = _doc(policy_version="2026-12-03.1", **{name: DELETE})

    with pytest.raises(PolicyError) as caught:
        policy_from_document(document)

    assert (caught.value.field, caught.value.message.startswith("is required")) == (name, True)


def test_a_document_older_than_a_field_may_still_state_it():
    document = _doc(policy_version="2026-11-30.1", due_soon_days=5)

    assert policy_from_document(document).due_soon_days == 5


# A shipped document never changes: its bytes are pinned here when it ships, never edited after.
SHIPPED_SHA256 = {
    "2026-11-28.1": "ec99758a7177cc8d0a097500ba0608b7629ebdde5738b7e8e3b1919feaec4a32",
    "2026-12-03.1": "0981225eade594a0409fba938a36e9f9795ce34d475cbde222d7cf799729cbad",
}


@pytest.mark.parametrize("version", shipped_versions())
def test_a_shipped_document_never_changes(version):
    data = resources.files("scf.policy").joinpath(f"{version}.json").read_bytes()

    assert hashlib.sha256(data).hexdigest() == SHIPPED_SHA256.get(version, "pin the new document here")


def test_versions_sort_by_date_then_number():
    versions = ["2026-12-03.10", "2026-12-03.9", "2026-11-28.1"]

    assert sorted(versions, key=version_key) == ["2026-11-28.1", "2026-12-03.9", "2026-12-03.10"]


@pytest.mark.parametrize("version", shipped_versions())
def test_every_shipped_document_is_valid_and_named_by_its_version(version):
    raw = json.loads(resources.files("scf.policy").joinpath(f"{version}.json").read_text(encoding="utf-8"))
    assert raw["policy_version"] == version
    assert load_policy(version).policy_version == version


def _doc(**changes):
    document = DEFAULT_POLICY.to_document()
    for path, value in changes.items():
        target = document
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return document


DELETE = object()


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"high_dilution": 0.1}, "high_dilution", "decimal string"),
        ({"high_dilution": "NaN"}, "high_dilution", "decimal string"),
        ({"high_dilution": "ten percent"}, "high_dilution", "decimal string"),
        ({"high_dilution": "1.5"}, "high_dilution", "from 0 to 1"),
        ({"term_min_days": "15"}, "term_min_days", "integer"),
        ({"term_min_days": True}, "term_min_days", "integer"),
        ({"term_max_days": 10}, "term_max_days", "at least term_min_days"),
        ({"min_amount_minor": 0}, "min_amount_minor", "positive"),
        ({"stage_rules__1__ratio": "1.01"}, "stage_rules[1].ratio", "from 0 to 1"),
        ({"stage_rules__2__window_days": -1}, "stage_rules[2].window_days", "at least 0"),
        ({"stage_rules__0__stage": "SHIPPED"}, "stage_rules[0].stage", "one of"),
        ({"stage_rules__0__colour": "red"}, "stage_rules[0].colour", "not a policy field"),
        ({"grade_a__annual_rate": "-0.01"}, "grade_a.annual_rate", "from 0 to 1"),
        ({"grade_b__grade": "b"}, "grade_b.grade", "capital letter"),
        ({"grade_c__grade": "A"}, "grade_c.grade", "different letters"),
        ({"day_count": "30/360"}, "day_count", "one of"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"sweep_enabled": "yes"}, "sweep_enabled", "true or false"),
        ({"policy_version": ""}, "policy_version", "non-empty"),
        ({"large_amount": "10000000.00"}, "large_amount", "not a policy field"),
        ({"penalty_multiplier": DELETE}, "penalty_multiplier", "is required"),
        ({"stage_rules": {"ORDERED": "0.30"}}, "stage_rules", "must be a list"),
        ({"waterfall_order": ["interest", "penalty"]}, "waterfall_order", "once each"),
        ({"waterfall_order": ["penalty", "interest", "interest"]}, "waterfall_order", "once each"),
        ({"waterfall_order": ["penalty", "interest", "fees"]}, "waterfall_order", "once each"),
        ({"waterfall_order": "penalty,interest,principal"}, "waterfall_order", "must be a list"),
        ({"waterfall_order": [1, "interest", "principal"]}, "waterfall_order[0]", "must be a string"),
        ({"extension__days_before_maturity": -1}, "extension.days_before_maturity", "at least 0"),
        ({"extension__days_after_maturity": -1}, "extension.days_after_maturity", "at least 0"),
        ({"extension__extension_days": 0}, "extension.extension_days", "positive"),
        ({"extension__extension_days": 3}, "extension.extension_days", "more than days_after_maturity"),
        ({"extension__grace_days": 2}, "extension.grace_days", "not a policy field"),
        ({"extension": 30}, "extension", "must be an object"),
        ({"due_soon_days": 0}, "due_soon_days", "positive"),
        ({"due_soon_days": "3"}, "due_soon_days", "integer"),
    ],
)
def test_an_invalid_document_is_refused_naming_the_field(changes, field, fragment):
    with pytest.raises(PolicyError) as caught:
        policy_from_document(_doc(**changes))
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_stages_must_be_the_three_in_order():
    document = _doc()
    document["stage_rules"] = list(reversed(document["stage_rules"]))
    with pytest.raises(PolicyError) as caught:
        policy_from_document(document)
    assert caught.value.field == "stage_rules"


def test_a_document_is_an_object():
    with pytest.raises(PolicyError) as caught:
        policy_from_document(["not", "a", "policy"])
    assert caught.value.field == "document"


def test_the_live_policy_is_the_shipped_version_the_environment_names():
    assert live_policy({}) is load_policy(CURRENT_POLICY_VERSION)
    assert live_policy({POLICY_VERSION_ENV: CURRENT_POLICY_VERSION}) == DEFAULT_POLICY
    with pytest.raises(PolicyError) as caught:
        live_policy({POLICY_VERSION_ENV: "1999-01-01.1"})
    assert caught.value.field == "policy_version"


def test_the_documents_ship_in_the_shared_layer_asset():
    """The CDK's shared layer is layers/scf staged by infra/assets.py; Lambda puts its python/ on
    sys.path, where `scf.policy` finds its documents."""
    from infra.assets import compiled
    from infra.stack import SHARED_LAYER_DIR

    staged = compiled(SHARED_LAYER_DIR)

    for version in shipped_versions():
        document = staged / "python" / "scf" / "policy" / f"{version}.json"
        assert document.read_bytes() == resources.files("scf.policy").joinpath(f"{version}.json").read_bytes()
