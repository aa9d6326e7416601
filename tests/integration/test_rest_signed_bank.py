"""The `rest-signed` adapter over real HTTP against a signed stand-in bank (tests/integration/
rest_bank.py): every request signed, a retry only after asking the bank, money moved once whatever
the faults, a refused signature never retried into a storm."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from scf.adapters.banks.base import BankError, PaymentConflict
from scf.adapters.banks.rest_signed import BankSignatureRefused, RestSignedBankGateway
from scf.adapters.secrets import SecretsManagerSecrets, StaticSecrets
from scf.config import ConfigError
from scf.service.payments import Account, BankUnavailable, Direction, PaymentOrder, PaymentStatus, execute
from tests.integration.rest_bank import RestBank, every_resend_asked_first
from tests.support import REGION

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 3)
SECRET = b"restbank-secret-0001"
LENDER = Account("RESTBANK", "6222000011112222", "SCF Lender")
SUPPLIER = Account("RESTBANK", "6217000099998888", "Supplier Ltd")
READ_TIMEOUT = 1.0
SHORT_READ_TIMEOUT = 0.25  # below the bank's hang after applying (0.75 s)


@pytest.fixture
def bank() -> Iterator[RestBank]:
    server = RestBank({"K1": SECRET}, today=TODAY)
    yield server
    server.close()


class ShiftedClock:
    """Our clock, `offset` away from the real one (the bank's)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def today(self) -> date:
        return self.now().date()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class RotatingSecrets:
    """A cache that still holds the old secret until asked to refresh."""

    def __init__(self, cached: bytes, current: bytes) -> None:
        self.cached, self.current = cached, current
        self.refreshes = 0

    def secret(self, key_id: str, *, refresh: bool = False) -> bytes:
        if refresh:
            self.refreshes += 1
            self.cached = self.current
        return self.cached


def gateway(
    bank: RestBank,
    *,
    secret: bytes = SECRET,
    sleeps: list[float] | None = None,
    attempts: int = 3,
    clock_offset: timedelta = timedelta(0),
    secrets: object = None,
    read_timeout: float = READ_TIMEOUT,
) -> RestSignedBankGateway:
    return RestSignedBankGateway(
        bank.url,
        "K1",
        secrets or StaticSecrets({"K1": secret}),  # type: ignore[arg-type]
        bank_code="RESTBANK",
        timeout=(1.0, read_timeout),
        attempts=attempts,
        backoff_seconds=0.5,
        max_backoff_seconds=2.0,
        clock=ShiftedClock(clock_offset),
        sleep=(sleeps if sleeps is not None else []).append,
    )


def order(payment_id: str = "PAYL1", amount_minor: int = 123_456, currency: str = "CNY") -> PaymentOrder:
    return PaymentOrder(payment_id, Direction.PAYOUT, amount_minor, currency, LENDER, SUPPLIER, "L1")


def test_a_signed_payout_settles_with_the_banks_value_date(bank: RestBank) -> None:
    result = gateway(bank).pay(order())
    assert (result.status, result.value_date) == (PaymentStatus.SETTLED, TODAY)
    assert result.bank_reference and result.bank_reference.startswith("REST")
    assert bank.payments["PAYL1"]["amount"] == "1234.56"
    assert bank.requests_for("PAYL1") == ["POST"] and bank.refused == []


def test_the_status_of_an_order_the_bank_never_received_is_unknown(bank: RestBank) -> None:
    assert gateway(bank).status("PAYL9").status is PaymentStatus.UNKNOWN
    assert bank.requests_for("PAYL9") == ["GET"] and bank.refused == []


def test_the_status_of_a_paid_order_is_its_outcome(bank: RestBank) -> None:
    paid = gateway(bank).pay(order())
    assert gateway(bank).status("PAYL1") == paid


def test_a_rejected_account_is_a_rejection_with_its_reason_not_retried(bank: RestBank) -> None:
    bank.faults.reject_accounts.add(SUPPLIER.account_number)
    sleeps: list[float] = []
    result = gateway(bank, sleeps=sleeps).pay(order())
    assert (result.status, result.reason) == (PaymentStatus.REJECTED, "ACCOUNT_REJECTED: 6217000099998888")
    assert result.log_fields()["reason"] == "ACCOUNT_REJECTED: ************8888"
    assert bank.requests_for("PAYL1") == ["POST"] and sleeps == []


def test_a_500_is_unknown_so_the_adapter_asks_before_sending_again(bank: RestBank) -> None:
    bank.faults.fail_next_posts = 1
    sleeps: list[float] = []
    result = gateway(bank, sleeps=sleeps).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.requests_for("PAYL1") == ["POST", "GET", "POST"]
    assert bank.applied == {"PAYL1": 1} and len(sleeps) == 1


def test_an_answer_lost_after_applying_is_found_by_asking_not_by_paying_again(bank: RestBank) -> None:
    bank.faults.hang_next_posts = 1
    result = gateway(bank, read_timeout=SHORT_READ_TIMEOUT).pay(order())
    assert (result.status, result.value_date) == (PaymentStatus.SETTLED, TODAY)
    assert bank.requests_for("PAYL1") == ["POST", "GET"]
    assert bank.applied == {"PAYL1": 1}


def test_no_outcome_after_every_attempt_is_unavailable_and_asks_before_each_retry(bank: RestBank) -> None:
    bank.faults.fail_next_posts = 3
    sleeps: list[float] = []
    with pytest.raises(BankUnavailable, match="RESTBANK gave no outcome for PAYL1 after 3 attempts"):
        gateway(bank, sleeps=sleeps).pay(order())
    assert bank.requests_for("PAYL1") == ["POST", "GET", "POST", "GET", "POST"]
    assert bank.applied == {} and len(sleeps) == 2


def test_a_failed_inquiry_is_no_outcome_and_is_asked_again_before_any_send(bank: RestBank) -> None:
    bank.faults.hang_next_posts = 1
    bank.faults.fail_next_gets = 1
    result = gateway(bank, read_timeout=SHORT_READ_TIMEOUT).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.requests_for("PAYL1") == ["POST", "GET", "GET"]
    assert bank.applied == {"PAYL1": 1}


def test_a_redelivered_payout_asks_first_and_never_pays_twice(bank: RestBank) -> None:
    bank.faults.hang_next_posts = 1
    with pytest.raises(BankUnavailable):
        gateway(bank, attempts=1, read_timeout=SHORT_READ_TIMEOUT).pay(order())
    result = execute(gateway(bank), order(), maybe_sent=True)
    assert result.status is PaymentStatus.SETTLED
    assert bank.requests_for("PAYL1") == ["POST", "GET"] and bank.applied == {"PAYL1": 1}


def test_the_status_inquiry_retries_a_5xx(bank: RestBank) -> None:
    bank.faults.fail_next_gets = 2
    sleeps: list[float] = []
    assert gateway(bank, sleeps=sleeps).status("PAYL9").status is PaymentStatus.UNKNOWN
    assert bank.requests_for("PAYL9") == ["GET", "GET", "GET"] and len(sleeps) == 2


def test_a_wrong_secret_is_refused_once_without_a_retry_storm(bank: RestBank) -> None:
    sleeps: list[float] = []
    with pytest.raises(BankSignatureRefused) as refused:
        gateway(bank, secret=b"not-the-secret", sleeps=sleeps).pay(order())
    assert refused.value.reason == "BAD_SIGNATURE" and not refused.value.clock_skew
    assert "RESTBANK" in str(refused.value) and "signature" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)
    assert bank.requests_for("PAYL1") == ["POST"] and sleeps == [] and bank.applied == {}


def test_a_stale_clock_is_refused_as_clock_skew(bank: RestBank) -> None:
    with pytest.raises(BankSignatureRefused, match="clock skew") as refused:
        gateway(bank, clock_offset=timedelta(seconds=-400)).pay(order())
    assert refused.value.reason == "STALE_TIMESTAMP" and refused.value.clock_skew
    assert re.search(r"about \+(399|400|401) s", str(refused.value)), refused.value
    assert bank.requests_for("PAYL1") == ["POST"]


def test_a_clock_ahead_is_refused_as_clock_skew(bank: RestBank) -> None:
    with pytest.raises(BankSignatureRefused) as refused:
        gateway(bank, clock_offset=timedelta(seconds=400)).status("PAYL1")
    assert (refused.value.reason, refused.value.clock_skew) == ("FUTURE_TIMESTAMP", True)


def test_a_rotated_secret_is_read_again_once_and_the_retry_asks_first(bank: RestBank) -> None:
    bank.secrets = {"K1": b"rotated-secret"}
    secrets = RotatingSecrets(cached=SECRET, current=b"rotated-secret")
    result = gateway(bank, secrets=secrets).pay(order())
    assert result.status is PaymentStatus.SETTLED
    assert bank.requests_for("PAYL1") == ["POST", "GET", "POST"]
    assert secrets.refreshes == 1 and bank.applied == {"PAYL1": 1}


def test_a_secret_rotated_in_secrets_manager_costs_one_refusal(aws: None, bank: RestBank) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name="scf/banks/RESTBANK/K1", SecretString=SECRET.decode())
    rest = gateway(bank, secrets=SecretsManagerSecrets({"K1": "scf/banks/RESTBANK/K1"}, client=client))
    assert rest.pay(order("PAYA")).status is PaymentStatus.SETTLED
    client.put_secret_value(SecretId="scf/banks/RESTBANK/K1", SecretString="rotated-secret")
    bank.secrets = {"K1": b"rotated-secret"}
    assert rest.pay(order("PAYB")).status is PaymentStatus.SETTLED
    assert bank.requests_for("PAYB") == ["POST", "GET", "POST"] and bank.refused == ["BAD_SIGNATURE"]
    assert bank.applied == {"PAYA": 1, "PAYB": 1}


def test_the_same_payment_id_with_another_order_is_a_conflict(bank: RestBank) -> None:
    gateway(bank).pay(order(amount_minor=100))
    with pytest.raises(PaymentConflict, match="RESTBANK holds another order under PAYL1"):
        gateway(bank).pay(order(amount_minor=200))
    assert bank.applied == {"PAYL1": 1}


def test_another_4xx_is_a_bank_error_not_retried_and_masks_accounts(bank: RestBank) -> None:
    sleeps: list[float] = []
    with pytest.raises(BankError) as refused:
        gateway(bank, sleeps=sleeps).pay(order(currency="CN"))
    assert "HTTP 400" in str(refused.value) and "6217000099998888" not in str(refused.value)
    assert "************8888" in str(refused.value)
    assert bank.requests_for("PAYL1") == ["POST"] and sleeps == []


def test_waits_grow_exponentially_with_full_jitter_within_their_bounds(bank: RestBank) -> None:
    seed = 20261203
    random.seed(seed)
    bank.faults.fail_next_posts = 6
    sleeps: list[float] = []
    with pytest.raises(BankUnavailable):
        gateway(bank, sleeps=sleeps, attempts=6).pay(order())
    ceilings = [min(2.0, 0.5 * 2**index) for index in range(5)]  # 0.5, 1, 2, 2, 2
    assert len(sleeps) == 5, f"seed {seed}"
    assert all(0 <= slept <= ceiling for slept, ceiling in zip(sleeps, ceilings, strict=True)), (seed, sleeps)
    assert len(set(sleeps)) == 5, f"no jitter (seed {seed}): {sleeps}"
    assert every_resend_asked_first(bank.requests_for("PAYL1"))


def test_money_moves_once_per_payment_id_whatever_the_faults(bank: RestBank) -> None:
    seed = random.randrange(2**32)
    faults = random.Random(seed)
    outcomes: dict[str, PaymentStatus] = {}
    lost_answers = gateway(bank, read_timeout=SHORT_READ_TIMEOUT)
    for number in range(10):
        payment_id = f"PAYF{number}"
        bank.faults.fail_next_posts = faults.randint(0, 2)
        bank.faults.fail_next_gets = faults.randint(0, 1)
        bank.faults.hang_next_posts = faults.randint(0, 1)
        for _delivery in range(3):  # a redelivery asks first
            try:
                outcomes[payment_id] = execute(lost_answers, order(payment_id), maybe_sent=True).status
                break
            except BankUnavailable:
                continue
        methods = bank.requests_for(payment_id)
        assert bank.applied.get(payment_id, 0) == (1 if payment_id in outcomes else 0), (seed, methods)
        assert every_resend_asked_first(methods), (seed, methods)
    assert set(outcomes.values()) == {PaymentStatus.SETTLED}, seed
    assert len(outcomes) == 10, f"seed {seed}: {sorted(outcomes)}"


def test_a_base_path_is_part_of_the_signed_path() -> None:
    prefixed = RestBank({"K1": SECRET}, today=TODAY, prefix="/api/v1")
    try:
        assert gateway(prefixed).pay(order()).status is PaymentStatus.SETTLED
        assert gateway(prefixed).status("PAYL1").status is PaymentStatus.SETTLED
        assert prefixed.refused == [] and prefixed.applied == {"PAYL1": 1}
    finally:
        prefixed.close()


def test_an_unreachable_bank_is_unavailable_after_the_attempts(bank: RestBank) -> None:
    url = bank.url
    bank.close()
    sleeps: list[float] = []
    unreachable = RestSignedBankGateway(
        url,
        "K1",
        StaticSecrets({"K1": SECRET}),
        bank_code="RESTBANK",
        timeout=(0.5, 0.5),
        sleep=sleeps.append,
    )
    with pytest.raises(BankUnavailable, match=re.escape("after 3 attempts (last: GET ConnectionError)")):
        unreachable.pay(order())
    assert len(sleeps) == 2


@pytest.mark.parametrize("url", ["http://bank.example.com/v1", "ftp://bank.example.com"])
def test_a_remote_bank_is_reached_over_https_only(url: str) -> None:
    with pytest.raises(ConfigError, match="BANK9"):
        RestSignedBankGateway(url, "K1", StaticSecrets({"K1": SECRET}), bank_code="BANK9")
