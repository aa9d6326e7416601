"""Ops views of many loans (contract section 8, docs/ops-views.md): `GET /v1/ops/loans` by stored
status or supplier, and `GET /v1/ops/portfolio` from the sharded counters and the loans past
maturity (never a read of every loan)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scf.domain.loan import LoanStatus
from scf.domain.money import MoneyError, parse_currency
from scf.domain.portfolio import portfolio_view
from scf.errors import InvalidInput
from scf.service.loan_store import LoanFilter, LoanStore
from scf.service.loans import LoanService

SUPPLIER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # what a supplier id can be (a path id's rule)
STATUS_VALUES = tuple(status.value for status in LoanStatus)


def currency_filter(raw: str | None, *, required: bool = False) -> str | None:
    """A `currency` query parameter (absent: None, or CNY where the route needs one)."""
    if raw is None:
        return "CNY" if required else None
    try:
        return parse_currency(raw)
    except MoneyError as exc:
        raise InvalidInput(exc.message, code=exc.code, field="currency") from exc


def loan_filter(status: str | None, supplier_id: str | None, currency: str | None) -> LoanFilter:
    """The ops list's query parameters checked: each a 422 naming it; a status or a supplier needed
    (there is no index of every loan, and the list never scans)."""
    if status is not None and status not in STATUS_VALUES:
        raise InvalidInput(f"must be one of {', '.join(STATUS_VALUES)}", code="INVALID_VALUE", field="status")
    if supplier_id is not None and re.fullmatch(SUPPLIER_ID_PATTERN, supplier_id) is None:
        raise InvalidInput("is not a supplier id", code="INVALID_VALUE", field="supplier_id")
    if status is None and supplier_id is None:
        raise InvalidInput("status or supplier_id is required", code="MISSING_FILTER", field="status")
    return LoanFilter(
        status=LoanStatus(status) if status is not None else None,
        supplier_id=supplier_id,
        currency=currency_filter(currency),
    )


@dataclass(frozen=True)
class PortfolioService:
    loans: LoanStore
    views: LoanService

    def list(self, wanted: LoanFilter, *, limit: int, next_token: str | None) -> dict[str, Any]:
        """One page: each item the supplier's loan fields (as of the business date) plus supplier_id."""
        page = self.loans.ops_loans(wanted, limit=limit, next_token=next_token)
        items = [
            {**self.views.view(record, None), "supplier_id": record.loan.supplier_id} for record in page.items
        ]
        return {"items": items, "next_token": page.next_token}

    def portfolio(self, currency: str) -> dict[str, Any]:
        as_of = self.views.clock.today()
        counters = self.loans.portfolio_counters(currency)
        past = [record.loan for record in self.loans.loans_past_maturity(currency, as_of)]
        return portfolio_view(currency, as_of, counters, past)
