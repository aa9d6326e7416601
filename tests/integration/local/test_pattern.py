from __future__ import annotations

import json

import pytest

from infra.constructs.outbox import outbox_filter
from infra.local.pattern import PatternError, matches, matches_any, parse_pattern

OUTBOX = parse_pattern(json.dumps(outbox_filter("disbursements")))  # the pipe's, as synthesized


def record(event_name: str = "INSERT", kind: str = "OUTBOX", target: str = "disbursements") -> dict:
    return {
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"NewImage": {"pk": {"S": "OUTBOX#1"}, "kind": {"S": kind}, "target": {"S": target}}},
    }


def test_the_outbox_filter_passes_an_inserted_outbox_item_for_its_target() -> None:
    assert matches(OUTBOX, record())


def test_the_outbox_filter_passes_an_outbox_item_touched_to_publish_it_again() -> None:
    assert matches(OUTBOX, record(event_name="MODIFY"))


@pytest.mark.parametrize(
    "other",
    [record(event_name="REMOVE"), record(kind="LOAN"), record(target="repayments"), {"eventName": "INSERT"}],
)
def test_the_outbox_filter_rejects_everything_else(other: dict) -> None:
    assert not matches(OUTBOX, other)


def test_a_list_of_values_matches_any_of_them_and_event_lists_match_by_element() -> None:
    pattern = {"detail": {"state": ["A", "B"]}}
    assert matches(pattern, {"detail": {"state": "B"}})
    assert matches(pattern, {"detail": {"state": ["X", "A"]}})
    assert not matches(pattern, {"detail": {"state": "C"}})


def test_exact_values_keep_their_type() -> None:
    assert matches({"n": [5]}, {"n": 5.0})
    assert not matches({"n": ["5"]}, {"n": 5})
    assert not matches({"flag": [True]}, {"flag": 1})
    assert matches({"nothing": [None]}, {"nothing": None})


def test_content_filters() -> None:
    assert matches({"key": [{"prefix": "platform/"}]}, {"key": "platform/a.csv"})
    assert not matches({"key": [{"prefix": "platform/"}]}, {"key": "reports/a.json"})
    assert matches({"key": [{"suffix": ".csv"}]}, {"key": "a.csv"})
    assert matches({"s": [{"anything-but": ["X", "Y"]}]}, {"s": "Z"})
    assert not matches({"s": [{"anything-but": "X"}]}, {"s": "X"})
    assert matches({"s": [{"anything-but": {"prefix": "tmp"}}]}, {"s": "keep"})
    assert matches({"n": [{"numeric": [">", 0, "<=", 10]}]}, {"n": 10})
    assert not matches({"n": [{"numeric": [">", 0, "<=", 10]}]}, {"n": 11})
    assert matches({"s": [{"equals-ignore-case": "insert"}]}, {"s": "INSERT"})


def test_exists() -> None:
    assert matches({"a": [{"exists": True}]}, {"a": "x"})
    assert not matches({"a": [{"exists": True}]}, {"b": "x"})
    assert matches({"a": [{"exists": False}]}, {"b": "x"})
    assert not matches({"a": [{"exists": False}]}, {"a": "x"})


def test_a_nested_pattern_needs_an_object_in_the_event() -> None:
    assert not matches({"dynamodb": {"NewImage": {"kind": {"S": ["OUTBOX"]}}}}, {"dynamodb": "OUTBOX"})


def test_filters_pass_when_any_matches_and_no_filters_pass_everything() -> None:
    assert matches_any([], {"anything": 1})
    assert matches_any([{"a": [1]}, {"a": [2]}], {"a": 2})
    assert not matches_any([{"a": [1]}], {"a": 2})


def test_malformed_patterns_are_refused() -> None:
    with pytest.raises(PatternError):
        parse_pattern('{"a": "not a list"}')
    with pytest.raises(PatternError):
        parse_pattern("[1, 2]")
    with pytest.raises(PatternError):
        matches({"a": [{"wildcard-ish": "x"}]}, {"a": "x"})
