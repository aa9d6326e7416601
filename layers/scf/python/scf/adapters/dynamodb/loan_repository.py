"""The loan store (`scf.service.loan_store.LoanStore`) on the business table: every money movement
is one TransactWriteItems whose conditions guard the port's invariants. DynamoDB errors are
translated here, in one place: a failed condition becomes `StaleWrite`, anything else propagates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from scf import correlation
from scf.adapters.dynamodb.ledger_repository import posting_item, touched_item
from scf.adapters.dynamodb.models import (
    ExposureItem,
    LoanItem,
    OutboxItem,
    PaymentItem,
    PoolItem,
    PostingItem,
    RefundOwedItem,
    RepaymentItem,
    SupplierItem,
    SupplierOverdueItem,
    open_index_moment,
)
from scf.adapters.dynamodb.portfolio_counters import count_loan_change, count_loan_changes, read_counters
from scf.adapters.dynamodb.transactions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    batch_get,
    cancellation_codes,
    connection,
    decode_index_token,
    decode_token,
    encode_token,
    is_condition_failure,
)
from scf.clock import Clock, SystemClock
from scf.domain.interest import DayCount, PrincipalChange
from scf.domain.ledger import Posting
from scf.domain.loan import Loan, LoanStatus, Repayment, RepaymentSource, RepaymentStatus
from scf.domain.portfolio import Counters
from scf.domain.waterfall import Allocation
from scf.events import OUTBOX_TTL_SECONDS, TARGET_OF, OutboxEvent, stored_payload
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
from scf.service.payments import Account, Direction, PaymentKind, PaymentReport, mask_account, payment_kind


def _loan(item: LoanItem) -> LoanRecord:
    loan = Loan(
        loan_id=item.loan_id,
        supplier_id=item.supplier_id,
        status=LoanStatus(item.status),
        currency=item.currency,
        principal_minor=int(item.principal_minor),
        outstanding_principal_minor=int(item.outstanding_principal_minor),
        annual_rate=Decimal(item.annual_rate),
        term_days=int(item.term_days),
        day_count=DayCount(item.day_count),
        penalty_multiplier=Decimal(item.penalty_multiplier),
        value_date=date.fromisoformat(item.value_date) if item.value_date else None,
        maturity_date=date.fromisoformat(item.maturity_date) if item.maturity_date else None,
        extended=bool(item.extended),
        interest_paid_minor=int(item.interest_paid_minor),
        penalty_paid_minor=int(item.penalty_paid_minor),
        principal_changes=tuple(
            PrincipalChange(date.fromisoformat(on), int(amount))
            for on, amount in item.principal_changes or []
        ),
        overpayment_minor=int(item.overpayment_minor or 0),
        refunded_minor=int(item.refunded_minor or 0),
        refund_pending_minor=int(item.refund_pending_minor or 0),
        refund_id=item.refund_id,
    )
    return LoanRecord(
        loan=loan,
        version=item.version,
        created_at=item.created_at,
        extension_request=item.extension_request,
        payout_account=_account(item.payout_account),
        counted=bool(item.in_portfolio),
    )


def _account(data: dict[str, Any] | None) -> Account | None:
    if not data:
        return None
    return Account(bank_code=data["bank_code"], account_number=data["account_number"], name=data["name"])


def account_json(account: Account) -> dict[str, str]:
    """An account as the loan and payment items keep it (the full number, and its masked form)."""
    return {**account.as_json(), "masked": mask_account(account.account_number)}


def _payment(item: PaymentItem) -> PaymentRecord:
    return PaymentRecord(
        payment_id=item.payment_id,
        direction=Direction(item.direction),
        loan_id=item.loan_id,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        bank_code=item.bank_code,
        status=item.status,
        account=_account(item.account),
        reports=tuple(
            StoredReport.from_json(item.payment_id, json.loads(str(r))) for r in item.reports or []
        ),
        refund=RefundOrder.from_json(item.refund) if item.refund else None,
        sent_at=datetime.fromisoformat(item.created_at),
    )


def _report_json(report: PaymentReport, effect: str, now: str) -> str:
    entry = StoredReport(report=report, effect=effect, at=now).as_json()
    return json.dumps(entry, separators=(",", ":"), sort_keys=True)


def _append_report(report: PaymentReport, effect: str, now: str) -> list[Action]:
    return [
        PaymentItem.reports.set((PaymentItem.reports | []).append([_report_json(report, effect, now)])),
        PaymentItem.updated_at.set(now),
    ]


def _final_outcome(report: PaymentReport, now: str) -> tuple[list[Action], Any]:
    """The payment's final outcome (set once: the condition is that it is still SENT), the report
    that gave it appended, and the payment out of the open-payment index."""
    actions = [
        PaymentItem.status.set(report.status.value),
        *_append_report(report, report.status.value, now),
        PaymentItem.gsi2pk.remove(),  # out of the open payments (the daily inquiry's index)
        PaymentItem.gsi2sk.remove(),
    ]
    if report.reference:
        actions.append(PaymentItem.bank_reference.set(report.reference))
    if report.value_date:
        actions.append(PaymentItem.value_date.set(report.value_date.isoformat()))
    if report.reason:
        actions.append(PaymentItem.reason.set(report.reason))
    return actions, PaymentItem.status == SENT


def _repayment(item: RepaymentItem) -> Repayment:
    return Repayment(
        repayment_id=item.repayment_id,
        loan_id=item.loan_id,
        supplier_id=item.supplier_id,
        status=RepaymentStatus(item.status),
        source=RepaymentSource(item.source),
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        allocation=Allocation.from_minor(item.allocation) if item.allocation else None,
        value_date=date.fromisoformat(item.value_date) if item.value_date else None,
        failure_reason=item.failure_reason,
        request_hash=item.request_hash,
    )


def _loan_handle(record: LoanRecord) -> LoanItem:
    """A key-only LoanItem carrying the version read, so PynamoDB adds the version condition."""
    item = LoanItem(*LoanItem.key(record.loan.loan_id))
    item.version = record.version
    return item


def _status_index(loan: Loan) -> list[Action]:
    """gsi2 follows the loan's stored status and maturity (every write that changes either)."""
    maturity = loan.maturity_date.isoformat() if loan.maturity_date else None
    return [
        LoanItem.gsi2pk.set(LoanItem.status_index_pk(loan.status.value)),
        LoanItem.gsi2sk.set(LoanItem.status_index_sk(loan.loan_id, maturity)),
    ]


def _changes_json(loan: Loan) -> list[list[Any]]:
    return [[change.on.isoformat(), change.outstanding_minor] for change in loan.principal_changes]


def _open_loan_entries(loan: Loan) -> set[str]:
    """The loan's entries in `ExposureItem.open_loans`: its maturity as paid out and, once extended,
    its new one (docs/access-patterns.md)."""
    if loan.value_date is None or loan.maturity_date is None:
        return set()
    dates = {loan.value_date + timedelta(days=loan.term_days), loan.maturity_date}
    return {ExposureItem.open_loan_entry(loan.loan_id, day.isoformat()) for day in dates}


class DynamoLoanStore(LoanStore):
    """The `LoanStore` on DynamoDB (subclassing the Protocol lets mypy check every method).
    `clock` gives the business date of the `TouchedItem` markers (the function's own clock)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()

    def _touched(self, transaction: TransactWrite, loan_id: str) -> None:
        """The loan moved today: its marker for the daily LEDGER_CHECK (one Put, idempotent)."""
        transaction.save(touched_item(loan_id, self.clock.today()))

    @contextmanager
    def _transaction(self) -> Iterator[TransactWrite]:
        """One TransactWriteItems, committed when the block ends (PynamoDB adds version conditions)."""
        try:
            with TransactWrite(connection=connection()) as transaction:
                yield transaction
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if CONDITION_FAILED in codes or TRANSACTION_CONFLICT in codes:
                raise StaleWrite(codes) from exc
            raise

    # -- reads (strongly consistent: every decision here is about money) --------------------------

    def get_loan(self, loan_id: str) -> LoanRecord | None:
        try:
            return _loan(LoanItem.get(*LoanItem.key(loan_id), consistent_read=True))
        except LoanItem.DoesNotExist:
            return None

    def get_supplier_account(self, supplier_id: str) -> Account | None:
        item = _supplier(supplier_id)
        return _supplier_account(item) if item else None

    def get_repayment(self, repayment_id: str) -> Repayment | None:
        try:
            return _repayment(RepaymentItem.get(*RepaymentItem.key(repayment_id), consistent_read=True))
        except RepaymentItem.DoesNotExist:
            return None

    def get_payment(self, payment_id: str) -> PaymentRecord | None:
        try:
            return _payment(PaymentItem.get(*PaymentItem.key(payment_id), consistent_read=True))
        except PaymentItem.DoesNotExist:
            return None

    def repayments_of(self, loan_id: str) -> list[Repayment]:
        """A loan's repayments, oldest first (gsi1 LOAN#<id>#REPAYMENTS)."""
        query = RepaymentItem.by_loan.query(f"LOAN#{loan_id}#REPAYMENTS", scan_index_forward=True)
        return [_repayment(item) for item in query if isinstance(item, RepaymentItem)]

    def loans_of(self, supplier_id: str, *, limit: int, next_token: str | None) -> Page:
        """A supplier's loans, newest first (gsi1 SUPPLIER#<id>#LOANS), one page."""
        index_pk = LoanItem.supplier_index_pk(supplier_id)
        start = decode_token(next_token, gsi1pk=index_pk)
        query = LoanItem.by_supplier.query(
            index_pk, scan_index_forward=False, limit=limit, last_evaluated_key=start, page_size=limit
        )
        items = [_loan(item) for item in query if isinstance(item, LoanItem)]
        last = query.last_evaluated_key
        return Page(items=items, next_token=encode_token(last))

    def all_loans_of(self, supplier_id: str) -> list[LoanRecord]:
        query = LoanItem.by_supplier.query(LoanItem.supplier_index_pk(supplier_id))
        return [_loan(item) for item in query if isinstance(item, LoanItem)]

    def pool_state(self, supplier_id: str, currency: str) -> dict[str, Any] | None:
        """The supplier's receivables pool (scf.domain.pool state), None before any document."""
        try:
            item = PoolItem.get(*PoolItem.key(supplier_id, currency), consistent_read=True)
        except PoolItem.DoesNotExist:
            return None
        state: dict[str, Any] = item.state
        return state

    # -- ops reads -----------------------------------------------------------------------------------

    def ops_loans(self, wanted: LoanFilter, *, limit: int, next_token: str | None) -> Page:
        """One DynamoDB page (Limit = `limit`, the other filters a FilterExpression): gsi1
        SUPPLIER#<id>#LOANS newest first, else gsi2 LOANS#<status> latest maturity first."""
        condition = None
        index: GlobalSecondaryIndex[Any]
        if wanted.supplier_id is not None:
            index, partition = LoanItem.by_supplier, LoanItem.supplier_index_pk(wanted.supplier_id)
            start = decode_index_token(next_token, index="gsi1", partition=partition)
            if wanted.status is not None:
                condition = LoanItem.status == wanted.status.value
        else:
            assert wanted.status is not None
            index, partition = LoanItem.by_status, LoanItem.status_index_pk(wanted.status.value)
            start = decode_index_token(next_token, index="gsi2", partition=partition)
        if wanted.currency is not None:
            currency = LoanItem.currency == wanted.currency
            condition = currency if condition is None else condition & currency
        query = index.query(
            partition,
            filter_condition=condition,
            scan_index_forward=False,
            last_evaluated_key=start,
            page_size=limit,
        )
        raw = next(query.page_iter)
        items = [_loan(LoanItem.from_raw_data(item)) for item in raw.get("Items", [])]
        return Page(items=items, next_token=encode_token(query.page_iter.last_evaluated_key))

    def portfolio_counters(self, currency: str) -> Counters:
        return read_counters(currency)

    def loans_past_maturity(self, currency: str, as_of: date) -> list[LoanRecord]:
        """gsi2 LOANS#OVERDUE (all of it) and LOANS#ACTIVE up to `as_of`, the currency's loans."""
        overdue = LoanItem.by_status.query(
            LoanItem.status_index_pk(LoanStatus.OVERDUE.value), filter_condition=LoanItem.currency == currency
        )
        found = [_loan(item) for item in overdue if isinstance(item, LoanItem)]
        found += [r for r in self.active_loans_maturing_by(as_of) if r.loan.currency == currency]
        return found

    # -- the daily job's reads -----------------------------------------------------------------------

    def active_loans_maturing_by(self, day: date) -> list[LoanRecord]:
        """gsi2 LOANS#ACTIVE with gsi2sk <= "<day>#~" ('~' sorts after every loan id)."""
        query = LoanItem.by_status.query(
            LoanItem.status_index_pk(LoanStatus.ACTIVE.value), LoanItem.gsi2sk <= f"{day.isoformat()}#~"
        )
        return [_loan(item) for item in query if isinstance(item, LoanItem)]

    def active_loans_maturing_on(self, day: date) -> list[LoanRecord]:
        """gsi2 LOANS#ACTIVE with begins_with(gsi2sk, "<day>#")."""
        query = LoanItem.by_status.query(
            LoanItem.status_index_pk(LoanStatus.ACTIVE.value),
            LoanItem.gsi2sk.startswith(f"{day.isoformat()}#"),
        )
        return [_loan(item) for item in query if isinstance(item, LoanItem)]

    def open_payments(self, kind: PaymentKind, sent_before: datetime) -> list[PaymentRecord]:
        """gsi2 PAYMENTS#OPEN#<kind> with gsi2sk < "<sent_before, UTC>" (oldest first)."""
        query = PaymentItem.open_by_kind.query(
            PaymentItem.open_index_pk(kind.value), PaymentItem.gsi2sk < open_index_moment(sent_before)
        )
        return [_payment(item) for item in query if isinstance(item, PaymentItem)]

    # -- the one-off backfill (scripts/backfill_portfolio.py) ------------------------------------------

    def count_in_portfolio(self, record: LoanRecord, now: str) -> bool:
        """A loan stored before the portfolio's counters: its whole contribution ADDed to its shard,
        its gsi2 keys set and the loan marked counted, on condition that it is unchanged and not
        counted (False, nothing written: counted already; `StaleWrite`: it moved, read it again)."""
        if record.counted:
            return False
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    *_status_index(record.loan),
                    *count_loan_change(transaction, None, record.loan, now=now),
                ],
                condition=LoanItem.in_portfolio.does_not_exist(),
            )
        return True

    # -- disbursement --------------------------------------------------------------------------------

    def start_disbursement(
        self, record: LoanRecord, loan: Loan, payment_id: str, bank_code: str, now: str, *, account: Account
    ) -> None:
        """APPROVED -> DISBURSING with its payment order, in one transaction."""
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    LoanItem.status.set(loan.status.value),
                    *_status_index(loan),
                    LoanItem.payment_id.set(payment_id),
                    LoanItem.updated_at.set(now),
                    *count_loan_change(transaction, record.counted_loan, loan, now=now),
                ],
                condition=LoanItem.status == LoanStatus.APPROVED.value,
            )
            transaction.save(
                _sent_payment(
                    payment_id,
                    loan.loan_id,
                    Direction.PAYOUT,
                    loan.principal_minor,
                    loan.currency,
                    bank_code=bank_code,
                    account=account,
                    now=now,
                ),
                condition=PaymentItem.pk.does_not_exist(),
            )

    def complete_disbursement(
        self, record: LoanRecord, loan: Loan, report: PaymentReport, posting: Posting, now: str
    ) -> None:
        """DISBURSING -> ACTIVE, payment SETTLED and the disbursement posting, all or nothing."""
        assert loan.value_date is not None and loan.maturity_date is not None
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    LoanItem.status.set(loan.status.value),
                    *_status_index(loan),
                    LoanItem.value_date.set(loan.value_date.isoformat()),
                    LoanItem.maturity_date.set(loan.maturity_date.isoformat()),
                    LoanItem.outstanding_principal_minor.set(loan.outstanding_principal_minor),
                    LoanItem.principal_changes.set(_changes_json(loan)),
                    LoanItem.updated_at.set(now),
                    *count_loan_change(transaction, record.counted_loan, loan, now=now),
                ],
                condition=LoanItem.status == LoanStatus.DISBURSING.value,
            )
            actions, still_sent = _final_outcome(report, now)
            transaction.update(
                PaymentItem(*PaymentItem.key(report.payment_id)), actions=actions, condition=still_sent
            )
            transaction.save(
                posting_item(loan.loan_id, loan.currency, posting, reference=report.payment_id, now=now),
                condition=PostingItem.pk.does_not_exist(),
            )
            self._touched(transaction, loan.loan_id)
            self._exposure_update(
                transaction,
                loan,
                principal_delta=0,
                overdue_delta=0,
                now=now,
                open_loans_add={ExposureItem.open_loan_entry(loan.loan_id, loan.maturity_date.isoformat())},
            )
            _save_event(transaction, loan.activated_event(report.payment_id), now)

    def fail_disbursement(self, record: LoanRecord, loan: Loan, report: PaymentReport, now: str) -> None:
        """DISBURSING -> FAILED, payment REJECTED and the reserved principal released, all or nothing."""
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    LoanItem.status.set(loan.status.value),
                    *_status_index(loan),
                    LoanItem.outstanding_principal_minor.set(loan.outstanding_principal_minor),
                    LoanItem.updated_at.set(now),
                    *count_loan_change(transaction, record.counted_loan, loan, now=now),
                ],
                condition=LoanItem.status == LoanStatus.DISBURSING.value,
            )
            actions, still_sent = _final_outcome(report, now)
            transaction.update(
                PaymentItem(*PaymentItem.key(report.payment_id)), actions=actions, condition=still_sent
            )
            self._exposure_update(
                transaction, loan, principal_delta=-loan.principal_minor, overdue_delta=0, now=now
            )
            _save_event(transaction, loan.failed_event(report.payment_id, report.reason), now)
            self._touched(transaction, loan.loan_id)

    # -- bank answers --------------------------------------------------------------------------------

    def record_report(self, payment_id: str, report: PaymentReport, effect: str, now: str) -> None:
        """Append a report that changes nothing else, to an existing payment."""
        try:
            PaymentItem(*PaymentItem.key(payment_id)).update(
                actions=_append_report(report, effect, now), condition=PaymentItem.pk.exists()
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise StaleWrite([CONDITION_FAILED]) from exc
            raise

    @staticmethod
    def _exposure_update(
        transaction: TransactWrite,
        loan: Loan,
        *,
        principal_delta: int,
        overdue_delta: int,
        now: str,
        open_loans_add: set[str] | None = None,
        open_loans_remove: set[str] | None = None,
    ) -> None:
        actions: list[Action] = [ExposureItem.updated_at.set(now)]
        if open_loans_add:
            actions.append(ExposureItem.open_loans.add(open_loans_add))
        if open_loans_remove:
            actions.append(ExposureItem.open_loans.delete(open_loans_remove))
        condition = ExposureItem.pk.exists()
        if principal_delta:
            actions.append(ExposureItem.principal_minor.add(principal_delta))
            if principal_delta < 0:
                condition &= ExposureItem.principal_minor >= -principal_delta
        if overdue_delta:
            actions.append(ExposureItem.overdue_loans.add(overdue_delta))
            if overdue_delta < 0:
                condition &= ExposureItem.overdue_loans >= -overdue_delta
        transaction.update(
            ExposureItem(*ExposureItem.key(loan.supplier_id, loan.currency)),
            actions=actions,
            condition=condition,
        )
        if overdue_delta or open_loans_add or open_loans_remove:
            # The supplier's count and open entries across currencies (HAS_OVERDUE_LOAN).
            every: list[Action] = [
                SupplierOverdueItem.supplier_id.set(loan.supplier_id),
                SupplierOverdueItem.updated_at.set(now),
            ]
            every_condition = None
            if open_loans_add:
                every.append(SupplierOverdueItem.open_loans.add(open_loans_add))
            if open_loans_remove:
                every.append(SupplierOverdueItem.open_loans.delete(open_loans_remove))
            if overdue_delta:
                every.append(SupplierOverdueItem.overdue_loans.add(overdue_delta))
                if overdue_delta < 0:
                    every_condition = SupplierOverdueItem.overdue_loans >= -overdue_delta
            transaction.update(
                SupplierOverdueItem(*SupplierOverdueItem.key(loan.supplier_id)),
                actions=every,
                condition=every_condition,
            )

    # -- extension -----------------------------------------------------------------------------------

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
        """New maturity, the reclassification posting and the overdue count, all or nothing."""
        assert loan.maturity_date is not None
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    LoanItem.status.set(loan.status.value),
                    *_status_index(loan),
                    LoanItem.maturity_date.set(loan.maturity_date.isoformat()),
                    LoanItem.extended.set(True),
                    LoanItem.extension_request.set(request_hash),
                    LoanItem.interest_paid_minor.set(loan.interest_paid_minor),
                    LoanItem.penalty_paid_minor.set(loan.penalty_paid_minor),
                    LoanItem.updated_at.set(now),
                    *count_loan_change(transaction, record.counted_loan, loan, now=now),
                ],
                condition=(LoanItem.status == record.loan.status.value)
                & (LoanItem.extended.does_not_exist() | (LoanItem.extended == False)),  # noqa: E712
            )
            if reclassification is not None:
                transaction.save(
                    posting_item(
                        loan.loan_id, loan.currency, reclassification, reference=loan.loan_id, now=now
                    ),
                    condition=PostingItem.pk.does_not_exist(),
                )
            self._touched(transaction, loan.loan_id)
            # The new maturity joins the loan's open entries (the latest one counts), so a loan
            # extended past its old maturity is not overdue to the next decision.
            self._exposure_update(
                transaction,
                loan,
                principal_delta=0,
                overdue_delta=overdue_delta,
                now=now,
                open_loans_add={ExposureItem.open_loan_entry(loan.loan_id, loan.maturity_date.isoformat())},
            )
            assert record.loan.maturity_date is not None
            _save_event(transaction, loan.extended_event(record.loan.maturity_date), now)

    # -- the daily job -------------------------------------------------------------------------------

    def mark_overdue(
        self, record: LoanRecord, loan: Loan, event: OutboxEvent, *, business_date: date, now: datetime
    ) -> None:
        """ACTIVE -> OVERDUE (condition: ACTIVE, maturity <= the job's date), the overdue count +1
        and the `LoanOverdue` event (written once), all or nothing."""
        assert loan.maturity_date is not None
        stamp = now.isoformat()
        with self._transaction() as transaction:
            transaction.update(
                _loan_handle(record),
                actions=[
                    LoanItem.status.set(loan.status.value),
                    *_status_index(loan),
                    LoanItem.updated_at.set(stamp),
                    *count_loan_change(transaction, record.counted_loan, loan, now=stamp),
                ],
                condition=(LoanItem.status == LoanStatus.ACTIVE.value)
                & (LoanItem.maturity_date <= business_date.isoformat()),
            )
            self._exposure_update(transaction, loan, principal_delta=0, overdue_delta=1, now=stamp)
            _save_event(transaction, event, now)

    def announce(self, record: LoanRecord, event: OutboxEvent, now: datetime) -> bool:
        """The event written if absent, while the loan is ACTIVE with the maturity read."""
        loan = record.loan
        assert loan.maturity_date is not None
        try:
            with self._transaction() as transaction:
                transaction.condition_check(
                    LoanItem,
                    *LoanItem.key(loan.loan_id),
                    condition=(LoanItem.status == LoanStatus.ACTIVE.value)
                    & (LoanItem.maturity_date == loan.maturity_date.isoformat()),
                )
                _save_event(transaction, event, now)
        except StaleWrite:
            return False
        return True

    # -- repayment -----------------------------------------------------------------------------------

    def request_repayment(self, repayment: Repayment, event: OutboxEvent, now: datetime) -> None:
        """RepaymentItem PENDING and its outbox event, while the loan is still repayable."""
        with self._transaction() as transaction:
            transaction.condition_check(
                LoanItem,
                *LoanItem.key(repayment.loan_id),
                condition=LoanItem.status.is_in(LoanStatus.ACTIVE.value, LoanStatus.OVERDUE.value),
            )
            transaction.save(
                self._repayment_item(repayment, now.isoformat()), condition=RepaymentItem.pk.does_not_exist()
            )
            _save_event(transaction, event, now)

    def start_collection(self, repayment: Repayment, *, bank_code: str, account: Account, now: str) -> None:
        """The collection's PaymentItem (SENT, written once) while the repayment is PENDING."""
        with self._transaction() as transaction:
            transaction.condition_check(
                RepaymentItem,
                *RepaymentItem.key(repayment.repayment_id),
                condition=RepaymentItem.status == RepaymentStatus.PENDING.value,
            )
            transaction.save(
                _sent_payment(
                    repayment.repayment_id,
                    repayment.loan_id,
                    Direction.COLLECTION,
                    repayment.amount_minor,
                    repayment.currency,
                    bank_code=bank_code,
                    account=account,
                    now=now,
                ),
                condition=PaymentItem.pk.does_not_exist(),
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
        """Loan position, exposure, the repayment APPLIED and its posting (and, with `report`, its
        collection SETTLED), all or nothing. `stored`: the RepaymentItem exists (PENDING) rather
        than being created here."""
        assert repayment.allocation is not None and repayment.value_date is not None
        overpayment = repayment.allocation.overpayment
        with self._transaction() as transaction:
            if report is not None:
                actions, still_sent = _final_outcome(report, now)
                transaction.update(
                    PaymentItem(*PaymentItem.key(report.payment_id)), actions=actions, condition=still_sent
                )
            if loan != record.loan:
                transaction.update(
                    _loan_handle(record),
                    actions=[
                        LoanItem.status.set(loan.status.value),
                        *_status_index(loan),
                        LoanItem.outstanding_principal_minor.set(loan.outstanding_principal_minor),
                        LoanItem.interest_paid_minor.set(loan.interest_paid_minor),
                        LoanItem.penalty_paid_minor.set(loan.penalty_paid_minor),
                        LoanItem.principal_changes.set(_changes_json(loan)),
                        LoanItem.overpayment_minor.set(loan.overpayment_minor),
                        LoanItem.updated_at.set(now),
                        *count_loan_change(
                            transaction, record.counted_loan, loan, now=now, overpayment_owed=overpayment
                        ),
                    ],
                    condition=LoanItem.status == record.loan.status.value,
                )
                if loan.overpayment_minor > record.loan.overpayment_minor:
                    transaction.save(_refund_owed_item(loan, now))  # the REFUND step's index
                repaid = loan.status is LoanStatus.REPAID and record.loan.status is not LoanStatus.REPAID
                if principal_repaid or overdue_delta or repaid:
                    self._exposure_update(
                        transaction,
                        loan,
                        principal_delta=-principal_repaid,
                        overdue_delta=overdue_delta,
                        now=now,
                        open_loans_remove=_open_loan_entries(loan) if repaid else None,
                    )
            else:
                # Nothing owed on the loan (all overpayment): its state must still be what was read.
                unchanged = (
                    LoanItem.version == record.version
                    if record.version is not None
                    else LoanItem.version.does_not_exist()
                )
                transaction.condition_check(LoanItem, *LoanItem.key(record.loan.loan_id), condition=unchanged)
                count_loan_change(transaction, loan, loan, now=now, overpayment_owed=overpayment)
            if stored:
                transaction.update(
                    RepaymentItem(*RepaymentItem.key(repayment.repayment_id)),
                    actions=[
                        RepaymentItem.status.set(RepaymentStatus.APPLIED.value),
                        RepaymentItem.allocation.set(repayment.allocation.as_minor()),
                        RepaymentItem.value_date.set(repayment.value_date.isoformat()),
                        RepaymentItem.updated_at.set(now),
                        *_leave_pending_index(),
                    ],
                    condition=RepaymentItem.status == RepaymentStatus.PENDING.value,
                )
            else:
                transaction.save(
                    self._repayment_item(repayment, now), condition=RepaymentItem.pk.does_not_exist()
                )
            transaction.save(
                posting_item(
                    repayment.loan_id, repayment.currency, posting, reference=repayment.repayment_id, now=now
                ),
                condition=PostingItem.pk.does_not_exist(),
            )
            _save_event(transaction, repayment.applied_event(), now)
            if loan.status is LoanStatus.REPAID and record.loan.status is not LoanStatus.REPAID:
                _save_event(transaction, loan.repaid_event(repayment.repayment_id, repayment.value_date), now)
            self._touched(transaction, repayment.loan_id)

    def fail_repayment(
        self, repayment: Repayment, reason: str, now: str, *, report: PaymentReport | None = None
    ) -> None:
        """PENDING -> FAILED (and, with `report`, its collection REJECTED), all or nothing."""
        with self._transaction() as transaction:
            transaction.update(
                RepaymentItem(*RepaymentItem.key(repayment.repayment_id)),
                actions=[
                    RepaymentItem.status.set(RepaymentStatus.FAILED.value),
                    RepaymentItem.failure_reason.set(reason),
                    RepaymentItem.updated_at.set(now),
                    *_leave_pending_index(),
                ],
                condition=RepaymentItem.status == RepaymentStatus.PENDING.value,
            )
            if report is not None:
                actions, still_sent = _final_outcome(report, now)
                transaction.update(
                    PaymentItem(*PaymentItem.key(report.payment_id)), actions=actions, condition=still_sent
                )
            _save_event(transaction, repayment.failed_event(reason), now)

    # -- refunds ---------------------------------------------------------------------------------------

    def loans_owed_refunds(self) -> list[LoanRecord]:
        """gsi2 REFUNDS#OWED (one entry per loan), then the loans in BatchGetItems (consistent)."""
        query = RefundOwedItem.by_owed.query(RefundOwedItem.INDEX_PK)
        loan_ids = [item.loan_id for item in query if isinstance(item, RefundOwedItem)]
        records: list[LoanRecord] = []
        for start in range(0, len(loan_ids), 100):
            keys = [LoanItem.key(loan_id) for loan_id in loan_ids[start : start + 100]]
            found = batch_get(keys)
            records += [_loan(LoanItem.from_raw_data(found[key])) for key in keys if key in found]
        return records

    def refund_account(self, supplier_id: str) -> Account | None:
        item = _supplier(supplier_id)
        return _supplier_account(item) if item and item.account_verified else None

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
        """The refund's PaymentItem SENT (once) and each loan's part held, loans as read (versions)."""
        with self._transaction() as transaction:
            payment = refund_payment_item(refund, bank_code, account, now)
            transaction.save(payment, condition=PaymentItem.pk.does_not_exist())
            counted = count_loan_changes(
                transaction,
                [(r.counted_loan, loan, 0) for r, loan in zip(records, loans, strict=True)],
                now=now,
            )
            for record, loan in zip(records, loans, strict=True):
                transaction.update(
                    _loan_handle(record),
                    actions=[*_refund_state(loan, now), *counted],
                    condition=LoanItem.refund_id.does_not_exist(),
                )

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
        """The payment's outcome (once), the loans (as read), postings, index entries and event."""
        with self._transaction() as transaction:
            actions, still_sent = _final_outcome(report, now)
            transaction.update(
                PaymentItem(*PaymentItem.key(report.payment_id)), actions=actions, condition=still_sent
            )
            # Paid back: no longer owed to the supplier in the portfolio's figure.
            counted = count_loan_changes(
                transaction,
                [
                    (r.counted_loan, loan, r.loan.refunded_minor - loan.refunded_minor)
                    for r, loan in zip(records, loans, strict=True)
                ],
                now=now,
            )
            for record, loan in zip(records, loans, strict=True):
                transaction.update(
                    _loan_handle(record),
                    actions=[*_refund_state(loan, now), *counted],
                    condition=LoanItem.refund_id == refund.refund_id,
                )
                if loan.overpayment_minor == loan.refunded_minor:  # nothing owed or held any more
                    transaction.delete(RefundOwedItem(*RefundOwedItem.key(loan.loan_id)))
                self._touched(transaction, loan.loan_id)
            for loan_id, posting in postings.items():
                transaction.save(
                    posting_item(loan_id, refund.currency, posting, reference=refund.refund_id, now=now),
                    condition=PostingItem.pk.does_not_exist(),
                )
            if event is not None:
                transaction.save(
                    _outbox_item(event, datetime.fromisoformat(now)), condition=OutboxItem.pk.does_not_exist()
                )

    @staticmethod
    def _repayment_item(repayment: Repayment, now: str) -> RepaymentItem:
        pending = repayment.status is RepaymentStatus.PENDING
        return RepaymentItem(
            *RepaymentItem.key(repayment.repayment_id),
            repayment_id=repayment.repayment_id,
            loan_id=repayment.loan_id,
            supplier_id=repayment.supplier_id,
            status=repayment.status.value,
            source=repayment.source.value,
            amount_minor=repayment.amount_minor,
            currency=repayment.currency,
            allocation=repayment.allocation.as_minor() if repayment.allocation else None,
            value_date=repayment.value_date.isoformat() if repayment.value_date else None,
            bank_payment_id=repayment.repayment_id if repayment.source is RepaymentSource.SUPPLIER else None,
            request_hash=repayment.request_hash,
            created_at=now,
            updated_at=now,
            gsi1pk=f"LOAN#{repayment.loan_id}#REPAYMENTS",
            gsi1sk=f"{now}#{repayment.repayment_id}",
            gsi2pk=RepaymentItem.PENDING_INDEX if pending else None,
            gsi2sk=RepaymentItem.pending_index_sk(datetime.fromisoformat(now), repayment.repayment_id)
            if pending
            else None,
        )


def _leave_pending_index() -> list[Action]:
    """A repayment APPLIED or FAILED leaves gsi2 REPAYMENTS#PENDING (the REPUBLISH step's read)."""
    return [RepaymentItem.gsi2pk.remove(), RepaymentItem.gsi2sk.remove()]


def _sent_payment(
    payment_id: str,
    loan_id: str,
    direction: Direction,
    amount_minor: int,
    currency: str,
    *,
    bank_code: str,
    account: Account,
    now: str,
) -> PaymentItem:
    """A payment order as it is written before the bank is called: SENT, with the account it goes
    to or comes from (kept whatever the supplier's master data says later), and in the open-payment
    index of its kind until its final outcome (`_final_outcome`)."""
    return PaymentItem(
        *PaymentItem.key(payment_id),
        payment_id=payment_id,
        loan_id=loan_id,
        direction=direction.value,
        status=SENT,
        amount_minor=amount_minor,
        currency=currency,
        bank_code=bank_code,
        account=account_json(account),
        created_at=now,
        updated_at=now,
        gsi2pk=PaymentItem.open_index_pk(payment_kind(payment_id).value),
        gsi2sk=PaymentItem.open_index_sk(datetime.fromisoformat(now), payment_id),
    )


def _supplier(supplier_id: str) -> SupplierItem | None:
    try:
        return SupplierItem.get(*SupplierItem.key(supplier_id), consistent_read=True)
    except SupplierItem.DoesNotExist:
        return None


def _supplier_account(item: SupplierItem) -> Account:
    return Account(bank_code=item.bank_code, account_number=item.account_number, name=item.account_name)


def _refund_state(loan: Loan, now: str) -> list[Action]:
    """A loan's refund attributes as the domain left them."""
    return [
        LoanItem.refunded_minor.set(loan.refunded_minor),
        LoanItem.refund_pending_minor.set(loan.refund_pending_minor),
        LoanItem.refund_id.set(loan.refund_id) if loan.refund_id else LoanItem.refund_id.remove(),
        LoanItem.updated_at.set(now),
    ]


def _refund_owed_item(loan: Loan, now: str) -> RefundOwedItem:
    return RefundOwedItem(
        *RefundOwedItem.key(loan.loan_id),
        loan_id=loan.loan_id,
        supplier_id=loan.supplier_id,
        currency=loan.currency,
        updated_at=now,
        gsi2pk=RefundOwedItem.INDEX_PK,
        gsi2sk=f"{loan.supplier_id}#{loan.currency}#{loan.loan_id}",
    )


def _outbox_item(event: OutboxEvent, now: datetime | str) -> OutboxItem:
    if isinstance(now, str):
        now = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return OutboxItem(
        *OutboxItem.key(event.event_id),
        target=TARGET_OF[event.event_type],
        event_type=event.event_type,
        payload=stored_payload(event.event_id, event.event_type, event.payload),
        created_at=now.isoformat(),
        expires_at=now.astimezone(UTC) + timedelta(seconds=OUTBOX_TTL_SECONDS),
        correlation_id=correlation.current(),
    )


def _save_event(transaction: TransactWrite, event: OutboxEvent, now: datetime | str) -> None:
    """The event's outbox item in the transaction, written once (its id is the business key)."""
    transaction.save(_outbox_item(event, now), condition=OutboxItem.pk.does_not_exist())


def refund_payment_item(refund: RefundOrder, bank_code: str, account: Account, now: str) -> PaymentItem:
    """A refund's payment order SENT (`_sent_payment`, so it is on the open-payment index) with
    what it pays back: loans' overpayments, or a bank item returned to its sender."""
    payment = _sent_payment(
        refund.refund_id,
        refund.parts[0][0] if refund.parts else "",
        Direction.PAYOUT,
        refund.amount_minor,
        refund.currency,
        bank_code=bank_code,
        account=account,
        now=now,
    )
    payment.refund = refund.as_json()
    return payment
