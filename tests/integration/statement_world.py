"""The money world of tests/reliability/money_harness.py plus the inbox bucket and ingest_settlement,
with the banks sending statements configured in `BANKS`: for the statement, sweep and partner tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from scf import config
from scf.adapters.dynamodb.models import OutboxItem
from tests.reliability.money_harness import REGION, MoneyWorld, banks_document, money_world
from tests.support import LambdaContext, inbox_senders, load_handler, s3_event

BUCKET = "scf-inbox"
BANK = "TESTBANK"
LENDER_ACCOUNT = "CH9300762011623852957"
CTX = LambdaContext("ingest_settlement")


def loan_id(n: int) -> str:
    """A loan id of the real format: "LN" + 20 Crockford base32 characters."""
    return f"LN0000000000{n:010d}"


@dataclass
class IngestWorld:
    money: MoneyWorld
    ingest: ModuleType

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    def event(self, key: str) -> dict[str, Any]:
        return s3_event(key, BUCKET)

    def drop(self, key: str, data: bytes) -> dict[str, Any]:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return self.deliver(key)

    def deliver(self, key: str) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.ingest.handler(self.event(key), CTX)
        except BatchProcessingError as exc:
            raise AssertionError(f"ingest failed: {exc}") from exc
        return answer

    def report(self, key: str) -> dict[str, Any]:
        raw = self.s3.get_object(Bucket=BUCKET, Key=f"reports/{key}.report.json")["Body"].read()
        report: dict[str, Any] = json.loads(raw)
        return report

    def active_loan(self, number: int, supplier_id: str, principal_minor: int, term_days: int = 30) -> str:
        """A loan paid out through the disburse handler (ACTIVE, payment PAY<loan_id> SETTLED)."""
        if not self.money.client.get_item(
            TableName="scf-test-business",
            Key={"pk": {"S": f"SUPPLIER#{supplier_id}"}, "sk": {"S": "PROFILE"}},
        ).get("Item"):
            self.money.add_supplier(supplier_id, f"62170000{number:08d}")
        lid = loan_id(number)
        self.money.approve_loan(lid, supplier_id, principal_minor, term_days=term_days)
        self.money.deliver("disbursements")
        assert self.money.loan(lid).status == "ACTIVE"
        return lid

    def repayment_events(self) -> list[dict[str, Any]]:
        """Payloads of every RepaymentRequested outbox item in the table."""
        return [
            json.loads(item.payload)
            for item in OutboxItem.scan(OutboxItem.event_type == "RepaymentRequested")
        ]

    def set_today(self, day: date) -> None:
        self.money.set_today(day)


def ingest_world(
    tmp_path: Path, monkeypatch: Any, bank_accounts: dict[str, list[str]] | None = None
) -> Iterator[IngestWorld]:
    monkeypatch.setenv("INBOX_BUCKET", BUCKET)
    for money in money_world(tmp_path, monkeypatch):
        # The banks that send statements here are played by the money world's stand-in bank, so a
        # payout to a supplier at one of them goes through it on-us (contract section 7) and its
        # statements pass the sender check. Read at the handler's first cold start, after this.
        statement_banks = {
            code: {
                "adapter": "simulated",
                "url": money.bank.url,
                "accounts": [{"account_number": number, "name": "SCF Lender"} for number in numbers],
            }
            for code, numbers in (bank_accounts or {BANK: [LENDER_ACCOUNT]}).items()
        }
        banks = banks_document(money.bank.url, **statement_banks)
        monkeypatch.setenv("BANKS", json.dumps(banks))
        monkeypatch.setenv("INBOX_SENDERS", inbox_senders("platform", *banks["banks"]))
        config.settings.cache_clear()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield IngestWorld(money, load_handler("ingest_settlement"))


def camt054(entries: list[str], account: str = LENDER_ACCOUNT, message_id: str = "MSG-1") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-01-11T10:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>{message_id}-N1</Id>
      <Acct><Id><IBAN>{account}</IBAN></Id><Ccy>CNY</Ccy></Acct>
{"".join(entries)}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
""".encode()


def camt_entry(
    amount: str,
    direction: str,
    *,
    reference: str,
    end_to_end: str = "NOTPROVIDED",
    remittance: str = "",
    status: str = "BOOK",
    reversal: bool = False,
    currency: str = "CNY",
    booked: str = "2026-01-11",
    debtor_account: str | None = None,
) -> str:
    debtor = (
        f"<RltdPties><DbtrAcct><Id><IBAN>{debtor_account}</IBAN></Id></DbtrAcct></RltdPties>"
        if debtor_account
        else ""
    )
    return f"""      <Ntry>
        <Amt Ccy="{currency}">{amount}</Amt>
        <CdtDbtInd>{direction}</CdtDbtInd>
        {"<RvslInd>true</RvslInd>" if reversal else ""}
        <Sts><Cd>{status}</Cd></Sts>
        <BookgDt><Dt>{booked}</Dt></BookgDt>
        <ValDt><Dt>{booked}</Dt></ValDt>
        <AcctSvcrRef>{reference}</AcctSvcrRef>
        <BkTxCd/>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>{end_to_end}</EndToEndId></Refs>
          {debtor}
          <RmtInf><Ustrd>{remittance}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
"""


def mt940(lines: list[str], account: str = LENDER_ACCOUNT, statement: str = "STMT-1") -> bytes:
    body = "\r\n".join(
        [
            f":20:{statement}",
            f":25:{account}",
            ":28C:1/1",
            ":60F:C260110CNY0,00",
            *lines,
            ":62F:C260111CNY0,00",
            "-",
        ]
    )
    return (body + "\r\n").encode("latin-1")
