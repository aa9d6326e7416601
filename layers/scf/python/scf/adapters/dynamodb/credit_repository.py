"""DynamoDB side of decisions: one BatchGetItem per snapshot, one write per decision
(docs/access-patterns.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from scf import correlation
from scf.adapters.dynamodb.loan_repository import account_json
from scf.adapters.dynamodb.models import (
    ApplicationItem,
    ExposureItem,
    LoanItem,
    OutboxItem,
    PoolItem,
    SupplierItem,
    SupplierOverdueItem,
)
from scf.adapters.dynamodb.portfolio_counters import count_loan_change
from scf.adapters.dynamodb.transactions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    batch_get,
    cancellation_codes,
    connection,
    decode_token,
    encode_token,
    is_condition_failure,
)
from scf.domain.decision import REVIEW
from scf.domain.interest import DayCount
from scf.domain.loan import Loan, LoanStatus, loan_approved_event
from scf.domain.pool import Pool
from scf.events import OUTBOX_TTL_SECONDS, stored_payload
from scf.service.credit import (
    ApplicationExists,
    ApplicationRecord,
    NewLoan,
    Reservation,
    ReservationConflict,
    Snapshot,
    SupplierProfile,
)
from scf.service.payments import Account

REVIEW_PENDING = "REVIEW#PENDING"


def _record(item: ApplicationItem) -> ApplicationRecord:
    return ApplicationRecord(
        application_id=item.application_id,
        supplier_id=item.supplier_id,
        status=item.status,
        amount_minor=int(item.amount_minor),
        currency=item.currency,
        term_days=int(item.term_days),
        grade=item.grade,
        annual_rate=item.annual_rate,
        reasons=list(item.reasons or []),
        policy_version=item.policy_version,
        inputs=dict(item.inputs or {}),
        created_at=item.created_at,
        decided_at=item.decided_at or item.created_at,
        request_hash=item.request_hash or "",
        loan_id=item.loan_id,
        review=item.review,
        response=item.response,
    )


def _item(record: ApplicationRecord) -> ApplicationItem:
    pk, sk = ApplicationItem.key(record.application_id)
    in_review = record.status == REVIEW
    return ApplicationItem(
        pk,
        sk,
        application_id=record.application_id,
        supplier_id=record.supplier_id,
        status=record.status,
        amount_minor=record.amount_minor,
        currency=record.currency,
        term_days=record.term_days,
        grade=record.grade,
        annual_rate=record.annual_rate,
        reasons=record.reasons,
        loan_id=record.loan_id,
        policy_version=record.policy_version,
        inputs=record.inputs,
        review=record.review,
        created_at=record.created_at,
        decided_at=record.decided_at,
        request_hash=record.request_hash,
        response=record.response,
        # Only applications waiting for ops are in the index: the queue holds nothing else.
        gsi1pk=REVIEW_PENDING if in_review else None,
        gsi1sk=f"{record.created_at}#{record.application_id}" if in_review else None,
    )


class DynamoCreditRepository:
    def snapshot(self, supplier_id: str, currency: str, application_id: str | None) -> Snapshot:
        supplier_key = SupplierItem.key(supplier_id)
        pool_key = PoolItem.key(supplier_id, currency)
        exposure_key = ExposureItem.key(supplier_id, currency)
        overdue_key = SupplierOverdueItem.key(supplier_id)
        keys = [supplier_key, pool_key, exposure_key, overdue_key]
        app_key = ApplicationItem.key(application_id) if application_id else None
        if app_key:
            keys.append(app_key)
        found = batch_get(keys)
        supplier = SupplierItem.from_raw_data(found[supplier_key]) if supplier_key in found else None
        pool = PoolItem.from_raw_data(found[pool_key]) if pool_key in found else None
        exposure = ExposureItem.from_raw_data(found[exposure_key]) if exposure_key in found else None
        every = SupplierOverdueItem.from_raw_data(found[overdue_key]) if overdue_key in found else None
        application = ApplicationItem.from_raw_data(found[app_key]) if app_key and app_key in found else None
        if application is not None and application.supplier_id != supplier_id:
            # Ids of idempotent requests are derived from (supplier, key): another supplier's item
            # under this id would be a hash collision; it is never replayed to this supplier (the
            # decision's conditional put then fails, and the request ends in DecisionContention).
            application = None
        return Snapshot(
            supplier=_profile(supplier) if supplier else None,
            pool=Pool.from_state(pool.state) if pool else Pool(),
            pool_version=pool.version if pool else None,
            exposure_minor=int(exposure.principal_minor or 0) if exposure else 0,
            # Every currency's overdue loans (the supplier's item), and this currency's exposure
            # for loans paid out before that item was kept: the larger count, every open entry.
            overdue_loans=max(
                int(exposure.overdue_loans or 0) if exposure else 0,
                int(every.overdue_loans or 0) if every else 0,
            ),
            open_maturities=_open_maturities(
                {*(exposure.open_loans or () if exposure else ()), *(every.open_loans or () if every else ())}
            ),
            application=_record(application) if application else None,
        )

    def save_application(self, record: ApplicationRecord) -> None:
        try:
            _item(record).save(condition=ApplicationItem.pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                raise ApplicationExists(record.application_id) from exc
            raise

    def approve(
        self, record: ApplicationRecord, loan: NewLoan, reservation: Reservation, *, from_review: bool
    ) -> None:
        """One TransactWriteItems: application, loan, reservation, pool and supplier checks, outbox."""
        assert record.loan_id is not None
        now = loan.created_at
        try:
            with TransactWrite(connection=connection()) as tx:
                app_item = _item(record)
                if from_review:
                    tx.save(app_item, condition=ApplicationItem.status == REVIEW)
                else:
                    tx.save(app_item, condition=ApplicationItem.pk.does_not_exist())
                tx.save(_loan_item(loan), condition=LoanItem.pk.does_not_exist())
                count_loan_change(tx, None, _approved_loan(loan), now=now)
                exposure = ExposureItem(*ExposureItem.key(reservation.supplier_id, reservation.currency))
                tx.update(
                    exposure,
                    actions=[
                        ExposureItem.principal_minor.set(
                            (ExposureItem.principal_minor | 0) + reservation.amount_minor
                        ),
                        ExposureItem.supplier_id.set(reservation.supplier_id),
                        ExposureItem.currency.set(reservation.currency),
                        ExposureItem.updated_at.set(now),
                    ],
                    # Overcommitment is impossible: the reservation fits under the limit computed
                    # from the pool read, and that pool has not changed since.
                    condition=(
                        ExposureItem.principal_minor.does_not_exist()
                        | (ExposureItem.principal_minor <= reservation.limit_minor - reservation.amount_minor)
                    )
                    & (ExposureItem.overdue_loans.does_not_exist() | (ExposureItem.overdue_loans == 0)),
                )
                tx.condition_check(
                    PoolItem,
                    *PoolItem.key(reservation.supplier_id, reservation.currency),
                    condition=PoolItem.version == reservation.pool_version,
                )
                supplier_unchanged = SupplierItem.status == "ACTIVE"
                if loan.payout_account is not None:  # the account written on the loan is still on file
                    supplier_unchanged &= (SupplierItem.bank_code == loan.payout_account.bank_code) & (
                        SupplierItem.account_number == loan.payout_account.account_number
                    )
                tx.condition_check(
                    SupplierItem, *SupplierItem.key(reservation.supplier_id), condition=supplier_unchanged
                )
                # No overdue loan in any currency since the decision's read (HAS_OVERDUE_LOAN).
                tx.condition_check(
                    SupplierOverdueItem,
                    *SupplierOverdueItem.key(reservation.supplier_id),
                    condition=SupplierOverdueItem.overdue_loans.does_not_exist()
                    | (SupplierOverdueItem.overdue_loans == 0),
                )
                tx.save(_outbox_item(loan, now))
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == CONDITION_FAILED and not from_review:
                raise ApplicationExists(record.application_id) from exc
            if any(code in (CONDITION_FAILED, TRANSACTION_CONFLICT) for code in codes):
                raise ReservationConflict(str(codes)) from exc
            raise

    def decline_review(self, record: ApplicationRecord) -> None:
        try:
            _item(record).save(condition=ApplicationItem.status == REVIEW)
        except PutError as exc:
            if is_condition_failure(exc):
                raise ReservationConflict("the application left REVIEW") from exc
            raise

    def get_application(self, supplier_id: str, application_id: str) -> ApplicationRecord | None:
        """The supplier's own application; another supplier's is not found (contract section 8)."""
        record = self.application_by_id(application_id)
        return record if record is not None and record.supplier_id == supplier_id else None

    def application_by_id(self, application_id: str) -> ApplicationRecord | None:
        """Any application by its id (ops), one consistent GetItem."""
        try:
            return _record(ApplicationItem.get(*ApplicationItem.key(application_id), consistent_read=True))
        except ApplicationItem.DoesNotExist:
            return None

    def list_reviews(self, limit: int, token: str | None) -> tuple[list[ApplicationRecord], str | None]:
        results = ApplicationItem.by_review.query(
            REVIEW_PENDING, limit=limit, last_evaluated_key=decode_token(token, gsi1pk=REVIEW_PENDING)
        )
        records = [_record(item) for item in results if isinstance(item, ApplicationItem)]
        return records, encode_token(results.last_evaluated_key)


def _profile(item: SupplierItem) -> SupplierProfile:
    account = Account(bank_code=item.bank_code, account_number=item.account_number, name=item.account_name)
    return SupplierProfile(item.status, bool(item.account_verified), account)


def _open_maturities(entries: Iterable[str]) -> dict[str, date]:
    """`ExposureItem.open_loans` as loan id -> maturity (an extended loan's latest date counts)."""
    latest: dict[str, date] = {}
    for entry in entries:
        loan_id, _, day = entry.rpartition("#")
        maturity = date.fromisoformat(day)
        if loan_id not in latest or maturity > latest[loan_id]:
            latest[loan_id] = maturity
    return latest


def _loan_item(loan: NewLoan) -> LoanItem:
    pk, sk = LoanItem.key(loan.loan_id)
    return LoanItem(
        pk,
        sk,
        loan_id=loan.loan_id,
        supplier_id=loan.supplier_id,
        application_id=loan.application_id,
        status="APPROVED",
        currency=loan.currency,
        principal_minor=loan.principal_minor,
        outstanding_principal_minor=loan.principal_minor,
        annual_rate=loan.annual_rate,
        penalty_multiplier=loan.penalty_multiplier,
        day_count=loan.day_count,
        term_days=loan.term_days,
        created_at=loan.created_at,
        updated_at=loan.created_at,
        gsi1pk=LoanItem.supplier_index_pk(loan.supplier_id),
        gsi1sk=f"{loan.created_at}#{loan.loan_id}",
        gsi2pk=LoanItem.status_index_pk(LoanStatus.APPROVED.value),
        gsi2sk=LoanItem.status_index_sk(loan.loan_id, None),
        payout_account=account_json(loan.payout_account) if loan.payout_account else None,
        in_portfolio=True,  # counted by the approving transaction (count_loan_change)
    )


def _approved_loan(loan: NewLoan) -> Loan:
    """The new loan as the portfolio counts it."""
    return Loan(
        loan_id=loan.loan_id,
        supplier_id=loan.supplier_id,
        status=LoanStatus.APPROVED,
        currency=loan.currency,
        principal_minor=loan.principal_minor,
        outstanding_principal_minor=loan.principal_minor,
        annual_rate=Decimal(loan.annual_rate),
        term_days=loan.term_days,
        day_count=DayCount(loan.day_count),
        penalty_multiplier=Decimal(loan.penalty_multiplier),
    )


def _outbox_item(loan: NewLoan, now: str) -> OutboxItem:
    event = loan_approved_event(loan.loan_id, loan.supplier_id, loan.principal_minor, loan.currency)
    created = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return OutboxItem(
        *OutboxItem.key(event.event_id),
        target=event.target,
        event_type=event.event_type,
        payload=stored_payload(event.event_id, event.event_type, event.payload),
        created_at=now,
        expires_at=created + timedelta(seconds=OUTBOX_TTL_SECONDS),
        correlation_id=correlation.current(),
    )
