"""The API's OpenAPI 3 document (CONTRACT.md section 8), served by the REST API at `GET /openapi.json`
(docs/decisions/0004-openapi.md); `python -m infra.openapi` prints it.

Invariant: no second source of truth: input rules are the HTTP toolkit's constants (scf.adapters.http),
bounds the current policy's, and tests hold its routes and answers to the running API.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from scf.adapters.http import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    LOANS_PAGE,
    PATH_ID_MAX_LENGTH,
    PATH_ID_PATTERN,
    REVIEWS_PAGE,
    UNMATCHED_PAGE,
    PageSize,
)
from scf.domain.loan import LoanStatus
from scf.domain.money import TWO_DECIMAL_CURRENCIES
from scf.domain.policy import CURRENT_POLICY_VERSION, CreditPolicy, load_policy
from scf.domain.portfolio import BUCKETS, CURRENT
from scf.service.loan_history import HISTORY_EVENTS
from scf.service.ops_outcomes import REASON_MAX_LENGTH as OPS_REASON_MAX_LENGTH
from scf.service.ops_outcomes import REFERENCE_MAX_LENGTH as OPS_REFERENCE_MAX_LENGTH
from scf.service.portfolio import SUPPLIER_ID_PATTERN

OPENAPI_VERSION = "3.0.3"
API_VERSION = "1"
DOCUMENT_PATH = "/openapi.json"
SECURITY_SCHEME = "cognitoBearer"
PROBLEM_JSON = "application/problem+json"

Schema = dict[str, Any]
LOAN_STATUSES = tuple(status.value for status in LoanStatus)
AGING_BUCKETS = (CURRENT, *(name for name, _ in BUCKETS))


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(
    properties: dict[str, Schema], required: list[str] | None = None, description: str | None = None
) -> Schema:
    """An object schema; `required` defaults to every property. More fields may be added later
    (CONTRACT.md section 8), so clients must ignore unknown ones: no additionalProperties: false."""
    schema: Schema = {"type": "object", "properties": properties}
    schema["required"] = list(properties) if required is None else required
    if description:
        schema["description"] = description
    return schema


def nullable(schema: Schema) -> Schema:
    """OpenAPI 3.0.3: `nullable` only counts beside an explicit `type`, so a nullable schema is
    written out in full rather than as a `$ref`."""
    if "type" not in schema:
        raise ValueError("a nullable schema needs its own type (inline it rather than $ref it)")
    return {**schema, "nullable": True}


def page(item: str, description: str) -> Schema:
    return obj(
        {
            "items": {"type": "array", "items": ref(item)},
            "next_token": {
                "type": "string",
                "nullable": True,
                "description": "Pass as `next_token` for the next page; null on the last page.",
            },
        },
        description=description,
    )


def schemas(policy: CreditPolicy) -> dict[str, Schema]:
    money = {
        "type": "string",
        "pattern": r"^(0|[1-9][0-9]{0,15})\.[0-9]{2}$",
        "description": "An amount with exactly two decimals, as a string (never a JSON number).",
        "example": "1250000.00",
    }
    rate = {
        "type": "string",
        "pattern": r"^[0-9]+(\.[0-9]+)?$",
        "description": "A decimal rate as a string: 0.10 is 10% a year.",
        "example": "0.10",
    }
    allocation = obj(
        {
            "penalty": ref("Money"),
            "interest": ref("Money"),
            "principal": ref("Money"),
            "overpayment": {
                "allOf": [ref("Money")],
                "description": "Beyond the payoff: owed back to the supplier.",
            },
        },
        description="How a repayment was applied: penalty interest, then interest, then principal.",
    )
    stage_names = ["ORDERED", "RECEIVED", "INVOICED"]
    loan_fields: dict[str, Schema] = {
        "loan_id": {"type": "string", "maxLength": 35},
        "status": {
            "type": "string",
            "enum": ["APPROVED", "DISBURSING", "ACTIVE", "OVERDUE", "REPAID", "FAILED"],
        },
        "currency": ref("Currency"),
        "principal": ref("Money"),
        "outstanding_principal": ref("Money"),
        "interest_due": ref("Money"),
        "penalty_due": ref("Money"),
        "payoff": {
            "allOf": [ref("Money")],
            "description": "penalty_due + interest_due + outstanding_principal, as of `as_of`.",
        },
        "annual_rate": ref("Rate"),
        "day_count": {"type": "string", "enum": ["ACT/360", "ACT/365F"]},
        "term_days": {"type": "integer"},
        "value_date": nullable(
            {"type": "string", "format": "date", "description": "The day the bank confirmed the payout."}
        ),
        "maturity_date": nullable({"type": "string", "format": "date"}),
        "extended": {"type": "boolean"},
        "interest_paid": ref("Money"),
        "penalty_paid": ref("Money"),
        "overpayment": {
            "allOf": [ref("Money")],
            "description": "Received in excess of the payoff, cumulative (owed back to the supplier).",
        },
        "refunded": {
            "allOf": [ref("Money")],
            "description": "Paid back to the supplier's verified account (refunds the bank settled).",
        },
        "refund_pending": {
            "allOf": [ref("Money")],
            "description": "In a refund the bank has not answered yet; the rest of overpayment - "
            "refunded is paid back by the next business day's refund.",
        },
        "as_of": {"type": "string", "format": "date", "description": "The business date of the amounts."},
        "created_at": {"type": "string", "format": "date-time"},
    }
    application_fields: dict[str, Schema] = {
        "application_id": {"type": "string"},
        "status": {"type": "string", "enum": ["APPROVED", "DECLINED", "REVIEW"]},
        "reasons": {
            "type": "array",
            "items": ref("Reason"),
            "description": "Every rule that fired (CONTRACT.md section 5); empty when none did.",
        },
        "amount": ref("Money"),
        "currency": ref("Currency"),
        "term_days": {"type": "integer"},
        "grade": nullable({"type": "string", "enum": ["A", "B", "C"]}),
        "annual_rate": nullable({**rate, "description": "Fixed at approval."}),
        "loan_id": {"type": "string", "description": "Only when APPROVED: the loan it created."},
        "policy_version": {"type": "string"},
        "decided_at": {"type": "string", "format": "date-time"},
        "review": obj(
            {
                "decision": {"type": "string", "enum": ["APPROVE", "DECLINE"]},
                "note": {"type": "string", "description": "Ops answers only."},
                "by": {"type": "string", "description": "The reviewer's token subject; ops answers only."},
                "at": {"type": "string", "format": "date-time"},
            },
            description="Only once ops decided it: the audited review (its supplier sees decision and at).",
        ),
    }
    optional_application = ["loan_id", "review"]
    return {
        "Money": money,
        "Rate": rate,
        "Currency": {
            "type": "string",
            "enum": sorted(TWO_DECIMAL_CURRENCIES),
            "description": "ISO 4217, a currency with two decimals.",
            "example": "CNY",
        },
        "Reason": obj({"code": {"type": "string"}, "message": {"type": "string"}}),
        "Stage": obj(
            {
                "stage": {"type": "string", "enum": stage_names},
                "open": ref("Money"),
                "eligible": {
                    "allOf": [ref("Money")],
                    "description": "The open amount of confirmed documents still within the stage's window.",
                },
                "ratio": ref("Rate"),
                "amount": {
                    "allOf": [ref("Money")],
                    "description": "eligible x ratio, rounded half-up for display.",
                },
                "amount_exact": {
                    "type": "string",
                    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                    "description": "eligible x ratio, unrounded (an explanation, not a money field).",
                    "example": "233333.331",
                },
                "window_days": {
                    "type": "integer",
                    "description": "Eligible while the document's age is <= this.",
                },
            }
        ),
        "CreditLine": obj(
            {
                "supplier_id": {"type": "string"},
                "currency": ref("Currency"),
                "as_of": {"type": "string", "format": "date"},
                "stages": {"type": "array", "items": ref("Stage")},
                "eligible": {"allOf": [ref("Money")], "description": "The stages' eligible amounts, summed."},
                "borrowing_base_exact": {
                    "type": "string",
                    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                    "description": "The exact sum of the stages' amount_exact, before rounding.",
                },
                "borrowing_base": {
                    "allOf": [ref("Money")],
                    "description": "round_half_up(sum over stages of eligible x ratio).",
                },
                "facility_cap": ref("Money"),
                "facility_cap_derivation": obj(
                    {
                        "goods_receipts_window_days": {"type": "integer"},
                        "goods_receipts_total": ref("Money"),
                        "share_of_receipts": ref("Rate"),
                        "maximum": ref("Money"),
                    },
                    description="facility_cap = min(maximum, goods_receipts_total x share_of_receipts).",
                ),
                "limit": {"allOf": [ref("Money")], "description": "min(borrowing_base, facility_cap)."},
                "limit_source": {
                    "type": "string",
                    "enum": ["borrowing_base", "facility_cap"],
                    "description": "Which of the two is the limit.",
                },
                "outstanding": {
                    "allOf": [ref("Money")],
                    "description": "Principal outstanding or reserved on APPROVED, DISBURSING, ACTIVE "
                    "and OVERDUE loans in this currency.",
                },
                "available": {"allOf": [ref("Money")], "description": "max(0, limit - outstanding)."},
                "policy_version": {"type": "string"},
            },
            description="The borrowing base with every term of its sum (CONTRACT.md section 4).",
        ),
        "ApplicationRequest": obj(
            {
                "amount": {
                    "allOf": [ref("Money"), {"pattern": money_at_least(policy.min_amount_minor)}],
                    "description": f"At least {_money(policy.min_amount_minor)} (policy).",
                    "example": "50000.00",
                },
                "currency": ref("Currency"),
                "term_days": {
                    "type": "integer",
                    "minimum": policy.term_min_days,
                    "maximum": policy.term_max_days,
                    "description": "maturity_date = value_date + term_days.",
                },
            }
        ),
        "Application": obj(
            application_fields,
            required=[name for name in application_fields if name not in optional_application],
            description="An application and its decision (CONTRACT.md section 5).",
        ),
        "ReviewItem": obj(
            {
                **application_fields,
                "supplier_id": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            required=[
                *(name for name in application_fields if name not in optional_application),
                "supplier_id",
                "created_at",
            ],
            description="An application held for manual review.",
        ),
        "OpsApplication": obj(
            {
                **application_fields,
                "supplier_id": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            required=[
                *(name for name in application_fields if name not in optional_application),
                "supplier_id",
                "created_at",
            ],
            description="Any supplier's application for ops: its decision and, once reviewed, the "
            "audited review (decision, note, by, at).",
        ),
        "ReviewDecisionRequest": obj(
            {
                "decision": {"type": "string", "enum": ["APPROVE", "DECLINE"]},
                "note": {"type": "string", "maxLength": 2000, "description": "Why; kept in the audit."},
            },
            required=["decision"],
        ),
        "LoanSummary": obj(loan_fields, description="A loan as listed: every field but `repayments`."),
        "Loan": obj(
            {**loan_fields, "repayments": {"type": "array", "items": ref("Repayment")}},
            description="A loan; every amount as of the business date `as_of`.",
        ),
        "OpsLoan": obj(
            {
                **loan_fields,
                "repayments": {"type": "array", "items": ref("Repayment")},
                "supplier_id": {"type": "string"},
                "application_id": nullable(
                    {"type": "string", "description": "The application the loan came from."}
                ),
                "payout": nullable(
                    obj(
                        {
                            "payment_id": {"type": "string"},
                            "bank_code": {"type": "string", "description": "The bank it went through."},
                            "account": nullable(
                                {
                                    "type": "string",
                                    "description": "The supplier's account paid to, masked: all but the "
                                    "last 4 characters are `*`.",
                                }
                            ),
                            "status": {"type": "string", "enum": ["SENT", "SETTLED", "REJECTED"]},
                        },
                        description="The payout's payment order; null until it is sent.",
                    )
                ),
                "history": {
                    "type": "array",
                    "items": ref("HistoryEvent"),
                    "description": "What happened to the loan, oldest first (docs/ops-views.md).",
                },
            },
            description="Any loan for ops: the supplier's loan fields (as of `as_of`), whose it is, "
            "its payout and its history.",
        ),
        "HistoryEvent": obj(
            {
                "at": nullable(
                    {
                        "type": "string",
                        "format": "date-time",
                        "description": "When; null where the store keeps no time for it (the "
                        "extension, listed last).",
                    }
                ),
                "event": {
                    "type": "string",
                    "enum": list(HISTORY_EVENTS),
                },
                "by": {
                    "type": "string",
                    "description": "Who: a reviewer's token subject, the supplier id, a bank code, "
                    "`policy` (decided by the credit policy) or `system`.",
                },
                "detail": {
                    "type": "object",
                    "description": "Ids, two-decimal amounts, dates; no account numbers.",
                },
            }
        ),
        "Allocation": allocation,
        "Repayment": obj(
            {
                "repayment_id": {"type": "string"},
                "loan_id": {"type": "string"},
                "status": {"type": "string", "enum": ["PENDING", "APPLIED", "FAILED"]},
                "source": {"type": "string", "enum": ["SUPPLIER", "SETTLEMENT_SWEEP", "BANK_CREDIT"]},
                "amount": ref("Money"),
                "currency": ref("Currency"),
                "allocation": nullable(allocation),
                "value_date": nullable({"type": "string", "format": "date"}),
                "failure_reason": nullable({"type": "string"}),
            },
            description="`allocation` and `value_date` are null until it is APPLIED.",
        ),
        "RepaymentRequest": obj(
            {
                "amount": {
                    "allOf": [ref("Money"), {"pattern": money_at_least(1)}],
                    "description": "More than 0.00; the payoff repays in full.",
                    "example": "1250.00",
                }
            }
        ),
        "RepaymentAccepted": obj(
            {
                "repayment_id": {"type": "string"},
                "status": {"type": "string", "enum": ["PENDING"]},
            },
            description="Collection through the supplier's bank has started; `GET /v1/repayments/{id}` "
            "shows the outcome and the allocation.",
        ),
        "UnmatchedItem": obj(
            {
                "item_id": {"type": "string", "description": "Name it in `POST .../resolution`."},
                "status": {
                    "type": "string",
                    "enum": ["OPEN", "RESOLVED"],
                    "description": "OPEN until ops resolve it (`?status=` lists either).",
                },
                "entry_id": {"type": "string", "description": "The same as `item_id`."},
                "bank": {"type": "string", "description": "The sender (bank code) of the file."},
                "account": nullable({"type": "string"}),
                "amount": nullable(
                    {
                        "type": "string",
                        "description": "Two decimals; as the bank wrote it only when it is not exact "
                        "in its currency (`code` AMOUNT_PRECISION).",
                    }
                ),
                "amount_minor": nullable({"type": "integer", "description": "In minor units, when exact."}),
                "currency": nullable({"type": "string"}),
                "direction": nullable({"type": "string", "enum": ["CREDIT", "DEBIT"]}),
                "booking_status": nullable(
                    {"type": "string", "description": "BOOKED, PENDING, INFO or a pain.002 status."}
                ),
                "reversal": {"type": "boolean"},
                "booking_date": nullable({"type": "string", "format": "date"}),
                "references": {
                    "type": "object",
                    "description": "What the entry carried: bank_reference, end_to_end_ids, remittance.",
                },
                "matched": {
                    "type": "object",
                    "description": '{"type": "UNMATCHED", "code": ...}, or what it was matched to.',
                },
                "code": nullable(
                    {"type": "string", "description": "Why it is on this list, e.g. NO_REFERENCE."}
                ),
                "resolution": ref("UnmatchedResolution"),
                "file_key": {"type": "string"},
                "line": {"type": "integer", "description": "Where in the file (line, or entry number)."},
                "created_at": {"type": "string", "format": "date-time"},
            },
            required=["item_id", "status", "entry_id", "bank", "file_key", "line", "matched", "created_at"],
            description="A bank statement item that matched nothing, or needs a person (CONTRACT.md "
            "section 6); `resolution` once resolved.",
        ),
        "UnmatchedResolution": obj(
            {
                "action": {"type": "string", "enum": ["ASSIGN", "RETURN", "DISMISS"]},
                "note": {"type": "string"},
                "by": {"type": "string", "description": "The ops reviewer (the token's `sub`)."},
                "at": {"type": "string", "format": "date-time"},
                "loan_id": {"type": "string", "description": "ASSIGN: the loan it repays."},
                "repayment_id": {
                    "type": "string",
                    "description": "ASSIGN: its BANK_CREDIT repayment (`GET /v1/repayments/{id}` for "
                    "the supplier; the ops loan view lists it).",
                },
            },
            required=["action", "note", "by", "at"],
            description="How ops resolved an unmatched item (audited).",
        ),
        "UnmatchedResolutionRequest": obj(
            {
                "action": {
                    "type": "string",
                    "enum": ["ASSIGN", "RETURN", "DISMISS"],
                    "description": "ASSIGN: the money repays `loan_id` as a BANK_CREDIT with value date "
                    "= the booking date. RETURN: paid back to the account it came from as a refund "
                    "(409 SENDER_ACCOUNT_UNKNOWN while the bank files give no sender account). "
                    "DISMISS: recorded only. ASSIGN and RETURN only for a CREDIT (409 NOT_A_CREDIT).",
                },
                "loan_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": "Required for ASSIGN (a paid-out loan in the item's currency); "
                    "not allowed otherwise.",
                },
                "note": {"type": "string", "maxLength": 2000, "description": "Why; kept in the audit."},
            },
            required=["action"],
        )
        | {
            # ASSIGN names its loan; RETURN and DISMISS do not (the handler's 422 LOAN_ID_REQUIRED
            # and LOAN_ID_NOT_ALLOWED, stated here so a request valid by the document is not refused).
            "oneOf": [
                {"properties": {"action": {"enum": ["ASSIGN"]}}, "required": ["loan_id"]},
                {"properties": {"action": {"enum": ["RETURN", "DISMISS"]}}, "not": {"required": ["loan_id"]}},
            ]
        },
        "UnmatchedResolved": obj(
            {
                "item_id": {"type": "string"},
                "status": {"type": "string", "enum": ["RESOLVED"]},
                "resolution": ref("UnmatchedResolution"),
            }
        ),
        "PaymentOutcomeRequest": obj(
            {
                "status": {
                    "type": "string",
                    "enum": ["SETTLED", "REJECTED"],
                    "description": "The bank's final answer, as ops obtained it (phone, the bank's portal).",
                },
                "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": OPS_REASON_MAX_LENGTH,
                    "pattern": r"\S",
                    "description": "Why, and how the answer was obtained; kept on the payment's report "
                    "(a rejection's reason on the loan's LoanFailed event).",
                },
                "value_date": {
                    "type": "string",
                    "format": "date",
                    "description": "SETTLED: the bank's value date, not after today (422 "
                    "VALUE_DATE_IN_FUTURE); not allowed for REJECTED.",
                },
                "bank_reference": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": OPS_REFERENCE_MAX_LENGTH,
                    "description": "The bank's reference of the payment, if it gave one.",
                },
            },
            required=["status", "reason"],
        )
        | {
            # The handler's 422 VALUE_DATE_REQUIRED and VALUE_DATE_NOT_ALLOWED, stated here.
            "oneOf": [
                {"properties": {"status": {"enum": ["SETTLED"]}}, "required": ["value_date"]},
                {"properties": {"status": {"enum": ["REJECTED"]}}, "not": {"required": ["value_date"]}},
            ]
        },
        "PaymentOutcomeRecorded": obj(
            {
                "payment_id": {"type": "string"},
                "status": {"type": "string", "enum": ["SETTLED", "REJECTED"], "description": "As recorded."},
                "effect": {
                    "type": "string",
                    "enum": ["SETTLED", "REJECTED", "RECORDED", "OUTCOME_CONFLICT", "PAYOUT_RETURNED"],
                    "description": "What it did, as a bank's report would (docs/money.md, \"Bank "
                    'answers"): SETTLED, REJECTED; a bank file that closed the payment meanwhile '
                    "leaves it RECORDED, OUTCOME_CONFLICT or PAYOUT_RETURNED (nothing changed).",
                },
                "payment_status": {
                    "type": "string",
                    "enum": ["SETTLED", "REJECTED"],
                    "description": "The payment's final outcome now.",
                },
                "loan_id": nullable({"type": "string", "description": "None for a refund."}),
                "loan_status": nullable(
                    {
                        "type": "string",
                        "enum": list(LOAN_STATUSES),
                        "description": "The loan's status now (a refund's: none).",
                    }
                ),
                "recorded_at": {"type": "string", "format": "date-time"},
                "by": {"type": "string", "description": "The ops reviewer (the token's `sub`)."},
            }
        ),
        "ApplicationPage": page("ReviewItem", "Applications in REVIEW, oldest first."),
        "LoanPage": page("LoanSummary", "The supplier's loans, newest first."),
        "OpsLoanSummary": obj(
            {**loan_fields, "supplier_id": {"type": "string"}},
            description="A loan as ops list it: the supplier's fields (as of the business date, so "
            "`status` may already say OVERDUE on an ACTIVE loan the daily job has not marked yet) and "
            "whose it is.",
        ),
        "OpsLoanPage": page(
            "OpsLoanSummary",
            "Loans by stored status (latest maturity first) or a supplier's (newest first). A page "
            "may hold fewer than `limit` loans, even none, and still have a `next_token`: the other "
            "filters apply to the part of the index each page reads.",
        ),
        "Portfolio": portfolio_schema(),
        "UnmatchedPage": page("UnmatchedItem", "Unmatched bank statement items."),
        "Problem": obj(
            {
                "type": {"type": "string", "description": "A URI naming the kind of problem."},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string", "description": "Machine-readable, e.g. INVALID_AMOUNT."},
                "field": {"type": "string", "description": "The input field at fault, when one is."},
                "errors": {
                    "type": "array",
                    "items": ref("Reason"),
                    "description": "The reasons, when several.",
                },
                "request_id": {"type": "string", "description": "On errors the gateway answers itself."},
            },
            required=["type", "title", "status", "detail"],
            description="RFC 9457 problem details.",
        ),
    }


def portfolio_schema() -> Schema:
    """`GET /v1/ops/portfolio` (docs/ops-views.md, "The portfolio")."""
    figures = obj({"count": {"type": "integer", "minimum": 0}, "outstanding_principal": ref("Money")})
    return obj(
        {
            "currency": ref("Currency"),
            "as_of": {"type": "string", "format": "date", "description": "The business date."},
            "loans_by_status": obj(
                {status: figures for status in LOAN_STATUSES},
                description="Loans by stored status: how many and their outstanding principal.",
            ),
            "aging": {
                "type": "array",
                "minItems": len(AGING_BUCKETS),
                "maxItems": len(AGING_BUCKETS),
                "items": obj(
                    {
                        "bucket": {"type": "string", "enum": list(AGING_BUCKETS)},
                        "count": {"type": "integer", "minimum": 0},
                        "outstanding_principal": ref("Money"),
                        "penalty_due": ref("Money"),
                    }
                ),
                "description": "ACTIVE and OVERDUE loans by days past maturity (as_of - maturity "
                "date; the maturity day itself is in 1-30), in this order; CURRENT: not yet due.",
            },
            "interest_due": {
                "allOf": [ref("Money")],
                "description": "Interest due today on ACTIVE and OVERDUE loans. Loans not yet due are "
                "summed exactly and rounded once, so this may differ from the sum of the loans' own "
                "rounded `interest_due` by less than half a minor unit per loan.",
            },
            "overpayment_owed": {
                "allOf": [ref("Money")],
                "description": "Money received beyond loans' payoffs and not refunded yet.",
            },
        }
    )


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


MONEY_INTEGER_DIGITS = 16  # the Money pattern's: up to 9999999999999999.99


def money_at_least(minimum_minor: int) -> str:
    """A pattern for the two-decimal amounts of at least `minimum_minor` (>= 1), so that the document
    itself states the bound a handler enforces (a valid request by the document is never refused).
    Built digit by digit, as any ">= N" regex: longer numbers, then N's length with a larger digit."""
    if minimum_minor < 1:
        raise ValueError("a minimum of at least 0.01")
    if minimum_minor < 100:  # 0.0N..0.99 at least the minimum, and every amount of 1.00 or more
        cents = [f"0\\.{alternative}" for alternative in _at_least(f"{minimum_minor:02d}")]
        return "^(" + "|".join([*cents, rf"[1-9][0-9]{{0,{MONEY_INTEGER_DIGITS - 1}}}\.[0-9]{{2}}"]) + ")$"
    digits = str(minimum_minor)
    longer = [rf"[1-9][0-9]{{{len(digits) - 2},{MONEY_INTEGER_DIGITS - 1}}}\.[0-9]{{2}}"]
    longer = longer if len(digits) - 2 < MONEY_INTEGER_DIGITS else []
    same = [_with_point(atoms) for atoms in _at_least_atoms(digits)]
    return "^(" + "|".join(longer + same) + ")$"


def _at_least_atoms(digits: str) -> list[list[str]]:
    """Each alternative of the digit strings of len(digits) that are >= digits, as one atom a digit."""
    out = [list(digits)]
    for position, digit in enumerate(digits):
        if digit != "9":
            higher = f"[{int(digit) + 1}-9]" if digit != "8" else "9"
            out.append([*digits[:position], higher, *["[0-9]"] * (len(digits) - position - 1)])
    return out


def _at_least(digits: str) -> list[str]:
    return ["".join(atoms) for atoms in _at_least_atoms(digits)]


def _with_point(atoms: list[str]) -> str:
    return "".join(atoms[:-2]) + r"\." + "".join(atoms[-2:])


def problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": ref("Problem")}}}


RESPONSES: dict[str, Schema] = {
    "BadRequest": problem(
        "The body is not a JSON object (INVALID_JSON), or the Idempotency-Key header is missing or "
        f"not 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters (INVALID_IDEMPOTENCY_KEY, "
        "`field` Idempotency-Key; a missing header may be answered by the gateway itself)."
    ),
    "Unauthorized": problem("No valid bearer token (answered by the gateway)."),
    "NotASupplier": problem("The token carries no `custom:supplier_id` (NOT_A_SUPPLIER)."),
    "NotOps": problem("The token is not in the group `ops` (NOT_OPS)."),
    "NotFound": problem(
        "Unknown, another supplier's, or an id no object could have (NOT_FOUND): never told apart."
    ),
    "Invalid": problem(
        "A field, parameter or header is invalid; `field` names it and `code` says why "
        "(e.g. INVALID_AMOUNT, TERM_OUT_OF_RANGE, INVALID_LIMIT, INVALID_TOKEN: a `next_token` this "
        "API did not give, IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was used with another body)."
    ),
    "Error": problem(
        "Anything else: 429 throttled, 5XX (the request may be retried with the same Idempotency-Key)."
    ),
}


def json_body(schema: str, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    ok: tuple[str, Schema],
    errors: list[str | tuple[str, Schema]],
    *,
    description: str = "",
    parameters: list[Schema] | None = None,
    body: tuple[str, str] | None = None,
) -> Schema:
    out: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body[0])}},
            "description": body[1],
        }
    answers: Schema = {ok[0]: ok[1]}
    for error in errors:
        if isinstance(error, tuple):
            answers[error[0]] = error[1]
        else:
            answers[error] = {"$ref": f"#/components/responses/{STANDARD_ERRORS[error]}"}
    answers["default"] = {"$ref": "#/components/responses/Error"}
    out["responses"] = answers
    return out


STANDARD_ERRORS = {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "422": "Invalid"}
SUPPLIER = ("403", {"$ref": "#/components/responses/NotASupplier"})
OPS = ("403", {"$ref": "#/components/responses/NotOps"})


def conflict(description: str) -> tuple[str, Schema]:
    return ("409", problem(description))


def path_parameter(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": PATH_ID_MAX_LENGTH,
            "pattern": PATH_ID_PATTERN,
        },
        "description": f"{description} Any other string names no object (404).",
    }


def paging(size: PageSize) -> list[Schema]:
    return [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": size.maximum, "default": size.default},
            "description": "How many items at most (INVALID_LIMIT otherwise).",
        },
        {
            "name": "next_token",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "The `next_token` of the previous page, as given: any other string is "
            "422 INVALID_TOKEN.",
        },
    ]


IDEMPOTENCY: Schema = {"$ref": "#/components/parameters/IdempotencyKey"}


def paths() -> dict[str, dict[str, Schema]]:
    """(path -> method -> operation) for every route the API serves."""
    loan_id = path_parameter("loan_id", "The loan's id.")
    application_id = path_parameter("application_id", "The application's id.")
    return {
        "/v1/credit-line": {
            "get": _operation(
                "getCreditLine",
                "The supplier's credit line in one currency",
                "credit",
                ("200", json_body("CreditLine", "The borrowing base with every term of its sum.")),
                ["401", SUPPLIER, "422"],
                parameters=[
                    {
                        "name": "currency",
                        "in": "query",
                        "required": False,
                        "schema": {"allOf": [ref("Currency")], "default": "CNY"},
                    }
                ],
            )
        },
        "/v1/applications": {
            "post": _operation(
                "applyForFinancing",
                "Apply for financing: decided at once",
                "credit",
                (
                    "201",
                    json_body(
                        "Application",
                        "The decision. APPROVED created the loan and reserved its amount atomically; "
                        "a retry with the same Idempotency-Key and body gets this same answer.",
                    ),
                ),
                [
                    "400",
                    "401",
                    SUPPLIER,
                    conflict("The credit line kept changing while deciding (CONTENTION): retry."),
                    "422",
                ],
                description="Requests outside the policy's bounds get 422, not a decision.",
                parameters=[IDEMPOTENCY],
                body=("ApplicationRequest", "What the supplier asks for."),
            )
        },
        "/v1/applications/{application_id}": {
            "get": _operation(
                "getApplication",
                "An application and its decision",
                "credit",
                ("200", json_body("Application", "The application.")),
                ["401", SUPPLIER, "404"],
                parameters=[application_id],
            )
        },
        "/v1/loans": {
            "get": _operation(
                "listLoans",
                "The supplier's own loans, newest first",
                "loans",
                ("200", json_body("LoanPage", "One page of loans.")),
                ["401", SUPPLIER, "422"],
                parameters=paging(LOANS_PAGE),
            )
        },
        "/v1/loans/{loan_id}": {
            "get": _operation(
                "getLoan",
                "A loan as of the business date, with its repayments",
                "loans",
                ("200", json_body("Loan", "The loan.")),
                ["401", SUPPLIER, "404"],
                parameters=[loan_id],
            )
        },
        "/v1/loans/{loan_id}/repayments": {
            "post": _operation(
                "repayLoan",
                "Repay: collect from the supplier's account through its bank",
                "loans",
                ("202", json_body("RepaymentAccepted", "Collection started.")),
                [
                    "400",
                    "401",
                    SUPPLIER,
                    "404",
                    conflict("The loan is not ACTIVE or OVERDUE (LOAN_NOT_REPAYABLE)."),
                    "422",
                ],
                parameters=[loan_id, IDEMPOTENCY],
                body=("RepaymentRequest", "How much to collect."),
            )
        },
        "/v1/repayments/{repayment_id}": {
            "get": _operation(
                "getRepayment",
                "A repayment and how it was allocated",
                "loans",
                ("200", json_body("Repayment", "The repayment.")),
                ["401", SUPPLIER, "404"],
                parameters=[path_parameter("repayment_id", "The repayment's id.")],
            )
        },
        "/v1/loans/{loan_id}/extension": {
            "post": _operation(
                "extendLoan",
                "Extend a loan once by the policy's extension",
                "loans",
                ("200", json_body("Loan", "The extended loan (a retry with the same key: the same).")),
                [
                    "400",
                    "401",
                    SUPPLIER,
                    "404",
                    conflict(
                        "Refused, `code` says why: LOAN_NOT_ACTIVE, ALREADY_EXTENDED, EXTENSION_TOO_EARLY, "
                        "EXTENSION_TOO_LATE, HAS_OVERDUE_LOAN, BORROWING_BASE_SHORT; or the loan kept "
                        "changing (CONTENTION): retry."
                    ),
                    "422",
                ],
                description="Allowed from 7 days before maturity to 3 days after it (default policy), "
                "once per loan, when the supplier has no other overdue loan and its borrowing base "
                "covers the outstanding principal. No body.",
                parameters=[loan_id, IDEMPOTENCY],
            )
        },
        "/v1/reviews": {
            "get": _operation(
                "listReviews",
                "Applications held for manual review",
                "ops",
                ("200", json_body("ApplicationPage", "One page of applications in REVIEW.")),
                ["401", OPS, "422"],
                parameters=paging(REVIEWS_PAGE),
            )
        },
        "/v1/reviews/{application_id}/decision": {
            "post": _operation(
                "decideReview",
                "Approve or decline an application in review (audited)",
                "ops",
                ("200", json_body("Application", "The application as decided.")),
                [
                    "400",
                    "401",
                    (
                        "403",
                        problem(
                            "The token is not in the group `ops` (NOT_OPS), or it names the "
                            "application's own supplier (OWN_SUPPLIER): a reviewer never decides it."
                        ),
                    ),
                    "404",
                    conflict(
                        "Already decided, or cannot be approved now (REVIEW_CONFLICT, with the hard "
                        "reasons in `errors`), or the credit line kept changing (CONTENTION)."
                    ),
                    "422",
                ],
                parameters=[application_id, IDEMPOTENCY],
                body=("ReviewDecisionRequest", "The reviewer's decision."),
            )
        },
        "/v1/ops/applications/{application_id}": {
            "get": _operation(
                "getOpsApplication",
                "Any application with its decision and review",
                "ops",
                ("200", json_body("OpsApplication", "The application, whose it is, and its review.")),
                ["401", OPS, "404"],
                parameters=[application_id],
            )
        },
        "/v1/ops/loans": {
            "get": _operation(
                "listOpsLoans",
                "Loans by stored status, or a supplier's loans",
                "ops",
                ("200", json_body("OpsLoanPage", "One page of loans.")),
                ["401", OPS, "422"],
                description="At least `status` or `supplier_id` (422 MISSING_FILTER, `field` status): "
                "with `supplier_id` the supplier's loans newest first, else the status' loans latest "
                "maturity first; the other parameters filter. A bad value is 422 INVALID_VALUE (or "
                "INVALID_CURRENCY) naming the parameter; a `next_token` of another list, INVALID_TOKEN.",
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(LOAN_STATUSES)},
                        "description": "The loans' stored status.",
                    },
                    {
                        "name": "supplier_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": SUPPLIER_ID_PATTERN},
                    },
                    {
                        "name": "currency",
                        "in": "query",
                        "required": False,
                        "schema": ref("Currency"),
                    },
                    *paging(LOANS_PAGE),
                ],
            )
        },
        "/v1/ops/portfolio": {
            "get": _operation(
                "getPortfolio",
                "The portfolio in one currency: by status, aging, interest, overpayments owed",
                "ops",
                ("200", json_body("Portfolio", "The portfolio as of the business date.")),
                ["401", OPS, "422"],
                parameters=[
                    {
                        "name": "currency",
                        "in": "query",
                        "required": False,
                        "schema": {"allOf": [ref("Currency")], "default": "CNY"},
                        "description": "INVALID_CURRENCY (422, `field` currency) otherwise.",
                    }
                ],
            )
        },
        "/v1/ops/loans/{loan_id}": {
            "get": _operation(
                "getOpsLoan",
                "Any loan with its payout and history",
                "ops",
                ("200", json_body("OpsLoan", "The loan as of the business date, its payout and history.")),
                ["401", OPS, "404"],
                parameters=[loan_id],
            )
        },
        "/v1/unmatched": {
            "get": _operation(
                "listUnmatched",
                "Bank statement items that matched nothing",
                "ops",
                ("200", json_body("UnmatchedPage", "One page of unmatched items.")),
                ["401", OPS, "422"],
                parameters=[
                    *paging(UNMATCHED_PAGE),
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["OPEN", "RESOLVED"], "default": "OPEN"},
                    },
                ],
            )
        },
        "/v1/unmatched/{item_id}/resolution": {
            "post": _operation(
                "resolveUnmatched",
                "Resolve an unmatched bank item once: ASSIGN, RETURN or DISMISS (audited)",
                "ops",
                ("200", json_body("UnmatchedResolved", "The resolution (a retry: the first one).")),
                [
                    "400",
                    "401",
                    OPS,
                    "404",
                    conflict(
                        "Resolved already (ALREADY_RESOLVED), not a CREDIT (NOT_A_CREDIT), the loan not "
                        "paid out (LOAN_NOT_PAID_OUT), or no sender account to return to "
                        "(SENDER_ACCOUNT_UNKNOWN)."
                    ),
                    "422",
                ],
                description="Once per item, in one write with what it causes (ASSIGN: the BANK_CREDIT "
                "repayment and its event); `by` is the token's `sub`.",
                parameters=[path_parameter("item_id", "The item's id (`item_id` in the list)."), IDEMPOTENCY],
                body=("UnmatchedResolutionRequest", "What ops decided."),
            )
        },
        "/v1/ops/payments/{payment_id}/outcome": {
            "post": _operation(
                "recordPaymentOutcome",
                "Record a bank's final answer ops obtained out of band, for a payment without one",
                "ops",
                ("200", json_body("PaymentOutcomeRecorded", "What it did (a retry: the first answer).")),
                [
                    "400",
                    "401",
                    OPS,
                    "404",
                    conflict(
                        "The payment has a final outcome already (PAYMENT_ALREADY_FINAL, `detail` "
                        "names it), or was sent less than 15 minutes ago: the bank may still "
                        "answer (PAYMENT_TOO_RECENT)."
                    ),
                    "422",
                ],
                description="Applied exactly as the bank's own report (a payout REJECTED: the loan "
                "FAILED and its reservation released; SETTLED: ACTIVE with its posting; a "
                "collection or refund closed), kept on the payment with `source` ops and `by` "
                "(the token's `sub`). Once per payment. Runbook: docs/operations.md, PayoutNotActive.",
                parameters=[
                    path_parameter("payment_id", "The payment's id (`PAY` + the loan id for a payout)."),
                    IDEMPOTENCY,
                ],
                body=("PaymentOutcomeRequest", "The bank's answer."),
            )
        },
        DOCUMENT_PATH: {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document of this API.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


# OpenAPI links: which field of an operation's success answer names which parameter of another, so
# that a client (and the stateful fuzz, tests/e2e/test_api_fuzz.py) can go application -> loan ->
# repayment. (source operationId -> link name -> (target operationId, {parameter: expression})).
_BODY, _ITEM = "$response.body#/", "$response.body#/items/0/"
_LOAN_OPERATIONS = {"GetLoan": "getLoan", "RepayLoan": "repayLoan", "ExtendLoan": "extendLoan"}


def _loan_links(loan_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    return {name: (target, {"loan_id": loan_id}) for name, target in _LOAN_OPERATIONS.items()}


LINKS: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "applyForFinancing": {
        "GetApplication": ("getApplication", {"application_id": _BODY + "application_id"}),
        **_loan_links(_BODY + "loan_id"),
    },
    "getApplication": {"GetLoan": ("getLoan", {"loan_id": _BODY + "loan_id"})},
    "listLoans": {
        **_loan_links(_ITEM + "loan_id"),
        "NextPage": ("listLoans", {"next_token": _BODY + "next_token"}),
    },
    "getLoan": {
        **_loan_links(_BODY + "loan_id"),
        "GetRepayment": ("getRepayment", {"repayment_id": _BODY + "repayments/0/repayment_id"}),
    },
    "repayLoan": {
        "GetRepayment": ("getRepayment", {"repayment_id": _BODY + "repayment_id"}),
        "GetLoan": ("getLoan", {"loan_id": "$request.path.loan_id"}),
    },
    "extendLoan": {"RepayLoan": ("repayLoan", {"loan_id": _BODY + "loan_id"})},
    "listReviews": {
        "DecideReview": ("decideReview", {"application_id": _ITEM + "application_id"}),
        "GetOpsApplication": ("getOpsApplication", {"application_id": _ITEM + "application_id"}),
        "NextPage": ("listReviews", {"next_token": _BODY + "next_token"}),
    },
    "decideReview": {
        "GetOpsApplication": ("getOpsApplication", {"application_id": _BODY + "application_id"}),
        "GetOpsLoan": ("getOpsLoan", {"loan_id": _BODY + "loan_id"}),
    },
    "listUnmatched": {"NextPage": ("listUnmatched", {"next_token": _BODY + "next_token"})},
}


def linked(paths: dict[str, dict[str, Schema]]) -> dict[str, dict[str, Schema]]:
    """The paths with LINKS on each operation's success answer."""
    for item in paths.values():
        for operation in item.values():
            links = LINKS.get(operation["operationId"])
            if links:
                success = next(status for status in operation["responses"] if status.startswith("2"))
                operation["responses"][success]["links"] = {
                    name: {"operationId": target, "parameters": parameters}
                    for name, (target, parameters) in links.items()
                }
    return paths


def document(server_url: str = "/") -> dict[str, Any]:
    """The whole document; `server_url` is where the API's paths start (the stage, in the cloud)."""
    policy = load_policy(CURRENT_POLICY_VERSION)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "scf: supply-chain finance API",
            "version": API_VERSION,
            "description": (
                "Supplier and ops API of scf (CONTRACT.md section 8). Money is a string with exactly "
                "two decimals, rates are decimal strings, dates ISO YYYY-MM-DD in the business time "
                "zone, timestamps ISO 8601 UTC. Errors are RFC 9457 problem+json. The supplier is "
                "always the token's `custom:supplier_id`, never the path or body; another supplier's "
                "objects answer 404. Every POST requires an Idempotency-Key header of 1 to "
                f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters (400 otherwise): the same "
                "key and body get the first answer, the same key with another body 422. Bounds named "
                "'policy' are "
                f"those of credit policy {policy.policy_version}."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "credit", "description": "Credit line, applications, decisions (suppliers)."},
            {"name": "loans", "description": "Loans, repayments, extension (suppliers)."},
            {
                "name": "ops",
                "description": "Manual reviews, any loan or application, unmatched bank items (group ops).",
            },
            {"name": "meta", "description": "This document."},
        ],
        "security": [{SECURITY_SCHEME: []}],
        "paths": linked(paths()),
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID token of the API's user pool: a supplier's carries "
                    "`custom:supplier_id`, an ops reviewer's is in the group `ops`. Locally: "
                    "`scf local token --supplier ID` or `scf local token --ops`.",
                }
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                        "pattern": IDEMPOTENCY_KEY_PATTERN,
                    },
                    "description": f"Required on every POST: 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} "
                    "printable ASCII characters unique to this request, e.g. a UUID (400 otherwise). "
                    "A retry with the same key and body returns the first answer.",
                }
            },
            "schemas": schemas(policy),
            "responses": RESPONSES,
        },
    }


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """{(METHOD, path)} of a document."""
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def main() -> int:
    json.dump(document(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
