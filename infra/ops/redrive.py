"""`scf ops redrive QUEUE`: dead-lettered messages back to the queue they died on.

Received from the dead-letter queue, sent to the source queue with their body and attributes, and
only then deleted: a crash in between delivers a message twice, never loses one (every consumer is
idempotent by business key). The same loop works on a deployed stage and on the local emulator
(SQS's own StartMessageMoveTask is not in moto): docs/operations.md, "Redrive"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from infra.ops.target import Target

RECEIVE_BATCH = 10  # SQS's maximum per ReceiveMessage
HOLD_SECONDS = 120  # a received message stays invisible this long while it is being moved


@dataclass(frozen=True)
class RedriveResult:
    source: str
    waiting: int  # messages in the dead-letter queue when the command started
    moved: int
    failed: int  # sent nowhere: they reappear in the dead-letter queue after HOLD_SECONDS
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.source,
            "dead_letter_queue": f"{self.source}_dlq",
            "waiting": self.waiting,
            "moved": self.moved,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


def waiting_in(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"].get("ApproximateNumberOfMessages", "0"))


def redrive(
    target: Target, queue: str, *, dry_run: bool = False, limit: int | None = None, progress: bool = True
) -> RedriveResult:
    """Move up to `limit` messages (default: all) from `<queue>_dlq` back to `<queue>`."""
    source = queue.replace("-", "_").lower().removesuffix("_dlq")
    source_url = target.queue_url(source)
    dlq_url = target.queue_url(f"{source}_dlq")
    waiting = waiting_in(target.sqs, dlq_url)
    if dry_run:
        return RedriveResult(source, waiting, 0, 0, dry_run=True)
    wanted = waiting if limit is None else min(limit, waiting)
    moved = failed = 0
    with tqdm(total=wanted, unit="msg", desc=f"redrive {source}", disable=not progress) as bar:
        while moved + failed < wanted:
            batch = min(RECEIVE_BATCH, wanted - moved - failed)
            messages = target.sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=batch,
                WaitTimeSeconds=1,
                VisibilityTimeout=HOLD_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break  # the count was approximate, or another redrive took them
            sent, refused = _move(target.sqs, source_url, dlq_url, messages)
            moved += sent
            failed += refused
            bar.update(sent + refused)
    return RedriveResult(source, waiting, moved, failed, dry_run=False)


def _move(sqs: Any, source_url: str, dlq_url: str, messages: list[dict[str, Any]]) -> tuple[int, int]:
    by_id = {str(n): message for n, message in enumerate(messages)}
    entries = [
        {"Id": n, "MessageBody": message["Body"], "MessageAttributes": message.get("MessageAttributes", {})}
        for n, message in by_id.items()
    ]
    answer = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
    sent = [entry["Id"] for entry in answer.get("Successful", [])]
    if sent:
        sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[{"Id": n, "ReceiptHandle": by_id[n]["ReceiptHandle"]} for n in sent],
        )
    return len(sent), len(messages) - len(sent)
