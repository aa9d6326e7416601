"""ISO 20022 camt.053 and camt.054, versions .001.02 to .001.08, version from the namespace
(docs/bank-files.md). Read as a stream, entry by entry. Invariant: every statement or entry dropped
has a located `FileError`, and an amount not exact in its currency is kept with `amount_minor=None`
(`AMOUNT_PRECISION`), never rounded."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from scf.adapters.files.parsing import MAX_ITEMS, calendar_date, money_errors, parse_decimal, rejection
from scf.adapters.files.xml_safety import DEFAULT_CAPS, DEFAULT_MAX_BYTES, XmlNode, stream_xml
from scf.domain.bank_files import (
    BOOKED,
    CAMT_053,
    CAMT_054,
    CREDIT,
    DEBIT,
    INFO,
    PENDING,
    Balance,
    Entry,
    FileError,
    ParseResult,
    Statement,
    Transaction,
)

CAMT_NAMESPACE = re.compile(r"camt\.(053|054)\.001\.(\d{2})")
SUPPORTED_VERSIONS = range(2, 9)
MESSAGES = {"BkToCstmrStmt": CAMT_053, "BkToCstmrDbtCdtNtfctn": CAMT_054}  # message element -> format
FORMAT_MESSAGE = {fmt: message for message, fmt in MESSAGES.items()}
RECORDS = {CAMT_053: "Stmt", CAMT_054: "Ntfctn"}
ENTRY_STATUSES = {"BOOK": BOOKED, "PDNG": PENDING, "INFO": INFO, "FUTR": PENDING}
DIRECTIONS = {"CRDT": CREDIT, "DBIT": DEBIT}
NOT_PROVIDED = "NOTPROVIDED"
STREAMED = frozenset({"TxDtls", "Ntry", *RECORDS.values()})

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))?$"
)


@dataclass(frozen=True)
class _Message:
    format: str
    version: str
    body: XmlNode


class _Stop(Exception):
    """Raised from a record callback: the file is refused with `result`."""

    def __init__(self, result: ParseResult) -> None:
        super().__init__()
        self.result = result


class _Reader:
    """Statements and entries as the XML streams past: an `Ntry` becomes an `Entry` when it ends,
    a statement when its record ends; neither stays as XML."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self.items = 0
        self.message: _Message | None = None
        self.statements: list[Statement] = []
        self.errors: list[FileError] = []
        self.entries: list[Entry] = []  # of the statement being read
        self.transactions: list[Transaction] = []  # of the entry being read
        self.entry_errors: list[FileError] = []

    def on_record(self, node: XmlNode, ancestors: list[XmlNode]) -> None:
        message = self._message(ancestors)
        record_name = RECORDS[message.format]
        if node.name == "TxDtls" and [a.name for a in ancestors[2:]] == [record_name, "Ntry", "NtryDtls"]:
            self._count(node, 1)  # a batch booking's thousands of payments are not held as XML
            self.transactions.append(_transaction(node, self.entry_errors))
        elif node.name == "Ntry" and len(ancestors) == 3 and ancestors[2].name == record_name:
            self._count(node, 1)
            entry = _entry(node, self.transactions, self.entry_errors)
            self.transactions = []
            if entry is not None:
                self.entries.append(entry)
        elif node.name == record_name and len(ancestors) == 2:
            self._count(node, 1)
            message_id = message.body.text_at("GrpHdr", "MsgId")
            statement = _statement(node, message, message_id, self.entries, self.entry_errors, self.errors)
            if statement is not None:
                self.statements.append(statement)
            self.entries, self.entry_errors = [], []

    def _count(self, node: XmlNode, items: int) -> None:
        """Statements, entries, transactions and errors are what the result holds: capped."""
        self.items += items
        if self.items + len(self.errors) + len(self.entry_errors) > self.max_items:
            message = (
                f"more than {self.max_items} statements, entries, transactions and errors in one "
                "file: the bank should split it"
            )
            error = FileError(node.line, node.path, "FILE_TOO_COMPLEX", message)
            raise _Stop(ParseResult(format=self.message.format if self.message else None, errors=(error,)))

    def _message(self, ancestors: list[XmlNode]) -> _Message:
        if self.message is None:
            root = ancestors[0]
            identified = _identify(root, root.children[0] if root.children else ancestors[1])
            if isinstance(identified, ParseResult):
                raise _Stop(identified)
            self.message = identified
        return self.message


def parse_camt(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_items: int = MAX_ITEMS) -> ParseResult:
    reader = _Reader(max_items)
    try:
        root = stream_xml(data, replace(DEFAULT_CAPS, max_bytes=max_bytes), STREAMED, reader.on_record)
    except _Stop as stop:
        return stop.result
    if isinstance(root, FileError):
        return ParseResult(format=None, errors=(root,))
    if reader.message is None:  # no statement came past: say why from what the document holds
        message = _identify(root, root.children[0] if root.children else None)
        if isinstance(message, ParseResult):
            return message
        record_name = RECORDS[message.format]
        return rejection(
            message.format,
            message.body.line,
            message.body.path,
            "NO_STATEMENTS",
            f"{message.body.name} holds no {record_name}: nothing to read",
        )
    return ParseResult(
        format=reader.message.format, statements=tuple(reader.statements), errors=tuple(reader.errors)
    )


def _identify(root: XmlNode, body: XmlNode | None) -> _Message | ParseResult:
    structure_format = MESSAGES.get(body.name) if body is not None else None
    namespace = root.namespace or (body.namespace if body is not None else None)
    if not namespace:
        what = f"a {structure_format} structure ({body.name})" if structure_format and body else "a document"
        return rejection(
            structure_format,
            root.line,
            root.path,
            "NAMESPACE_MISSING",
            f"{what} without an ISO 20022 namespace: its version is unknown, so it is not read",
        )
    match = CAMT_NAMESPACE.search(namespace)
    if match is None:
        return rejection(
            structure_format,
            root.line,
            root.path,
            "NOT_A_STATEMENT",
            f"namespace {namespace} is not a camt.053 or camt.054 message",
        )
    fmt, version = f"camt.{match.group(1)}", int(match.group(2))
    if version not in SUPPORTED_VERSIONS:
        return rejection(
            fmt,
            root.line,
            root.path,
            "UNSUPPORTED_VERSION",
            f"{fmt}.001.{version:02d} is not supported (.02 to .08)",
        )
    if body is None or body.name != FORMAT_MESSAGE[fmt]:
        found = body.name if body is not None else "nothing"
        return rejection(
            fmt,
            body.line if body is not None else root.line,
            body.path if body is not None else root.path,
            "UNEXPECTED_ELEMENT",
            f"a {fmt} document must hold {FORMAT_MESSAGE[fmt]}, found {found}",
        )
    return _Message(fmt, f"001.{version:02d}", body)


def _statement(
    record: XmlNode,
    message: _Message,
    message_id: str | None,
    entries: list[Entry],
    entry_errors: list[FileError],
    errors: list[FileError],
) -> Statement | None:
    """The statement of `record` (its entries already read), or None and why; the entries' errors
    follow its balances' (a dropped statement drops them with it)."""
    statement_id = record.text_at("Id")
    account_node = record.find("Acct", "Id")
    account = None
    if account_node is not None:
        account = account_node.text_at("IBAN") or account_node.text_at("Othr", "Id")
    if statement_id is None or account is None:
        for name, value in (("Id", statement_id), ("Acct/Id", account)):
            if value is None:
                text = f"{record.name} has no {name}"
                errors.append(FileError(record.line, f"{record.path}/{name}", "MISSING_FIELD", text))
        return None
    servicer = record.find("Acct", "Svcr", "FinInstnId")
    servicer_bic = (servicer.text_at("BICFI") or servicer.text_at("BIC")) if servicer is not None else None
    balances = {}
    for node in record.all("Bal"):
        balance = _balance(node, errors)
        if balance is not None and balance.code not in balances:
            balances[balance.code] = balance
    errors.extend(entry_errors)
    return Statement(
        format=message.format,
        version=message.version,
        line=record.line,
        path=record.path,
        message_id=message_id,
        statement_id=statement_id,
        account=account,
        currency=record.text_at("Acct", "Ccy"),
        servicer_bic=servicer_bic,
        sequence=record.text_at("LglSeqNb") or record.text_at("ElctrncSeqNb"),
        opening_balance=balances.get("OPBD") or balances.get("PRCD"),
        closing_balance=balances.get("CLBD"),
        entries=tuple(entries),
    )


def _balance(node: XmlNode, errors: list[FileError]) -> Balance | None:
    code = node.text_at("Tp", "CdOrPrtry", "Cd") or node.text_at("Tp", "CdOrPrtry", "Prtry")
    if code not in ("OPBD", "PRCD", "CLBD"):
        return None  # other balances (available, interim) are information the platform does not use
    local: list[FileError] = []
    amount = _amount(node, "Amt", local, required=True)
    direction = _direction(node, local, required=True)
    when = _date_choice(node, "Dt", local)
    errors.extend(local)
    if local or amount is None or direction is None:
        return None
    value, currency, minor = amount
    if minor is None:
        errors.extend(money_errors(value, currency, node.line, f"{node.path}/Amt")[1])
    return Balance(code, value, minor, currency, direction, when)


def _entry(node: XmlNode, transactions: list[Transaction], errors: list[FileError]) -> Entry | None:
    """The entry of `node`, its `NtryDtls/TxDtls` already read into `transactions`."""
    fatal: list[FileError] = []
    amount = _amount(node, "Amt", fatal, required=True)
    direction = _direction(node, fatal, required=True)
    reversal = _reversal(node, fatal)
    status = _status(node, fatal)
    booking_date = _date_choice(node, "BookgDt", fatal)
    value_date = _date_choice(node, "ValDt", fatal)
    batches = [batch for details in node.all("NtryDtls") for batch in details.all("Btch")]
    errors.extend(fatal)
    if fatal or amount is None or direction is None or status is None:
        return None
    value, currency, minor = amount
    if minor is None:
        errors.extend(money_errors(value, currency, node.line, f"{node.path}/Amt")[1])
    end_to_end_ids = list(dict.fromkeys(tx.end_to_end_id for tx in transactions if tx.end_to_end_id))
    announced = sum(int(n) for b in batches if (n := b.text_at("NbOfTxs") or "").isdigit()) or None
    return Entry(
        line=node.line,
        path=node.path,
        amount=value,
        amount_minor=minor,
        currency=currency,
        direction=direction,
        status=status,
        reversal=reversal,
        booking_date=booking_date,
        value_date=value_date,
        bank_reference=node.text_at("AcctSvcrRef"),
        end_to_end_ids=tuple(end_to_end_ids),
        remittance=" ".join(tx.remittance for tx in transactions if tx.remittance),
        transactions=tuple(transactions),
        batch=len(transactions) > 1 or (announced or 0) > 1,
        batch_size=announced,
        additional_info=" ".join(n.value for n in node.all("AddtlNtryInf") if n.value),
    )


def _transaction(node: XmlNode, errors: list[FileError]) -> Transaction:
    """A TxDtls: its own amount (TxDtls/Amt from .03 on, else AmtDtls/TxAmt/Amt) if the bank gave one."""
    local: list[FileError] = []
    amount = _amount(node, "Amt", local, required=False)
    if amount is None and not local:
        amount = _amount(node, "AmtDtls/TxAmt/Amt", local, required=False)
    direction = _direction(node, local, required=False)
    errors.extend(local)
    value, currency, minor = amount if amount is not None else (None, None, None)
    if value is not None and currency is not None and minor is None:
        errors.extend(money_errors(value, currency, node.line, f"{node.path}/Amt")[1])
    end_to_end_id = node.text_at("Refs", "EndToEndId")
    if end_to_end_id is not None and end_to_end_id.upper() == NOT_PROVIDED:
        end_to_end_id = None
    return Transaction(
        line=node.line,
        path=node.path,
        amount=value,
        amount_minor=minor,
        currency=currency,
        direction=direction,
        end_to_end_id=end_to_end_id,
        remittance=_remittance(node),
        bank_reference=node.text_at("Refs", "AcctSvcrRef"),
        instruction_id=node.text_at("Refs", "InstrId"),
        uetr=node.text_at("Refs", "UETR"),
        return_reason=node.text_at("RtrInf", "Rsn", "Cd") or node.text_at("RtrInf", "Rsn", "Prtry"),
        **_counterparty(node, "Cdtr" if direction == DEBIT else "Dbtr"),
    )


def _counterparty(node: XmlNode, party: str) -> dict[str, str | None]:
    """The other side of the payment: `Dbtr` of a credit, `Cdtr` of a debit (IBAN or other id)."""
    account = node.text_at("RltdPties", f"{party}Acct", "Id", "IBAN") or node.text_at(
        "RltdPties", f"{party}Acct", "Id", "Othr", "Id"
    )
    agent = ("RltdAgts", f"{party}Agt", "FinInstnId")
    bic = node.text_at(*agent, "BICFI") or node.text_at(*agent, "BIC")
    return {"counterparty_account": account, "counterparty_bic": bic}


def _remittance(node: XmlNode) -> str:
    """Unstructured lines, then per structured block the creditor reference, the referred
    document numbers and the additional remittance lines, joined by single spaces."""
    parts: list[str] = []
    for info in node.all("RmtInf"):
        parts.extend(n.value for n in info.all("Ustrd"))
        for structured in info.all("Strd"):
            parts.extend(n.value for ref in structured.all("CdtrRefInf") for n in ref.all("Ref"))
            parts.extend(n.value for doc in structured.all("RfrdDocInf") for n in doc.all("Nb"))
            parts.extend(n.value for n in structured.all("AddtlRmtInf"))
    return " ".join(part for part in parts if part)


def _amount(
    node: XmlNode, where: str, errors: list[FileError], *, required: bool
) -> tuple[Decimal, str, int | None] | None:
    amount_node = node.find(*where.split("/"))
    field = f"{node.path}/{where}"
    if amount_node is None:
        if required:
            errors.append(FileError(node.line, field, "MISSING_FIELD", f"{node.name} has no {where}"))
        return None
    value = parse_decimal(amount_node.value)
    if value is None:
        message = f"{amount_node.value!r} is not an amount (digits, up to 5 decimals, 18 digits in all)"
        errors.append(FileError(amount_node.line, field, "INVALID_AMOUNT", message))
        return None
    currency = amount_node.attrib.get("Ccy", "").strip()
    minor, problems = money_errors(value, currency, amount_node.line, field)
    if any(p.code == "INVALID_CURRENCY" for p in problems):
        errors.extend(problems)
        return None
    return value, currency, minor


def _direction(node: XmlNode, errors: list[FileError], *, required: bool) -> str | None:
    indicator = node.find("CdtDbtInd")
    if indicator is None:
        if required:
            field = f"{node.path}/CdtDbtInd"
            errors.append(FileError(node.line, field, "MISSING_FIELD", f"{node.name} has no CdtDbtInd"))
        return None
    direction = DIRECTIONS.get(indicator.value)
    if direction is None:
        message = f"CdtDbtInd {indicator.value!r} must be CRDT or DBIT"
        errors.append(FileError(indicator.line, indicator.path, "INVALID_VALUE", message))
    return direction


def _reversal(node: XmlNode, errors: list[FileError]) -> bool:
    indicator = node.find("RvslInd")
    if indicator is None or indicator.value in ("false", "0"):
        return False
    if indicator.value in ("true", "1"):
        return True
    errors.append(
        FileError(
            indicator.line, indicator.path, "INVALID_VALUE", f"RvslInd {indicator.value!r} is not a boolean"
        )
    )
    return False


def _status(node: XmlNode, errors: list[FileError]) -> str | None:
    """`<Sts>BOOK</Sts>` up to .05, `<Sts><Cd>BOOK</Cd></Sts>` from .06: either shape is read."""
    status_node = node.find("Sts")
    if status_node is None:
        errors.append(FileError(node.line, f"{node.path}/Sts", "MISSING_FIELD", "Ntry has no Sts"))
        return None
    code = status_node.text_at("Cd") or status_node.text_at("Prtry") or status_node.value
    status = ENTRY_STATUSES.get(code)
    if status is None:
        message = f"entry status {code!r} must be one of {', '.join(ENTRY_STATUSES)}"
        errors.append(FileError(status_node.line, status_node.path, "INVALID_VALUE", message))
    return status


def _date_choice(node: XmlNode, name: str, errors: list[FileError]) -> date | None:
    """A DateAndDateTimeChoice (`<X><Dt>` or `<X><DtTm>`): the calendar date as the bank wrote it."""
    holder = node.child(name)
    if holder is None:
        return None
    inner = holder.child("Dt") or holder.child("DtTm")
    if inner is None:
        errors.append(FileError(holder.line, holder.path, "MISSING_FIELD", f"{name} has neither Dt nor DtTm"))
        return None
    parsed = _parse_date(inner.value, with_time=inner.name == "DtTm")
    if parsed is None:
        message = f"{inner.value!r} is not a valid {'date-time' if inner.name == 'DtTm' else 'date'}"
        errors.append(FileError(inner.line, inner.path, "INVALID_DATE", message))
    return parsed


def _parse_date(text: str, *, with_time: bool) -> date | None:
    match = (_DATE_TIME if with_time else _DATE).match(text)
    if match is None:
        return None
    day = calendar_date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if day is None or not with_time:
        return day
    hour, minute, second = int(match.group(4)), int(match.group(5)), int(match.group(6))
    offset_hour, offset_minute = match.group(7), match.group(8)
    if hour > 23 or minute > 59 or second > 59:
        return None
    if offset_hour is not None and (int(offset_hour) > 14 or int(offset_minute) > 59):
        return None
    return day
