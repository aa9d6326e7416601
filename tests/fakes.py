"""In-memory fakes of the loan side's ports, for fast service tests (no moto). `FakeLoanStore`
keeps `DynamoLoanStore`'s conditions (tests/integration/test_loan_store_contract.py runs the same
scenarios on both); `FakeBankGateway` is a bank that applies each payment id once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from scf.adapters.dynamodb.transactions import BadPageToken
from scf.domain import portfolio
from scf.domain.interest import PrincipalChange
from scf.domain.ledger import Posting
from scf.domain.loan import REPAYABLE, Loan, LoanStatus, Repayment, RepaymentStatus
from scf.events import OutboxEvent
from scf.service.ledger_check import LedgerMismatch
from scf.service.loan_store import (
    SENT,
    LoanFilter,
    LoanRecord,
    LoanStore,
    Page,
    PaymentRecord,
    RefundOrder,
    StaleWrite,
    StoredReport,
)
from scf.service.metrics import Metrics, Unit
from scf.service.payments import (
    Account,
    BankGateway,
    BankUnavailable,
    Direction,
    Gateways,
    PaymentKind,
    PaymentOrder,
    PaymentReport,
    PaymentResult,
    PaymentStatus,
    payment_kind,
)


@dataclass
class Exposure:
    """A supplier's exposure in one currency (what `ExposureItem` holds)."""

    principal_minor: int = 0
    overdue_loans: int = 0
    open_loans: set[str] = field(default_factory=set)


@dataclass
class StoredLoan:
    loan: Loan
    version: int | None
    created_at: str
    extension_request: str | None = None
    payment_id: str | None = None
    payout_account: Account | None = None
    counted: bool = True  # in the portfolio's counters (LoanItem.in_portfolio)

    def record(self) -> LoanRecord:
        return LoanRecord(
            loan=self.loan,
            version=self.version,
            created_at=self.created_at,
            extension_request=self.extension_request,
            payout_account=self.payout_account,
            counted=self.counted,
        )


def open_loan_entry(loan_id: str, maturity: date) -> str:
    return f"{loan_id}#{maturity.isoformat()}"


class _Write:
    """Conditions first, then the changes: all of them or none (a TransactWriteItems)."""

    def __init__(self) -> None:
        self.failed: list[str | None] = []

    def require(self, condition: bool, reason: str) -> None:
        if not condition:
            self.failed.append(reason)

    def commit(self) -> None:
        if self.failed:
            raise StaleWrite(self.failed)


class FakeLoanStore(LoanStore):
    """The `LoanStore` in memory."""

    def __init__(self) -> None:
        self.loans: dict[str, StoredLoan] = {}
        self.accounts: dict[str, Account] = {}
        self.repayments: dict[str, Repayment] = {}  # in the order they were written
        self.postings: dict[str, Posting] = {}
        self.posting_loans: dict[str, str] = {}  # posting id -> loan id (the ledger's partition)
        self.payments: dict[str, dict[str, Any]] = {}
        self.outbox: dict[str, OutboxEvent] = {}
        self.pools: dict[tuple[str, str], dict[str, Any]] = {}
        self.exposures: dict[tuple[str, str], Exposure] = {}
        self.every_currency: dict[str, Exposure] = {}  # SupplierOverdueItem: principal unused
        self.refunds_owed: set[str] = set()  # RefundOwedItem: loan ids on gsi2 REFUNDS#OWED
        self.unverified: set[str] = set()  # suppliers whose account is not verified
        self.portfolio: dict[tuple[str, int], portfolio.Counters] = {}  # PortfolioShardItem by shard

    # -- seeding (what the credit decision and the ingestion write) ---------------------------------

    def add_supplier(self, supplier_id: str, account: Account) -> None:
        self.accounts[supplier_id] = account

    def add_loan(
        self,
        loan: Loan,
        *,
        created_at: str = "2026-01-01T00:00:00+00:00",
        payout_account: Account | None = None,
        counted: bool = True,
    ) -> None:
        """A loan as the decision (APPROVED: its principal reserved, the supplier's account recorded,
        the portfolio counting it) or earlier movements left it; `counted=False`: stored before the
        portfolio's counters existed."""
        self.loans[loan.loan_id] = StoredLoan(
            loan=loan, version=None, created_at=created_at, payout_account=payout_account, counted=counted
        )
        if counted:
            self._count(None, loan)
        exposure = self.exposure(loan.supplier_id, loan.currency)
        exposure.principal_minor += loan.outstanding_principal_minor
        every = self.every_currency.setdefault(loan.supplier_id, Exposure())
        if loan.status is LoanStatus.OVERDUE:
            exposure.overdue_loans += 1
            every.overdue_loans += 1
        if loan.status in REPAYABLE and loan.maturity_date is not None:
            exposure.open_loans.add(open_loan_entry(loan.loan_id, loan.maturity_date))
            every.open_loans.add(open_loan_entry(loan.loan_id, loan.maturity_date))

    def set_pool(self, supplier_id: str, currency: str, state: dict[str, Any]) -> None:
        self.pools[(supplier_id, currency)] = state

    def exposure(self, supplier_id: str, currency: str) -> Exposure:
        return self.exposures.setdefault((supplier_id, currency), Exposure())

    # -- reads ----------------------------------------------------------------------------------------

    def get_loan(self, loan_id: str) -> LoanRecord | None:
        stored = self.loans.get(loan_id)
        return stored.record() if stored else None

    def get_supplier_account(self, supplier_id: str) -> Account | None:
        return self.accounts.get(supplier_id)

    def get_repayment(self, repayment_id: str) -> Repayment | None:
        return self.repayments.get(repayment_id)

    def repayments_of(self, loan_id: str) -> list[Repayment]:
        return [r for r in self.repayments.values() if r.loan_id == loan_id]

    def get_payment(self, payment_id: str) -> PaymentRecord | None:
        stored = self.payments.get(payment_id)
        if stored is None:
            return None
        return PaymentRecord(
            payment_id=payment_id,
            direction=Direction(stored["direction"]),
            loan_id=stored["loan_id"],
            amount_minor=stored["amount_minor"],
            currency=stored["currency"],
            bank_code=stored["bank_code"],
            status=stored["status"],
            account=stored["account"],
            reports=tuple(stored["reports"]),
            refund=stored.get("refund"),
            sent_at=stored["sent_at"],
        )

    def open_payments(self, kind: PaymentKind, sent_before: datetime) -> list[PaymentRecord]:
        """SENT payments of `kind` sent before the moment, oldest first (the open-payment index)."""
        found = sorted(
            (stored["sent_at"], payment_id)
            for payment_id, stored in self.payments.items()
            if stored["status"] == SENT
            and payment_kind(payment_id) is kind
            and stored["sent_at"] < sent_before
        )
        return [record for _, payment_id in found if (record := self.get_payment(payment_id))]

    def reports_of(self, payment_id: str) -> list[tuple[PaymentStatus, str]]:
        """(status, effect) of each report kept on the payment, oldest first."""
        return [(r.report.status, r.effect) for r in self.payments[payment_id]["reports"]]

    def loans_of(self, supplier_id: str, *, limit: int, next_token: str | None) -> Page:
        mine = sorted(
            (s for s in self.loans.values() if s.loan.supplier_id == supplier_id),
            key=lambda s: (s.created_at, s.loan.loan_id),
            reverse=True,
        )
        start = 0
        if next_token is not None:
            owner, _, offset = next_token.partition(":")
            if owner != supplier_id or not offset.isdigit():
                raise BadPageToken("next_token does not belong to this list")
            start = int(offset)
        end = start + limit
        token = f"{supplier_id}:{end}" if end < len(mine) else None
        return Page(items=[s.record() for s in mine[start:end]], next_token=token)

    def all_loans_of(self, supplier_id: str) -> list[LoanRecord]:
        return [s.record() for s in self.loans.values() if s.loan.supplier_id == supplier_id]

    def pool_state(self, supplier_id: str, currency: str) -> dict[str, Any] | None:
        return self.pools.get((supplier_id, currency))

    # -- ops reads ----------------------------------------------------------------------------------------

    def ops_loans(self, wanted: LoanFilter, *, limit: int, next_token: str | None) -> Page:
        """What gsi1 (a supplier's, newest first) or gsi2 (a status', latest maturity first) answers."""
        if wanted.supplier_id is not None:
            partition = f"SUPPLIER#{wanted.supplier_id}"

            def order(s: StoredLoan) -> tuple[str, str]:
                return (s.created_at, s.loan.loan_id)
        else:
            assert wanted.status is not None
            partition = f"LOANS#{wanted.status.value}"

            def order(s: StoredLoan) -> tuple[str, str]:
                maturity = s.loan.maturity_date
                return (maturity.isoformat() if maturity else "0000-00-00", s.loan.loan_id)

        found = sorted((s for s in self.loans.values() if wanted.matches(s.loan)), key=order, reverse=True)
        start = 0
        if next_token is not None:
            owner, _, offset = next_token.rpartition(":")
            if owner != partition or not offset.isdigit():
                raise BadPageToken("next_token does not belong to this list")
            start = int(offset)
        end = start + limit
        token = f"{partition}:{end}" if end < len(found) else None
        return Page(items=[s.record() for s in found[start:end]], next_token=token)

    def portfolio_counters(self, currency: str) -> portfolio.Counters:
        return portfolio.total(shard for (cur, _), shard in self.portfolio.items() if cur == currency)

    def loans_past_maturity(self, currency: str, as_of: date) -> list[LoanRecord]:
        overdue = [
            s.record()
            for s in self.loans.values()
            if s.loan.status is LoanStatus.OVERDUE and s.loan.currency == currency
        ]
        return overdue + [r for r in self.active_loans_maturing_by(as_of) if r.loan.currency == currency]

    # -- the daily job's reads (what gsi2 LOANS#ACTIVE answers) ---------------------------------------

    def _active_maturing(self, wanted: Any) -> list[LoanRecord]:
        found = [
            stored
            for stored in self.loans.values()
            if stored.loan.status is LoanStatus.ACTIVE
            and stored.loan.maturity_date is not None
            and wanted(stored.loan.maturity_date)
        ]
        found.sort(key=lambda stored: (stored.loan.maturity_date, stored.loan.loan_id))
        return [stored.record() for stored in found]

    def active_loans_maturing_by(self, day: date) -> list[LoanRecord]:
        return self._active_maturing(lambda maturity: maturity <= day)

    def active_loans_maturing_on(self, day: date) -> list[LoanRecord]:
        return self._active_maturing(lambda maturity: maturity == day)

    # -- the conditions DynamoLoanStore writes --------------------------------------------------------

    def _require_loan(self, write: _Write, record: LoanRecord, status: LoanStatus | None = None) -> None:
        stored = self.loans.get(record.loan.loan_id)
        write.require(stored is not None and stored.version == record.version, "loan version")
        if status is not None:
            write.require(stored is not None and stored.loan.status is status, f"loan not {status}")

    def _save_loan(
        self, record: LoanRecord, loan: Loan, *, overpayment_owed: int = 0, **changes: Any
    ) -> None:
        """The loan written, and its change counted in its portfolio shard (`count_loan_change`)."""
        stored = self.loans[record.loan.loan_id]
        self.loans[record.loan.loan_id] = replace(
            stored, loan=loan, version=(record.version or 0) + 1, counted=True, **changes
        )
        self._count(record.counted_loan, loan, overpayment_owed=overpayment_owed)

    def _count(self, before: Loan | None, after: Loan, *, overpayment_owed: int = 0) -> None:
        shard = self.portfolio.setdefault((after.currency, portfolio.shard_of(after.loan_id)), {})
        for name, value in portfolio.delta(before, after, overpayment_owed=overpayment_owed).items():
            shard[name] = shard.get(name, Decimal(0)) + value

    def _require_exposure(
        self, write: _Write, loan: Loan, *, principal_delta: int, overdue_delta: int
    ) -> None:
        exposure = self.exposures.get((loan.supplier_id, loan.currency))
        write.require(exposure is not None, "no exposure")
        if exposure is not None:
            write.require(exposure.principal_minor + min(principal_delta, 0) >= 0, "exposure below zero")
            write.require(exposure.overdue_loans + min(overdue_delta, 0) >= 0, "overdue count below zero")
        if overdue_delta < 0:
            every = self.every_currency.get(loan.supplier_id)
            write.require(
                every is not None and every.overdue_loans + overdue_delta >= 0,
                "supplier overdue count below zero",
            )

    def _move_exposure(
        self,
        loan: Loan,
        *,
        principal_delta: int = 0,
        overdue_delta: int = 0,
        add: set[str] | None = None,
        remove: set[str] | None = None,
    ) -> None:
        exposure = self.exposure(loan.supplier_id, loan.currency)
        exposure.principal_minor += principal_delta
        exposure.overdue_loans += overdue_delta
        exposure.open_loans |= add or set()
        exposure.open_loans -= remove or set()
        if overdue_delta or add or remove:
            every = self.every_currency.setdefault(loan.supplier_id, Exposure())
            every.overdue_loans += overdue_delta
            every.open_loans |= add or set()
            every.open_loans -= remove or set()

    # -- disbursement ---------------------------------------------------------------------------------

    def _new_payment(
        self,
        payment_id: str,
        direction: Direction,
        loan_id: str,
        amount_minor: int,
        currency: str,
        bank_code: str,
        account: Account,
        now: str,
    ) -> None:
        self.payments[payment_id] = {
            "sent_at": datetime.fromisoformat(now),
            "direction": direction.value,
            "loan_id": loan_id,
            "status": SENT,
            "amount_minor": amount_minor,
            "currency": currency,
            "bank_code": bank_code,
            "account": account,
            "reports": [],
        }

    def _require_sent(self, write: _Write, payment_id: str) -> None:
        payment = self.payments.get(payment_id)
        write.require(payment is not None and payment["status"] == SENT, "payment outcome recorded")

    def _finish_payment(self, report: PaymentReport, now: str) -> None:
        payment = self.payments[report.payment_id]
        payment["status"] = report.status.value
        payment["value_date"] = report.value_date
        payment["reports"].append(StoredReport(report, report.status.value, now))

    def start_disbursement(
        self, record: LoanRecord, loan: Loan, payment_id: str, bank_code: str, now: str, *, account: Account
    ) -> None:
        write = _Write()
        self._require_loan(write, record, LoanStatus.APPROVED)
        write.require(payment_id not in self.payments, "payment order exists")
        write.commit()
        self._save_loan(record, loan, payment_id=payment_id)
        self._new_payment(
            payment_id,
            Direction.PAYOUT,
            loan.loan_id,
            loan.principal_minor,
            loan.currency,
            bank_code,
            account,
            now,
        )

    def complete_disbursement(
        self, record: LoanRecord, loan: Loan, report: PaymentReport, posting: Posting, now: str
    ) -> None:
        assert loan.maturity_date is not None
        write = _Write()
        self._require_loan(write, record, LoanStatus.DISBURSING)
        self._require_sent(write, report.payment_id)
        write.require(posting.posting_id not in self.postings, "posting exists")
        self._require_exposure(write, loan, principal_delta=0, overdue_delta=0)
        write.commit()
        self._save_loan(record, loan)
        self._finish_payment(report, now)
        self._post(loan.loan_id, posting)
        self._move_exposure(loan, add={open_loan_entry(loan.loan_id, loan.maturity_date)})

    def fail_disbursement(self, record: LoanRecord, loan: Loan, report: PaymentReport, now: str) -> None:
        write = _Write()
        self._require_loan(write, record, LoanStatus.DISBURSING)
        self._require_sent(write, report.payment_id)
        self._require_exposure(write, loan, principal_delta=-loan.principal_minor, overdue_delta=0)
        write.commit()
        self._save_loan(record, loan)
        self._finish_payment(report, now)
        self._move_exposure(loan, principal_delta=-loan.principal_minor)

    # -- bank answers ---------------------------------------------------------------------------------

    def record_report(self, payment_id: str, report: PaymentReport, effect: str, now: str) -> None:
        write = _Write()
        write.require(payment_id in self.payments, "no payment")
        write.commit()
        self.payments[payment_id]["reports"].append(StoredReport(report, effect, now))

    # -- extension ------------------------------------------------------------------------------------

    def extend(
        self,
        record: LoanRecord,
        loan: Loan,
        *,
        reclassification: Posting | None,
        overdue_delta: int,
        request_hash: str,
        now: str,
    ) -> None:
        assert loan.maturity_date is not None
        write = _Write()
        self._require_loan(write, record, record.loan.status)
        stored = self.loans.get(record.loan.loan_id)
        write.require(stored is not None and not stored.loan.extended, "already extended")
        if reclassification is not None:
            write.require(reclassification.posting_id not in self.postings, "posting exists")
        self._require_exposure(write, loan, principal_delta=0, overdue_delta=overdue_delta)
        write.commit()
        self._save_loan(record, loan, extension_request=request_hash)
        if reclassification is not None:
            self._post(loan.loan_id, reclassification)
        self._move_exposure(
            loan, overdue_delta=overdue_delta, add={open_loan_entry(loan.loan_id, loan.maturity_date)}
        )

    # -- the daily job --------------------------------------------------------------------------------

    def mark_overdue(
        self, record: LoanRecord, loan: Loan, event: OutboxEvent, *, business_date: date, now: datetime
    ) -> None:
        write = _Write()
        self._require_loan(write, record, LoanStatus.ACTIVE)
        stored = self.loans.get(record.loan.loan_id)
        maturity = stored.loan.maturity_date if stored else None
        write.require(maturity is not None and maturity <= business_date, "not at maturity")
        self._require_exposure(write, loan, principal_delta=0, overdue_delta=1)
        write.require(event.event_id not in self.outbox, "event exists")
        write.commit()
        self._save_loan(record, loan)
        self._move_exposure(loan, overdue_delta=1)
        self.outbox[event.event_id] = event

    def announce(self, record: LoanRecord, event: OutboxEvent, now: datetime) -> bool:
        write = _Write()
        stored = self.loans.get(record.loan.loan_id)
        write.require(
            stored is not None
            and stored.loan.status is LoanStatus.ACTIVE
            and stored.loan.maturity_date == record.loan.maturity_date,
            "loan moved",
        )
        write.require(event.event_id not in self.outbox, "event exists")
        if write.failed:
            return False
        self.outbox[event.event_id] = event
        return True

    # -- repayment ------------------------------------------------------------------------------------

    def request_repayment(self, repayment: Repayment, event: OutboxEvent, now: datetime) -> None:
        write = _Write()
        stored = self.loans.get(repayment.loan_id)
        write.require(stored is not None and stored.loan.status in REPAYABLE, "loan not repayable")
        write.require(repayment.repayment_id not in self.repayments, "repayment exists")
        write.require(event.event_id not in self.outbox, "event exists")
        write.commit()
        self.repayments[repayment.repayment_id] = repayment
        self.outbox[event.event_id] = event

    def start_collection(self, repayment: Repayment, *, bank_code: str, account: Account, now: str) -> None:
        write = _Write()
        existing = self.repayments.get(repayment.repayment_id)
        write.require(existing is not None and existing.status is RepaymentStatus.PENDING, "not PENDING")
        write.require(repayment.repayment_id not in self.payments, "payment order exists")
        write.commit()
        self._new_payment(
            repayment.repayment_id,
            Direction.COLLECTION,
            repayment.loan_id,
            repayment.amount_minor,
            repayment.currency,
            bank_code,
            account,
            now,
        )

    def apply_repayment(
        self,
        record: LoanRecord,
        loan: Loan,
        repayment: Repayment,
        *,
        stored: bool,
        posting: Posting,
        principal_repaid: int,
        overdue_delta: int,
        now: str,
        report: PaymentReport | None = None,
    ) -> None:
        assert repayment.allocation is not None and repayment.value_date is not None
        write = _Write()
        if report is not None:
            self._require_sent(write, report.payment_id)
        changed = loan != record.loan
        repaid = loan.status is LoanStatus.REPAID and record.loan.status is not LoanStatus.REPAID
        moves_exposure = changed and bool(principal_repaid or overdue_delta or repaid)
        self._require_loan(write, record, record.loan.status if changed else None)
        if moves_exposure:
            self._require_exposure(
                write, loan, principal_delta=-principal_repaid, overdue_delta=overdue_delta
            )
        existing = self.repayments.get(repayment.repayment_id)
        if stored:
            pending = existing is not None and existing.status is RepaymentStatus.PENDING
            write.require(pending, "repayment not PENDING")
        else:
            write.require(existing is None, "repayment exists")
        write.require(posting.posting_id not in self.postings, "posting exists")
        write.commit()
        overpayment = repayment.allocation.overpayment
        if changed:
            self._save_loan(record, loan, overpayment_owed=overpayment)
        else:
            self._count(loan, loan, overpayment_owed=overpayment)
        if loan.overpayment_minor > record.loan.overpayment_minor:
            self.refunds_owed.add(loan.loan_id)
        if moves_exposure:
            self._move_exposure(
                loan,
                principal_delta=-principal_repaid,
                overdue_delta=overdue_delta,
                remove=self._open_entries(loan) if repaid else None,
            )
        if stored and existing is not None:
            repayment = replace(
                existing,
                status=RepaymentStatus.APPLIED,
                allocation=repayment.allocation,
                value_date=repayment.value_date,
            )
        self.repayments[repayment.repayment_id] = repayment
        self._post(repayment.loan_id, posting)
        if report is not None:
            self._finish_payment(report, now)

    def _post(self, loan_id: str, posting: Posting) -> None:
        self.postings[posting.posting_id] = posting
        self.posting_loans[posting.posting_id] = loan_id

    @staticmethod
    def _open_entries(loan: Loan) -> set[str]:
        if loan.value_date is None or loan.maturity_date is None:
            return set()
        first = loan.value_date + timedelta(days=loan.term_days)
        return {open_loan_entry(loan.loan_id, first), open_loan_entry(loan.loan_id, loan.maturity_date)}

    def fail_repayment(
        self, repayment: Repayment, reason: str, now: str, *, report: PaymentReport | None = None
    ) -> None:
        write = _Write()
        existing = self.repayments.get(repayment.repayment_id)
        write.require(existing is not None and existing.status is RepaymentStatus.PENDING, "not PENDING")
        if report is not None:
            self._require_sent(write, report.payment_id)
        write.commit()
        assert existing is not None
        self.repayments[repayment.repayment_id] = replace(
            existing, status=RepaymentStatus.FAILED, failure_reason=reason
        )
        if report is not None:
            self._finish_payment(report, now)

    # -- refunds --------------------------------------------------------------------------------------

    def loans_owed_refunds(self) -> list[LoanRecord]:
        found = [self.loans[loan_id] for loan_id in self.refunds_owed if loan_id in self.loans]
        found.sort(key=lambda s: (s.loan.supplier_id, s.loan.currency, s.loan.loan_id))
        return [stored.record() for stored in found]

    def refund_account(self, supplier_id: str) -> Account | None:
        return None if supplier_id in self.unverified else self.accounts.get(supplier_id)

    def reserve_refund(
        self,
        refund: RefundOrder,
        records: list[LoanRecord],
        loans: list[Loan],
        *,
        bank_code: str,
        account: Account,
        now: str,
    ) -> None:
        write = _Write()
        write.require(refund.refund_id not in self.payments, "payment order exists")
        for record in records:
            self._require_loan(write, record)
            stored = self.loans.get(record.loan.loan_id)
            write.require(stored is not None and stored.loan.refund_id is None, "loan in a refund")
        write.commit()
        for record, loan in zip(records, loans, strict=True):
            self._save_loan(record, loan)
        first = refund.parts[0][0] if refund.parts else ""
        self._new_payment(
            refund.refund_id,
            Direction.PAYOUT,
            first,
            refund.amount_minor,
            refund.currency,
            bank_code,
            account,
            now,
        )
        self.payments[refund.refund_id]["refund"] = refund

    def close_refund(
        self,
        refund: RefundOrder,
        records: list[LoanRecord],
        loans: list[Loan],
        report: PaymentReport,
        *,
        postings: dict[str, Posting],
        event: OutboxEvent | None,
        now: str,
    ) -> None:
        write = _Write()
        self._require_sent(write, report.payment_id)
        for record in records:
            self._require_loan(write, record)
            stored = self.loans.get(record.loan.loan_id)
            write.require(stored is not None and stored.loan.refund_id == refund.refund_id, "not in refund")
        for posting in postings.values():
            write.require(posting.posting_id not in self.postings, "posting exists")
        if event is not None:
            write.require(event.event_id not in self.outbox, "event exists")
        write.commit()
        self._finish_payment(report, now)
        for record, loan in zip(records, loans, strict=True):
            self._save_loan(record, loan, overpayment_owed=record.loan.refunded_minor - loan.refunded_minor)
            if loan.overpayment_minor == loan.refunded_minor:
                self.refunds_owed.discard(loan.loan_id)
        for loan_id, posting in postings.items():
            self._post(loan_id, posting)
        if event is not None:
            self.outbox[event.event_id] = event


class FakeBankGateway(BankGateway):
    """A `BankGateway` that applies each payment id once (SETTLED on `value_date` unless told
    to reject or hold it: a held order is PENDING, as a file bank's is until it answers); records
    every call; can lose the answer to a `pay` it applied."""

    def __init__(self, value_date: date) -> None:
        self.value_date = value_date
        self.rejections: dict[str, str] = {}  # payment id -> reason
        self.held: set[str] = set()  # answered PENDING
        self.lose_answer_to: set[str] = set()  # applied, then the answer is lost (once per id)
        self.unreachable = False  # neither `pay` nor `status` gets through
        self.applied: dict[str, PaymentResult] = {}
        self.sent: list[PaymentOrder] = []
        self.asked: list[str] = []

    def reject(self, payment_id: str, reason: str = "ACCOUNT_CLOSED") -> None:
        self.rejections[payment_id] = reason

    def hold(self, payment_id: str) -> None:
        self.held.add(payment_id)

    def pay(self, order: PaymentOrder) -> PaymentResult:
        if self.unreachable:
            raise BankUnavailable(f"the bank cannot be reached for {order.payment_id}")
        self.sent.append(order)
        result = self.applied.get(order.payment_id)
        if result is None:
            result = self._outcome(order.payment_id)
            self.applied[order.payment_id] = result
        if order.payment_id in self.lose_answer_to:
            self.lose_answer_to.discard(order.payment_id)
            raise BankUnavailable(f"the answer for {order.payment_id} was lost")
        return result

    def status(self, payment_id: str) -> PaymentResult:
        if self.unreachable:
            raise BankUnavailable(f"the bank cannot be reached for {payment_id}")
        self.asked.append(payment_id)
        return self.applied.get(payment_id, PaymentResult(payment_id, PaymentStatus.UNKNOWN))

    def sent_ids(self) -> list[str]:
        return [order.payment_id for order in self.sent]

    def _outcome(self, payment_id: str) -> PaymentResult:
        if payment_id in self.held:
            return PaymentResult(payment_id, PaymentStatus.PENDING, bank_reference=f"REF-{payment_id}")
        if payment_id in self.rejections:
            return PaymentResult(payment_id, PaymentStatus.REJECTED, reason=self.rejections[payment_id])
        return PaymentResult(
            payment_id, PaymentStatus.SETTLED, value_date=self.value_date, bank_reference=f"REF-{payment_id}"
        )


@dataclass
class FakeGateways(Gateways):
    """The `Gateways`: one bank behind every bank code; records the codes asked for."""

    bank: BankGateway
    asked_for: list[str] = field(default_factory=list)

    def for_bank(self, bank_code: str) -> BankGateway:
        self.asked_for.append(bank_code)
        return self.bank


# ---- the statement matcher's ports (issue 9) -------------------------------------------------------
from scf.service.statements import BankEntry, LoanRef, PaymentRef  # noqa: E402


@dataclass
class FakeStatementStore:
    """`StatementStore` in memory: entries recorded once per entry id, with their repayment and event."""

    loans: dict[str, LoanRef] = field(default_factory=dict)
    payments: dict[str, PaymentRef] = field(default_factory=dict)
    entries: dict[str, BankEntry] = field(default_factory=dict)
    repayments: list[Repayment] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)

    def get_loan_ref(self, loan_id: str) -> LoanRef | None:
        return self.loans.get(loan_id)

    def get_payment_ref(self, payment_id: str) -> PaymentRef | None:
        return self.payments.get(payment_id)

    def recorded_match(self, entry_id: str) -> dict[str, Any] | None:
        entry = self.entries.get(entry_id)
        return None if entry is None else dict(entry.matched)

    def record_entry(
        self,
        entry: BankEntry,
        now: datetime,
        *,
        repayment: Repayment | None = None,
        event: OutboxEvent | None = None,
    ) -> dict[str, Any] | None:
        if entry.entry_id in self.entries:
            return dict(self.entries[entry.entry_id].matched)
        self.entries[entry.entry_id] = replace(entry, matched=dict(entry.matched))
        self.repayments += [repayment] if repayment is not None else []
        self.events += [event] if event is not None else []
        return None

    def listed(self) -> list[BankEntry]:
        """What ops see (`GET /v1/unmatched`): entries recorded with a code."""
        return [e for e in self.entries.values() if e.code]


@dataclass
class FakePaymentOutcomes:
    """`PaymentOutcomes` answering from a script per payment id (default SETTLED for a SETTLED
    report, REJECTED for a REJECTED one, RECORDED otherwise); a report seen before is RECORDED,
    as the real service's conditions make it. Keeps every report it was given."""

    effects: dict[str, str] = field(default_factory=dict)
    reports: list[PaymentReport] = field(default_factory=list)

    def apply(self, report: PaymentReport) -> str:
        repeated = report in self.reports
        self.reports.append(report)
        if report.payment_id in self.effects:
            return self.effects[report.payment_id]
        if repeated:
            return "RECORDED"
        return {PaymentStatus.SETTLED: "SETTLED", PaymentStatus.REJECTED: "REJECTED"}.get(
            report.status, "RECORDED"
        )


def a_loan(**fields: Any) -> Loan:
    """A loan for the unit tests: 100,000.00 CNY at 10% a year for 30 days, APPROVED; `fields`
    override any of it, and a `value_date` makes it paid out (ACTIVE, maturity after its term)."""
    principal = fields.pop("principal_minor", 10_000_000)
    loan: dict[str, Any] = {
        "loan_id": "L1",
        "supplier_id": "S1",
        "status": LoanStatus.APPROVED,
        "currency": "CNY",
        "principal_minor": principal,
        "outstanding_principal_minor": principal,
        "annual_rate": Decimal("0.10"),
        "term_days": 30,
    }
    value_date = fields.get("value_date")
    if value_date is not None:
        loan["status"] = LoanStatus.ACTIVE
        loan["maturity_date"] = value_date + timedelta(days=fields.get("term_days", 30))
        loan["principal_changes"] = (PrincipalChange(on=value_date, outstanding_minor=principal),)
    return Loan(**(loan | fields))


class FakeRepublishStore:
    """`scf.service.republish.RepublishStore` over a FakeLoanStore: approved loans and pending
    repayments read from it (`requested_at` says when each repayment was requested), and an event
    published again once per business date while its effect has not happened."""

    def __init__(self, loans: FakeLoanStore, requested_at: dict[str, datetime] | None = None) -> None:
        self.loans = loans
        self.requested_at = requested_at or {}
        self.republished_on: dict[str, date] = {}
        self.published: list[str] = []  # event ids, in the order they went out again

    def approved_loans(self) -> list[LoanRecord]:
        return [s.record() for s in self.loans.loans.values() if s.loan.status is LoanStatus.APPROVED]

    def pending_repayments_before(self, moment: datetime) -> list[Repayment]:
        return [
            r
            for r in self.loans.repayments.values()
            if r.status is RepaymentStatus.PENDING and self.requested_at[r.repayment_id] < moment
        ]

    def republish(self, event: OutboxEvent, *, business_date: date, now: datetime) -> bool:
        if "repayment_id" in event.payload:
            repayment = self.loans.repayments.get(str(event.payload["repayment_id"]))
            effectless = repayment is not None and repayment.status is RepaymentStatus.PENDING
        else:
            stored = self.loans.loans.get(str(event.payload["loan_id"]))
            effectless = stored is not None and stored.loan.status is LoanStatus.APPROVED
        if not effectless or self.republished_on.get(event.event_id) == business_date:
            return False
        self.republished_on[event.event_id] = business_date
        self.published.append(event.event_id)
        return True


class FakeLedger:
    """`scf.service.ledger_check.LedgerReader` over a FakeLoanStore's postings; `touched` is the
    markers by business date."""

    def __init__(self, loans: FakeLoanStore) -> None:
        self.loans = loans
        self.touched: dict[date, set[str]] = {}

    def postings_of(self, loan_id: str) -> list[Posting]:
        return [p for pid, p in self.loans.postings.items() if self.loans.posting_loans[pid] == loan_id]

    def touched_loans(self, business_date: date) -> list[str]:
        return sorted(self.touched.get(business_date, set()))


class RecordedAlarms:
    """`scf.service.ledger_check.MismatchAlarm` that keeps what was raised."""

    def __init__(self) -> None:
        self.raised: list[LedgerMismatch] = []

    def raise_alarm(self, mismatch: LedgerMismatch) -> None:
        self.raised.append(mismatch)


@dataclass(frozen=True)
class Point:
    name: str
    value: float  # float-ok: a metric value
    unit: Unit
    dimensions: dict[str, str]


@dataclass
class RecordingMetrics(Metrics):
    """`Metrics` keeping every point, in order."""

    points: list[Point] = field(default_factory=list)

    def put(self, name: str, value: float, unit: Unit = Unit.COUNT, **dimensions: str) -> None:  # float-ok
        self.points.append(Point(name, value, unit, dict(dimensions)))

    def of(self, name: str) -> list[Point]:
        return [p for p in self.points if p.name == name]

    def counted(self, name: str, **dimensions: str) -> float:  # float-ok
        """The sum of `name`'s points with at least these dimensions."""
        return sum(p.value for p in self.of(name) if dimensions.items() <= p.dimensions.items())
