"""The bank gateway port (contract section 7): payment orders, their outcome and the "ask before
retrying" rule. Invariant: a payment id is unique per business object and is the bank's
idempotency key, so an order whose outcome is unknown is asked about, never blindly sent again
(docs/money.md, "Payouts and collections")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from scf.errors import InvalidInput, Unavailable

MAX_PAYMENT_ID_LENGTH = 35  # travels as the ISO 20022 end-to-end id


class Direction(StrEnum):
    PAYOUT = "PAYOUT"
    COLLECTION = "COLLECTION"


class PaymentKind(StrEnum):
    """Whose payment it is (docs/access-patterns.md, "Open payments"): payouts belong to disburse,
    collections and refunds to apply_repayment."""

    PAYOUT = "PAYOUT"
    COLLECTION = "COLLECTION"
    REFUND = "REFUND"


PAYOUT_PREFIX = "PAY"
REFUND_PREFIX = "RF"


def payment_kind(payment_id: str) -> PaymentKind:
    """From the payment id (contract section 7): `PAY` + loan id, `RF...` a refund, else a
    collection (its repayment id)."""
    if payment_id.startswith(PAYOUT_PREFIX):
        return PaymentKind.PAYOUT
    if payment_id.startswith(REFUND_PREFIX):
        return PaymentKind.REFUND
    return PaymentKind.COLLECTION


class PaymentStatus(StrEnum):
    """The one payment status (contract section 7): final (SETTLED, REJECTED), held by the bank
    without a final answer yet (PENDING: a file sent, pain.002 ACCP/ACSP/PDNG), or never received
    by the bank (UNKNOWN: safe to send again with the same payment id)."""

    SETTLED = "SETTLED"
    REJECTED = "REJECTED"
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"

    @property
    def final(self) -> bool:
        return self in (PaymentStatus.SETTLED, PaymentStatus.REJECTED)


class BankUnavailable(Unavailable):
    """The outcome is unknown after the adapter's retries: try again later, asking first."""

    default_code = "BANK_UNAVAILABLE"


def mask_account(number: str) -> str:
    """Account numbers never reach a log in full: all but the last 4 characters masked."""
    return "*" * max(0, len(number) - 4) + number[-4:]


_ACCOUNT_LIKE = re.compile(r"\d{6,}")


def mask_accounts_in(text: str | None) -> str | None:
    """Free text from a bank (a rejection reason) may quote an account number: mask it."""
    return _ACCOUNT_LIKE.sub(lambda match: mask_account(match.group()), text) if text else text


def payout_payment_id(loan_id: str) -> str:
    payment_id = f"{PAYOUT_PREFIX}{loan_id}"
    if len(payment_id) > MAX_PAYMENT_ID_LENGTH:
        raise InvalidInput(
            f"payment id {payment_id!r} is longer than {MAX_PAYMENT_ID_LENGTH} characters",
            code="PAYMENT_ID_TOO_LONG",
            field="loan_id",
        )
    return payment_id


@dataclass(frozen=True)
class Account:
    bank_code: str
    account_number: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"bank_code": self.bank_code, "account_number": self.account_number, "name": self.name}

    def __repr__(self) -> str:
        return f"Account({self.bank_code}, {mask_account(self.account_number)})"

    __str__ = __repr__


@dataclass(frozen=True)
class PaymentOrder:
    payment_id: str
    direction: Direction
    amount_minor: int
    currency: str
    debtor: Account
    creditor: Account
    remittance: str

    def __post_init__(self) -> None:
        if not self.payment_id or len(self.payment_id) > MAX_PAYMENT_ID_LENGTH:
            raise InvalidInput(
                f"payment id must be 1 to {MAX_PAYMENT_ID_LENGTH} characters", field="payment_id"
            )
        if self.amount_minor <= 0:
            raise InvalidInput("a payment order is for a positive amount", field="amount")


@dataclass(frozen=True)
class PaymentResult:
    payment_id: str
    status: PaymentStatus
    value_date: date | None = None
    bank_reference: str | None = None
    reason: str | None = None

    @property
    def known(self) -> bool:
        return self.status is not PaymentStatus.UNKNOWN

    def log_fields(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "status": self.status.value,
            "reason": mask_accounts_in(self.reason),
        }


class BankGateway(Protocol):
    def pay(self, order: PaymentOrder) -> PaymentResult:
        """Send the order (idempotent by payment id); SETTLED or REJECTED, or raise BankUnavailable."""
        ...

    def status(self, payment_id: str) -> PaymentResult:
        """What the bank knows about the order; UNKNOWN if it never received it."""
        ...


class Gateways(Protocol):
    """The gateway serving a bank (one adapter per connected bank)."""

    def for_bank(self, bank_code: str) -> BankGateway: ...


def execute(gateway: BankGateway, order: PaymentOrder, *, maybe_sent: bool) -> PaymentResult:
    """An order's final outcome. When it may have been sent before (a redelivery, a crash after the
    call) the bank is asked first, so a retry never depends on the bank's idempotency alone."""
    if maybe_sent:
        known = gateway.status(order.payment_id)
        if known.known:
            return known
    result = gateway.pay(order)
    if not result.known:
        raise BankUnavailable(f"the bank gave no outcome for {order.payment_id}")
    return result


@dataclass(frozen=True)
class PaymentReport:
    """What one bank answer says about one of our payments (an API reply, a pain.002 status, a
    booking on a camt.053/camt.054/MT940): kept as a list per payment, never overwritten."""

    payment_id: str
    bank_code: str  # the bank that sent the answer
    status: PaymentStatus
    source: str  # "api", "pain.002", "camt.053", "camt.054", "mt940", "inquiry", "ops"
    value_date: date | None = None  # settlement or booking date, for SETTLED
    reason: str | None = None  # the bank's reason code, for REJECTED (e.g. AC01); ops: why (any status)
    reference: str | None = None  # the bank's reference or the file key it came in
    by: str | None = None  # "ops": who recorded the bank's answer (the token's subject)
    request: str | None = None  # "ops": hashes of the request's key and of key and body, for retries
    request_body: str | None = None
