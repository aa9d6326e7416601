"""The status inquiry (step INQUIRE) crashed mid-way and run again for the same day, and racing a
late pain.002 for the same payment: money moves once per payment id, each payment gets one
outcome, and nothing stays in the open-payment index once its outcome is recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scf.adapters.banks.simulated import SimulatedBankGateway
from scf.adapters.dynamodb.loan_repository import DynamoLoanStore
from scf.adapters.dynamodb.models import PaymentItem
from scf.clock import FixedClock
from scf.domain.loan import LoanStatus
from scf.service.disbursement import PayoutService
from scf.service.inquiries import InquiryService
from scf.service.outcomes import PaymentOutcomeService
from scf.service.payments import Account, PaymentKind, PaymentReport, PaymentResult, PaymentStatus
from tests.fakes import FakeBankGateway, FakeGateways
from tests.integration.test_loan_status_index import approve
from tests.reliability.money_harness import MoneyWorld, money_world, sqs_event
from tests.reliability.test_file_payments_crashes import crash_once

pytestmark = pytest.mark.reliability

SENT_ON = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # timestamps are real in the money world
INQUIRY_DAY = SENT_ON + timedelta(days=2)
LOANS = ("L1", "L2", "L3")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MoneyWorld]:
    yield from money_world(tmp_path, monkeypatch)


@pytest.fixture
def unsent(world: MoneyWorld) -> MoneyWorld:
    """Three payouts written SENT that the bank never received (every POST refused)."""
    world.set_today(SENT_ON)
    world.add_supplier("S1", "6217000011113333")
    for n, loan_id in enumerate(LOANS):
        world.approve_loan(loan_id, "S1", 1_000_000, created_at=f"2026-01-01T00:00:0{n}+00:00")
    world.bank.faults.unavailable_next = 1000
    world.deliver("disbursements")
    world.bank.faults.unavailable_next = 0
    world.bank.posts.clear()
    assert {world.loan(loan_id).status for loan_id in LOANS} == {"DISBURSING"}
    world.set_today(INQUIRY_DAY)
    return world


def run_inquiry(world: MoneyWorld, receive_count: int) -> dict[str, Any]:
    body = {"scf": "daily", "step": "INQUIRE", "business_date": INQUIRY_DAY.isoformat()}
    return world.invoke_sqs("disbursements", sqs_event([body], receive_count))


@pytest.mark.parametrize("nth", [1, 2, 3])
@pytest.mark.parametrize(
    ("owner", "name", "when"),
    [
        (SimulatedBankGateway, "status", "before"),
        (SimulatedBankGateway, "pay", "after"),  # the bank moved the money; the answer died with us
        (DynamoLoanStore, "complete_disbursement", "before"),
        (DynamoLoanStore, "complete_disbursement", "after"),
    ],
)
def test_an_inquiry_crashed_mid_way_and_run_again_pays_each_loan_once(
    unsent: MoneyWorld, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, when: str, nth: int
) -> None:
    with monkeypatch.context() as patch:
        crash_once(patch, owner, name, when, nth)
        crashed = run_inquiry(unsent, receive_count=1)
    assert len(crashed["batchItemFailures"]) == 1

    assert run_inquiry(unsent, receive_count=2) == {"batchItemFailures": []}
    assert run_inquiry(unsent, receive_count=3) == {"batchItemFailures": []}

    for loan_id in LOANS:
        payment = PaymentItem.get(*PaymentItem.key(f"PAY{loan_id}"), consistent_read=True)
        assert (unsent.loan(loan_id).status, payment.status, payment.gsi2pk) == ("ACTIVE", "SETTLED", None)
        assert unsent.bank.applied(f"PAY{loan_id}") == 1
        assert unsent.bank.posts.count(f"PAY{loan_id}") == 1  # sent again once, asked before any other
        unsent.assert_ledger_matches_loan(loan_id)
    assert int(unsent.exposure("S1").principal_minor) == 3_000_000


# -- racing a late pain.002 -----------------------------------------------------------------------

TODAY = date(2026, 3, 2)
SENT_AT = datetime(2026, 3, 2, 1, tzinfo=UTC)
JOB_AT = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)  # 00:05 on 2026-03-03 in Asia/Shanghai
BANK = "SIMBANK"  # the supplier's bank (tests/integration/test_loan_status_index.py), paid on-us
LENDER = Account(BANK, "6222000011112222", "SCF Lender")


def late_file(outcomes: PaymentOutcomeService) -> str:
    report = PaymentReport("PAYL1", BANK, PaymentStatus.SETTLED, "pain.002", value_date=TODAY)
    return outcomes.apply(report)


@pytest.fixture
def held(tables: Any) -> dict[str, Any]:
    """L1's payout held (PENDING, as a file bank's) when sent; since then the bank settled it."""
    approve("L1")
    store = DynamoLoanStore()
    bank = FakeBankGateway(value_date=TODAY)
    bank.hold("PAYL1")
    sent = FixedClock(TODAY, SENT_AT)
    payouts = PayoutService(loans=store, gateways=FakeGateways(bank=bank), clock=sent, lender=LENDER)
    assert payouts.disburse("L1") is LoanStatus.DISBURSING
    bank.applied["PAYL1"] = PaymentResult("PAYL1", PaymentStatus.SETTLED, value_date=TODAY)
    job = FixedClock(TODAY + timedelta(days=1), JOB_AT)
    inquiries = InquiryService(
        loans=store,
        gateways=FakeGateways(bank=bank),
        outcomes=PaymentOutcomeService(loans=store, clock=job),
        clock=job,
        resend={PaymentKind.PAYOUT: payouts.pay_again},
    )
    return {"store": store, "bank": bank, "inquiries": inquiries, "files": PaymentOutcomeService(store, job)}


def assert_one_outcome(store: DynamoLoanStore) -> None:
    payment = store.get_payment("PAYL1")
    loan = store.get_loan("L1")
    assert payment is not None and loan is not None
    assert loan.loan.status is LoanStatus.ACTIVE
    finals = [r.effect for r in payment.reports if r.effect in ("SETTLED", "REJECTED")]
    assert finals == ["SETTLED"]
    assert PaymentItem.get(*PaymentItem.key("PAYL1"), consistent_read=True).gsi2pk is None


@pytest.mark.parametrize("moment", ["while the inquiry asks the bank", "just before the inquiry's write"])
def test_the_inquiry_racing_a_late_pain002_gives_the_payment_one_outcome(
    held: dict[str, Any], monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """The file lands after the inquiry read the payment as open: in one interleaving while it asks
    the bank, in the other between the outcome use case's read and its write."""
    fired: list[str] = []

    def file_lands() -> None:
        if not fired:
            fired.append("landing")  # the file's own write comes back through here: let it pass
            fired[0] = late_file(held["files"])

    if moment == "while the inquiry asks the bank":
        asked: Callable[[str], PaymentResult] = held["bank"].status

        def status(payment_id: str) -> PaymentResult:
            file_lands()
            return asked(payment_id)

        monkeypatch.setattr(held["bank"], "status", status)
    else:
        original = DynamoLoanStore.complete_disbursement

        def complete(self: DynamoLoanStore, *args: Any, **kwargs: Any) -> None:
            file_lands()
            original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoLoanStore, "complete_disbursement", complete)

    result = held["inquiries"].run(TODAY + timedelta(days=1), JOB_AT)

    assert fired == ["SETTLED"]
    assert result.loans_read == 1
    assert_one_outcome(held["store"])


def test_a_pain002_arriving_after_the_inquiry_settled_the_payout_changes_nothing(
    held: dict[str, Any],
) -> None:
    held["inquiries"].run(TODAY + timedelta(days=1), JOB_AT)

    assert late_file(held["files"]) == "RECORDED"
    assert_one_outcome(held["store"])
