"""The simulated bank's file side (docs/local-stack.md, "The simulated bank plays three banks"): one
thread that, every `poll_seconds`,

- reads the new objects under `<CODE>/` of the outbound bucket for each `iso20022-file` bank (at most
  `max_files_per_poll` a round), books each transaction of a pain.001 or pain.008 once per
  (bank, end-to-end id) in the bank's one journal, and puts a pain.002 (every transaction's status)
  and a camt.054 (what was booked now) into the inbox under `<CODE>/answers/<business date>/`;
- watches the business date: when it moves on from D, puts a camt.053 of day D for each bank and
  each of the lender's accounts there (one per currency) under `<CODE>/statements/<D>/`.

The bank's faults hold here too: `reject_accounts` answers RJCT AC01 and books nothing, `latency_ms`
delays each file's answers, `error_rate` leaves a file for a later round (the bank was down),
`timeout_after_apply_rate` books a file's payments but loses its answers (the statement still has
them; the same file sent again gets its pain.002), `drop_order_rate` loses a file before the bank
read it (removed from the outbound bucket, nothing booked or answered: the gateway's status inquiry
says UNKNOWN, and the file written again is read as new).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

import boto3

from infra.local.bank import Bank
from infra.local.bank_files import (
    AccountReport,
    Booking,
    PaymentMessage,
    TransactionStatus,
    UnreadableMessage,
    derived_id,
    notification,
    parse_payment_message,
    statement,
    status_report,
)

log = logging.getLogger("scf.local.bank")

FAKE_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REJECTED_ACCOUNT = "AC01"
DUPLICATE = "AM05"
UNREADABLE = "FF01"


@dataclass(frozen=True)
class S3Settings:
    """Where the bank reads and writes. `credentials` per bank code (`"*"` for any bank):
    `{"aws_access_key_id", "aws_secret_access_key"[, "aws_session_token"]}`; without them, fake
    keys against an endpoint, else boto3's default chain."""

    inbox_bucket: str
    outbound_bucket: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    credentials: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class FileExchange:
    """The file banks' transfer client and every bank's end-of-day statements (one thread)."""

    def __init__(
        self,
        bank: Bank,
        s3: S3Settings,
        *,
        poll_seconds: float = 0.5,
        max_files_per_poll: int = 20,
        notifications: bool = True,
    ) -> None:
        self.bank = bank
        self.s3 = s3
        self.poll_seconds = poll_seconds
        self.max_files_per_poll = max_files_per_poll
        self.notifications = notifications
        self._queue_url: str | None = None
        self._subscription: str | None = None
        self._scanned = False  # everything under the file banks' prefixes answered once
        self._clients: dict[tuple[str, str], Any] = {}
        self._seen: set[tuple[str, str, str]] = set()  # (key, version id, etag)
        self._day = bank.clock.today()
        self._pending_days: list[date] = []
        self._sequences: dict[tuple[str, str, str], int] = {}
        self._stated: set[tuple[date, str, str, str]] = set()  # (day, bank, account, currency) dropped
        self._notified: set[tuple[str, str]] = set()  # (bank, payment id) in a camt.054 put
        self._counter = 0
        self.dropped: deque[str] = deque(maxlen=1000)  # the keys put into the inbox, newest last
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="simulated-bank-files", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._unsubscribe()

    def _run(self) -> None:
        last_error = None
        while not self._stop.is_set():
            try:
                self.run_once()
                last_error = None
            except Exception as exc:  # a bad round is logged (once while it repeats); the next tries again
                if repr(exc) != last_error:
                    log.exception("the simulated bank's file round failed")
                last_error = repr(exc)
            self._stop.wait(self.poll_seconds)

    def run_once(self) -> list[str]:
        """One round: new outbound files, then the clock. The keys put into the inbox."""
        return self.poll_outbound() + self.end_of_day()

    # -- S3 -----------------------------------------------------------------------------------

    def client(self, bank_code: str, service: str = "s3") -> Any:
        """A client with the bank's credentials (`"*"`: the bank process's own)."""
        if (bank_code, service) not in self._clients:
            keys = self.s3.credentials.get(bank_code) or self.s3.credentials.get("*")
            if keys is None and self.s3.endpoint_url:
                keys = FAKE_KEYS
            self._clients[(bank_code, service)] = boto3.client(
                service, endpoint_url=self.s3.endpoint_url, region_name=self.s3.region, **dict(keys or {})
            )
        return self._clients[(bank_code, service)]

    def _put(self, bank_code: str, key: str, body: bytes) -> str:
        self.client(bank_code).put_object(
            Bucket=self.s3.inbox_bucket, Key=key, Body=body, ContentType="application/xml"
        )
        self.dropped.append(key)
        return key

    def _next_id(self, prefix: str, *parts: object) -> str:
        self._counter += 1
        return derived_id(prefix, *parts, self._counter, time.time_ns())

    # -- outbound files -----------------------------------------------------------------------

    def poll_outbound(self) -> list[str]:
        """New orders: told by the outbound bucket's notifications (a queue of the bank's own,
        subscribed at the first round, which also lists what was there before); without them
        (`notifications=False`, or the subscription failed) by listing the bank's prefix every
        round, which costs about a second per thousand objects in moto."""
        if not self.s3.outbound_bucket:
            return []
        if self.notifications and self._queue_url is None:
            try:
                self._subscribe()
            except Exception as exc:
                log.warning("no outbound notifications (%s): listing every round instead", exc)
                self.notifications = False
        if self._queue_url is None or not self._scanned:
            return self._scan()  # with a subscription: until what was there before is all answered
        return self._drain()

    def _scan(self) -> list[str]:
        dropped: list[str] = []
        budget = self.max_files_per_poll
        complete = True
        for code in self.bank.codes("iso20022-file"):
            for key, version, etag in self._new_objects(code):
                answers = self._take(code, key, version, etag) if budget > 0 else None
                budget -= 1
                complete = complete and answers is not None
                dropped.extend(answers or [])
        self._scanned = complete
        return dropped

    def _take(self, code: str, key: str, version: str, etag: str) -> list[str] | None:
        """Read, book and answer one object version; None when the bank is down (error_rate)."""
        faults = self.bank.faults
        if self.bank.roll(faults.error_rate):
            return None  # the bank is down this round: the file waits for the next
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        arguments = {"Bucket": self.s3.outbound_bucket, "Key": key}
        if version != "null":
            arguments["VersionId"] = version
        if self.bank.roll(faults.drop_order_rate):
            # Lost in transfer: gone for good (this version), and not remembered as seen.
            self.client(code).delete_object(**arguments)
            log.warning("%s: %s lost before the bank read it (drop_order fault)", code, key)
            return []
        data = self.client(code).get_object(**arguments)["Body"].read()
        dropped = self.answer(code, key, data)
        self._seen.add((key, version, etag))
        return dropped

    def _subscribe(self) -> None:
        """A queue of the bank's own for the outbound bucket's ObjectCreated events, added beside
        whatever notifications the bucket has."""
        sqs, s3 = self.client("*", "sqs"), self.client("*")
        name = f"simulated-bank-outbound-{uuid.uuid4().hex[:12]}"
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        config = s3.get_bucket_notification_configuration(Bucket=self.s3.outbound_bucket)
        config.pop("ResponseMetadata", None)
        config.setdefault("QueueConfigurations", []).append(
            {"Id": name, "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
        )
        s3.put_bucket_notification_configuration(
            Bucket=self.s3.outbound_bucket, NotificationConfiguration=config
        )
        self._queue_url, self._subscription = url, name

    def _unsubscribe(self) -> None:
        if self._queue_url is None:
            return
        try:
            s3 = self.client("*")
            config = s3.get_bucket_notification_configuration(Bucket=self.s3.outbound_bucket)
            config.pop("ResponseMetadata", None)
            config["QueueConfigurations"] = [
                item for item in config.get("QueueConfigurations", []) if item.get("Id") != self._subscription
            ]
            s3.put_bucket_notification_configuration(
                Bucket=self.s3.outbound_bucket, NotificationConfiguration=config
            )
            self.client("*", "sqs").delete_queue(QueueUrl=self._queue_url)
        except Exception as exc:  # the emulator may be gone already
            log.debug("could not remove the outbound subscription: %s", exc)
        self._queue_url = None
        self._scanned = False  # what arrives before the next subscription is found by listing

    def _drain(self) -> list[str]:
        """Up to `max_files_per_poll` notified objects; a message is deleted once all its objects
        are answered, else it comes back after a second."""
        sqs = self.client("*", "sqs")
        codes = self.bank.codes("iso20022-file")
        dropped: list[str] = []
        for _ in range(self.max_files_per_poll // 10 + 1):
            messages = sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            for message in messages:
                done = True
                for key, version, etag in _created_objects(message["Body"]):
                    code = key.split("/", 1)[0]
                    if code not in codes or (key, version, etag) in self._seen:
                        continue
                    answers = self._take(code, key, version, etag)
                    done = done and answers is not None
                    dropped.extend(answers or [])
                if done:
                    sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    sqs.change_message_visibility(
                        QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
                    )
            if len(messages) < 10:
                break
        return dropped

    def _new_objects(self, code: str) -> list[tuple[str, str, str]]:
        """Object versions under `<code>/` not answered yet, oldest first."""
        found: list[tuple[Any, str, str, str]] = []
        pages = self.client(code).get_paginator("list_object_versions")
        for page in pages.paginate(Bucket=self.s3.outbound_bucket, Prefix=f"{code}/"):
            for item in page.get("Versions", []):
                marker = (item["Key"], str(item.get("VersionId") or "null"), item["ETag"].strip('"'))
                if marker not in self._seen:
                    found.append((item["LastModified"], *marker))
        found.sort(key=lambda item: (item[0], item[1]))
        return [(key, version, etag) for _, key, version, etag in found]

    def answer(self, code: str, key: str, data: bytes) -> list[str]:
        """Book a payment order file at bank `code` and put its answers; the keys put."""
        today = self.bank.clock.today()
        folder = f"{code}/answers/{today.isoformat()}"
        created = self.bank.now()
        try:
            message = parse_payment_message(data, code)
        except UnreadableMessage as exc:
            log.warning("%s: %s is not a payment order we read: %s", code, key, exc)
            if exc.message_id is None:
                return []
            report_id = self._next_id("PS", code, exc.message_id)
            body = status_report(report_id, created, (exc.message_id, exc.name or "pain.001.001.03"), [])
            return [self._put(code, f"{folder}/pain.002-{report_id}.xml", body)]
        statuses, new, booked = self._book(code, message)
        if new and self.bank.roll(self.bank.faults.timeout_after_apply_rate):
            log.warning("%s: %s booked, its answers lost (timeout_after_apply fault)", code, key)
            return []
        report_id = self._next_id("PS", code, message.message_id)
        keys = [
            self._put(
                code,
                f"{folder}/pain.002-{report_id}.xml",
                status_report(report_id, created, (message.message_id, message.name), statuses),
            )
        ]
        if booked:
            notice_id = self._next_id("NT", code, message.message_id)
            body = notification(notice_id, created, booked)
            keys.append(self._put(code, f"{folder}/camt.054-{notice_id}.xml", body))
            self._notified.update((code, b.payment_id) for report in booked for b in report.bookings)
        return keys

    def _book(
        self, code: str, message: PaymentMessage
    ) -> tuple[list[TransactionStatus], int, list[AccountReport]]:
        """Each transaction's status, how many were booked now, and the settled ones no camt.054
        has told yet (a file whose answers were lost is notified when it comes again)."""
        new = 0
        statuses: list[TransactionStatus] = []
        reports: dict[tuple[str, str], list[Booking]] = {}
        for instruction in message.instructions:
            ids = (instruction.payment_info_id, instruction.end_to_end_id, instruction.instruction_id)
            if instruction.order is None:
                statuses.append(TransactionStatus(*ids, "RJCT", UNREADABLE, instruction.problem))
                continue
            http_status, result = self.bank.book(instruction.order, code, "file")
            new += http_status == HTTPStatus.CREATED
            if http_status == HTTPStatus.CONFLICT:
                detail = "this end-to-end id was used with another order"
                statuses.append(TransactionStatus(*ids, "RJCT", DUPLICATE, detail))
            elif result["status"] != "SETTLED":
                statuses.append(
                    TransactionStatus(
                        *ids, "RJCT", REJECTED_ACCOUNT, "account rejected", result["bank_reference"]
                    )
                )
            else:
                statuses.append(
                    TransactionStatus(
                        *ids,
                        "ACSC",
                        None,
                        None,
                        result["bank_reference"],
                        accepted_on=date.fromisoformat(result["value_date"]),
                    )
                )
                if (code, instruction.end_to_end_id) not in self._notified:
                    order = instruction.order
                    own, other = (
                        (order["debtor"], order["creditor"])
                        if message.lender_is_debtor
                        else (order["creditor"], order["debtor"])
                    )
                    reports.setdefault((own["account_number"], order["currency"]), []).append(
                        _booking(order, result, credit=not message.lender_is_debtor, other=other)
                    )
        return (
            statuses,
            new,
            [
                AccountReport(code, account, currency, tuple(bookings))
                for (account, currency), bookings in reports.items()
            ],
        )

    # -- end of day ---------------------------------------------------------------------------

    @property
    def business_date(self) -> date:
        """The business date the bank last saw."""
        return self._day

    def end_of_day(self) -> list[str]:
        """When the business date has moved on from D to D': the statements of day D, and of any
        day between with bookings (a date the clock held too briefly for a round to see)."""
        today = self.bank.clock.today()
        if today < self._day:
            self._day = today  # the clock went back: no statement
        elif today > self._day:
            between = {day for day in self.bank.value_dates() if self._day < day < today}
            self._pending_days.extend([self._day, *sorted(between)])
            self._day = today
        dropped: list[str] = []
        while self._pending_days:
            day = self._pending_days[0]
            dropped.extend(self.statements(day))
            self._pending_days.pop(0)
        return dropped

    def statements(self, day: date) -> list[str]:
        """A camt.053 of `day` for each bank, each of the lender's accounts there, each currency
        it has moved (the default currency when none): bookings dated `day`, balances from the
        journal (opening: everything booked before `day`; closing: up to and including it)."""
        dropped = []
        for code in self.bank.adapters:
            for account in self.bank.lender_accounts(code):
                for report in self.account_reports(code, account, day):
                    done = (day, code, account, report.currency)
                    if done in self._stated:
                        continue  # put in a round that failed later: not again
                    sequence = self._sequences.get((code, account, report.currency), 0) + 1
                    message_id = self._next_id("ST", code, account, report.currency, day)
                    body = statement(message_id, self.bank.now(), report, sequence)
                    dropped.append(
                        self._put(
                            code, f"{code}/statements/{day.isoformat()}/camt.053-{message_id}.xml", body
                        )
                    )
                    self._sequences[(code, account, report.currency)] = sequence
                    self._stated.add(done)
        return dropped

    def account_reports(self, code: str, account: str, day: date) -> list[AccountReport]:
        by_currency: dict[str, list[tuple[Decimal, Booking]]] = {}
        for order, result in self.bank.bookings(code, account):
            credit = (order["creditor"]["bank_code"], order["creditor"]["account_number"]) == (code, account)
            other = order["debtor"] if credit else order["creditor"]
            amount = Decimal(order["amount"])
            by_currency.setdefault(order["currency"], []).append(
                (amount if credit else -amount, _booking(order, result, credit=credit, other=other))
            )
        reports = []
        for currency in sorted(by_currency) or [self.bank.default_currency]:
            moves = by_currency.get(currency, [])
            opening = sum((signed for signed, b in moves if b.booking_date < day), Decimal("0.00"))
            today = [(signed, b) for signed, b in moves if b.booking_date == day]
            closing = opening + sum((signed for signed, _ in today), Decimal("0.00"))
            reports.append(
                AccountReport(code, account, currency, tuple(b for _, b in today), opening, closing, day)
            )
        return reports


def _created_objects(body: str) -> list[tuple[str, str, str]]:
    """(key, version id, etag) of each ObjectCreated record of an S3 event (keys come URL-encoded;
    the first message of a subscription is an `s3:TestEvent`)."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return []
    found = []
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        item = record.get("s3", {}).get("object", {})
        key = unquote_plus(str(item.get("key", "")))
        found.append((key, str(item.get("versionId") or "null"), str(item.get("eTag", "")).strip('"')))
    return found


def _booking(
    order: dict[str, Any], result: dict[str, Any], *, credit: bool, other: dict[str, str]
) -> Booking:
    return Booking(
        payment_id=order["payment_id"],
        amount=Decimal(order["amount"]),
        currency=order["currency"],
        credit=credit,
        booking_date=date.fromisoformat(result["value_date"]),
        bank_reference=result["bank_reference"],
        remittance=order.get("remittance"),
        counterparty=other,
        direct_debit=order["direction"] == "COLLECTION",
    )
