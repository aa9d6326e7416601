"""Use cases of the credit half: the credit line, applying for financing, manual reviews.

Invariant: a decision reads one snapshot and writes once (an approval, its loan, the exposure
reservation and the outbox event in one conditional transaction); a lost race re-reads and decides
again, at most MAX_DECISION_ATTEMPTS times (docs/access-patterns.md, patterns 7 and 8).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from scf.clock import Clock, iso_utc
from scf.domain.decision import (
    APPROVED,
    DECLINED,
    REVIEW,
    ApplicationRequest,
    Decision,
    DecisionInputs,
    decide,
    overdue_count,
    parse_application,
)
from scf.domain.ids import base32, new_id
from scf.domain.line_terms import LineTerms
from scf.domain.money import MoneyError, format_amount, format_exact, parse_currency
from scf.domain.policy import DEFAULT_POLICY, CreditPolicy, load_policy
from scf.domain.pool import CreditLine, Pool
from scf.errors import Conflict, Contention, Forbidden, IdempotencyKeyReused, InvalidInput, NotFound
from scf.service.metrics import APPLICATIONS, DECISION_LATENCY, NO_METRICS, REVIEWS, Metrics, Unit
from scf.service.payments import Account

MAX_DECISION_ATTEMPTS = 4


def application_id_for(supplier_id: str, idempotency_key: str) -> str:
    """The application id of an idempotent request: the same supplier and key give the same id,
    so the application item itself is the idempotency record (written in the decision's write)."""
    digest = hashlib.sha256(f"{supplier_id}\x00{idempotency_key}".encode()).digest()
    return "AP" + base32(int.from_bytes(digest[:13], "big") >> 4, 20)


class ReviewConflict(Conflict):
    """The application is not in review, or cannot be approved now (`errors`: the hard reasons)."""

    default_code = "REVIEW_CONFLICT"

    def __init__(self, message: str, reasons: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, details={"errors": reasons} if reasons else None)


class ReservationConflict(Contention):
    """A condition of the approval transaction failed: re-read and decide again (never escapes)."""


class ApplicationExists(Contention):
    """A concurrent request with the same key wrote the application first: re-read it (never escapes)."""


CREDIT_LINE_CHANGED = "the credit line changed while deciding; retry the request"


@dataclass(frozen=True)
class SupplierProfile:
    status: str
    account_verified: bool
    account: Account | None = None  # its bank account on file (master data)


@dataclass
class ApplicationRecord:
    application_id: str
    supplier_id: str
    status: str
    amount_minor: int
    currency: str
    term_days: int
    grade: str | None
    annual_rate: str | None
    reasons: list[dict[str, str]]
    policy_version: str
    inputs: dict[str, Any]
    created_at: str
    decided_at: str
    request_hash: str
    loan_id: str | None = None
    review: dict[str, Any] | None = None
    response: dict[str, Any] | None = None  # the first answer, returned to idempotent retries

    def view(self, audit: bool = False) -> dict[str, Any]:
        """The application as its supplier sees it; `audit` (ops) adds who reviewed it and the note."""
        out: dict[str, Any] = {
            "application_id": self.application_id,
            "status": self.status,
            "reasons": self.reasons,
            "amount": format_amount(self.amount_minor),
            "currency": self.currency,
            "term_days": self.term_days,
            "grade": self.grade,
            "annual_rate": self.annual_rate,
            "policy_version": self.policy_version,
            "decided_at": self.decided_at,
        }
        if self.loan_id:
            out["loan_id"] = self.loan_id
        if self.review:  # what and when; who and why for ops; never the request hashes kept for retries
            fields = ("decision", "note", "by", "at") if audit else ("decision", "at")
            out["review"] = {k: self.review[k] for k in fields if k in self.review}
        return out


@dataclass(frozen=True)
class NewLoan:
    loan_id: str
    supplier_id: str
    application_id: str
    currency: str
    principal_minor: int
    annual_rate: str
    penalty_multiplier: str
    day_count: str
    term_days: int
    created_at: str
    # Where the payout goes (contract section 7): the supplier's account at approval, written on
    # the loan in the approving transaction, on condition that the master data still says so.
    payout_account: Account | None = None


@dataclass(frozen=True)
class Reservation:
    """Reserve `amount_minor` only while exposure <= limit - amount and the pool is unchanged."""

    supplier_id: str
    currency: str
    amount_minor: int
    limit_minor: int
    pool_version: int


@dataclass
class Snapshot:
    supplier: SupplierProfile | None
    pool: Pool
    pool_version: int | None
    exposure_minor: int
    overdue_loans: int
    application: ApplicationRecord | None = None
    open_maturities: dict[str, date] = field(default_factory=dict)  # loan id -> latest maturity


class CreditRepository(Protocol):
    def snapshot(self, supplier_id: str, currency: str, application_id: str | None) -> Snapshot: ...
    def save_application(self, record: ApplicationRecord) -> None: ...
    def approve(
        self, record: ApplicationRecord, loan: NewLoan, reservation: Reservation, *, from_review: bool
    ) -> None: ...
    def decline_review(self, record: ApplicationRecord) -> None: ...
    def get_application(self, supplier_id: str, application_id: str) -> ApplicationRecord | None: ...
    def application_by_id(self, application_id: str) -> ApplicationRecord | None: ...
    def list_reviews(self, limit: int, token: str | None) -> tuple[list[ApplicationRecord], str | None]: ...


def _request_hash(request: ApplicationRequest) -> str:
    return hashlib.sha256(json.dumps(request.canonical(), sort_keys=True).encode()).hexdigest()


def _review_request_hash(
    reviewer: str, idempotency_key: str | None, verdict: str | None = None, note: str | None = None
) -> str | None:
    """A key is the reviewer's own (as an application's key is its supplier's): another reviewer
    sending the same key makes another request. Without verdict and note: the key's hash alone."""
    if idempotency_key is None:
        return None
    canonical = json.dumps(
        {"reviewer": reviewer, "key": idempotency_key, "decision": verdict, "note": note}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Explanation:
    """A stored decision recomputed from its stored inputs under the policy version it ran under."""

    application_id: str
    policy_version: str
    stored: dict[str, Any]
    recomputed: dict[str, Any]

    @property
    def matches(self) -> bool:
        return self.stored == self.recomputed


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "status": decision.status,
        "reasons": decision.reasons_json(),
        "grade": decision.grade,
        "annual_rate": str(decision.annual_rate),
    }


def _rederived(stored_inputs: dict[str, Any], policy: CreditPolicy) -> dict[str, Any]:
    """The line terms a decision stored (`inputs.line`), turned back into its limit and available
    amount under `policy`, next to the amount the decision used."""
    line = LineTerms.from_json(stored_inputs["line"]).derive(policy)
    return {"limit_minor": line.limit_minor, "available_minor": line.available_minor}


def explain(record: ApplicationRecord, policies: Callable[[str], CreditPolicy] = load_policy) -> Explanation:
    """Re-run the decision of `record` from the inputs and under the policy version it stored.

    Invariant: a stored decision `matches` its recomputation (docs/credit-policy.md, "Re-explaining",
    says what is compared)."""
    request = ApplicationRequest(record.amount_minor, record.currency, record.term_days)
    first_version = str(record.inputs.get("policy_version", record.policy_version))
    first_policy = policies(first_version)
    first = decide(request, DecisionInputs.from_json(record.inputs), first_policy)
    recomputed = _decision_json(first)
    stored: dict[str, Any] = {
        "status": REVIEW if record.review else record.status,
        "reasons": record.reasons,
        "grade": record.grade,
        "annual_rate": record.annual_rate,
    }
    if "line" in record.inputs:
        recomputed["line"] = _rederived(record.inputs, first_policy)
        stored["line"] = {
            "limit_minor": int(record.inputs["limit_minor"]),
            "available_minor": int(record.inputs["available_minor"]),
        }
    approval = record.inputs.get("at_approval")
    if approval is not None:
        approval_policy = policies(str(approval["policy_version"]))
        again = decide(request, DecisionInputs.from_json(approval), approval_policy)
        recomputed.update(grade=again.grade, annual_rate=str(again.annual_rate))
        recomputed["approval_status"] = APPROVED if not any(r.declines for r in again.reasons) else DECLINED
        stored["approval_status"] = record.status
        if "line" in approval:
            recomputed["approval_line"] = _rederived(approval, approval_policy)
            stored["approval_line"] = {
                "limit_minor": int(approval["limit_minor"]),
                "available_minor": int(approval["available_minor"]),
            }
    return Explanation(record.application_id, record.policy_version, stored, recomputed)


@dataclass
class CreditService:
    repository: CreditRepository
    clock: Clock
    policy: CreditPolicy = DEFAULT_POLICY
    id_factory: Any = field(default=new_id)
    policies: Callable[[str], CreditPolicy] = load_policy  # any version, for re-explaining
    metrics: Metrics = NO_METRICS
    stopwatch: Callable[[], float] = time.perf_counter  # float-ok: seconds, for DecisionLatency

    # ---- credit line -------------------------------------------------------------------------

    def credit_line(self, supplier_id: str, currency: Any) -> dict[str, Any]:
        try:
            code = parse_currency(currency)
        except MoneyError as exc:
            raise InvalidInput(exc.message, code=exc.code, field="currency") from exc
        snap = self.repository.snapshot(supplier_id, code, None)
        line = snap.pool.credit_line(self.clock.today(), self.policy, snap.exposure_minor)
        return credit_line_view(supplier_id, code, line, self.policy)

    # ---- applications ------------------------------------------------------------------------

    def apply(self, supplier_id: str, body: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        started = self.stopwatch()
        request = parse_application(body, self.policy)  # RequestError: a 422 naming the field
        request_hash = _request_hash(request)
        application_id = (
            application_id_for(supplier_id, idempotency_key) if idempotency_key else self.id_factory("AP")
        )
        for _ in range(MAX_DECISION_ATTEMPTS):
            snap = self.repository.snapshot(
                supplier_id, request.currency, application_id if idempotency_key else None
            )
            if snap.application is not None:
                return self._replay(snap.application, request_hash)
            line, inputs = self._inputs(snap)
            decision = decide(request, inputs, self.policy)
            now = iso_utc(self.clock.now())
            record = ApplicationRecord(
                application_id=application_id,
                supplier_id=supplier_id,
                status=decision.status,
                amount_minor=request.amount_minor,
                currency=request.currency,
                term_days=request.term_days,
                grade=decision.grade,
                annual_rate=str(decision.annual_rate),
                reasons=decision.reasons_json(),
                policy_version=decision.policy_version,
                inputs=self._stored_inputs(line, inputs),
                created_at=now,
                decided_at=now,
                request_hash=request_hash,
            )
            try:
                if decision.status == APPROVED:
                    record.loan_id = self.id_factory("LN")
                    record.response = record.view()
                    self.repository.approve(
                        record,
                        self._loan(record, now, snap),
                        self._reservation(record, line, snap),
                        from_review=False,
                    )
                else:
                    record.response = record.view()
                    self.repository.save_application(record)
            except (ApplicationExists, ReservationConflict):
                continue  # the next read sees the winner (replayed) or the new pool/exposure
            elapsed_ms = (self.stopwatch() - started) * 1000  # float-ok: milliseconds
            self.metrics.put(APPLICATIONS, 1, outcome=decision.status)
            self.metrics.put(DECISION_LATENCY, elapsed_ms, Unit.MILLISECONDS)
            return record.response
        raise Contention(CREDIT_LINE_CHANGED)

    def _stored_inputs(self, line: CreditLine, inputs: DecisionInputs) -> dict[str, Any]:
        """What the decision read: its inputs, the credit line's terms behind `available` (`line`,
        re-derivable under the policy version) and, for people reading it later, the figures."""
        return {
            **inputs.to_json(),
            "policy_version": self.policy.policy_version,
            "line": LineTerms.of(line).to_json(),
            "limit_minor": line.limit_minor,
            "as_of": line.as_of.isoformat(),
            "borrowing_base": format_amount(line.borrowing_base_minor),
            "facility_cap": format_amount(line.facility_cap_minor),
            "limit": format_amount(line.limit_minor),
            "outstanding": format_amount(line.outstanding_minor),
        }

    def explain(self, supplier_id: str, application_id: str) -> Explanation | None:
        """Recompute a stored decision from its stored inputs and policy version (no endpoint)."""
        record = self.repository.get_application(supplier_id, application_id)
        return None if record is None else explain(record, self.policies)

    def _replay(self, stored: ApplicationRecord, request_hash: str) -> dict[str, Any]:
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused()
        return stored.response or stored.view()

    def _inputs(self, snap: Snapshot) -> tuple[CreditLine, DecisionInputs]:
        today = self.clock.today()
        line = snap.pool.credit_line(today, self.policy, snap.exposure_minor)
        inputs = DecisionInputs(
            supplier_status=snap.supplier.status if snap.supplier else None,
            account_verified=bool(snap.supplier and snap.supplier.account_verified),
            overdue_loans=overdue_count(snap.open_maturities, snap.overdue_loans, today),
            available_minor=line.available_minor,
            metrics=snap.pool.metrics(today, self.policy),
        )
        return line, inputs

    def _loan(self, record: ApplicationRecord, now: str, snap: Snapshot) -> NewLoan:
        assert record.loan_id is not None and record.annual_rate is not None
        return NewLoan(
            loan_id=record.loan_id,
            supplier_id=record.supplier_id,
            application_id=record.application_id,
            currency=record.currency,
            principal_minor=record.amount_minor,
            annual_rate=record.annual_rate,
            penalty_multiplier=str(self.policy.penalty_multiplier),
            day_count=self.policy.day_count,
            term_days=record.term_days,
            created_at=now,
            payout_account=snap.supplier.account if snap.supplier else None,
        )

    @staticmethod
    def _reservation(record: ApplicationRecord, line: CreditLine, snap: Snapshot) -> Reservation:
        if snap.pool_version is None:  # an approval needs a limit, and a limit needs a pool
            raise ReservationConflict("no pool")
        return Reservation(
            record.supplier_id, record.currency, record.amount_minor, line.limit_minor, snap.pool_version
        )

    def get_application(self, supplier_id: str, application_id: str) -> dict[str, Any]:
        """The supplier's own application (another supplier's is as absent as an unknown one)."""
        record = self.repository.get_application(supplier_id, application_id)
        if record is None:
            raise NotFound(f"application {application_id} was not found")
        return record.view()

    def ops_application(self, application_id: str) -> dict[str, Any]:
        """Any supplier's application for ops: its decision, the review with who and why, whose it
        is and when it was made."""
        record = self.repository.application_by_id(application_id)
        if record is None:
            raise NotFound(f"application {application_id} was not found")
        return _ops_view(record)

    # ---- manual reviews ----------------------------------------------------------------------

    def list_reviews(self, limit: int, token: str | None) -> dict[str, Any]:
        records, next_token = self.repository.list_reviews(limit, token)
        items = [_ops_view(r) for r in records]
        return {"items": items, "next_token": next_token}

    def review(
        self,
        application_id: str,
        body: dict[str, Any],
        reviewer: str,
        idempotency_key: str | None = None,
        *,
        reviewer_supplier_id: str | None = None,
    ) -> dict[str, Any]:
        """Ops decide an application in REVIEW, once, and never one of the supplier their own token
        names (`reviewer_supplier_id`: `Forbidden` OWN_SUPPLIER). The same key and body again get the
        first answer; the same key with another body is `IdempotencyKeyReused`; any other attempt on
        a decided application is `ReviewConflict`."""
        verdict = body.get("decision")
        if verdict not in ("APPROVE", "DECLINE"):
            raise InvalidInput("must be APPROVE or DECLINE", code="INVALID_VALUE", field="decision")
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > 2000:
            raise InvalidInput(
                "must be a text of at most 2000 characters", code="INVALID_VALUE", field="note"
            )
        target = APPROVED if verdict == "APPROVE" else DECLINED
        request_hash = _review_request_hash(reviewer, idempotency_key, verdict, note)
        key_hash = _review_request_hash(reviewer, idempotency_key)
        for _ in range(MAX_DECISION_ATTEMPTS):
            record = self.repository.application_by_id(application_id)
            if record is None:
                raise NotFound(f"application {application_id} was not found")
            if reviewer_supplier_id is not None and record.supplier_id == reviewer_supplier_id:
                raise Forbidden(
                    "a reviewer never decides its own supplier's application", code="OWN_SUPPLIER"
                )
            if record.status != REVIEW:
                if record.review is None:
                    raise ReviewConflict(f"the application was never in review: {record.status} at once")
                if request_hash is not None and record.review.get("request_hash") == request_hash:
                    return record.view(audit=True)  # the same request again: the first answer
                if key_hash is not None and record.review.get("key_hash") == key_hash:
                    raise IdempotencyKeyReused()
                raise ReviewConflict(f"the application was already decided: {record.status}")
            now = iso_utc(self.clock.now())
            review: dict[str, Any] = {"decision": verdict, "note": note, "by": reviewer, "at": now}
            if request_hash is not None:
                review.update(request_hash=request_hash, key_hash=key_hash)
            if target == DECLINED:
                decided = replace(record, status=DECLINED, review=review, decided_at=now)
                try:
                    self.repository.decline_review(decided)
                except ReservationConflict:
                    continue
                self.metrics.put(REVIEWS, 1, outcome=DECLINED)
                return decided.view(audit=True)
            snap = self.repository.snapshot(record.supplier_id, record.currency, None)
            line, inputs = self._inputs(snap)
            request = ApplicationRequest(record.amount_minor, record.currency, record.term_days)
            decision: Decision = decide(request, inputs, self.policy)
            hard = [r for r in decision.reasons if r.declines]
            if hard:
                raise ReviewConflict(
                    "the application cannot be approved now",
                    [{"code": r.code, "message": r.message} for r in hard],
                )
            decided = replace(
                record,
                status=APPROVED,
                review=review,
                decided_at=now,
                grade=decision.grade,
                annual_rate=str(decision.annual_rate),
                policy_version=decision.policy_version,
                loan_id=self.id_factory("LN"),
                inputs={**record.inputs, "at_approval": self._stored_inputs(line, inputs)},
            )
            try:
                self.repository.approve(
                    decided,
                    self._loan(decided, now, snap),
                    self._reservation(decided, line, snap),
                    from_review=True,
                )
            except ReservationConflict:
                continue
            self.metrics.put(REVIEWS, 1, outcome=APPROVED)
            return decided.view(audit=True)
        raise Contention(CREDIT_LINE_CHANGED)


def _ops_view(record: ApplicationRecord) -> dict[str, Any]:
    return {**record.view(audit=True), "supplier_id": record.supplier_id, "created_at": record.created_at}


def credit_line_view(
    supplier_id: str, currency: str, line: CreditLine, policy: CreditPolicy
) -> dict[str, Any]:
    """Every term of the sum (contract section 4). Per stage, `amount` is eligible x ratio rounded
    half-up for display and `amount_exact` the unrounded term; the borrowing base rounds the exact
    sum once (`borrowing_base_exact`), so the shown amounts may differ from it by a minor unit and
    the exact ones never do. `limit_source` says which of the base and the cap is the limit."""
    exact = sum((v.amount_exact for v in line.stages), Decimal(0))
    return {
        "supplier_id": supplier_id,
        "currency": currency,
        "as_of": line.as_of.isoformat(),
        "stages": [
            {
                "stage": v.stage,
                "open": format_amount(v.open_minor),
                "eligible": format_amount(v.eligible_minor),
                "ratio": str(v.ratio),
                "amount": format_amount(v.amount_minor),
                "amount_exact": format_exact(v.amount_exact),
                "window_days": policy.stage_rule(v.stage).window_days,
            }
            for v in line.stages
        ],
        "eligible": format_amount(sum(v.eligible_minor for v in line.stages)),
        "borrowing_base_exact": format_exact(exact),
        "borrowing_base": format_amount(line.borrowing_base_minor),
        "facility_cap": format_amount(line.facility_cap_minor),
        "facility_cap_derivation": {
            "goods_receipts_window_days": policy.facility_cap_window_days,
            "goods_receipts_total": format_amount(line.receipts_cap_window_minor),
            "share_of_receipts": str(policy.facility_cap_share_of_receipts),
            "maximum": format_amount(policy.facility_cap_max_minor),
        },
        "limit": format_amount(line.limit_minor),
        "limit_source": "facility_cap"
        if line.facility_cap_minor < line.borrowing_base_minor
        else "borrowing_base",
        "outstanding": format_amount(line.outstanding_minor),
        "available": format_amount(line.available_minor),
        "policy_version": policy.policy_version,
    }
