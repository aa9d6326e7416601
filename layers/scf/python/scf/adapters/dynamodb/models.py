"""PynamoDB models of the business table (single-table design; see docs/access-patterns.md).

Every item has `pk`/`sk`; items listed by a second access pattern also carry `gsi1pk`/`gsi1sk`.
Money attributes end in `_minor` and hold integer minor units. Rates are decimal strings.
Table name, region and endpoint are bound at cold start by `bind()` (PynamoDB reads `Meta` lazily,
so binding before the first call is enough; no settings are read at import).
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.constants import BINARY, NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

UNBOUND = "scf-unbound"


class CompressedJSONAttribute(Attribute[Any]):
    """JSON stored as zlib-compressed bytes (a Binary attribute): a pool's state is read by every
    decision and written by every ingested chunk, and compressed it is a fraction of the bytes, of
    the write units and of DynamoDB's 400 KB item limit. Compact separators, keys in the order the
    value has them, so the same value is always the same bytes."""

    attr_type = BINARY

    def serialize(self, value: Any) -> bytes:
        return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), 6)

    def deserialize(self, value: bytes) -> Any:
        return json.loads(zlib.decompress(value))


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB Number read and written as an exact Decimal (PynamoDB's NumberAttribute goes
    through JSON, so a fraction comes back a float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class Gsi1(GlobalSecondaryIndex["BaseItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["BaseItem"]):
    """Loans by stored status and maturity, and open payments by kind and sending time
    (docs/access-patterns.md, "Loans by status", "Open payments")."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


NO_MATURITY = "0000-00-00"  # gsi2sk of a loan not paid out yet (sorts before every date)


class BaseItem(Model):
    class Meta:
        table_name = UNBOUND
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class SupplierItem(BaseItem):
    """pk SUPPLIER#<id>, sk PROFILE."""

    supplier_id = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute()  # ACTIVE | SUSPENDED
    bank_code = UnicodeAttribute()
    account_number = UnicodeAttribute()
    account_name = UnicodeAttribute()
    account_verified = BooleanAttribute(default=False)
    updated_at = UnicodeAttribute()
    source = UnicodeAttribute(null=True)  # file key and line that last set it

    @staticmethod
    def key(supplier_id: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", "PROFILE"


class DocumentItem(BaseItem):
    """pk SUPPLIER#<id>, sk DOC#<document_id>. `content_hash` detects conflicting re-sends."""

    supplier_id = UnicodeAttribute()
    document_id = UnicodeAttribute()
    document_type = UnicodeAttribute()
    document_date = UnicodeAttribute()
    due_date = UnicodeAttribute(null=True)
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # CONFIRMED | DISPUTED
    reference = UnicodeAttribute(null=True)
    content_hash = UnicodeAttribute()
    source = UnicodeAttribute(null=True)

    @staticmethod
    def key(supplier_id: str, document_id: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", f"DOC#{document_id}"


class PoolItem(BaseItem):
    """pk SUPPLIER#<id>, sk POOL#<currency>: the receivables pool in one item, so a decision reads it
    with one GetItem. `state` is the JSON form of `scf.domain.pool` (open amounts per stage and
    document, aged amounts, date buckets of receipts, returns and sales), compressed.
    Optimistic locking by `version`."""

    supplier_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    state = CompressedJSONAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(supplier_id: str, currency: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", f"POOL#{currency}"


class ExposureItem(BaseItem):
    """pk SUPPLIER#<id>, sk EXPOSURE#<currency>: principal outstanding or reserved on the supplier's
    APPROVED, DISBURSING, ACTIVE and OVERDUE loans, how many are OVERDUE, and `open_loans`
    (`<loan_id>#<maturity_date>` per paid-out loan not yet REPAID; docs/credit-policy.md, "Overdue
    loans without an extra call"). Invariant: every change is a conditional update inside the money
    transaction; a reservation is conditional on the limit."""

    supplier_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    principal_minor = NumberAttribute(default=0)
    overdue_loans = NumberAttribute(default=0)
    open_loans = UnicodeSetAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @staticmethod
    def open_loan_entry(loan_id: str, maturity_date: str) -> str:
        return f"{loan_id}#{maturity_date}"

    @staticmethod
    def key(supplier_id: str, currency: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", f"EXPOSURE#{currency}"


class SupplierOverdueItem(BaseItem):
    """pk SUPPLIER#<id>, sk OVERDUE: the supplier's OVERDUE loans and `open_loans` in every currency
    (the same entries as its `ExposureItem`s), so a decision in one currency sees overdue loans in
    all of them in the BatchGetItem it makes anyway (docs/access-patterns.md, "Overdue loans in every
    currency"). Updated in the same transaction as the exposure item, whenever either changes."""

    supplier_id = UnicodeAttribute(null=True)
    overdue_loans = NumberAttribute(default=0)
    open_loans = UnicodeSetAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @staticmethod
    def key(supplier_id: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", "OVERDUE"


class ApplicationItem(BaseItem):
    """pk APPLICATION#<application_id>, sk APPLICATION (found by id alone: ops decide a review from
    its id; a supplier's read checks `supplier_id`); in REVIEW also gsi1pk REVIEW#PENDING, gsi1sk
    <created_at>#<application_id> (the ops queue, oldest first)."""

    application_id = UnicodeAttribute()
    supplier_id = UnicodeAttribute()
    status = UnicodeAttribute()  # APPROVED | DECLINED | REVIEW
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    term_days = NumberAttribute()
    grade = UnicodeAttribute(null=True)
    annual_rate = UnicodeAttribute(null=True)
    reasons = JSONAttribute(default=list)  # [{code, message}]
    loan_id = UnicodeAttribute(null=True)
    policy_version = UnicodeAttribute()
    inputs = JSONAttribute(default=dict)  # every input the decision used (re-explainable)
    review = JSONAttribute(null=True)  # {decision, note, by, at}
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)  # canonical request body: idempotent retries compare it
    response = JSONAttribute(null=True)  # the first answer, returned again to a retry with the same key
    gsi1pk = UnicodeAttribute(null=True)  # REVIEW#PENDING while in REVIEW, then removed
    gsi1sk = UnicodeAttribute(null=True)
    by_review = Gsi1()

    @staticmethod
    def key(application_id: str) -> tuple[str, str]:
        return f"APPLICATION#{application_id}", "APPLICATION"


class LoanItem(BaseItem):
    """pk LOAN#<loan_id>, sk LOAN; gsi1pk SUPPLIER#<id>#LOANS, gsi1sk <created_at>#<loan_id>
    (a supplier's loans, newest first). A supplier reading another's loan gets 404.
    gsi2pk LOANS#<status>, gsi2sk <maturity_date or 0000-00-00>#<loan_id> (loans by stored status,
    by maturity: the daily job's reads), set by every write that changes the status or maturity.

    `principal_changes` is the JSON list [[date, outstanding_principal_minor], ...] from value_date on,
    so interest is the exact sum over days (path-independent, contract section 3)."""

    loan_id = UnicodeAttribute()
    supplier_id = UnicodeAttribute()
    application_id = UnicodeAttribute()
    status = UnicodeAttribute()  # APPROVED | DISBURSING | ACTIVE | OVERDUE | REPAID | FAILED
    currency = UnicodeAttribute()
    principal_minor = NumberAttribute()
    outstanding_principal_minor = NumberAttribute()
    annual_rate = UnicodeAttribute()
    penalty_multiplier = UnicodeAttribute(default="1.5")
    day_count = UnicodeAttribute(default="ACT/360")
    term_days = NumberAttribute()
    value_date = UnicodeAttribute(null=True)
    maturity_date = UnicodeAttribute(null=True)
    extended = BooleanAttribute(default=False)
    payment_id = UnicodeAttribute(null=True)
    interest_paid_minor = NumberAttribute(default=0)
    penalty_paid_minor = NumberAttribute(default=0)
    principal_changes = JSONAttribute(default=list)
    extension_request = UnicodeAttribute(null=True)  # hash of the Idempotency-Key that extended it
    # The supplier's verified account at approval, where the payout goes: {bank_code,
    # account_number, name}; absent on loans approved before it was recorded.
    payout_account = JSONAttribute(null=True)
    # Refunds (docs/money.md, "Refunds"): received in excess, paid back, held by refund `refund_id`.
    overpayment_minor = NumberAttribute(default=0)
    refunded_minor = NumberAttribute(default=0)
    refund_pending_minor = NumberAttribute(default=0)
    refund_id = UnicodeAttribute(null=True)
    # In its PortfolioShardItem's counters (set by every loan write since they exist; loans written
    # before are added once by scripts/backfill_portfolio.py).
    in_portfolio = BooleanAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_supplier = Gsi1()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_status = Gsi2()
    version = VersionAttribute()

    @staticmethod
    def key(loan_id: str) -> tuple[str, str]:
        return f"LOAN#{loan_id}", "LOAN"

    @staticmethod
    def status_index_pk(status: str) -> str:
        return f"LOANS#{status}"

    @staticmethod
    def status_index_sk(loan_id: str, maturity_date: str | None) -> str:
        return f"{maturity_date or NO_MATURITY}#{loan_id}"

    @staticmethod
    def supplier_index_pk(supplier_id: str) -> str:
        return f"SUPPLIER#{supplier_id}#LOANS"


class RefundOwedItem(BaseItem):
    """pk LOAN#<loan_id>, sk REFUND; gsi2pk REFUNDS#OWED, gsi2sk <supplier_id>#<currency>#<loan_id>:
    the loan has money owed back or in a refund order (the daily REFUND step's read). Written with
    the repayment that overpaid, deleted with the refund that leaves nothing owed."""

    loan_id = UnicodeAttribute()
    supplier_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_owed = Gsi2()

    INDEX_PK = "REFUNDS#OWED"

    @staticmethod
    def key(loan_id: str) -> tuple[str, str]:
        return f"LOAN#{loan_id}", "REFUND"


class PortfolioShardItem(BaseItem):
    """pk PORTFOLIO#<currency>, sk SHARD#<nn>: one of `scf.domain.portfolio.SHARDS` counter items of
    the ops portfolio. A loan's writes ADD `portfolio.delta` to its own shard (crc32 of the loan id)
    in the same transaction, so no item is written by every money movement and the counters cannot
    drift; the portfolio reads the currency's shards with one Query (docs/access-patterns.md)."""

    currency = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    count_approved = DecimalAttribute(null=True)
    count_disbursing = DecimalAttribute(null=True)
    count_active = DecimalAttribute(null=True)
    count_overdue = DecimalAttribute(null=True)
    count_repaid = DecimalAttribute(null=True)
    count_failed = DecimalAttribute(null=True)
    outstanding_approved = DecimalAttribute(null=True)
    outstanding_disbursing = DecimalAttribute(null=True)
    outstanding_active = DecimalAttribute(null=True)
    outstanding_overdue = DecimalAttribute(null=True)
    outstanding_repaid = DecimalAttribute(null=True)
    outstanding_failed = DecimalAttribute(null=True)
    slope_act360 = DecimalAttribute(null=True)  # sum of outstanding x annual rate, ACTIVE, ACT/360
    slope_act365f = DecimalAttribute(null=True)
    intercept_act360 = DecimalAttribute(null=True)  # see scf.domain.portfolio.contribution
    intercept_act365f = DecimalAttribute(null=True)
    interest_paid_active = DecimalAttribute(null=True)
    overpayment_owed = DecimalAttribute(null=True)

    @staticmethod
    def partition(currency: str) -> str:
        return f"PORTFOLIO#{currency}"

    @staticmethod
    def key(currency: str, shard: int) -> tuple[str, str]:
        return f"PORTFOLIO#{currency}", f"SHARD#{shard:02d}"


class RepaymentItem(BaseItem):
    """pk REPAYMENT#<repayment_id>, sk REPAYMENT; gsi1pk LOAN#<loan_id>#REPAYMENTS, gsi1sk
    <created_at>#<repayment_id>. While PENDING also gsi2pk REPAYMENTS#PENDING, gsi2sk
    <created_at UTC>#<repayment_id> (the daily REPUBLISH's read), removed when APPLIED or FAILED."""

    repayment_id = UnicodeAttribute()
    loan_id = UnicodeAttribute()
    supplier_id = UnicodeAttribute()
    status = UnicodeAttribute()  # PENDING | APPLIED | FAILED
    source = UnicodeAttribute()  # SUPPLIER | SETTLEMENT_SWEEP | BANK_CREDIT
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    allocation = JSONAttribute(null=True)  # {penalty, interest, principal, overpayment} in minor units
    value_date = UnicodeAttribute(null=True)
    bank_payment_id = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)  # sha256 of the API request (Idempotency-Key reuse check)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_loan = Gsi1()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_state = Gsi2()

    PENDING_INDEX = "REPAYMENTS#PENDING"

    @staticmethod
    def key(repayment_id: str) -> tuple[str, str]:
        return f"REPAYMENT#{repayment_id}", "REPAYMENT"

    @staticmethod
    def pending_index_sk(created: datetime, repayment_id: str) -> str:
        """`<created, UTC, to the microsecond>#<repayment_id>`: one format, so the order is by time."""
        return f"{created.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z#{repayment_id}"


class PostingItem(BaseItem):
    """pk LEDGER#<loan_id>, sk POSTING#<posting_id>. Append-only; written once (condition on pk),
    `posting_id` comes from the business key of the movement (e.g. DISBURSEMENT#<payment_id>).
    `entries` is [{account, side: "D"|"C", amount_minor}] with debits == credits."""

    posting_id = UnicodeAttribute()
    loan_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    entries = JSONAttribute()
    reason = UnicodeAttribute()
    reference = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()

    @staticmethod
    def key(loan_id: str, posting_id: str) -> tuple[str, str]:
        return f"LEDGER#{loan_id}", f"POSTING#{posting_id}"


class PaymentItem(BaseItem):
    """pk PAYMENT#<payment_id>, sk PAYMENT: a payment order sent to a bank (payout or collection),
    so a bank statement's end-to-end id finds its loan. Written before the order goes out; `status`
    leaves SENT once, for its final outcome. `reports` keeps every bank answer about it, oldest
    first, each a JSON object {status, bank_code, source, value_date, reason, reference, effect,
    at} (scf.service.loan_store.StoredReport), appended in the transaction of its effect."""

    payment_id = UnicodeAttribute()
    loan_id = UnicodeAttribute()
    direction = UnicodeAttribute()  # PAYOUT (also a refund, RF...) | COLLECTION
    status = UnicodeAttribute()  # SENT | SETTLED | REJECTED
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    bank_code = UnicodeAttribute()  # the bank the order was sent through
    # The supplier's account paid or collected from: {bank_code, account_number, name, masked}
    # (the full number is what the bank needs; `masked` is what a screen or a log shows).
    account = JSONAttribute(null=True)
    reports = ListAttribute(of=UnicodeAttribute, null=True)
    bank_reference = UnicodeAttribute(null=True)
    value_date = UnicodeAttribute(null=True)  # the bank's value date once SETTLED
    reason = UnicodeAttribute(null=True)  # the bank's reason when REJECTED
    statement_confirmation = JSONAttribute(null=True)  # a bank statement's debit booking it (ingest)
    status_report = JSONAttribute(null=True)  # the latest pain.002 status about it (ingest)
    refund = JSONAttribute(null=True)  # a refund's RefundOrder (scf.service.loan_store), else absent
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    # While SENT only (removed with the final outcome): PAYMENTS#OPEN#<kind> / <sent_at>#<payment_id>.
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    open_by_kind = Gsi2()

    @staticmethod
    def key(payment_id: str) -> tuple[str, str]:
        return f"PAYMENT#{payment_id}", "PAYMENT"

    @staticmethod
    def open_index_pk(kind: str) -> str:
        return f"PAYMENTS#OPEN#{kind}"

    @staticmethod
    def open_index_sk(sent_at: datetime, payment_id: str) -> str:
        """UTC to the microsecond, fixed width, so the text sorts as the time does."""
        return f"{open_index_moment(sent_at)}#{payment_id}"


def open_index_moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SweepItem(BaseItem):
    """pk SUPPLIER#<id>, sk SWEEP#<document_id>: a PAYMENT document swept once (docs/ingestion.md).
    Written with its repayments and their outbox events in one transaction (`attribute_not_exists`)."""

    supplier_id = UnicodeAttribute()
    document_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    released_minor = NumberAttribute()
    swept = JSONAttribute(default=list)  # [{loan_id, amount_minor, repayment_id}]
    source = UnicodeAttribute(null=True)  # file key and line
    created_at = UnicodeAttribute()

    @staticmethod
    def key(supplier_id: str, document_id: str) -> tuple[str, str]:
        return f"SUPPLIER#{supplier_id}", f"SWEEP#{document_id}"


class BankEntryItem(BaseItem):
    """pk BANKENTRY#<entry_id>, sk ENTRY: what a bank entry (or pain.002 status) was matched to,
    written once per entry id (derived from bank, account and the entry's reference), so the same
    entry in another file is recognised. Unmatched ones (and ones needing review) carry gsi1pk
    UNMATCHED#OPEN, gsi1sk <booking_date>#<entry_id>: the ops list `GET /v1/unmatched`; once
    resolved, UNMATCHED#RESOLVED (`?status=RESOLVED`)."""

    entry_id = UnicodeAttribute()
    bank = UnicodeAttribute()
    account = UnicodeAttribute(null=True)
    amount = UnicodeAttribute(null=True)  # exact decimal as the bank wrote it
    amount_minor = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    direction = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # BOOKED | PENDING | INFO, or the pain.002 status
    reversal = BooleanAttribute(default=False)
    booking_date = UnicodeAttribute(null=True)
    references = JSONAttribute(default=dict)  # {bank_reference, end_to_end_ids, remittance}
    matched = JSONAttribute()  # {type, ...} or {"type": "UNMATCHED", code}
    code = UnicodeAttribute(null=True)  # why it is on the ops list
    # Once ops resolved it (scf.service.unmatched): {action, note, by, at, loan_id?, repayment_id?,
    # request hashes}; gsi1pk moves from UNMATCHED#OPEN to UNMATCHED#RESOLVED in the same write.
    resolution = JSONAttribute(null=True)
    sender = JSONAttribute(null=True)  # a credit's debtor {account, bic?} (a RETURN pays it back)
    file_key = UnicodeAttribute()
    line = NumberAttribute()
    created_at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_state = Gsi1()

    @staticmethod
    def key(entry_id: str) -> tuple[str, str]:
        return f"BANKENTRY#{entry_id}", "ENTRY"


class OutboxItem(BaseItem):
    """pk OUTBOX#<event_id>, sk EVENT. Written in the same transaction as the state change; the
    table stream carries it through a pipe to the target queue (scf.events)."""

    kind = UnicodeAttribute(default="OUTBOX")
    target = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = UnicodeAttribute()  # JSON string
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()
    # The business date of the daily job that last published it again (the only change an outbox
    # item ever sees: the stream's MODIFY is the republished event; docs/operations.md).
    republished_on = UnicodeAttribute(null=True)
    # The work that wrote it (scf.correlation): its consumer logs the same id.
    correlation_id = UnicodeAttribute(null=True)

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"OUTBOX#{event_id}", "EVENT"


class TouchedItem(BaseItem):
    """pk TOUCHED#<business_date>#<shard>, sk <loan_id>: the loan's stored balances or ledger moved
    on that business date (written in the money transaction; the daily LEDGER_CHECK reads the
    shards of a day). `shard` = a hash of the loan id mod TOUCHED_SHARDS; kept TOUCHED_TTL_DAYS."""

    loan_id = UnicodeAttribute()
    expires_at = TTLAttribute()

    @staticmethod
    def key(business_date: str, shard: int, loan_id: str) -> tuple[str, str]:
        return f"TOUCHED#{business_date}#{shard}", loan_id


class FileItem(BaseItem):
    """pk FILE#<sha256>, sk FILE: a file's bytes seen once; re-sent bytes are a DUPLICATE."""

    sha256 = UnicodeAttribute()
    key_name = UnicodeAttribute(attr_name="key")
    object_version = UnicodeAttribute(null=True)  # the S3 version first claimed (a re-upload is another)
    format = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # PROCESSING | PROCESSED | REJECTED
    report_key = UnicodeAttribute(null=True)
    checkpoint = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @staticmethod
    def key(sha256: str) -> tuple[str, str]:
        return f"FILE#{sha256}", "FILE"


ALL_MODELS: tuple[type[BaseItem], ...] = (
    SupplierItem,
    DocumentItem,
    PoolItem,
    ExposureItem,
    SupplierOverdueItem,
    ApplicationItem,
    LoanItem,
    RefundOwedItem,
    PortfolioShardItem,
    RepaymentItem,
    PostingItem,
    PaymentItem,
    OutboxItem,
    FileItem,
    SweepItem,
    BankEntryItem,
    TouchedItem,
)


def bind(table_name: str, region: str, host: str | None = None, **extra: Any) -> None:
    """Point every model at the business table (call once at cold start, before any request).

    PynamoDB gives every model class its own botocore session and client, each loading the service
    description again (about 0.2 s apiece, 2 s for all models at a cold start). The models all talk
    to one table with the same settings, so they share the first model's client (botocore clients
    are thread-safe); each keeps its own table metadata.
    """
    models: tuple[type[BaseItem], ...] = (BaseItem, *ALL_MODELS)
    shared_client = None
    for model in models:
        model.Meta.table_name = table_name
        model.Meta.region = region
        setattr(model.Meta, "host", host)  # noqa: B010 - Meta declares no host attribute
        for name, value in extra.items():
            setattr(model.Meta, name, value)
        model._connection = None
        connection = model._get_connection().connection
        if shared_client is None:
            shared_client = connection.client
        else:
            connection._client = shared_client
