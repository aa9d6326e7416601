"""SWIFT MT940 statements and MT942 interim reports through the `mt-940` package, with our own
decoding, envelope stripping, date checks and remittance text around it (docs/bank-files.md,
"Decisions"), read a line and a statement at a time. Invariant: each statement is parsed alone, so a
broken one never takes the others down."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from mt940 import tags as mt940_tags
from mt940.models import Transactions
from mt940.options import Options
from mt940.processors import transaction_details_post_processor

from scf.adapters.files.parsing import MAX_ITEMS, calendar_date, money_errors, rejection
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
_LINE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n|$)")
DECODE_CHUNK = 1024 * 1024
# Caps (docs/bank-files.md, "Caps"). SWIFT lines are at most 65 characters; some banks write a
# whole :86: on one line.
MAX_LINE_BYTES = 64 * 1024
MAX_STATEMENT_LINES = 400_000  # about 100,000 entries


def encoding_of(data: bytes, encoding: str | None = None) -> str:
    """The encoding that reads all of `data` (BOM excluded): the configured one first, then the
    default order. Checked a chunk at a time, so no decoded copy of the file is held."""
    data = data.removeprefix(UTF8_BOM)
    for candidate in (encoding, *ENCODINGS) if encoding else ENCODINGS:
        try:
            decoder = codecs.getincrementaldecoder(candidate)()
        except LookupError:  # a configured name Python does not know
            continue
        try:
            for offset in range(0, len(data), DECODE_CHUNK):
                decoder.decode(data[offset : offset + DECODE_CHUNK])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return candidate
    return ENCODINGS[-1]  # pragma: no cover - ISO-8859-2 maps every byte


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding that read it (see `encoding_of`)."""
    chosen = encoding_of(data, encoding)
    return data.removeprefix(UTF8_BOM).decode(chosen), chosen


def clean_line(line: str) -> str:
    """A file line without control characters, `{1:}{2:}{4:` envelope or `-}` trailer."""
    line = _CONTROL.sub("", line)
    envelope = _ENVELOPE.match(line)
    if envelope:
        return line[envelope.end() :]
    if _TRAILER.match(line):
        return "-"
    if _BLOCK_ONLY.match(line):
        return ""
    return line


def source_lines(data: bytes, encoding: str, max_line_bytes: int) -> Iterator[tuple[int, str | None]]:
    """(1-based line number, cleaned text) of each file line, one at a time; None for a line longer
    than `max_line_bytes` (never decoded). CR LF, CR and LF each end a line."""
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    for number, match in enumerate(_LINE.finditer(data, start), 1):
        text_end = match.end(1)
        if text_end - match.start() > max_line_bytes:
            yield number, None
        else:
            yield number, clean_line(data[match.start() : text_end].decode(encoding))


class _Lenient:
    """Tags read more leniently than the package does (its class names give the processor slugs,
    so they are kept): :20:/:21: longer than SWIFT's 16x are read whole (the package cuts them), and
    :61: customer (16x) and bank (//16x) references longer than allowed are read whole (the
    package's pattern truncates or refuses them)."""

    class TransactionReferenceNumber(mt940_tags.TransactionReferenceNumber):
        pattern = r"(?P<transaction_reference>.*)"

    class RelatedReference(mt940_tags.RelatedReference):
        pattern = r"(?P<related_reference>.*)"

    class Statement(mt940_tags.Statement):
        pattern = mt940_tags.Statement.pattern.replace(
            r"(?P<customer_reference>((?!//)[^\n]){0,16})", r"(?P<customer_reference>((?!//)[^\n])*)"
        ).replace(r"(?P<bank_reference>.{0,23})", r"(?P<bank_reference>[^\n]*)")


LENIENT_TAGS: dict[int | str, mt940_tags.Tag] = {
    20: _Lenient.TransactionReferenceNumber(),
    21: _Lenient.RelatedReference(),
    61: _Lenient.Statement(),
}


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
    data: bytes,
    *,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_items: int = MAX_ITEMS,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_statement_lines: int = MAX_STATEMENT_LINES,
) -> ParseResult:
    """Statements read one at a time as the lines stream past (docs/bank-files.md, "Caps")."""
    if len(data) > max_bytes:
        return rejection(
            MT940, 1, None, "FILE_TOO_LARGE", f"{len(data)} bytes is over the limit of {max_bytes}"
        )
    chosen = encoding_of(data, encoding)
    interim_header = bool(_MT942_HEADER.search(data[:4096].decode(chosen, "replace")))
    reader = _Reader(interim_header, max_items, max_line_bytes, max_statement_lines)
    for number, line in source_lines(data, chosen, max_line_bytes):
        stop = reader.line(number, line)
        if stop is not None:
            return ParseResult(format=MT940, errors=(stop,))
    reader.flush()
    if not reader.started:
        return ParseResult(format=MT940, errors=(*reader.errors, reader.no_statement()))
    return ParseResult(format=MT940, statements=tuple(reader.statements), errors=tuple(reader.errors))


class _Reader:
    """Groups the lines of one statement (`:20:` up to the next `:20:`, `-` ends it early), parses
    it when it is complete and forgets its lines; a statement with a line over the cap or more
    than `max_statement_lines` lines is refused alone."""

    def __init__(self, interim: bool, max_items: int, max_line_bytes: int, max_statement_lines: int) -> None:
        self.interim = interim
        self.max_items = max_items
        self.max_line_bytes = max_line_bytes
        self.max_statement_lines = max_statement_lines
        self.statements: list[Statement] = []
        self.errors: list[FileError] = []
        self.started = False
        self.items = 0
        self.chunk: list[str] = []
        self.first = 0  # 0-based index of the statement's :20: line
        self.closed = False  # a `-` line was seen: the rest up to the next :20: is not the statement's
        self.refusal: FileError | None = None

    def line(self, number: int, text: str | None) -> FileError | None:
        if text is not None and text.startswith(":20:"):
            self.flush()
            self.started, self.chunk, self.first = True, [], number - 1
            self.closed, self.refusal = False, None
        if not self.started or self.closed:
            return None
        if text is None:
            message = f"a line of more than {self.max_line_bytes} bytes: the statement is not read"
            self.refusal = self.refusal or FileError(number, None, "LINE_TOO_LONG", message)
            self.chunk = []
            return None
        if self.refusal is not None:
            return None
        if text.strip() == "-":
            self.closed = True
            return None
        if len(self.chunk) >= self.max_statement_lines:
            message = f"a statement of more than {self.max_statement_lines} lines is not read"
            self.refusal, self.chunk = FileError(self.first + 1, ":20:", "STATEMENT_TOO_LONG", message), []
            return None
        self.chunk.append(text)
        if text.startswith(":61:"):
            self.items += 1
            if self.items + len(self.statements) + len(self.errors) > self.max_items:
                message = (
                    f"more than {self.max_items} statements, entries and errors in one file: "
                    "the bank should split it"
                )
                return FileError(number, ":61:", "FILE_TOO_COMPLEX", message)
        return None

    def flush(self) -> None:
        if not self.started:
            return
        if self.refusal is not None:
            self.errors.append(self.refusal)
        else:
            statement = _statement(self.chunk, self.first, self.interim, self.errors)
            if statement is not None:
                self.statements.append(statement)
        self.chunk = []

    def no_statement(self) -> FileError:
        return FileError(1, ":20:", "MISSING_FIELD", "no :20: statement found: not an MT940 file")


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
    parsed = Transactions(processors=processors, tags=LENIENT_TAGS, options=Options(unbounded_details=True))
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
