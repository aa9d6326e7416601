"""A crash between every two steps of a file payout and of a file collection, then redelivery and
the bank's pain.002: each payment id is one message in the outbound bucket, and moves money once
(DynamoDB and S3 in moto, the services as the handlers compose them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any

import boto3
import pytest

import scf.service.disbursement as disbursement_service
import scf.service.repayment as repayment_service
from scf.adapters.banks.iso20022_file import Iso20022FileGateway
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import ExposureItem, LoanItem, PostingItem, SupplierItem
from scf.clock import FixedClock
from scf.domain.loan import LoanStatus, RepaymentStatus
from scf.service.banks import BankConfig, BankDirectory
from scf.service.disbursement import PayoutService
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, BankGateway, PaymentReport, PaymentStatus
from scf.service.repayment import RepaymentService

pytestmark = pytest.mark.reliability

BUCKET = "scf-outbound-crash"
TODAY = date(2026, 3, 2)
CLOCK = FixedClock(TODAY, datetime(2026, 3, 2, 1, tzinfo=UTC))
LENDER = Account("FILEBANK", "6222000011112222", "SCF Lending Co., Ltd.")
SUPPLIER = Account("FILEBANK", "6217000099998888", "Supplier Ltd")


class Crash(RuntimeError):
    """The process died here."""


class Gateways:
    def __init__(self, gateway: BankGateway) -> None:
        self.gateway = gateway

    def for_bank(self, bank_code: str) -> BankGateway:
        assert bank_code == "FILEBANK"
        return self.gateway


@pytest.fixture
def world(tables: Any) -> Iterator[dict[str, Any]]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    SupplierItem(
        *SupplierItem.key("S1"),
        supplier_id="S1",
        name="Supplier S1",
        status="ACTIVE",
        bank_code=SUPPLIER.bank_code,
        account_number=SUPPLIER.account_number,
        account_name=SUPPLIER.name,
        account_verified=True,
        updated_at="2026-01-01T00:00:00+00:00",
    ).save()
    LoanItem(
        *LoanItem.key("L1"),
        loan_id="L1",
        supplier_id="S1",
        application_id="APP-L1",
        status="APPROVED",
        currency="CNY",
        principal_minor=10_000_000,
        outstanding_principal_minor=10_000_000,
        annual_rate="0.10",
        term_days=30,
        created_at="2026-03-01T00:00:00+00:00",
        updated_at="2026-03-01T00:00:00+00:00",
        gsi1pk=LoanItem.supplier_index_pk("S1"),
        gsi1sk="2026-03-01T00:00:00+00:00#L1",
        payout_account={**SUPPLIER.as_json(), "masked": "************8888"},
    ).save()
    ExposureItem(
        *ExposureItem.key("S1", "CNY"), supplier_id="S1", currency="CNY", principal_minor=10_000_000
    ).save()
    bank = BankConfig("FILEBANK", "iso20022-file", (LENDER,))
    files = Iso20022FileGateway(bank, bucket=BUCKET, endpoint_url=None, clock=CLOCK, client=s3)
    store = DynamoLoanStore()
    banks = BankDirectory(default_bank="FILEBANK", banks={"FILEBANK": bank})
    yield {
        "s3": s3,
        "store": store,
        "payouts": PayoutService(loans=store, gateways=Gateways(files), clock=CLOCK, banks=banks),
        "repayments": RepaymentService(loans=store, gateways=Gateways(files), clock=CLOCK, banks=banks),
        "outcomes": PaymentOutcomeService(loans=store, clock=CLOCK),
    }


def crash_once(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, when: str, nth: int = 1
) -> dict[str, int]:
    """Make the `nth` call of `owner.name` crash, `before` it runs or `after` it ran."""
    original: Callable[..., Any] = getattr(owner, name)
    state = {"calls": 0, "crashed": 0}

    @wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state["calls"] += 1
        mine = state["calls"] == nth
        if mine and when == "before":
            state["crashed"] += 1
            raise Crash(f"before {name}")
        result = original(*args, **kwargs)
        if mine and when == "after":
            state["crashed"] += 1
            raise Crash(f"after {name}")
        return result

    monkeypatch.setattr(owner, name, wrapper)
    return state


def until_done(step: Callable[[], Any]) -> Any:
    """Deliver again after every crash, as the queue does."""
    for _ in range(5):
        try:
            return step()
        except Crash:
            continue
    raise AssertionError("the message would end in the DLQ")


def messages(s3: Any) -> list[str]:
    listed = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    return sorted(v["Key"] for v in listed if v["Key"].endswith(".xml"))


def bank_says(payment_id: str, status: PaymentStatus) -> PaymentReport:
    return PaymentReport(payment_id, "FILEBANK", status, "pain.002", value_date=TODAY)


PAYOUT_STEPS = [
    (DynamoLoanStore, "start_disbursement", 1),
    (Iso20022FileGateway, "_put_once", 1),  # the marker
    (Iso20022FileGateway, "_put_once", 2),  # the message
    (disbursement_service, "execute", 1),
    (DynamoLoanStore, "record_report", 1),
]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(
    ("owner", "name", "nth"), PAYOUT_STEPS, ids=[f"{o.__name__}.{n}#{k}" for o, n, k in PAYOUT_STEPS]
)
def test_a_file_payout_crashed_at_any_step_is_one_message_and_one_payout(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, nth: int, when: str
) -> None:
    state = crash_once(monkeypatch, owner, name, when, nth)

    status = until_done(lambda: world["payouts"].disburse("L1"))
    effect = world["outcomes"].apply(bank_says("PAYL1", PaymentStatus.SETTLED))

    assert state["crashed"] == 1
    assert (status, effect) == (LoanStatus.DISBURSING, "SETTLED")
    assert len(messages(world["s3"])) == 1
    assert world["store"].get_loan("L1").loan.status is LoanStatus.ACTIVE
    assert [p.posting_id for p in PostingItem.query("LEDGER#L1")] == ["DISBURSEMENT#PAYL1"]


COLLECTION_STEPS = [
    (DynamoLoanStore, "start_collection", 1),
    (Iso20022FileGateway, "_put_once", 1),
    (Iso20022FileGateway, "_put_once", 2),
    (repayment_service, "execute", 1),
    (DynamoLoanStore, "record_report", 1),
]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize(
    ("owner", "name", "nth"),
    COLLECTION_STEPS,
    ids=[f"{o.__name__}.{n}#{k}" for o, n, k in COLLECTION_STEPS],
)
def test_a_file_collection_crashed_at_any_step_is_one_message_applied_once(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, nth: int, when: str
) -> None:
    world["payouts"].disburse("L1")
    world["outcomes"].apply(bank_says("PAYL1", PaymentStatus.SETTLED))
    pending = world["repayments"].request("S1", "L1", 50_000, "k1")
    payload = pending.requested_event().payload
    state = crash_once(monkeypatch, owner, name, when, nth)
    deliveries = iter(range(10))

    status = until_done(lambda: world["repayments"].apply(payload, redelivered=next(deliveries) > 0))
    effect = world["outcomes"].apply(bank_says(pending.repayment_id, PaymentStatus.SETTLED))

    assert state["crashed"] == 1
    assert (status, effect) == (RepaymentStatus.PENDING, "SETTLED")
    assert len(messages(world["s3"])) == 2  # the payout's and the collection's
    assert world["store"].get_repayment(pending.repayment_id).status is RepaymentStatus.APPLIED
    postings = sorted(p.posting_id for p in PostingItem.query("LEDGER#L1"))
    assert postings == ["DISBURSEMENT#PAYL1", f"REPAYMENT#{pending.repayment_id}"]
