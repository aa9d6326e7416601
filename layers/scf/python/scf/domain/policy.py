"""The credit policy: every default of the contract in one versioned, validated document.

Invariant: a shipped document (`scf/policy/<policy_version>.json`) never changes and always loads,
so a decision, which records its `policy_version`, can be re-explained; docs/credit-policy.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scf.domain.waterfall import BUCKETS, CONTRACT_ORDER, is_waterfall_order
from scf.errors import InvalidInput

ORDERED = "ORDERED"
RECEIVED = "RECEIVED"
INVOICED = "INVOICED"
STAGES: tuple[str, ...] = (ORDERED, RECEIVED, INVOICED)
DAY_COUNTS = ("ACT/360", "ACT/365F")

POLICY_PACKAGE = "scf.policy"
POLICY_VERSION_ENV = "CREDIT_POLICY_VERSION"
CURRENT_POLICY_VERSION = "2026-12-03.1"


class PolicyError(InvalidInput):
    """A policy document is invalid; `field` is the path of the offending value."""

    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, code="INVALID_POLICY", field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _ratio(field: str, value: Decimal, *, upper: Decimal | None = Decimal(1)) -> None:
    if value < 0 or (upper is not None and value > upper):
        bound = f"from 0 to {upper}" if upper is not None else "at least 0"
        raise PolicyError(field, f"must be {bound}, got {value}")


def _positive(field: str, value: int, *, zero: bool = False) -> None:
    if value < 0 or (value == 0 and not zero):
        raise PolicyError(field, f"must be {'at least 0' if zero else 'positive'}, got {value}")


@dataclass(frozen=True)
class StageRule:
    stage: str
    ratio: Decimal  # advance ratio on the eligible open amount
    window_days: int  # eligible while the document's age is <= this

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise PolicyError("stage", f"must be one of {', '.join(STAGES)}")
        _ratio("ratio", self.ratio)
        _positive("window_days", self.window_days, zero=True)


@dataclass(frozen=True)
class ExtensionRule:
    """Contract section 3: an extension is requested from `days_before_maturity` before maturity up
    to `days_after_maturity` after it, and moves maturity `extension_days` later."""

    days_before_maturity: int = 7
    days_after_maturity: int = 3
    extension_days: int = 30

    def __post_init__(self) -> None:
        _positive("days_before_maturity", self.days_before_maturity, zero=True)
        _positive("days_after_maturity", self.days_after_maturity, zero=True)
        _positive("extension_days", self.extension_days)
        if self.extension_days <= self.days_after_maturity:
            # Granted on the window's last day, the new maturity must still lie ahead.
            raise PolicyError("extension_days", "must be more than days_after_maturity")


@dataclass(frozen=True)
class GradeRule:
    grade: str
    annual_rate: Decimal

    def __post_init__(self) -> None:
        if not (len(self.grade) == 1 and self.grade.isupper()):
            raise PolicyError("grade", "must be one capital letter")
        _ratio("annual_rate", self.annual_rate)


@dataclass(frozen=True)
class CreditPolicy:
    """The defaults are the contract's values and document CURRENT_POLICY_VERSION states exactly
    them (a test checks they agree)."""

    policy_version: str = CURRENT_POLICY_VERSION
    timezone: str = "Asia/Shanghai"

    # Section 4: pool stages, borrowing base, facility cap.
    stage_rules: tuple[StageRule, ...] = (
        StageRule(ORDERED, Decimal("0.30"), 60),
        StageRule(RECEIVED, Decimal("0.70"), 120),
        StageRule(INVOICED, Decimal("0.90"), 120),
    )
    facility_cap_max_minor: int = 5_000_000_000  # 50,000,000.00
    facility_cap_window_days: int = 180
    facility_cap_share_of_receipts: Decimal = Decimal("0.5")  # 3 x monthly average over 6 months

    # Section 5: request bounds.
    term_min_days: int = 15
    term_max_days: int = 90
    min_amount_minor: int = 100_000  # 1,000.00

    # Section 5: rules.
    short_history_days: int = 90
    dilution_window_days: int = 90
    high_dilution: Decimal = Decimal("0.10")
    sales_recent_days: int = 30
    sales_baseline_days: int = 90  # the 90 days before the recent window
    sales_drop_ratio: Decimal = Decimal("0.5")
    large_amount_minor: int = 1_000_000_000  # 10,000,000.00

    # Section 5: price.
    grade_a: GradeRule = GradeRule("A", Decimal("0.08"))
    grade_b: GradeRule = GradeRule("B", Decimal("0.10"))
    grade_c: GradeRule = GradeRule("C", Decimal("0.12"))
    grade_a_min_history_days: int = 730
    grade_a_max_dilution: Decimal = Decimal("0.03")
    grade_c_max_history_days: int = 180  # history below this is grade C
    grade_c_min_dilution: Decimal = Decimal("0.08")  # dilution above this is grade C

    # Section 3: loan terms fixed at approval.
    penalty_multiplier: Decimal = Decimal("1.5")
    day_count: str = "ACT/360"

    # Section 3: repayments and extension.
    waterfall_order: tuple[str, ...] = CONTRACT_ORDER  # penalty, interest, principal
    extension: ExtensionRule = ExtensionRule()

    # Section 6: settlement sweep.
    sweep_enabled: bool = True
    sweep_ratio: Decimal = Decimal("1.00")

    # Section 10: the daily job announces loans maturing in this many days (`LoanDueSoon`).
    due_soon_days: int = 3

    def __post_init__(self) -> None:
        """Checks of meaning (types are checked by `policy_from_document`); each names its field."""
        if not self.policy_version or any(c in self.policy_version for c in "/\\ "):
            raise PolicyError("policy_version", "must be a non-empty name without spaces or slashes")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PolicyError("timezone", f"unknown time zone {self.timezone!r}") from exc
        if tuple(rule.stage for rule in self.stage_rules) != STAGES:
            raise PolicyError("stage_rules", f"must list the stages {', '.join(STAGES)} in that order")
        for name in (
            "facility_cap_max_minor",
            "term_min_days",
            "min_amount_minor",
            "large_amount_minor",
            "facility_cap_window_days",
            "dilution_window_days",
            "sales_recent_days",
            "sales_baseline_days",
            "due_soon_days",
        ):
            _positive(name, getattr(self, name))
        for name in ("short_history_days", "grade_a_min_history_days", "grade_c_max_history_days"):
            _positive(name, getattr(self, name), zero=True)
        if self.term_max_days < self.term_min_days:
            raise PolicyError("term_max_days", "must be at least term_min_days")
        for name in (
            "facility_cap_share_of_receipts",
            "high_dilution",
            "sales_drop_ratio",
            "grade_a_max_dilution",
            "grade_c_min_dilution",
            "sweep_ratio",
        ):
            _ratio(name, getattr(self, name))
        _ratio("penalty_multiplier", self.penalty_multiplier, upper=None)
        if self.day_count not in DAY_COUNTS:
            raise PolicyError("day_count", f"must be one of {', '.join(DAY_COUNTS)}")
        if not is_waterfall_order(self.waterfall_order):
            raise PolicyError("waterfall_order", f"must name {', '.join(sorted(BUCKETS))} once each")
        letters = [self.grade_a.grade, self.grade_b.grade, self.grade_c.grade]
        if len(set(letters)) != 3:
            raise PolicyError("grade_c.grade", "the three grades need three different letters")

    def stage_rule(self, stage: str) -> StageRule:
        for rule in self.stage_rules:
            if rule.stage == stage:
                return rule
        raise PolicyError("stage_rules", f"no rule for stage {stage!r}")

    @property
    def history_horizon_days(self) -> int:
        """How far back the pool must keep date buckets for any window of this policy."""
        return max(
            self.facility_cap_window_days,
            self.dilution_window_days,
            self.sales_recent_days + self.sales_baseline_days,
        )

    def to_document(self) -> dict[str, Any]:
        """The JSON document of this policy (the inverse of `policy_from_document`)."""
        return _to_json(self)  # type: ignore[no-any-return]


DEFAULT_POLICY = CreditPolicy()

# Fields added after the first document: the version that introduced each, and its value in every
# earlier document (the contract's value, which the code then held as a literal; written out, never
# taken from the defaults, which a later version may change). A document older than the version may
# leave the field out; from that version on, a document states it.
INTRODUCED: dict[str, tuple[str, Any]] = {
    "waterfall_order": ("2026-12-03.1", ["penalty", "interest", "principal"]),
    "extension": (
        "2026-12-03.1",
        {"days_before_maturity": 7, "days_after_maturity": 3, "extension_days": 30},
    ),
    "due_soon_days": ("2026-12-03.1", 3),
}


# ---- documents ---------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    return value


def _convert(path: str, kind: Any, raw: Any) -> Any:
    """One value of a document into the dataclass field type `kind`; errors name `path`."""
    if kind is bool:
        if not isinstance(raw, bool):
            raise PolicyError(path, "must be true or false")
        return raw
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise PolicyError(path, "must be an integer")
        return raw
    if kind is str:
        if not isinstance(raw, str):
            raise PolicyError(path, "must be a string")
        return raw
    if kind is Decimal:
        # A decimal string, never a JSON number: a float would not be exact.
        try:
            value = Decimal(raw) if isinstance(raw, str) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise PolicyError(path, 'must be a decimal string, e.g. "0.10"')
        return value
    if getattr(kind, "__origin__", None) is tuple:
        if not isinstance(raw, list):
            raise PolicyError(path, "must be a list")
        item_kind = kind.__args__[0]
        return tuple(_convert(f"{path}[{i}]", item_kind, item) for i, item in enumerate(raw))
    if hasattr(kind, "__dataclass_fields__"):
        return _build(path, kind, raw)
    raise TypeError(f"no conversion for {kind}")  # a programming error, not a document error


def _build(path: str, cls: Any, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise PolicyError(path or "document", "must be an object")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    prefix = f"{path}." if path else ""
    for key in raw:
        if key not in names:
            raise PolicyError(f"{prefix}{key}", "is not a policy field")
    values = {}
    for name in names:
        if name not in raw:
            raise PolicyError(f"{prefix}{name}", "is required (a policy document states every value)")
        values[name] = _convert(f"{prefix}{name}", hints[name], raw[name])
    try:
        return cls(**values)
    except PolicyError as exc:
        raise PolicyError(f"{prefix}{exc.field}", exc.message) from exc


def version_key(version: str) -> tuple[str, int]:
    """Sorts versions `YYYY-MM-DD.N` by date, then N (so `.10` comes after `.9`)."""
    day, _, number = version.partition(".")
    return (day, int(number)) if number.isdigit() else (version, 0)


def _with_earlier_values(document: Any) -> Any:
    """`document` with the fields introduced after its version filled in with their earlier value."""
    if not isinstance(document, dict) or not isinstance(document.get("policy_version"), str):
        return document  # `_build` names what is wrong
    version = version_key(document["policy_version"])
    earlier = {
        name: value
        for name, (introduced, value) in INTRODUCED.items()
        if name not in document and version < version_key(introduced)
    }
    return {**document, **earlier}


def policy_from_document(document: Any) -> CreditPolicy:
    """A validated policy from its JSON document; `PolicyError.field` names what is wrong."""
    policy: CreditPolicy = _build("", CreditPolicy, _with_earlier_values(document))
    return policy


def shipped_versions() -> list[str]:
    """Every policy version shipped in the layer, oldest first."""
    return sorted(
        (
            entry.name.removesuffix(".json")
            for entry in resources.files(POLICY_PACKAGE).iterdir()
            if entry.name.endswith(".json")
        ),
        key=version_key,
    )


@cache
def load_policy(version: str) -> CreditPolicy:
    """A shipped policy version (old versions stay loadable: re-explaining old decisions needs them)."""
    if version not in shipped_versions():
        raise PolicyError("policy_version", f"no policy document {version!r} is shipped")
    text = resources.files(POLICY_PACKAGE).joinpath(f"{version}.json").read_text(encoding="utf-8")
    policy = policy_from_document(json.loads(text))
    if policy.policy_version != version:
        raise PolicyError("policy_version", f"the document {version}.json says {policy.policy_version!r}")
    return policy


def live_policy(environ: Mapping[str, str]) -> CreditPolicy:
    """The policy new decisions use: the shipped version named by CREDIT_POLICY_VERSION in the
    function's settings, else the current one; an unknown or invalid version fails the cold start."""
    return load_policy(environ.get(POLICY_VERSION_ENV) or CURRENT_POLICY_VERSION)
