import json
import os
from datetime import date

import pytest

from scf.clock import FileClock, FixedClock, SystemClock, clock_from_spec
from scf.events import LOAN_APPROVED, TARGET_DISBURSEMENTS, MalformedEvent, event_from_stream_record

pytestmark = pytest.mark.unit


def test_file_clock_follows_the_file(tmp_path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-01-31\n")
    clock = clock_from_spec(f"file:{path}")
    assert isinstance(clock, FileClock)
    assert clock.today() == date(2026, 1, 31)
    path.write_text("2026-03-01")
    os.utime(path, (1, 1))  # a new mtime even within the filesystem's timestamp resolution
    assert clock.today() == date(2026, 3, 1)


def test_file_clock_without_a_file_is_the_system_date(tmp_path) -> None:
    assert FileClock(str(tmp_path / "missing")).today() == SystemClock().today()


def test_clock_specs() -> None:
    assert isinstance(clock_from_spec("system"), SystemClock)
    assert FixedClock(date(2026, 5, 1)).today() == date(2026, 5, 1)
    with pytest.raises(ValueError, match="unknown clock"):
        clock_from_spec("ntp:pool")


def _stream_record(payload: dict) -> str:
    return json.dumps(
        {
            "eventName": "INSERT",
            "dynamodb": {
                "NewImage": {
                    "pk": {"S": "OUTBOX#ev-1"},
                    "sk": {"S": "EVENT"},
                    "kind": {"S": "OUTBOX"},
                    "target": {"S": TARGET_DISBURSEMENTS},
                    "event_type": {"S": LOAN_APPROVED},
                    "payload": {"S": json.dumps(payload)},
                }
            },
        }
    )


def test_reads_outbox_event_from_pipe_message() -> None:
    event = event_from_stream_record(_stream_record({"loan_id": "LN1", "amount": "10.00"}))
    assert event.event_id == "ev-1"
    assert event.event_type == LOAN_APPROVED
    assert event.target == TARGET_DISBURSEMENTS
    assert event.payload == {"loan_id": "LN1", "amount": "10.00"}


@pytest.mark.parametrize(
    "body", ["not json", "{}", json.dumps({"dynamodb": {"NewImage": {"pk": {"S": "x"}}}})]
)
def test_rejects_bodies_that_are_not_outbox_records(body: str) -> None:
    with pytest.raises(MalformedEvent):
        event_from_stream_record(body)
