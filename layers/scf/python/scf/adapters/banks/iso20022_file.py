"""The `iso20022-file` bank gateway (contract section 7): a payment order is one pain.001 or
pain.008 message written to the outbound bucket at `<bank_code>/<YYYY-MM-DD>/<MsgId>.xml`, where the
bank (or its SFTP connector) picks it up; the bank answers later with files in the inbox (pain.002,
camt.054), which `scf.service.outcomes` applies. So `pay` answers PENDING, never a final outcome.

Invariant: one payment id is one message, written once, the same bytes however often it is sent.
Before the message, a private marker `_sent/<bank_code>/<payment_id>.json` (outside every bank's
prefix) records its key, MsgId, creation time, business date and SHA-256; a re-send rebuilds the
message from the marker, so it is byte-identical, and every write is conditional (`If-None-Match`).
`status` answers PENDING when the message is in the bucket and UNKNOWN when it never got there
(then `execute` sends it again). docs/money.md, "The `iso20022-file` gateway".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scf.adapters.banks.base import BankError, PaymentConflict
from scf.adapters.banks.iso20022 import (
    Mandate,
    MessageMeta,
    PainSettings,
    build_message,
    message_id,
    outbound_key,
)
from scf.clock import Clock
from scf.service.banks import BankConfig
from scf.service.payments import (
    BankGateway,
    BankUnavailable,
    Direction,
    PaymentOrder,
    PaymentResult,
    PaymentStatus,
)

MARKER_PREFIX = "_sent"
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
_ALREADY_THERE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


@dataclass(frozen=True)
class SentMessage:
    """The marker: everything a re-send needs to rebuild the same bytes, and where they are."""

    key: str
    message_id: str
    created_at: str  # ISO 8601 UTC, to the second (the message's CreDtTm)
    business_date: str  # the key's date and the requested execution or collection date
    sha256: str

    def meta(self, initiating_party: str) -> MessageMeta:
        return MessageMeta(
            message_id=self.message_id,
            created_at=datetime.fromisoformat(self.created_at),
            requested_date=date.fromisoformat(self.business_date),
            initiating_party=initiating_party,
        )


class Iso20022FileGateway(BankGateway):
    def __init__(
        self,
        bank: BankConfig,
        *,
        bucket: str,
        endpoint_url: str | None,
        clock: Clock,
        client: Any | None = None,
    ) -> None:
        self._bank = bank
        self._pain = PainSettings.from_settings(bank.settings)
        self._initiating_party = str(bank.settings.get("initiating_party") or bank.operating_account.name)
        signed_on = bank.settings.get("mandate_signed_on")
        self._mandate_signed_on = date.fromisoformat(str(signed_on)) if signed_on else None
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("s3", endpoint_url=self._endpoint_url)
        return self._client

    def pay(self, order: PaymentOrder) -> PaymentResult:
        """Write the order's message once; PENDING (the bank answers with a file)."""
        sent = self._marker(order.payment_id)
        if sent is None:
            sent, body = self._first_message(order)
            if not self._put_once(self._marker_key(order.payment_id), _marker_bytes(sent)):
                sent = self._marker(order.payment_id)  # another sender wrote it first: use theirs
                assert sent is not None
                body = self._message(order, sent)
        else:
            body = self._message(order, sent)
        if hashlib.sha256(body).hexdigest() != sent.sha256:
            raise PaymentConflict(f"payment {order.payment_id} was sent before with other content")
        self._put_once(sent.key, body)
        return PaymentResult(order.payment_id, PaymentStatus.PENDING, bank_reference=sent.key)

    def status(self, payment_id: str) -> PaymentResult:
        """PENDING once the message is in the bucket; UNKNOWN if it never got there."""
        sent = self._marker(payment_id)
        if sent is None or not self._exists(sent.key):
            return PaymentResult(payment_id, PaymentStatus.UNKNOWN)
        return PaymentResult(payment_id, PaymentStatus.PENDING, bank_reference=sent.key)

    # -- the message ----------------------------------------------------------------------------------

    def _first_message(self, order: PaymentOrder) -> tuple[SentMessage, bytes]:
        business_date = self._clock.today()
        msg_id = message_id(order.payment_id)
        draft = SentMessage(
            key=outbound_key(self._bank.code, business_date, msg_id),
            message_id=msg_id,
            created_at=self._clock.now().replace(microsecond=0).isoformat(),
            business_date=business_date.isoformat(),
            sha256="",
        )
        body = self._message(order, draft)
        sent = SentMessage(**{**asdict(draft), "sha256": hashlib.sha256(body).hexdigest()})
        return sent, body

    def _message(self, order: PaymentOrder, sent: SentMessage) -> bytes:
        meta = sent.meta(self._initiating_party)
        mandate = None
        if order.direction is Direction.COLLECTION:
            mandate = Mandate.for_account(order.debtor, self._mandate_signed_on or meta.requested_date)
        try:
            return build_message(order, meta, self._pain, mandate)
        except ValueError as exc:  # the builder's messages never quote an account number
            raise BankError(f"payment {order.payment_id} cannot be a message: {exc}") from exc

    # -- the bucket -----------------------------------------------------------------------------------

    def _marker_key(self, payment_id: str) -> str:
        return f"{MARKER_PREFIX}/{self._bank.code}/{payment_id}.json"

    def _marker(self, payment_id: str) -> SentMessage | None:
        try:
            answer = self.client.get_object(Bucket=self._bucket, Key=self._marker_key(payment_id))
            return SentMessage(**json.loads(answer["Body"].read()))
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return None
            raise BankUnavailable(f"cannot read the outbound marker of {payment_id}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BankUnavailable(f"cannot read the outbound marker of {payment_id}") from exc

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self._bucket, Key=key)
            return True
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return False
            raise BankUnavailable(f"cannot look up {key}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BankUnavailable(f"cannot look up {key}") from exc

    def _put_once(self, key: str, body: bytes) -> bool:
        """Write `key` only if absent; False if it was already there (nothing written)."""
        content_type = "application/json" if key.endswith(".json") else "application/xml"
        try:
            self.client.put_object(
                Bucket=self._bucket, Key=key, Body=body, IfNoneMatch="*", ContentType=content_type
            )
            return True
        except ClientError as exc:
            if _code(exc) in _ALREADY_THERE:
                return False
            raise BankUnavailable(f"cannot write {key}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise BankUnavailable(f"cannot write {key}") from exc


def _marker_bytes(sent: SentMessage) -> bytes:
    return json.dumps(asdict(sent), sort_keys=True, separators=(",", ":")).encode()


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
