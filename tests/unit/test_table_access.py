"""The grant table (infra/table_access.py) speaks the table's own keys: its prefixes are exactly the
partition-key prefixes of the models' keys, and every function with code has a row."""

from __future__ import annotations

import inspect

import pytest

from infra.table_access import PREFIXES, TABLE_ACCESS, WRITE_ACTIONS
from scf.adapters.dynamodb import models
from tests.support import ROOT

pytestmark = pytest.mark.unit


def model_prefixes() -> set[str]:
    found = set()
    for model in vars(models).values():
        if inspect.isclass(model) and issubclass(model, models.BaseItem) and "key" in vars(model):
            arguments = [1 if name == "shard" else "x" for name in inspect.signature(model.key).parameters]
            pk, _ = model.key(*arguments)
            found.add(pk.split("#", 1)[0] + "#")
    return found


def test_the_prefixes_are_the_models_partition_key_prefixes() -> None:
    assert set(PREFIXES) == model_prefixes()


def test_every_function_has_a_row_and_every_written_prefix_is_a_table_prefix() -> None:
    functions = {path.parent.name for path in (ROOT / "functions").glob("*/handler.py")}
    assert set(TABLE_ACCESS) == functions
    for name, access in TABLE_ACCESS.items():
        assert set(access.writes) <= set(WRITE_ACTIONS), name
        for prefixes in access.writes.values():
            assert set(prefixes) <= set(PREFIXES), name
