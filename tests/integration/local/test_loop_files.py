"""The loop's platform files follow CONTRACT.md section 6 and make a supplier the policy approves."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from infra.local.loop import documents_csv, supplier_csv


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_the_supplier_master_has_the_contract_columns_and_a_verified_account() -> None:
    (row,) = rows(supplier_csv("SUP-1", "SIMBANK"))
    assert list(row) == [
        "supplier_id",
        "name",
        "status",
        "bank_code",
        "account_number",
        "account_name",
        "account_verified",
    ]
    assert (row["supplier_id"], row["status"], row["bank_code"], row["account_verified"]) == (
        "SUP-1",
        "ACTIVE",
        "SIMBANK",
        "true",
    )


def test_the_documents_are_a_year_of_receipts_with_invoices_of_the_older_ones() -> None:
    today = date(2026, 11, 28)
    documents = rows(documents_csv("SUP-1", today))
    assert list(documents[0]) == [
        "supplier_id",
        "document_id",
        "document_type",
        "document_date",
        "due_date",
        "amount",
        "currency",
        "status",
        "reference",
    ]
    receipts = [row for row in documents if row["document_type"] == "GOODS_RECEIPT"]
    invoices = [row for row in documents if row["document_type"] == "INVOICE"]
    ages = sorted((today - date.fromisoformat(row["document_date"])).days for row in receipts)
    assert ages[0] == 15 and ages[-1] == 360  # history over 180 days, nothing in the future
    assert {row["reference"] for row in invoices} <= {row["document_id"] for row in receipts}
    assert all(date.fromisoformat(row["document_date"]) <= today for row in documents)
    assert all(row["status"] == "CONFIRMED" and row["currency"] == "CNY" for row in documents)
    assert all(Decimal(row["amount"]) > 0 and len(row["amount"].split(".")[1]) == 2 for row in documents)
    assert len({row["document_id"] for row in documents}) == len(documents)
    recent = sum(
        Decimal(row["amount"])
        for row in receipts
        if date.fromisoformat(row["document_date"]) > today - timedelta(days=181)
    )
    assert recent / 2 >= Decimal("100000.00")  # the facility cap leaves room for the demo's loan
