"""The domain-events pipe, done locally from the template (docs/local-stack.md, "Domain events"):
the pipe's enrichment (the state machine's own definition, run here for the subset it uses: Map
over the batch, Pass with Parameters, JSONPath and `States.StringToJson`), its input template and
bus parameters, then each event appended as a JSON line `{detail_type, time, detail}` to
`events.jsonl` in the state directory, which `scf local events` prints.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.template import BusPipeSpec, TemplateError

EVENTS_FILE = "events.jsonl"
_PATH = re.compile(r"\$(\.[A-Za-z0-9_-]+)*")
_STRING_TO_JSON = re.compile(r"States\.StringToJson\((.+)\)")
_TEMPLATE_PATH = re.compile(r"<(\$[^>]*)>")


def json_path(value: Any, path: str) -> Any:
    """`$` or `$.a.b`: the subset the pipe and its enrichment use."""
    if not _PATH.fullmatch(path):
        raise TemplateError(f"JSONPath {path!r} is not supported locally")
    for key in path.split(".")[1:]:
        value = value[key]
    return value


def _parameters(parameters: Any, value: Any) -> Any:
    if isinstance(parameters, list):
        return [_parameters(item, value) for item in parameters]
    if not isinstance(parameters, dict):
        return parameters
    out = {}
    for key, spec in parameters.items():
        if not key.endswith(".$"):
            out[key] = _parameters(spec, value)
        elif match := _STRING_TO_JSON.fullmatch(spec):
            out[key[:-2]] = json.loads(json_path(value, match.group(1).strip()))
        else:
            out[key[:-2]] = json_path(value, spec)
    return out


def run_state_machine(definition: dict[str, Any], value: Any) -> Any:
    """Run `definition` on `value`: Map (ItemProcessor or Iterator) and Pass states only."""
    name = definition["StartAt"]
    while True:
        state = definition["States"][name]
        kind = state["Type"]
        if kind == "Pass" and set(state) <= {"Type", "Parameters", "End", "Next", "Comment"}:
            value = _parameters(state["Parameters"], value) if "Parameters" in state else value
        elif kind == "Map" and set(state) <= {"Type", "ItemProcessor", "Iterator", "End", "Next", "Comment"}:
            processor = state.get("ItemProcessor") or state["Iterator"]
            value = [run_state_machine(processor, item) for item in value]
        else:
            raise TemplateError(f"state {name} ({kind}) is not supported locally")
        if state.get("End"):
            return value
        name = state["Next"]


def _parameter(spec: Any, event: Any) -> Any:
    """A target parameter: a dynamic path (`$.x`) read from the event, else the value itself."""
    return json_path(event, spec) if isinstance(spec, str) and spec.startswith("$") else spec


def bus_events(spec: BusPipeSpec, records: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The events the pipe puts on its bus for a batch of stream records."""
    enriched = run_state_machine(spec.enrichment, records) if spec.enrichment else records
    events = []
    for event in enriched:
        detail = event
        if spec.input_template is not None:
            match = _TEMPLATE_PATH.fullmatch(spec.input_template.strip())
            if not match:
                raise TemplateError(f"{spec.logical_id}: input template is not supported locally")
            detail = json_path(event, match.group(1))
        parameters = spec.bus_parameters
        events.append(
            {
                "detail_type": _parameter(parameters.get("DetailType"), event),
                "source": _parameter(parameters.get("Source"), event),
                "time": _parameter(parameters.get("Time"), event) or now.isoformat(),
                "detail": detail,
            }
        )
    return events


@dataclass
class EventLog:
    """`events.jsonl`: what the bus received, one event a line, in order."""

    path: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, events: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(event, sort_keys=True) + "\n" for event in events)
        with self._lock, self.path.open("a", encoding="utf-8") as log:
            log.write(lines)


@dataclass(frozen=True)
class BusTarget:
    """A bus pipe as the stream reader (infra/local/pollers.py) forwards to it."""

    name: str
    patterns: list[dict[str, Any]]
    publish: Callable[[list[dict[str, Any]]], None]


def bus_target(spec: BusPipeSpec, log: EventLog) -> BusTarget:
    def publish(records: list[dict[str, Any]]) -> None:
        log.append(bus_events(spec, records, datetime.now(UTC)))

    return BusTarget(spec.logical_id, spec.patterns, publish)


def printed(event: dict[str, Any]) -> str:
    """One line of `scf local events` (contract section 9)."""
    return json.dumps({key: event.get(key) for key in ("detail_type", "time", "detail")})


def read_events(path: Path, *, follow: bool, poll_seconds: float = 0.2) -> Iterator[dict[str, Any]]:
    """The logged events, oldest first; with `follow`, then each new one as it comes (forever)."""
    position = 0
    pending = ""
    while True:
        if path.exists():
            with path.open(encoding="utf-8") as log:
                log.seek(position)
                pending += log.read()
                position = log.tell()
        *complete, pending = pending.split("\n")
        for line in complete:
            if line.strip():
                yield json.loads(line)
        if not follow:
            return
        time.sleep(poll_seconds)
