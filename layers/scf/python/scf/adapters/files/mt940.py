"""SWIFT MT940 statements and MT942 interim reports through the `mt-940` package, with our own
decoding, envelope stripping, date checks and remittance text around it (docs/bank-files.md,
"Decisions"). Invariant: each statement is parsed alone, so a broken one never takes the others down."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mt940.models import Transactions
from mt940.options import Options
from mt940.processors import transaction_details_post_processor

from scf.adapters.files.parsing import calendar_date, money_errors, rejection
from scf.adapters.files.xml_safety import DEFAULT_MAX_BYTES
from scf.domain.bank_files import (
    BOOKED,
    CREDIT,
    DEBIT,
    INFO,
    MT940,
    Balance,
    Entry,
    FileError,
    ParseResult,
    Statement,
)

ENCODINGS = ("utf-8", "cp1250", "iso-8859-2")
UTF8_BOM = b"\xef\xbb\xbf"
NO_REFERENCE = frozenset({"NONREF", "NOTPROVIDED"})
MARKS = {"C": (CREDIT, False), "D": (DEBIT, False), "RC": (DEBIT, True), "RD": (CREDIT, True)}
BALANCE_SLUGS = {
    "opening_balance": "60",
    "final_opening_balance": "60F",
    "intermediate_opening_balance": "60M",
    "closing_balance": "62",
    "final_closing_balance": "62F",
    "intermediate_closing_balance": "62M",
    "available_balance": "64",
    "forward_available_balance": "65",
}
OPENING = ("final_opening_balance", "intermediate_opening_balance", "opening_balance")
CLOSING = ("final_closing_balance", "intermediate_closing_balance", "closing_balance")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ENVELOPE = re.compile(r"^(?:\{[1-3]:(?:[^{}]|\{[^{}]*\})*\})*\{4:")
_TRAILER = re.compile(r"^-\}.*$")
_BLOCK_ONLY = re.compile(r"^\{[1-5]:.*\}$")
_MT942_HEADER = re.compile(r"\{2:[IO]942")
_TAG_LINE = re.compile(r"^:(\d{2}[A-Z]?):")
_STRUCTURED_DETAILS = re.compile(r"^\d{3}\?\d{2}")
_SUBFIELD = re.compile(r"\?(\d{2})")
_PROBLEMS = "scf_problems"
_DETAILS = "scf_details"
_RAW_61 = "scf_61"
MAX_END_TO_END_ID = 35


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding that read it: the configured one first, then the default order."""
    data = data.removeprefix(UTF8_BOM)
    for candidate in (encoding, *ENCODINGS) if encoding else ENCODINGS:
        try:
            return data.decode(candidate), candidate
        except (UnicodeDecodeError, LookupError):  # LookupError: a configured name Python does not know
            continue
    return data.decode(ENCODINGS[-1]), ENCODINGS[-1]  # pragma: no cover - ISO-8859-2 maps every byte


def source_lines(text: str) -> tuple[list[str], bool]:
    """File lines (1-based line n is index n-1), cleaned of envelopes and control characters."""
    interim = bool(_MT942_HEADER.search(text[:4096]))
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _CONTROL.sub("", raw)
        envelope = _ENVELOPE.match(line)
        if envelope:
            line = line[envelope.end() :]
        elif _TRAILER.match(line):
            line = "-"
        elif _BLOCK_ONLY.match(line):
            line = ""
        lines.append(line)
    return lines, interim


@dataclass
class _Checks:
    """Pre-processors that look at raw tag values before the package builds dates from them."""

    bad_balances: set[str] = field(default_factory=set)

    def statement_line(
        self, transactions: Any, tag: Any, tag_dict: dict[str, Any], *args: Any
    ) -> dict[str, Any]:
        problems = []
        year, month, day = tag_dict["year"], tag_dict["month"], tag_dict["day"]
        value_date = calendar_date(2000 + int(year), int(month), int(day))
        if value_date is None:
            problems.append(f"value date {year}{month}{day} is not a calendar date")
            tag_dict.update(month="01", day="01")  # placeholder so the package goes on; entry dropped
        entry_month, entry_day = tag_dict.get("entry_month") or "", tag_dict.get("entry_day") or ""
        if entry_month.isdigit() and entry_day.isdigit():
            entry_year = value_date.year if value_date else 2000 + int(year)
            if calendar_date(entry_year, int(entry_month), int(entry_day)) is None:
                problems.append(f"entry date {entry_month}{entry_day} is not a calendar date")
                tag_dict.update(entry_month=None, entry_day=None)
        tag_dict[_PROBLEMS] = problems
        # Later tags of the entry (a structured :86: with KREF+) overwrite these keys in the package.
        tag_dict[_RAW_61] = {
            k: tag_dict.get(k) for k in ("customer_reference", "bank_reference", "extra_details")
        }
        return tag_dict

    def balance(self, transactions: Any, tag: Any, tag_dict: dict[str, Any], *args: Any) -> dict[str, Any]:
        year, month, day = tag_dict["year"], tag_dict["month"], tag_dict["day"]
        if calendar_date(2000 + int(year), int(month), int(day)) is None:
            self.bad_balances.add(str(tag.slug))
            tag_dict.update(month="01", day="01")
        return tag_dict


def _keep_details(
    transactions: Any, tag: Any, tag_dict: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    result[_DETAILS] = tag_dict.get("transaction_details") or ""
    return result


def parse_mt940(
    data: bytes, *, encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParseResult:
    if len(data) > max_bytes:
        return rejection(
            MT940, 1, None, "FILE_TOO_LARGE", f"{len(data)} bytes is over the limit of {max_bytes}"
        )
    text, _ = decode(data, encoding)
    lines, interim_header = source_lines(text)
    starts = [i for i, line in enumerate(lines) if line.startswith(":20:")]
    if not starts:
        return rejection(MT940, 1, ":20:", "MISSING_FIELD", "no :20: statement found: not an MT940 file")
    errors: list[FileError] = []
    statements: list[Statement] = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        chunk = lines[start:end]
        cut = next((i for i, line in enumerate(chunk) if line.strip() == "-"), len(chunk))
        statement = _statement(chunk[:cut], start, interim_header, errors)
        if statement is not None:
            statements.append(statement)
    return ParseResult(format=MT940, statements=tuple(statements), errors=tuple(errors))


def _library_input(chunk: list[str]) -> str:
    """The chunk without a statement-level :86: (after the closing balance): the package would
    append it to the last entry."""
    kept, after_closing, skipping = [], False, False
    for line in chunk:
        tag = _TAG_LINE.match(line)
        if tag:
            after_closing = after_closing or tag.group(1).startswith("62")
            skipping = after_closing and tag.group(1) == "86"
        kept.append("" if skipping else line)
    return "\n".join(kept)


def _statement(
    chunk: list[str], start: int, interim_header: bool, errors: list[FileError]
) -> Statement | None:
    first_line = start + 1
    checks = _Checks()
    processors: dict[str, list[Any]] = {
        "pre_statement": [checks.statement_line],
        "post_transaction_details": [_keep_details, transaction_details_post_processor],
    }
    for slug in BALANCE_SLUGS:
        processors[f"pre_{slug}"] = [checks.balance]
    parsed = Transactions(processors=processors, options=Options(unbounded_details=True))
    try:
        parsed.parse(_library_input(chunk))
    except Exception as exc:  # the package raises RuntimeError, ValueError, decimal errors...
        errors.append(_syntax_error(exc, chunk, first_line))
        return None
    tags = [(start + i + 1, m.group(1)) for i, line in enumerate(chunk) if (m := _TAG_LINE.match(line))]
    entry_lines = [line for line, tag in tags if tag == "61"]
    if len(entry_lines) != len(parsed.transactions):
        message = f"{len(entry_lines)} :61: lines but {len(parsed.transactions)} readable entries"
        errors.append(FileError(first_line, ":61:", "MT940_SYNTAX", message))
        return None
    account = parsed.data.get("account_identification")
    if not account:
        errors.append(FileError(first_line, ":25:", "MISSING_FIELD", "the statement has no :25: account"))
        return None
    tag_ids = {tag for _, tag in tags}
    interim = interim_header or (bool(tag_ids & {"13D", "34F"}) and not tag_ids & {"60F", "60M"})
    currency = parsed.currency
    entries = []
    for line, transaction in zip(entry_lines, parsed.transactions, strict=True):
        entry = _entry(transaction.data, line, currency, INFO if interim else BOOKED, errors)
        if entry is not None:
            entries.append(entry)
    number, sequence = parsed.data.get("statement_number"), parsed.data.get("sequence_number")
    return Statement(
        format=MT940,
        version="MT942" if interim else "MT940",
        line=first_line,
        path=":20:",
        message_id=None,
        statement_id=str(parsed.data.get("transaction_reference") or ""),
        account=str(account),
        currency=currency,
        servicer_bic=None,
        sequence="/".join(str(p) for p in (number, sequence) if p) or None,
        opening_balance=_balance(parsed.data, OPENING, checks, tags, errors),
        closing_balance=_balance(parsed.data, CLOSING, checks, tags, errors),
        entries=tuple(entries),
    )


def _syntax_error(exc: Exception, chunk: list[str], first_line: int) -> FileError:
    """Locate the package's complaint: its RuntimeError carries the tag and the value it refused."""
    line, field = first_line, None
    if isinstance(exc, RuntimeError) and len(exc.args) == 3:
        tag_id = str(getattr(exc.args[1], "id", ""))
        value = str(exc.args[2]).strip().split("\n")[0]
        field = f":{tag_id}:"
        for offset, text in enumerate(chunk):
            if text.startswith(field) and text[len(field) :].strip().startswith(value):
                line = first_line + offset
                break
        return FileError(
            line, field, "MT940_SYNTAX", f"{field} {value[:80]!r} does not follow the MT940 layout"
        )
    return FileError(
        line, field, "MT940_SYNTAX", f"the statement cannot be read: {type(exc).__name__}: {exc}"[:300]
    )


def _plain_date(value: object) -> date | None:
    return date(value.year, value.month, value.day) if isinstance(value, date) else None


def _entry(
    data: dict[str, Any], line: int, currency: str | None, status: str, errors: list[FileError]
) -> Entry | None:
    problems: list[str] = data.get(_PROBLEMS) or []
    if problems:
        errors.extend(FileError(line, ":61:", "INVALID_DATE", problem) for problem in problems)
        return None
    mark = str(data.get("status") or "").upper()
    direction, reversal = MARKS.get(mark, (None, False))
    amount_model = data.get("amount")
    entry_currency = getattr(amount_model, "currency", None) or currency
    if direction is None or amount_model is None:
        errors.append(
            FileError(line, ":61:", "INVALID_VALUE", f"debit/credit mark {mark!r} is not C, D, RC or RD")
        )
        return None
    if not entry_currency:
        message = "no currency: the statement has no balance (:60F:) or floor limit (:34F:) before it"
        errors.append(FileError(line, ":61:", "MISSING_FIELD", message))
        return None
    amount = abs(Decimal(amount_model.amount))
    minor, money_problems = money_errors(amount, str(entry_currency), line, ":61:")
    errors.extend(money_problems)
    if any(p.code == "INVALID_CURRENCY" for p in money_problems):
        return None
    remittance, end_to_end_ids = _details(data)
    raw: dict[str, Any] = data.get(_RAW_61) or {}
    customer_reference = str(raw.get("customer_reference") or "").strip()
    return Entry(
        line=line,
        path=":61:",
        amount=amount,
        amount_minor=minor,
        currency=str(entry_currency),
        direction=direction,
        status=status,
        reversal=reversal,
        booking_date=_plain_date(data.get("entry_date")),
        value_date=_plain_date(data.get("date")),
        bank_reference=str(raw.get("bank_reference") or "").strip() or None,
        end_to_end_ids=end_to_end_ids,
        remittance=remittance,
        owner_reference=customer_reference if customer_reference.upper() not in NO_REFERENCE else None,
        additional_info=str(raw.get("extra_details") or "").strip(),
    )


def _details(data: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Remittance from the raw :86:. Lines are joined without a separator: banks wrap at 65
    characters mid-word. Structured (`166?00...?20...`) details keep the purpose subfields ?20-?29
    and ?60-?63, whose 27-character pieces are also cut mid-word."""
    flat = "".join(str(data.get(_DETAILS) or "").split("\n"))
    if _STRUCTURED_DETAILS.match(flat):
        pieces = _SUBFIELD.split(flat)
        pairs = zip(pieces[1::2], pieces[2::2], strict=False)
        flat = "".join(text for code, text in pairs if 20 <= int(code) <= 29 or 60 <= int(code) <= 63)
    # EREF+ as the package cut it; longer than an end-to-end id can be, it ran into other text
    # (the remittance still holds it all).
    reference = str(data.get("end_to_end_reference") or "").strip()
    usable = reference and reference.upper() not in NO_REFERENCE and len(reference) <= MAX_END_TO_END_ID
    ids = (reference,) if usable else ()
    return flat.strip(), ids


def _balance(
    data: dict[str, Any],
    slugs: tuple[str, ...],
    checks: _Checks,
    tags: list[tuple[int, str]],
    errors: list[FileError],
) -> Balance | None:
    for slug in slugs:
        model = data.get(slug)
        if model is None:
            continue
        tag_id = BALANCE_SLUGS[slug]
        line = next((number for number, tag in tags if tag == tag_id), tags[0][0])
        if slug in checks.bad_balances:
            errors.append(
                FileError(line, f":{tag_id}:", "INVALID_DATE", "the balance date is not a calendar date")
            )
            return None
        currency = str(getattr(model.amount, "currency", "") or "")
        amount = abs(Decimal(model.amount.amount))
        minor, problems = money_errors(amount, currency, line, f":{tag_id}:")
        errors.extend(problems)
        if any(p.code == "INVALID_CURRENCY" for p in problems):
            return None
        direction = CREDIT if str(model.status).upper() == "C" else DEBIT
        return Balance(tag_id, amount, minor, currency, direction, _plain_date(model.date))
    return None
